"""``gridsim sweep`` and ``gridsim report`` (registered on the main Typer app by ``register``)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from sim.scenario import ScenarioError

BACKENDS = ("serial", "processes", "dask")


def _cli():  # the main CLI module's helpers (imported late: sim.cli imports this module)
    import sim.cli.common as c

    return c


def _parse_precision(text: str | None, max_reps: int | None):
    from pydantic import ValidationError

    from sim.experiment.spec import Precision

    if text is None:
        if max_reps is not None:
            raise ScenarioError([("--max-replications", "only meaningful with --precision")])
        return None
    if "=" not in text:
        raise ScenarioError([("--precision", "write KPI=HALF_WIDTH, e.g. on_time_rate=0.01 "
                                             "or mean_time_to_close_h=5% (relative)")])
    kpi, _, raw = text.partition("=")
    raw = raw.strip()
    relative = raw.endswith("%")
    try:
        hw = float(raw.rstrip("%")) / (100 if relative else 1)
    except ValueError:
        raise ScenarioError([("--precision", f"half-width must be a number (got {raw!r})")]) \
            from None
    data = {"kpi": kpi.strip(), "half_width": hw, "relative": relative}
    if max_reps is not None:
        data["max_replications"] = max_reps
    try:
        return Precision.model_validate(data)
    except ValidationError as err:
        raise ScenarioError([(f"--precision {'.'.join(map(str, e['loc']))}".strip(),
                              e["msg"].removeprefix("Value error, "))
                             for e in err.errors(include_url=False)]) from None


def _backend(name: str | None, workers: int | None, scheduler: str | None):
    from sim.experiment.backends import make_backend

    if name is None:
        name = "dask" if scheduler else "processes"
    if name not in BACKENDS:
        raise ScenarioError([("--backend", f"unknown backend {name!r}; allowed: "
                                           + ", ".join(BACKENDS))])
    if scheduler and name != "dask":
        raise ScenarioError([("--scheduler", "needs --backend dask")])
    if workers is not None and workers < 1:
        raise ScenarioError([("--workers", f"must be at least 1 (got {workers})")])
    if scheduler and workers is not None:
        raise ScenarioError([("--workers", "a remote Dask cluster sizes itself; drop --workers")])
    return make_backend(name, workers, scheduler)  # type: ignore[arg-type]


def _sigterm_as_interrupt() -> None:
    def handler(signum, frame):  # noqa: ANN001
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        pass


def _run_sweep(exp, backend, store, retry_failed, replications, precision, command) -> None:
    from sim.experiment.engine import LineReporter, RichReporter, sweep

    c = _cli()
    reporter = RichReporter(console=c.err_console) if c.err_console.is_terminal \
        else LineReporter()
    _sigterm_as_interrupt()
    try:
        s = sweep(exp, backend, store, retry_failed=retry_failed, replications=replications,
                  precision=precision, reporter=reporter, command=command)
    except ScenarioError as e:
        c.fail(e)
        return
    rate = s.executed / s.elapsed_s if s.elapsed_s > 0 else 0.0
    c.console.print(f"{exp.spec.name}: {s.points} points, {s.planned} runs planned, "
                    f"{s.skipped} already in the store, {s.ok} ok, {s.failed} failed this time "
                    f"in {s.elapsed_s:.1f} s ({rate:.2f} runs/s) → {s.store}", highlight=False,
                    soft_wrap=True)
    for p, r, msg in s.failures[:5]:
        c.err_console.print(f"[red]failed[/] point {p} replication {r}: {c.escape(msg)}",
                            highlight=False, soft_wrap=True)
    if s.interrupted:
        c.err_console.print("interrupted: finished runs are saved; run the same command again "
                            "to resume", highlight=False)
        raise typer.Exit(code=130)
    from sim.experiment.store import ResultsStore

    with ResultsStore(s.store, read_only=True) as st:
        status = st.status()
        prec = precision or exp.spec.precision
        if prec is not None:
            _precision_line(st.kpis(), prec, s.replications)
    bad = sum(1 for (p, r), v in status.items() if v == "failed" and r < s.replications.get(p, 0))
    if bad:
        c.err_console.print(f"{bad} runs are recorded as failed; `gridsim report {s.store}` "
                            "lists them; rerun with --retry-failed", highlight=False)
        raise typer.Exit(code=1)


def _precision_line(kpis, prec, reps: dict[int, int]) -> None:
    from sim.experiment.analysis import mean_ci

    met, capped = 0, 0
    for pid, n in reps.items():
        y = kpis.loc[(kpis.point_id == pid) & (kpis.replication < n), prec.kpi]
        _, m, _, hw = mean_ci(y)
        target = prec.half_width * (abs(m) if prec.relative else 1.0)
        if hw <= target:
            met += 1
        elif n >= prec.max_replications:
            capped += 1
    goal = f"{100 * prec.half_width:g}% of the mean" if prec.relative else f"{prec.half_width:g}"
    _cli().console.print(f"precision: 95% CI half-width of {prec.kpi} ≤ {goal} at {met} of "
                         f"{len(reps)} points; {capped} stopped at max_replications="
                         f"{prec.max_replications}", highlight=False)


#: The backend options every command that runs many scenarios takes (sweep, optimize).
WorkersOpt = Annotated[Optional[int], typer.Option(
    help="Worker processes (processes, dask LocalCluster); default: all cores.")]
BackendOpt = Annotated[Optional[str], typer.Option(
    help="serial | processes (default) | dask (a LocalCluster unless --scheduler).")]
SchedulerOpt = Annotated[Optional[str], typer.Option(
    help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (implies --backend dask).")]


def sweep_cmd(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML file (experiments/*.yaml).")],
    workers: WorkersOpt = None,
    backend: BackendOpt = None,
    scheduler: SchedulerOpt = None,
    store: Annotated[Optional[Path], typer.Option(
        help="Results store (DuckDB); default out/sweeps/<experiment name>.duckdb.")] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Also rerun runs recorded as failed.")] = False,
    replications: Annotated[Optional[int], typer.Option(
        help="Replications per point (overrides the file; more resumes a finished sweep).")
    ] = None,
    precision: Annotated[Optional[str], typer.Option(
        help="Add replications until the 95% CI half-width of KPI is at most the target at "
             "every point: KPI=0.01 (absolute) or KPI=5% (of the mean).")] = None,
    max_replications: Annotated[Optional[int], typer.Option(
        help="Cap on replications per point for --precision (default 100).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check the file and show the plan; run nothing.")] = False,
) -> None:
    """Run an experiment (resumable): every design point × replication, into a DuckDB store."""
    from sim.experiment.spec import load_experiment

    c = _cli()
    try:
        exp = load_experiment(experiment)
        prec = _parse_precision(precision, max_replications)
        if replications is not None and replications < 1:
            raise ScenarioError([("--replications", f"must be at least 1 (got {replications})")])
        if prec and prec.kpi not in exp.spec.kpis:
            raise ScenarioError([("--precision", f"{prec.kpi!r} is not among the experiment's "
                                                 "kpis")])
        be = None if dry_run else _backend(backend, workers, scheduler)
    except ScenarioError as e:
        c.fail(e)
        return
    if dry_run:
        _dry_run(exp, store, replications)
        return
    _run_sweep(exp, be, store, retry_failed, replications, prec,
               " ".join(["gridsim", "sweep", *sys.argv[2:]]))


def _dry_run(exp, store: Path | None, replications: int | None) -> None:
    from sim.experiment.design import design_points
    from sim.experiment.engine import check_sizes, default_store_path
    from sim.experiment.store import ResultsStore

    c = _cli()
    pts = design_points(exp)
    try:
        check_sizes(exp, pts)
    except ScenarioError as e:
        c.fail(e)
    reps = replications or exp.spec.replications
    path = store or default_store_path(exp)
    done = 0
    if path.exists():
        try:
            with ResultsStore(path, read_only=True) as st:
                done = sum(1 for (p, r) in st.status() if r < reps)
        except ScenarioError as e:
            c.fail(e)
    c.console.print(f"ok  {exp.source}: {exp.spec.name}, {exp.spec.design.type}, "
                    f"{len(exp.factor_names)} factors, {len(pts)} points × {reps} replications "
                    f"= {len(pts) * reps} runs ({done} already in {path}); hash {exp.hash}",
                    highlight=False)


def report_cmd(
    store: Annotated[Path, typer.Argument(help="Results store written by gridsim sweep.")],
    kpi: Annotated[Optional[list[str]], typer.Option(
        "--kpi", help="KPIs to show (repeatable); default: all the experiment keeps.")] = None,
    compare: Annotated[Optional[list[str]], typer.Option(
        "--compare", help="Paired difference B − A of points A:B (repeatable).")] = None,
    reference: Annotated[Optional[int], typer.Option(
        help="Compare every point with this one (default: point 0 when ≤ 12 points).")] = None,
    csv: Annotated[Optional[Path], typer.Option(
        help="Write summary, differences, indices and the raw tables as CSV to this folder.")
    ] = None,
    parquet: Annotated[Optional[Path], typer.Option(
        help="Same as --csv, as Parquet.")] = None,
    html: Annotated[Optional[Path], typer.Option(
        help="Write a self-contained HTML report with plots to this file.")] = None,
    precision: Annotated[Optional[str], typer.Option(
        help="First add replications until the CI half-width of KPI meets the target "
             "(KPI=0.01 or KPI=5%); runs on --backend.")] = None,
    max_replications: Annotated[Optional[int], typer.Option(
        help="Cap on replications per point for --precision (default 100).")] = None,
    backend: Annotated[Optional[str], typer.Option(help="Backend for --precision runs.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Workers for --precision runs.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler for --precision.")
    ] = None,
    format_: Annotated[str, typer.Option(
        "--format", help="table (fits the terminal) | csv | json | markdown (for pipes: the "
                         "figures in full on stdout).")] = "table",
) -> None:
    """Means and 95% CIs per design point, paired differences, Sobol/Morris indices, exports."""
    from sim.experiment.report import build_report, export_tables, print_report, write_html
    from sim.experiment.store import ResultsStore

    from sim.experiment.report_formats import FORMATS, render

    c = _cli()
    try:
        if format_ not in FORMATS:
            raise ScenarioError([("--format", f"unknown format {format_!r}; allowed: "
                                              + ", ".join(FORMATS))])
        pairs = [_pair(s) for s in compare] if compare else None
        _check_kpis(kpi or [])
        prec = _parse_precision(precision, max_replications)
        if prec is not None:
            with ResultsStore(store, read_only=True) as st:
                exp = st.experiment()
            if prec.kpi not in exp.spec.kpis:
                raise ScenarioError([("--precision", f"{prec.kpi!r} is not among the stored "
                                                     "kpis")])
            be = _backend(backend, workers, scheduler)
    except ScenarioError as e:
        c.fail(e)
        return
    if prec is not None:
        _run_sweep(exp, be, store, False, None, prec, "gridsim report --precision")
    try:
        with ResultsStore(store, read_only=True) as st:
            data = build_report(st, list(kpi) if kpi else None, pairs, reference)
            raw_csv = st.export(csv, "csv") if csv else []
            raw_pq = st.export(parquet, "parquet") if parquet else []
    except ScenarioError as e:
        c.fail(e)
        return
    bad = [p for pair in (pairs or []) for p in pair if p not in set(data.points.point_id)]
    if bad:
        c.fail(ScenarioError([("--compare", f"no design point {bad[0]}; points are 0…"
                                            f"{len(data.points) - 1}")]))
    if format_ == "table":
        print_report(data, c.console)
    else:
        sys.stdout.write(render(data, format_).rstrip("\n") + "\n")
    written = list(raw_csv) + list(raw_pq)
    if csv:
        written += export_tables(data, csv, "csv")
    if parquet:
        written += export_tables(data, parquet, "parquet")
    if html:
        written.append(write_html(data, html))
    for p in written:  # on stderr when stdout carries a table for a pipe
        (c.console if format_ == "table" else c.err_console).print(f"wrote {p}", highlight=False,
                                                                    soft_wrap=True)


def _check_kpis(keys: list[str]) -> None:
    from sim.metrics import KPI_DEFINITIONS

    bad = [k for k in keys if k not in KPI_DEFINITIONS]
    if bad:
        raise ScenarioError([("--kpi", f"unknown KPI {bad[0]!r}; allowed: "
                                       + ", ".join(KPI_DEFINITIONS))])


def _pair(text: str) -> tuple[int, int]:
    a, sep, b = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(a), int(b)
    except ValueError:
        raise ScenarioError([("--compare", f"write A:B with two point ids, e.g. 0:3 "
                                           f"(got {text!r})")]) from None


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_cmd)
    app.command("report")(report_cmd)
