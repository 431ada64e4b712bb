"""Where runs execute: in this process, in local worker processes, or on a Dask cluster.

Every backend takes a lazy iterator of :class:`RunTask` and calls ``on_result`` in the parent for
each finished run, keeping at most ``2 × workers`` runs in flight, so memory stays flat however
long the sweep. Results do not depend on the backend or the number of workers: each run is a
pure function of (scenario, seed).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Callable, Iterable, Iterator, Literal, Protocol

from sim.experiment.worker import RunOutcome, RunTask, execute_run, warm_up, watch_parent

#: seconds a worker gets to exit when a pool is closed, before it is terminated
EXIT_WAIT_S = 10.0

BackendName = Literal["serial", "processes", "dask"]
OnResult = Callable[[RunOutcome], None]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def failed_outcome(task: RunTask, message: str) -> RunOutcome:
    from sim.experiment.worker import _utc

    now = _utc()
    return RunOutcome(task.point_id, task.replication, task.seed, task.scenario.hash(), "failed",
                      error=message, started_utc=now, finished_utc=now)


class Backend(Protocol):
    label: str

    def __enter__(self) -> "Backend": ...

    def __exit__(self, *exc: object) -> None: ...

    def run(self, tasks: Iterable[RunTask], on_result: OnResult) -> None: ...


class SerialBackend:
    """One run after another in this process (debugging, profiling, tiny sweeps)."""

    label = "serial"
    workers = 1

    def __enter__(self) -> "SerialBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, tasks: Iterable[RunTask], on_result: OnResult) -> None:
        for task in tasks:
            on_result(execute_run(task))


class ProcessBackend:
    """Local worker processes started with ``spawn`` (no inherited state, no forked locks)."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or default_workers()
        self.label = f"processes×{self.workers}"
        self._pool: ProcessPoolExecutor | None = None
        self.startup_s = 0.0

    def _start(self) -> ProcessPoolExecutor:
        import multiprocessing as mp
        import time

        from concurrent.futures.process import BrokenProcessPool

        t0 = time.perf_counter()
        for attempt in range(1, 4):  # a worker killed while it starts: start the pool again
            pool = ProcessPoolExecutor(max_workers=self.workers,
                                       mp_context=mp.get_context("spawn"),
                                       initializer=watch_parent, initargs=(os.getpid(),))
            try:
                for f in [pool.submit(warm_up, i) for i in range(self.workers)]:
                    f.result()
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                if attempt == 3:
                    raise
                continue
            break
        self.startup_s = time.perf_counter() - t0  # spawn + import the model in every worker
        return pool

    def __enter__(self) -> "ProcessBackend":
        self._pool = self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Every result is in by now: stop the pool without waiting on it forever. A worker
        killed while it held the task queue's lock leaves the others blocked on that lock, and
        ``shutdown(wait=True)`` then never returns (the sweep hung after its last run); so
        workers still alive after :data:`EXIT_WAIT_S` are terminated."""
        if self._pool is not None:
            procs = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.join(EXIT_WAIT_S)
                if p.is_alive():
                    p.terminate()
                    p.join(EXIT_WAIT_S)
            self._pool = None

    def abort(self) -> None:
        """Stop at once (Ctrl-C): drop queued runs and terminate the workers mid-run."""
        if self._pool is not None:
            procs = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.terminate()
            self._pool = None

    def run(self, tasks: Iterable[RunTask], on_result: OnResult) -> None:
        from concurrent.futures.process import BrokenProcessPool

        assert self._pool is not None, "use the backend as a context manager"
        it: Iterator[RunTask] = iter(tasks)
        pending: dict[Future, RunTask] = {}
        window = 2 * self.workers
        exhausted = False
        carry: RunTask | None = None  # a task whose submission found the pool broken
        while True:
            while not exhausted and len(pending) < window:
                task, carry = carry or next(it, None), None
                if task is None:
                    exhausted = True
                    break
                try:
                    pending[self._pool.submit(execute_run, task)] = task
                except BrokenProcessPool:
                    carry = task
                    break
            if not pending:
                if carry is None:
                    return
                self._restart()
                continue
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                task = pending.pop(fut)
                try:
                    on_result(fut.result())
                except BrokenProcessPool:
                    broken = True
                    on_result(failed_outcome(task, "worker process died during the run "
                                                   "(killed, or out of memory)"))
            if broken:  # every other run in flight is lost with the pool: record and go on
                for fut, task in list(pending.items()):
                    on_result(failed_outcome(task, "worker pool broke while the run was in "
                                                   "flight (another worker died)"))
                pending.clear()
                self._restart()

    def _restart(self) -> None:
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()


class DaskBackend:
    """A Dask ``distributed`` cluster: a scheduler address, or a LocalCluster started here."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        self.scheduler = scheduler
        self.n_local = workers or default_workers()
        self.label = f"dask {scheduler}" if scheduler else f"dask LocalCluster×{self.n_local}"
        self.client = None
        self.cluster = None
        self.workers = self.n_local
        self._inflight: dict = {}

    def __enter__(self) -> "DaskBackend":
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="30s")
            except (OSError, TimeoutError, ValueError) as err:
                from sim.scenario import ScenarioError

                raise ScenarioError([("--scheduler", f"cannot reach the Dask scheduler "
                                                     f"{self.scheduler}: {err}")]) from None
        else:
            self.cluster = LocalCluster(n_workers=self.n_local, threads_per_worker=1,
                                        processes=True, dashboard_address=None,
                                        silence_logs=40)
            self.client = Client(self.cluster)
        self.workers = max(1, sum(self.client.nthreads().values()))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def abort(self) -> None:
        """Stop at once (Ctrl-C): cancel every run still queued or running on the cluster."""
        if self.client is not None and self._inflight:
            self.client.cancel(list(self._inflight.values()), force=True)
            self._inflight.clear()

    def run(self, tasks: Iterable[RunTask], on_result: OnResult) -> None:
        from distributed import as_completed

        assert self.client is not None, "use the backend as a context manager"
        it = iter(tasks)
        owner: dict[str, RunTask] = {}
        self._inflight = {}

        def submit(task: RunTask):
            fut = self.client.submit(execute_run, task, pure=False)
            owner[fut.key] = task
            self._inflight[fut.key] = fut
            return fut

        first = [submit(t) for t in itertools.islice(it, 2 * self.workers)]
        if not first:
            return
        queue = as_completed(first)
        for fut in queue:
            task = owner.pop(fut.key)
            self._inflight.pop(fut.key, None)
            try:
                outcome = fut.result()
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker: record, go on
                outcome = failed_outcome(task, f"dask: {type(err).__name__}: {err}")
            fut.release()
            on_result(outcome)
            nxt = next(it, None)
            if nxt is not None:
                queue.add(submit(nxt))


def make_backend(name: BackendName, workers: int | None = None,
                 scheduler: str | None = None) -> Backend:
    if name == "serial":
        return SerialBackend()
    if name == "processes":
        return ProcessBackend(workers)
    if name == "dask":
        return DaskBackend(scheduler, workers)
    raise ValueError(f"unknown backend {name!r}; allowed: serial, processes, dask")
