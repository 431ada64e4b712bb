"""The engine's helpers around SimPy's clock: a process that starts later, the event count, and
the cyclic collector's settings while the clock runs."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Generator, Iterator

import simpy


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Collect cyclic garbage less often, and never re-scan what was alive before, while the
    clock runs.

    A run allocates millions of short-lived objects (events, case processes, rows) beside a
    large, long-lived population (agents, the scenario, open cases, pending processes); with
    CPython's default settings the collector spends a third of the run re-scanning the
    long-lived ones. Inside this block the thresholds are larger and the objects alive on entry
    are frozen (``gc.freeze``: left out of collections); on exit both are undone, so garbage
    among them is collected later as usual. Cycles made inside the block (finished case
    processes, say) are still collected. If something else has frozen objects, nothing is
    frozen here (``gc.unfreeze`` would thaw them too)."""
    old = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    gc.set_threshold(max(old[0], 100_000), max(old[1], 50), max(old[2], 100))
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()
        gc.set_threshold(*old)


class DelayedProcess(simpy.Process):
    """A SimPy process whose generator starts ``delay`` hours from now: the timeout that starts
    it stands in for SimPy's ``Initialize`` event (one event instead of two)."""

    def __init__(self, env: simpy.Environment, generator: Generator, delay: float):
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._target = env.timeout(delay)
        self._target.callbacks.append(self._resume)


def events_scheduled(env: simpy.Environment) -> int:
    """Events ``env`` has scheduled so far (SimPy numbers each one from an ``itertools.count``)."""
    return int(repr(env._eid)[len("count("):-1])
