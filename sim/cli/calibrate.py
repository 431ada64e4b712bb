"""``gridsim calibrate`` (fit a scenario to a service-request log, check it, fit its
departments) and ``gridsim export-log`` (a run's case log as a request log)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from sim.scenario import ScenarioError, dump_yaml, load_scenario


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
             "log's rate.")] = False,
    match_days: Annotated[float, typer.Option(help="Days per matching run.")] = 28,
    match_reps: Annotated[int, typer.Option(help="Replications per matching step.")] = 3,
    fit: Annotated[bool, typer.Option(
        help="Fit department handling times (and crews) until the simulated median and p90 "
             "time to close match the log's (Optuna, seeded).")] = False,
    fit_trials: Annotated[int, typer.Option(help="Trials of the --fit search.")] = 30,
    fit_reps: Annotated[int, typer.Option(help="Replications per --fit trial.")] = 2,
    check: Annotated[bool, typer.Option(
        help="Run the calibrated scenario for the log's period and compare volume, median and "
             "p90 time to close per category with the log's.")] = False,
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
        if fit and (fit_trials < 2 or fit_reps < 1):
            problems.append(("fit-trials", "needs at least 2 trials and 1 replication"))
        if check and check_reps < 2:
            problems.append(("check-reps", "needs at least 2 replications"))
        cols, col_problems = parse_column_options(column or [])
        problems += col_problems
        if problems:
            raise CalibrationError(problems, "gridsim calibrate")
        base = load_scenario(scenario) if scenario else None
        cal, sc = calibrate(log, format_, mapping, base, households, columns=cols, tz=tz,
                            start=from_, end=to, strict=strict, size=size)
        sc = _closed_loop(cal, sc, err, match_cases, match_days, match_reps, fit, fit_trials,
                          fit_reps, check, check_reps, seed, strict)
    except ScenarioError as e:
        fail(e)
        return
    text = fit_report(cal)
    rep = report or (out.with_suffix(".fit.md") if out else None)
    if out:
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
                 match_reps: int, fit: bool, fit_trials: int, fit_reps: int, check: bool,
                 check_reps: int, seed: int | None, strict: bool) -> Any:
    from sim.data.calibrate import CalibrationError
    from sim.data.closedloop import (check_calibration, fit_departments, match_case_rates)
    from sim.data.sizing import saturation_check

    if match_cases:
        err.print(f"matching cases filed: 2 × {match_reps} runs of {match_days:g} days…",
                  highlight=False)
        sc = match_case_rates(cal, sc, days=match_days, reps=match_reps, seed=seed)
    if fit:
        with _progress() as prog:
            task = prog.add_task("fitting departments", total=fit_trials, note="")

            def tick(i: int, n: int, best: float) -> None:
                prog.update(task, completed=i, note=f"best loss {best:.3f}")

            try:
                cal.fitted, sc = fit_departments(cal, sc, trials=fit_trials, reps=fit_reps,
                                                 seed=seed, progress=tick)
            except ValueError as e:
                raise CalibrationError([("fit", str(e))], "--fit") from None
    if cal.sizing is not None or fit:
        warns, _ = saturation_check(sc, seed=seed)
        cal.warnings += warns
        if strict and warns:
            raise CalibrationError([("strict", w) for w in warns], cal.source)
    if check:
        with _progress() as prog:
            task = prog.add_task("checking against the log", total=check_reps, note="")
            cal.check = check_calibration(cal, sc, reps=check_reps, seed=seed,
                                          progress=lambda: prog.advance(task))
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


def _write(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def export_log_command(
    cases: Annotated[Path, typer.Argument(
        help="A run's case log (cases.parquet, from `gridsim run --out DIR`).")],
    format_: Annotated[str, typer.Option(
        "--format", help="Log format to write: open311 or nyc311.")],
    out: Annotated[Path, typer.Option(help="CSV file to write.")],
    start: Annotated[str, typer.Option(
        help="Calendar date of model time 0 (a Monday keeps weekdays aligned).")] = "2024-01-01",
    subtypes: Annotated[bool, typer.Option(
        help="Write category.subtype as the service code / complaint type.")] = False,
) -> None:
    """Write a run's case log as an Open311- or NYC-311-style request log (for calibration)."""
    import pandas as pd

    from sim.cli.common import fail
    from sim.data.servicelog import EXPORT_FORMATS, CalibrationError, cases_to_log

    problems = []
    if format_ not in EXPORT_FORMATS:
        problems.append(("format", f"unknown format {format_!r}; allowed: "
                                   f"{', '.join(EXPORT_FORMATS)}"))
    try:
        t0 = pd.Timestamp(start)
    except ValueError:
        problems.append(("start", f"not a date: {start!r}"))
    if not cases.is_file():
        problems.append(("", f"{cases}: file not found"))
    if problems:
        fail(CalibrationError(problems, "gridsim export-log"))
        return
    try:
        frame = pd.read_parquet(cases)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user error here
        fail(CalibrationError([("", f"not a readable case log: {err}")], str(cases)))
        return
    missing = [c for c in ("incident_id", "category", "subtype", "department", "t_report_h",
                           "t_closed_h", "state") if c not in frame.columns]
    if missing:
        fail(CalibrationError([("", "not a gridsim case log: missing column(s) "
                                    + ", ".join(missing))], str(cases)))
        return
    log = cases_to_log(frame, format_, start=str(t0.date()), subtypes=subtypes)
    tmp = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    log.to_csv(tmp, index=False)
    tmp.replace(out)
    print(f"wrote {len(log):,} requests to {out}")
