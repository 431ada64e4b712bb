"""Runs for the app, cached by (scenario hash, seed), with a progress callback.

``st.cache_data`` records every Streamlit call made inside a cached function and replays it on a
hit, which does not suit a progress bar updated during a miss; so the app keeps its own
process-wide LRU of :class:`sim.run.RunResult` (shared by all sessions, like ``st.cache_data``),
held by ``st.cache_resource``. A run is a pure function of (scenario, seed), so a hit is exact.

Several seeds are run side by side in a pool of worker processes (:class:`RunPool`, started on
the first multi-seed run and kept), so a lab run at three seeds takes about as long as one on a
machine with three free cores.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Callable

from sim.scenario import Scenario

if TYPE_CHECKING:  # sim.run imports Mesa: imported when the first run is asked for
    from sim.run import RunResult

MAX_CACHED_RUNS = 24


class RunCache:
    """A small thread-safe LRU of run results keyed by (scenario hash, seed)."""

    def __init__(self, max_entries: int = MAX_CACHED_RUNS):
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, int], RunResult] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, int]) -> RunResult | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return hit

    def put(self, key: tuple[str, int], value: RunResult) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def run_key(scenario: Scenario, seed: int) -> tuple[str, int]:
    return scenario.hash(), int(seed)


def cached_run(cache: RunCache, scenario: Scenario, seed: int,
               progress: Callable[[float, float, int], None] | None = None) -> RunResult:
    """The result of ``run_scenario(scenario, seed)``, from the cache when it has it."""
    key = run_key(scenario, seed)
    hit = cache.get(key)
    if hit is not None:
        if progress:
            progress(hit.context.end_h, hit.context.end_h, 0)
        return hit
    from sim.run import run_scenario

    result = run_scenario(scenario, seed, progress=progress)
    cache.put(key, result)
    return result


ENV_WORKERS = "GRIDSIM_APP_WORKERS"


def pool_size() -> int:
    """Worker processes for multi-seed runs: ``GRIDSIM_APP_WORKERS``, else the machine's cores
    (at most 8); 1 runs everything in the app's own process."""
    raw = os.environ.get(ENV_WORKERS, "").strip()
    n = int(raw) if raw.isdigit() else (os.cpu_count() or 1)
    return max(1, min(n, 8))


class RunPool:
    """A process pool started on first use and kept for the server's life (spawned workers:
    forking a threaded server is unsafe). Its workers import the engine once, so later runs pay
    only for simulating."""

    def __init__(self, workers: int):
        self.workers = workers
        self._ex: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._ex is None:
                self._ex = ProcessPoolExecutor(self.workers,
                                               mp_context=multiprocessing.get_context("spawn"))
            return self._ex

    def reset(self) -> None:
        with self._lock:
            if self._ex is not None:
                self._ex.shutdown(wait=False, cancel_futures=True)
            self._ex = None


def _work(scenario: Scenario, seed: int) -> RunResult:
    from sim.run import run_scenario

    return run_scenario(scenario, seed)


def run_batch(cache: RunCache, pairs: list[tuple[Scenario, int]], pool: RunPool | None = None,
              on_done: Callable[[int, int], None] | None = None,
              progress: Callable[[int], Callable[[float, float, int], None]] | None = None
              ) -> list[RunResult]:
    """The results of ``run_scenario(s, seed)`` for each pair, in order: from the cache where it
    has them, the others in the pool when there are two or more (one in this process, with the
    fine-grained ``progress(done)`` callback). ``on_done(done, total)`` after each run."""
    keys = [run_key(s, seed) for s, seed in pairs]
    unique: dict[tuple[str, int], tuple[Scenario, int]] = {}
    for k, p in zip(keys, pairs):
        unique.setdefault(k, p)
    found: dict[tuple[str, int], RunResult] = {}
    for k in unique:
        hit = cache.get(k)
        if hit is not None:
            found[k] = hit
    missing = [k for k in unique if k not in found]
    total = len(unique)

    def done(k: tuple[str, int], r: RunResult) -> None:
        found[k] = r
        if on_done:
            on_done(len(found), total)

    if on_done:
        on_done(len(found), total)
    parallel = pool is not None and pool.workers > 1 and len(missing) > 1
    if parallel:
        try:
            futures = {pool.executor().submit(_work, *unique[k]): k for k in missing}
            for f in as_completed(futures):
                k = futures[f]
                r = f.result()
                cache.put(k, r)
                done(k, r)
        except BrokenProcessPool:  # a worker died (killed, out of memory): finish here
            pool.reset()
            parallel = False
    if not parallel:
        for k in [k for k in missing if k not in found]:
            s, seed = unique[k]
            done(k, cached_run(cache, s, seed,
                               progress=progress(len(found)) if progress else None))
    return [found[k] for k in keys]
