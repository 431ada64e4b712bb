"""``gridsim calibrate`` (fit a scenario to a service-request log, check it, fit its
departments) and ``gridsim export-log`` (a run's case log as a request log)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from sim.scenario import ScenarioError, dump_yaml


def _progress():  # noqa: ANN202 - a Rich Progress
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=False)


def calibrate_command(
    log: Annotated[Path, typer.Argument(
        help="Service-request log: CSV, a JSON list of requests, or JSON Lines (gzip is read "
             "transparently).")],
    format_: Annotated[str, typer.Option(
        "--format", help="nyc311, open311 (GeoReport v2), gridcase (a per-step case export, "
                         "数字城管 / 12345), or csv / json / jsonl for a log with its own column "
                         "names.")],
    column: Annotated[Optional[list[str]], typer.Option(
        "--column", help="FIELD=HEADER naming the log's column of a field (repeatable; fields "
                         "id, created, closed, type, status, agency, lat, lon; for gridcase also "
                         "filed, dispatched, handled, feedback, verified, channel, deadline, "
                         "extended, satisfaction, unit); FIELD=N (a column number) reads a file "
                         "without a header line.")] = None,
    mapping: Annotated[Optional[Path], typer.Option(
        help="Mapping file (default: sim/data/mapping_nyc311.yaml, or mapping_open311.yaml).")
    ] = None,
    scenario: Annotated[Optional[Path], typer.Option(
        help="Base scenario the fitted values go into (default: the baseline).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="Override a field of the base scenario: path.to.field=value (repeatable), "
                      "e.g. city.geometry.where=null.")] = None,
    crs: Annotated[Optional[str], typer.Option(
        "--crs", help="On a base scenario with city.geometry: the CRS of the log's lat/lon "
                      "(default lon/lat WGS84; an EPSG code, or gcj02 / bd09 for Chinese "
                      "web-map coordinates). Requests are placed on the map's cells and each "
                      "category's surface is written beside --out (.surfaces.parquet).")] = None,
    households: Annotated[Optional[float], typer.Option(
        help="Households the log's city has (default: the base scenario's).")] = None,
    tz: Annotated[Optional[str], typer.Option(
        "--tz", help="The city's time zone: timestamps with a UTC offset are converted to it "
                     "(default: America/New_York for nyc311, Asia/Shanghai otherwise; then only "
                     "UTC timestamps are converted).")] = None,
    from_: Annotated[Optional[str], typer.Option(
        "--from", help="Use requests created at or after this time only (e.g. 2024-03-01).")
    ] = None,
    to: Annotated[Optional[str], typer.Option(
        "--to", help="Use requests created before this time only.")] = None,
    strict: Annotated[bool, typer.Option(help="Treat every warning as an error (exit 2).")
                      ] = False,
    size: Annotated[bool, typer.Option(
        help="Size operators, crews and shifts for the log's volume.")] = True,
    out: Annotated[Optional[Path], typer.Option(
        help="Write the calibrated scenario here (and the fit report beside it, .fit.md).")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Write the fit report here.")] = None,
    match_cases: Annotated[bool, typer.Option(
        help="Run the calibrated scenario and rescale the rates so that it files cases at the "
             "log's rate (on by default).")] = True,
    match_days: Annotated[float, typer.Option(help="Days per matching run.")] = 28,
    match_reps: Annotated[int, typer.Option(help="Replications per matching step.")] = 3,
    fit: Annotated[Optional[bool], typer.Option(
        "--fit/--no-fit",
        help="Fit each department's handling time, scheduling lead and spread until the log's "
             "own requests, replayed, close like the log's (Optuna, seeded). Default: on when "
             "the log has enough closed requests (see docs/guides/analyst.md).")] = None,
    fit_trials: Annotated[int, typer.Option(help="Trials of the --fit search.")] = 20,
    fit_reps: Annotated[int, typer.Option(help="Replications per --fit trial.")] = 2,
    check: Annotated[Optional[bool], typer.Option(
        "--check/--no-check",
        help="Replay the log's requests on the calibrated scenario and compare cases per day, "
             "median and p90 time to close per category with the log's (before and after "
             "--fit). Default: on when the log has closing times.")] = None,
    check_reps: Annotated[int, typer.Option(help="Replications of the --check.")] = 3,
    seed: Annotated[Optional[int], typer.Option(
        help="Master seed of the check and fit runs (default: the scenario's).")] = None,
) -> None:
    """Fit a scenario to a service-request log: rates, profiles, time to close, capacity."""
    from rich.console import Console
    from rich.markdown import Markdown

    from sim.cli.common import fail
    from sim.data.calibrate import CalibrationError, calibrate
    from sim.data.calreport import fit_report, scenario_text
    from sim.data.logformats import parse_column_options

    err = Console(stderr=True)
    try:
        problems: list[tuple[str, str]] = []
        if households is not None and not households > 0:
            problems.append(("households", f"must be positive (got {households:g})"))
        if match_cases and (match_reps < 2 or not match_days > 0):
            problems.append(("match-reps", "needs at least 2 replications and positive "
                                           "--match-days"))
        if fit is not False and (fit_trials < 2 or fit_reps < 1):
            problems.append(("fit-trials", "needs at least 2 trials and 1 replication"))
        if check is not False and check_reps < 2:
            problems.append(("check-reps", "needs at least 2 replications"))
        cols, col_problems = parse_column_options(column or [])
        problems += col_problems
        if problems:
            raise CalibrationError(problems, "gridsim calibrate")
        from sim.cli.common import resolve_scenario

        base = resolve_scenario(scenario, set_) if (scenario or set_) else None
        cal, sc = calibrate(log, format_, mapping, base, households, columns=cols, tz=tz,
                            start=from_, end=to, strict=strict, size=size, crs=crs)
        from sim.data.calibrate import fit_by_default

        auto, why = fit_by_default(cal)
        if fit is None and not auto:
            cal.warnings.append(f"time to close not fitted: {why}")
        fit = ("auto" if auto else False) if fit is None else fit
        check = cal.log.has_closed if check is None else check
        sc = _closed_loop(cal, sc, err, match_cases, match_days, match_reps, fit, fit_trials,
                          fit_reps, check, check_reps, seed, strict)
    except ScenarioError as e:
        fail(e)
        return
    text = fit_report(cal)
    rep = report or (out.with_suffix(".fit.md") if out else None)
    if out:
        sc = _surfaces_beside(out, sc)
        _write(out, scenario_text(cal, sc))
    if rep:
        _write(rep, text)
    err.print(Markdown(text))
    for w in cal.warnings:
        err.print(f"[bold yellow]warning:[/] {_esc(w)}", highlight=False, soft_wrap=True)
    if out:
        err.print(f"calibrated scenario written to {out}" + (f", fit report to {rep}" if rep
                                                               else ""), highlight=False)
    else:
        print("# scenario fragment (use --out FILE for a whole scenario)")
        frag = cal.overrides()
        for key in frag:
            if key.startswith("incidents.categories.") and key.endswith("_per_day"):
                cat = key.split(".")[2]
                frag[key] = sc.incidents.categories[cat].rate_per_1000_households_per_day
        if cal.fitted is not None:
            frag.update(cal.fitted.overrides)
        print(dump_yaml(_nest(frag)), end="")


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _closed_loop(cal: Any, sc: Any, err: Any, match_cases: bool, match_days: float,
                 match_reps: int, fit: bool | str, fit_trials: int, fit_reps: int, check: bool,
                 check_reps: int, seed: int | None, strict: bool) -> Any:
    from sim.data.calibrate import CalibrationError
    from sim.data.closedloop import check_calibration, match_case_rates
    from sim.data.cohortfit import fit_departments
    from sim.data.sizing import saturation_check

    if match_cases:
        err.print(f"matching cases filed: 2 × {match_reps} runs of {match_days:g} days…",
                  highlight=False)
        sc = match_case_rates(cal, sc, days=match_days, reps=match_reps, seed=seed)

    def checked(label: str) -> Any:
        with _progress() as prog:
            task = prog.add_task(label, total=check_reps, note="")
            return check_calibration(cal, sc, reps=check_reps, seed=seed,
                                     progress=lambda: prog.advance(task))

    if check and fit:
        cal.check_before = checked("checking against the log (before the fit)")
    if fit:
        with _progress() as prog:
            task = prog.add_task("fitting departments", total=fit_trials, note="")

            def tick(i: int, n: int, best: float) -> None:
                prog.update(task, completed=i, note=f"best loss {best:.3f}")

            try:
                cal.fitted, sc = fit_departments(cal, sc, trials=fit_trials, reps=fit_reps,
                                                 seed=seed, progress=tick)
            except ValueError as e:
                if fit != "auto":
                    raise CalibrationError([("fit", str(e))], "--fit") from None
                cal.warnings.append(f"time to close not fitted: {e}")
    if cal.sizing is not None or fit:
        warns, _ = saturation_check(sc, seed=seed)
        cal.warnings += warns
        if strict and warns:
            raise CalibrationError([("strict", w) for w in warns], cal.source)
    if check:
        cal.check = checked("checking against the log")
    return sc


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, v in flat.items():
        node = out
        parts = dotted.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def _surfaces_beside(out: Path, sc: Any) -> Any:
    """The calibrated scenario with its surfaces file (written to a temporary file while
    fitting) copied beside ``out`` (``NAME.surfaces.parquet``) and named there."""
    import os
    import shutil

    from sim.scenario import scenario_with

    geo = sc.city.geometry
    if geo is None or not geo.surfaces:
        return sc
    final = out.with_name(out.name.split(".")[0] + ".surfaces.parquet").resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".partial")
    shutil.copyfile(geo.surfaces, tmp)
    os.replace(tmp, final)
    return scenario_with(sc, {"city.geometry.surfaces": str(final)})


def _write(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
