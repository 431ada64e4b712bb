"""The sweep: plan runs, skip those already in the store, execute on a backend, commit each.

``sweep()`` is resumable by construction: the store says which (point, replication) runs are
done; only the others are sent to the backend. Failed runs stay recorded (with their error) and
are skipped on resume unless ``retry_failed``. With a precision target, replications are added
in rounds until the CI half-width of the chosen KPI meets it at every point (or the cap).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

import duckdb

from sim.experiment.analysis import precision_targets
from sim.experiment.backends import Backend
from sim.experiment.design import DesignPoint, design_points, plan, run_seed
from sim.experiment.spec import Precision, ResolvedExperiment
from sim.experiment.store import ResultsStore, StoreWriteError, store_write_error
from sim.experiment.worker import RunOutcome, RunTask


class Reporter(Protocol):
    def start(self, total: int, label: str) -> None: ...

    def extend(self, more: int) -> None: ...

    def advance(self, outcome: RunOutcome) -> None: ...

    def stop(self) -> None: ...


class _Silent:
    def start(self, total: int, label: str) -> None: ...

    def extend(self, more: int) -> None: ...

    def advance(self, outcome: RunOutcome) -> None: ...

    def stop(self) -> None: ...


@dataclass
class SweepSummary:
    store: Path
    points: int
    planned: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0
    replications: dict[int, int] = field(default_factory=dict)
    failures: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def executed(self) -> int:
        return self.ok + self.failed


def default_store_path(exp: ResolvedExperiment) -> Path:
    return Path("out") / "sweeps" / f"{exp.spec.name}.duckdb"


def sweep(exp: ResolvedExperiment, backend: Backend, store_path: str | Path | None = None, *,
          retry_failed: bool = False, replications: int | None = None,
          precision: Precision | None = None, reporter: Reporter | None = None,
          command: str = "") -> SweepSummary:
    """Run (or resume) the experiment into its store; return what was done."""
    path = Path(store_path) if store_path else default_store_path(exp)
    points = design_points(exp)
    reporter = reporter or _Silent()
    reps_each = replications or exp.spec.replications
    precision = precision or exp.spec.precision
    summary = SweepSummary(store=path, points=len(points))
    check_sizes(exp, points, getattr(backend, "workers", 1) if backend.label.startswith(
        ("processes", "dask LocalCluster")) else 1)  # before anything is written
    t0 = time.perf_counter()
    with ResultsStore(path) as store, ExitStack() as stack:
        try:
            store.attach(exp, points)
            store.begin_session(command, backend.label, getattr(backend, "workers", 1))
        except duckdb.Error as err:  # e.g. the disk is full before the first run
            raise store_write_error(err, path) from None
        started: list[Backend] = []

        def run(todo: list[tuple[int, int]]) -> None:
            if not todo:  # a finished sweep run again: nothing to start, nothing to send
                return
            if not started:  # start workers only when there is work
                started.append(stack.enter_context(backend))
                store.set_session_workers(getattr(backend, "workers", 1))
            _execute(exp, points, todo, backend, store, reporter, summary)

        reps = {p.point_id: reps_each for p in points}
        todo = _todo(points, reps, store.status(), retry_failed)
        summary.planned = sum(1 for _ in plan(points, reps))
        summary.skipped = summary.planned - len(todo)
        reporter.start(len(todo), f"{exp.spec.name} ({backend.label})")
        outcome = "finished"
        try:
            run(todo)
            while precision is not None:
                new = precision_targets(store.kpis(), precision, reps)
                if new == reps:
                    break
                reps = new
                todo = _todo(points, reps, store.status(), retry_failed)
                summary.planned = sum(reps.values())
                reporter.extend(len(todo))
                run(todo)
        except KeyboardInterrupt:
            summary.interrupted, outcome = True, "interrupted"
            _abort(backend, started)
        except StoreWriteError as err:  # disk full: stop at once; what is committed stays
            outcome = "store write failed"
            _abort(backend, started)
            raise StoreWriteError([*err.problems, (
                "results store", f"{summary.executed} runs of this sweep were saved before that "
                    f"({summary.skipped} earlier); free some space and run the same command "
                    "again to resume")], str(path)) from None
        except BaseException:
            outcome = "error"
            raise
        finally:
            reporter.stop()
            summary.elapsed_s = time.perf_counter() - t0
            summary.replications = reps
            try:
                store.end_session(summary.ok, summary.failed, outcome)
            except duckdb.Error:  # the store cannot be written (the error above says why)
                pass
    return summary


def _abort(backend: Backend, started: list[Backend]) -> None:
    abort = getattr(backend, "abort", None)
    if started and abort is not None:
        abort()


def check_sizes(exp: ResolvedExperiment, points: list[DesignPoint], copies: int = 1) -> None:
    """Refuse a sweep with a design point too large for this machine (``copies`` at once)."""
    from sim.scenario import ScenarioError
    from sim.scenario.size import check_fits, machine_memory

    limit = machine_memory()
    for p in points:
        try:
            check_fits(exp.scenario(p.values), copies, limit=limit)
        except ScenarioError as err:
            label = ", ".join(f"{k}={v!r}" for k, v in p.values.items())
            raise ScenarioError([(f"design point {p.point_id} ({label}): {f}", m)
                                 for f, m in err.problems], exp.source) from None


def _todo(points: list[DesignPoint], reps: dict[int, int], status: dict[tuple[int, int], str],
          retry_failed: bool) -> list[tuple[int, int]]:
    return [(p, r) for p, r in plan(points, reps)
            if (s := status.get((p, r))) is None or (retry_failed and s == "failed")]


def _execute(exp: ResolvedExperiment, points: list[DesignPoint], todo: list[tuple[int, int]],
             backend: Backend, store: ResultsStore, reporter: Reporter,
             summary: SweepSummary) -> None:
    by_id = {p.point_id: p for p in points}
    h = exp.hash

    def tasks() -> Iterator[RunTask]:  # lazy: one scenario built per task, none kept
        for pid, r in todo:
            yield RunTask(pid, r, run_seed(exp.spec.seed, pid, r, exp.spec.common_random_numbers),
                          exp.scenario(by_id[pid].values), exp.spec.kpis, exp.spec.timeseries)

    def on_result(o: RunOutcome) -> None:
        store.record(o, h)
        if o.status == "ok":
            summary.ok += 1
        else:
            summary.failed += 1
            if len(summary.failures) < 20:
                summary.failures.append((o.point_id, o.replication,
                                         (o.error or "").strip().splitlines()[-1:][0]
                                         if o.error else ""))
        reporter.advance(o)

    backend.run(tasks(), on_result)


class RichReporter:
    """A Rich progress bar: runs done/total, failed, rate (runs/s) and ETA."""

    def __init__(self, console=None, disable: bool = False):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task) -> Text:  # noqa: ANN001
                speed = task.finished_speed or task.speed
                return Text(f"{speed:.2f} runs/s" if speed else "– runs/s")

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("runs · [red]{task.fields[failed]} failed"), Rate(),
            TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, disable=disable, transient=False)
        self.task = None
        self.failed = 0

    def start(self, total: int, label: str) -> None:
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, failed=0)

    def extend(self, more: int) -> None:
        t = self.progress.tasks[0]
        self.progress.update(self.task, total=(t.total or 0) + more)

    def advance(self, outcome: RunOutcome) -> None:
        if outcome.status != "ok":
            self.failed += 1
        self.progress.update(self.task, advance=1, failed=self.failed)

    def stop(self) -> None:
        self.progress.stop()


class LineReporter:
    """Plain progress for logs (batch jobs, pipes): one line per finished run, flushed."""

    def __init__(self, stream=None):
        import sys

        self.stream = stream or sys.stderr
        self.total = self.done = self.failed = 0
        self.t0 = time.perf_counter()

    def start(self, total: int, label: str) -> None:
        self.total = total
        self.t0 = time.perf_counter()
        print(f"{label}: {total} runs to do", file=self.stream, flush=True)

    def extend(self, more: int) -> None:
        self.total += more
        if more:
            print(f"precision: {more} more runs", file=self.stream, flush=True)

    def advance(self, o: RunOutcome) -> None:
        self.done += 1
        self.failed += o.status != "ok"
        rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        print(f"[{self.done}/{self.total}] point {o.point_id} replication {o.replication} "
              f"{o.status} {o.wall_time_s:.2f} s · {self.failed} failed · {rate:.2f} runs/s · "
              f"ETA {eta:.0f} s", file=self.stream, flush=True)

    def stop(self) -> None:
        return None

