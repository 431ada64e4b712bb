"""What every command shares: the consoles, one-line errors with exit code 2, resolving a
scenario from a file and ``--set`` options, and the KPI table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim.scenario import Scenario, load_scenario, parse_set_options, set_paths, validate_scenario

console = Console()
err_console = Console(stderr=True)

SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", help="Override a scenario field by dotted path, e.g. staffing.workers_per_grid=3 "
                  "(repeatable; values are YAML).")]


def print_error(line: str) -> None:
    """One problem on one line: never wrapped, and its text never read as Rich markup."""
    err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


def fail(err: Exception) -> None:
    """Print a user error and exit 2 (no traceback)."""
    for line in str(err).splitlines() or [str(err)]:
        print_error(line)
    raise typer.Exit(code=2)


def resolve_scenario(path: Optional[Path], sets: Optional[list[str]],
                     extra: dict | None = None) -> Scenario:
    """Load ``path`` (or the embedded baseline), apply ``--set`` and extra overrides, validate."""
    overrides = parse_set_options(sets or [])
    overrides.update(extra or {})
    if path is None:
        data = Scenario().model_dump(mode="json", by_alias=True)
        return validate_scenario(set_paths(data, overrides), "baseline") if overrides else Scenario()
    return load_scenario(path, overrides)


def kpi_table(kpis: dict[str, float], title: str) -> Table:
    from sim.metrics import KPI_DEFINITIONS, format_kpi

    t = Table(title=title, title_justify="left")
    t.add_column("KPI")
    t.add_column("指标")
    t.add_column("value", justify="right")
    skipped = 0
    for key, (en, zh, _, _) in KPI_DEFINITIONS.items():
        if key not in kpis:
            continue
        v = kpis[key]
        if v is None or v != v:  # not applicable here (e.g. emergency KPIs without emergencies)
            skipped += 1
            continue
        t.add_row(en, zh, format_kpi(key, v))
    if skipped:
        t.caption = f"{skipped} KPIs not applicable to this run are not shown (see --json)"
    return t


