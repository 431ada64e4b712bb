"""The ``gridsim`` command (Typer + Rich).

Bad input — a scenario that does not validate, an unknown ``--set`` path, a missing file — prints
one clear message per problem naming the field and what is allowed, and exits with code 2,
without a traceback and without writing anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.scenario import (Scenario, ScenarioError, json_schema, load_scenario, parse_set_options,
                          set_paths, validate_scenario)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="gridsim — simulate and policy-test urban grid governance (城市网格化管理).")
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


@app.command()
def run(
    scenario: Annotated[Optional[Path], typer.Argument(
        help="Scenario YAML file; the embedded baseline when omitted.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: run.seed).")] = None,
    days: Annotated[Optional[float], typer.Option(help="Simulated days (sets run.days).")] = None,
    set_: SetOpt = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Write kpis.json, timeseries.parquet, cases.parquet and manifest.json here.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the KPIs as JSON.")] = False,
) -> None:
    """Run one scenario and print its KPI table."""
    from sim.run import run_scenario

    try:
        if seed is not None and not 0 <= seed < 2**63:
            raise ScenarioError([("seed", f"must be between 0 and 2**63-1 (got {seed})")], "--seed")
        sc = resolve_scenario(scenario, set_, {"run.days": days} if days is not None else None)
    except ScenarioError as e:
        fail(e)
        return
    if out is not None and out.exists() and not out.is_dir():
        fail(ScenarioError([("out", "exists and is not a directory")], str(out)))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("day {task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True,
                  disable=json_out or not err_console.is_terminal) as bar:
        task = bar.add_task(f"{sc.name}", total=sc.run.days)
        result = run_scenario(sc, seed, out_dir=out, keep_cases=False,
                              progress=lambda now, h: bar.update(task, completed=now / 24))
    if json_out:
        print(json.dumps({"kpis": {k: (None if v != v else v) for k, v in result.kpis.items()},
                          "manifest": result.manifest}, ensure_ascii=False, indent=2))
        return
    m = result.manifest
    console.print(kpi_table(result.kpis, f"{sc.name} — seed {m['seed']}, {sc.run.days:g} days "
                                         f"({sc.run.warmup_days:g} warm-up), {m['n_grids']} grids"))
    console.print(f"{m['incidents']:,} incidents, {m['events']:,} events in {m['wall_time_s']:.2f} s")
    if out:
        console.print(f"results written to {out}/")


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Scenario files to check.")]) -> None:
    """Check scenario files; print every problem with its field path."""
    bad = False
    for f in files:
        try:
            sc = load_scenario(f)
            console.print(f"[green]ok[/]  {f}  ({sc.name}, hash {sc.hash()})", highlight=False)
        except ScenarioError as e:
            bad = True
            for line in str(e).splitlines():
                print_error(line)
    if bad:
        raise typer.Exit(code=2)


@app.command()
def schema(out: Annotated[Optional[Path], typer.Option(help="Write to this file.")] = None) -> None:
    """Print the scenario JSON Schema (for editors' completion and checks)."""
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


@app.command("app")
def app_cmd(port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501) -> None:
    """Start the Streamlit app."""
    import subprocess

    entry = Path(__file__).resolve().parent.parent / "app.py"
    # run from the repository root so that .streamlit/config.toml (upload limit, error details)
    # applies wherever the command is typed
    raise typer.Exit(subprocess.call([sys.executable, "-m", "streamlit", "run", str(entry),
                                      "--server.port", str(port), "--server.headless", "true"],
                                     cwd=entry.parent))


from sim.experiment.cli import register as _register_experiment_commands  # noqa: E402

_register_experiment_commands(app)  # gridsim sweep, gridsim report (sim/experiment/cli.py)

from sim.validation import validation_command  # noqa: E402

app.command("validation")(validation_command)  # published vs simulated (sim/validation.py)

from sim.calibrate import calibrate_command  # noqa: E402

from sim.calibrate import export_log_command  # noqa: E402

app.command("calibrate")(calibrate_command)  # fit a scenario to a 311 log (sim/calibrate.py)
app.command("export-log")(export_log_command)  # a run's cases as a 311-style log

from sim.emergency.cli import drill_command  # noqa: E402

app.command("drill")(drill_command)  # emergency drill narrative and trace (sim/emergency/cli.py)

from sim.docgen import docs_command  # noqa: E402

app.command("docs")(docs_command)  # regenerate docs/kpis.md, docs/scenario-fields.md


def main() -> None:
    app()


if __name__ == "__main__":
    main()
