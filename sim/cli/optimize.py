"""``gridsim optimize`` and ``gridsim discover`` (registered on the main app by ``register``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from sim.scenario import ScenarioError

from sim.cli.common import console, err_console, fail
from sim.cli.experiment import (  # the sweep's backend choice and options
    BackendOpt, SchedulerOpt, WorkersOpt, _backend, _sigterm_as_interrupt)


def optimize_cmd(
    experiment: Annotated[Path, typer.Argument(
        help="Experiment YAML with an optimize: section (experiments/cheapest_staffing.yaml).")],
    workers: WorkersOpt = None,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    store: Annotated[Optional[Path], typer.Option(
        help="Results store (DuckDB); default out/optimize/<experiment name>.duckdb.")] = None,
    trials: Annotated[Optional[int], typer.Option(
        help="Trial budget (overrides the file; more resumes a finished optimisation).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check the file and show the search space; run nothing.")] = False,
) -> None:
    """Search the levers for the best policy meeting the constraints (resumable)."""
    from sim.experiment.optimize import (LineOptReporter, RichOptReporter, default_store_path,
                                         lever_space, optimize)
    from sim.experiment.spec import load_experiment

    try:
        exp = load_experiment(experiment)
        if exp.spec.optimize is None:
            raise ScenarioError([("optimize", "this experiment has no optimize: section; run "
                                              "it with gridsim sweep, or add objectives and "
                                              "constraints (docs/experiments.md)")],
                                str(experiment))
        if trials is not None and trials < 1:
            raise ScenarioError([("--trials", f"must be at least 1 (got {trials})")])
        be = None if dry_run else _backend(backend, workers, scheduler)
    except ScenarioError as e:
        fail(e)
        return
    opt = exp.spec.optimize
    if dry_run:
        space = lever_space(exp)
        console.print(f"ok  {exp.source}: {exp.spec.name}, {len(space)} levers, "
                      f"{opt.rounds if trials is None else -(-trials // opt.batch)} rounds × "
                      f"{opt.batch} candidates, {exp.spec.replications}–{opt.max_replications} "
                      f"replications each → {store or default_store_path(exp)}; hash "
                      f"{exp.hash}", highlight=False, soft_wrap=True)
        for name, d in space.items():
            console.print(f"    {name}: {d}", highlight=False, soft_wrap=True)
        return
    reporter = RichOptReporter(console=err_console) if err_console.is_terminal \
        else LineOptReporter()
    _sigterm_as_interrupt()
    try:
        s = optimize(exp, be, store, trials=trials, reporter=reporter,
                     command=" ".join(["gridsim", "optimize", *sys.argv[2:]]))
    except ScenarioError as e:
        fail(e)
        return
    rate = s.executed / s.elapsed_s if s.elapsed_s > 0 else 0.0
    console.print(f"{exp.spec.name}: {s.trials} trials, {s.executed} runs this time "
                  f"({s.failed} failed, {rate:.2f} runs/s) in {s.elapsed_s:.1f} s → {s.store}",
                  highlight=False)
    if s.interrupted:
        err_console.print("interrupted: finished runs and rounds are saved; run the same "
                          "command again to resume", highlight=False)
        raise typer.Exit(code=130)
    from sim.experiment.optreport import print_answer
    from sim.experiment.optstats import load_answer
    from sim.experiment.store import ResultsStore

    with ResultsStore(s.store, read_only=True) as st:
        ans = load_answer(st)
    print_answer(ans, console)
    if ans.best is None:
        raise typer.Exit(code=1)


def discover_cmd(
    store: Annotated[Path, typer.Argument(help="Results store (gridsim sweep or optimize).")],
    kpi: Annotated[str, typer.Option(help="The KPI whose target fails, e.g. on_time_rate.")],
    below: Annotated[Optional[float], typer.Option(
        help="The target fails where the KPI is below this value.")] = None,
    above: Annotated[Optional[float], typer.Option(
        help="The target fails where the KPI is above this value.")] = None,
    method: Annotated[str, typer.Option(help="prim (default) or cart.")] = "prim",
    per: Annotated[str, typer.Option(
        help="point: the mean over each design point's replications (default); run: every "
             "run.")] = "point",
    density: Annotated[float, typer.Option(
        help="PRIM: the smallest share of failing cases a box must reach (0–1).")] = 0.8,
    max_boxes: Annotated[int, typer.Option(help="PRIM: at most this many boxes.")] = 3,
    save: Annotated[bool, typer.Option(
        "--save", help="Keep this query in the store: gridsim report shows it.")] = False,
) -> None:
    """Scenario discovery: the boxes of lever space where a KPI target fails (PRIM or CART)."""
    from sim.experiment.discover import discover, print_discovery
    from sim.experiment.optreport import SAVED_KEY
    from sim.experiment.store import ResultsStore
    from sim.metrics import KPI_DEFINITIONS

    try:
        problems = []
        if kpi not in KPI_DEFINITIONS:
            problems.append(("--kpi", f"unknown KPI {kpi!r}; allowed: "
                                      + ", ".join(KPI_DEFINITIONS)))
        if (below is None) == (above is None):
            problems.append(("--below/--above", "give exactly one of --below X or --above X"))
        if method not in ("prim", "cart"):
            problems.append(("--method", f"unknown method {method!r}; allowed: prim, cart"))
        if per not in ("point", "run"):
            problems.append(("--per", f"unknown unit {per!r}; allowed: point, run"))
        if not 0 < density <= 1:
            problems.append(("--density", f"must be in (0, 1] (got {density})"))
        if max_boxes < 1:
            problems.append(("--max-boxes", f"must be at least 1 (got {max_boxes})"))
        if problems:
            raise ScenarioError(problems)
        op, threshold = ("<", below) if below is not None else (">", above)
        query = {"kpi": kpi, "op": op, "threshold": threshold, "method": method, "per": per,
                 "density": density, "max_boxes": max_boxes}
        with ResultsStore(store, read_only=not save) as st:
            d = discover(st, **query)  # type: ignore[arg-type]
            if save:
                saved = json.loads(st.meta().get(SAVED_KEY, "[]"))
                if query not in saved:
                    st._set_meta({SAVED_KEY: json.dumps(saved + [query])})
    except ScenarioError as e:
        fail(e)
        return
    print_discovery(d, console)
    if save:
        console.print(f"saved: gridsim report {store} shows this discovery", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("optimize")(optimize_cmd)
    app.command("discover")(discover_cmd)
