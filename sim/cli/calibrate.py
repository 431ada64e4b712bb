"""``gridsim calibrate`` and ``gridsim export-log``: fit a scenario to a service-request log, and
write a run's cases as one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from sim.cli.common import fail
from sim.data.calibrate import calibrate, fit_report, match_case_rates, scenario_text
from sim.data.servicelog import FORMATS, CalibrationError, cases_to_log
from sim.scenario import ScenarioError, dump_yaml, load_scenario


def calibrate_command(
    log: Annotated[Path, typer.Argument(
        help="Service-request log: CSV, or JSON (a list of request objects).")],
    format_: Annotated[str, typer.Option(
        "--format", help="Log format: open311 (GeoReport v2) or nyc311.")],
    mapping: Annotated[Optional[Path], typer.Option(
        help="Mapping file (default: sim/data/mapping_<format>.yaml).")] = None,
    scenario: Annotated[Optional[Path], typer.Option(
        help="Base scenario the fitted values go into (default: the baseline).")] = None,
    households: Annotated[Optional[float], typer.Option(
        help="Households the log's city has (default: the base scenario's).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Write the calibrated scenario here (and the fit report beside it, .fit.md).")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Write the fit report here.")] = None,
    match_cases: Annotated[bool, typer.Option(
        help="Run the calibrated scenario and rescale the rates so that it files cases at the "
             "log's rate (the log counts cases, the model's rates are incidents).")
    ] = False,
    match_days: Annotated[float, typer.Option(help="Days per matching run.")] = 28,
    match_reps: Annotated[int, typer.Option(help="Replications per matching step.")] = 3,
) -> None:
    """Fit arrival rates, profiles and times to close from an Open311 or NYC 311 log."""
    from rich.console import Console
    from rich.markdown import Markdown

    err = Console(stderr=True)
    try:
        if households is not None and not households > 0:
            raise CalibrationError([("households", f"must be positive (got {households:g})")],
                                   "--households")
        if match_cases and (match_reps < 2 or not match_days > 0):
            raise CalibrationError([("match-reps", "needs at least 2 replications and positive "
                                                   "--match-days")], "--match-cases")
        base = load_scenario(scenario) if scenario else None
        cal, sc = calibrate(log, format_, mapping, base, households)
        if match_cases:
            err.print(f"matching cases filed: 2 × {match_reps} runs of {match_days:g} days…",
                      highlight=False)
            sc = match_case_rates(cal, sc, days=match_days, reps=match_reps)
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
    if out:
        err.print(f"calibrated scenario written to {out}" + (f", fit report to {rep}" if rep
                                                               else ""), highlight=False)
    else:
        print("# scenario fragment (use --out FILE for a whole scenario)")
        frag = cal.overrides()
        for key in frag:
            if key.startswith("incidents.categories."):
                cat = key.split(".")[2]
                frag[key] = sc.incidents.categories[cat].rate_per_1000_households_per_day
        print(dump_yaml(_nest(frag)), end="")


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

    problems = []
    if format_ not in FORMATS:
        problems.append(("format", f"unknown format {format_!r}; allowed: {', '.join(FORMATS)}"))
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
