"""Runs for the app, cached by (scenario hash, seed), with a progress callback.

``st.cache_data`` records every Streamlit call made inside a cached function and replays it on a
hit, which does not suit a progress bar updated during a miss; so the app keeps its own
process-wide LRU of :class:`sim.run.RunResult` (shared by all sessions, like ``st.cache_data``),
held by ``st.cache_resource``. A run is a pure function of (scenario, seed), so a hit is exact.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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
               progress: Callable[[float, float], None] | None = None) -> RunResult:
    """The result of ``run_scenario(scenario, seed)``, from the cache when it has it."""
    key = run_key(scenario, seed)
    hit = cache.get(key)
    if hit is not None:
        if progress:
            progress(hit.context.end_h, hit.context.end_h)
        return hit
    from sim.run import run_scenario

    result = run_scenario(scenario, seed, progress=progress)
    cache.put(key, result)
    return result
