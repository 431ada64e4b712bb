"""The scenario commands: ``gridsim run``, ``validate``, ``schema`` and ``app``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sim.cli.common import (
    SetOpt,
    console,
    err_console,
    fail,
    kpi_table,
    print_error,
    resolve_scenario,
)
from sim.scenario import ScenarioError, json_schema, load_scenario
from sim.scenario.size import check_fits


def run(
    scenario: Annotated[Optional[Path], typer.Argument(
        help="Scenario YAML file; the embedded baseline when omitted.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: run.seed).")] = None,
    days: Annotated[Optional[float], typer.Option(help="Simulated days (sets run.days).")] = None,
    set_: SetOpt = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Write kpis.json, timeseries.parquet, cases.parquet, grids.geojson, "
             "grids.parquet and manifest.json here.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the KPIs as JSON.")] = False,
    parts: Annotated[int, typer.Option(
        help="Run the city's districts in this many processes and merge them (exact when no "
             "case waits for an operator; the manifest says).")] = 1,
) -> None:
    """Run one scenario and print its KPI table."""
    from sim.engine.parts import check_parts
    from sim.run import run_scenario

    try:
        if seed is not None and not 0 <= seed < 2**63:
            raise ScenarioError([("seed", f"must be between 0 and 2**63-1 (got {seed})")], "--seed")
        sc = resolve_scenario(scenario, set_, {"run.days": days} if days is not None else None)
        check_fits(sc, source=str(scenario) if scenario else "baseline")
        check_parts(sc, parts)
    except ScenarioError as e:
        fail(e)
        return
    if out is not None and out.exists() and not out.is_dir():
        fail(ScenarioError([("out", "exists and is not a directory")], str(out)))
    for field_path, msg in sc.warnings():  # valid, but a periodic policy would never act
        err_console.print(f"[yellow]warning[/] {field_path}: {msg}", highlight=False)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True,
                  disable=json_out or not err_console.is_terminal) as bar:
        task = bar.add_task(f"{sc.name}", total=sc.run.days, rate="")
        t_start = time.perf_counter()

        def tick(now_h: float, horizon_h: float, events: int) -> None:
            rate = events / max(time.perf_counter() - t_start, 1e-9)
            bar.update(task, completed=now_h / 24, rate=f"{rate:,.0f} events/s")

        with _staging(out) as stage:  # the files appear in out/ only once all are written
            try:  # the plan of parts, made before any part runs, may refuse (too few operators)
                result = run_scenario(sc, seed, out_dir=stage, keep_cases=False, progress=tick,
                                      parts=parts)
            except ScenarioError as e:
                fail(e)
    if json_out:
        print(json.dumps({"kpis": {k: (None if v != v else v) for k, v in result.kpis.items()},
                          "manifest": result.manifest}, ensure_ascii=False, indent=2))
        return
    m = result.manifest
    console.print(kpi_table(result.kpis, f"{sc.name} — seed {m['seed']}, {sc.run.days:g} days "
                                         f"({sc.run.warmup_days:g} warm-up), {m['n_grids']} grids"))
    console.print(f"{m['incidents']:,} incidents, {m['events']:,} events in {m['wall_time_s']:.2f} s")
    if m.get("parts", {}).get("n", 1) > 1:
        p = m["parts"]
        style = "green" if p["exact"] else "yellow"
        console.print(f"[{style}]run in {p['n']} parts ({', '.join(map(str, p['operators']))} "
                      f"operators): {'exact' if p['exact'] else 'approximate'}[/] — {p['why']}")
    elif "parts" in m:
        console.print(f"[dim]{m['parts']['why']}[/]")
    if out:
        console.print(f"results written to {out}/")


@contextlib.contextmanager
def _staging(out: Optional[Path]) -> Iterator[Optional[Path]]:
    """A hidden folder beside ``out`` to write into; moved into ``out`` only on success.

    A run that fails, is interrupted or fills the disk leaves ``out`` as it was.
    """
    if out is None:
        yield None
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield stage
        out.mkdir(exist_ok=True)
        for f in sorted(stage.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def validate(files: Annotated[list[Path], typer.Argument(help="Scenario files to check.")]) -> None:
    """Check scenario files; print every problem with its field path."""
    bad = False
    for f in files:
        try:
            sc = load_scenario(f)
            check_fits(sc, source=str(f))
            console.print(f"[green]ok[/]  {f}  ({sc.name}, hash {sc.hash()})", highlight=False)
        except ScenarioError as e:
            bad = True
            for line in str(e).splitlines():
                print_error(line)
    if bad:
        raise typer.Exit(code=2)


def schema(out: Annotated[Optional[Path], typer.Option(help="Write to this file.")] = None) -> None:
    """Print the scenario JSON Schema (for editors' completion and checks)."""
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def app_cmd(port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501) -> None:
    """Start the Streamlit app."""
    import subprocess

    entry = Path(__file__).resolve().parents[2] / "app.py"
    # run from the repository root so that .streamlit/config.toml (upload limit, error details)
    # applies wherever the command is typed
    raise typer.Exit(subprocess.call([sys.executable, "-m", "streamlit", "run", str(entry),
                                      "--server.port", str(port), "--server.headless", "true"],
                                     cwd=entry.parent))


