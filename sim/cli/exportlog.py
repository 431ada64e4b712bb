"""``gridsim export-log``: a run's case log written as a request log (NYC 311, Open311) or as a
platform's per-step case export (``gridcase``, Chinese or English headers), for calibration and
its round trip. No coordinate, address or free text is written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FORMATS = ("gridcase", "open311", "nyc311")
LANGS = ("zh", "en")
_NEEDED = ("incident_id", "grid", "category", "subtype", "department", "channel", "t_report_h",
           "t_filed_h", "t_dispatch_h", "t_due_h", "t_handled_h", "t_closed_h", "state")


def export_log_command(
    run: Annotated[Path, typer.Argument(
        help="A run folder (`gridsim run --out DIR`) or its case log (cases.parquet).")],
    format_: Annotated[str, typer.Option(
        "--format", help="gridcase (per-step case export, 数字城管 / 12345), open311 or nyc311.")],
    out: Annotated[Path, typer.Option(help="CSV file to write.")],
    lang: Annotated[str, typer.Option(
        help="gridcase headers, channel and status names: zh (上报时间, 来源: 监督员 …) or en.")
    ] = "zh",
    start: Annotated[str, typer.Option(
        help="Calendar date of model time 0 (a Monday keeps weekdays aligned).")] = "2024-01-01",
    subtypes: Annotated[bool, typer.Option(
        help="open311/nyc311: write category.subtype as the service code / complaint type "
             "(gridcase always does).")] = False,
) -> None:
    """Write a run's case log as a request log or a per-step case export (for calibration)."""
    import pandas as pd

    from sim.cli.common import fail
    from sim.data.gridcase import cases_to_gridcase
    from sim.data.logexport import cases_to_log
    from sim.data.servicelog import CalibrationError

    problems = []
    if format_ not in FORMATS:
        problems.append(("format", f"unknown format {format_!r}; allowed: {', '.join(FORMATS)}"))
    if lang not in LANGS:
        problems.append(("lang", f"unknown language {lang!r}; allowed: {', '.join(LANGS)}"))
    try:
        t0 = pd.Timestamp(start)
    except ValueError:
        problems.append(("start", f"not a date: {start!r}"))
    path = run / "cases.parquet" if run.is_dir() else run
    if not path.is_file():
        problems.append(("", f"{path}: file not found" + (" (a run folder holds cases.parquet)"
                                                           if run.is_dir() else "")))
    if problems:
        fail(CalibrationError(problems, "gridsim export-log"))
        return
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user error here
        fail(CalibrationError([("", f"not a readable case log: {err}")], str(path)))
        return
    missing = [c for c in _NEEDED if c not in frame.columns]
    if missing:
        fail(CalibrationError([("", "not a gridsim case log: missing column(s) "
                                    + ", ".join(missing))], str(path)))
        return
    if format_ == "gridcase":
        log = cases_to_gridcase(frame, lang=lang, start=str(t0.date()))
    else:
        log = cases_to_log(frame, format_, start=str(t0.date()), subtypes=subtypes)
    tmp = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    log.to_csv(tmp, index=False, encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {len(log):,} {'cases' if format_ == 'gridcase' else 'requests'} to {out}")
