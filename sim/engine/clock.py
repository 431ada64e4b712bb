"""The engine's helpers around SimPy's clock: the run loop, a case's process (which starts later
and ends without an event when nobody waits for it), the event count, and the cyclic collector's
settings while the clock runs."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from heapq import heappop, heappush
from typing import Callable, Generator, Iterator

import simpy
from simpy.events import NORMAL, URGENT, Timeout


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Collect cyclic garbage less often while the clock runs.

    A run allocates millions of short-lived objects (events, case processes, rows) beside a
    large, long-lived population (agents, the scenario, open cases, pending processes); with
    CPython's default first threshold (700 allocations) the collector runs so often that it
    takes about a third of a large city's run. Here the first threshold is 100,000 and the
    others are kept, so cyclic garbage is still collected at every level and memory stays what
    it was (measured on city_large, 8 days: the same peak RSS, 30% less CPU). Freezing the
    long-lived objects instead was tried and dropped: each day's cyclic garbage stayed frozen.
    The caller's thresholds are restored afterwards."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 100_000), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def run_clock(env: simpy.Environment, until: float) -> None:
    """``env.run(until=until)``, with SimPy's ``step`` inlined in the loop.

    The same events in the same order: SimPy stops at an urgent event it schedules at ``until``,
    so everything before ``until`` runs, and at ``until`` only the urgent events scheduled before
    the call (a process started for that instant). The stop event's id is drawn as SimPy draws
    it, so the other events' ids are the same too."""
    if until <= env._now:
        raise ValueError(f"until ({until}) must be greater than the current simulation time")
    queue = env._queue
    stop_id = next(env._eid)  # the id SimPy's stop event would take
    while queue:
        t, prio, eid, event = queue[0]
        if t > until or (t == until and (prio != URGENT or eid > stop_id)):
            break
        heappop(queue)
        env._now = t
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)  # as in Environment.step
            exc.__cause__ = event._value
            raise exc
    env._now = until


def timeout(env: simpy.Environment, delay: float) -> Timeout:
    """``env.timeout(delay)`` made in one call instead of SimPy's two (``Timeout.__init__`` and
    ``Environment.schedule``): the same event, scheduled with the same key. For the steps of a
    case, which make several timeouts each."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    ev = _new(Timeout)
    ev.env = env
    ev.callbacks = []
    ev._value = None
    ev._delay = delay
    ev._ok = True
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), ev))
    return ev


_new = object.__new__


class LeanProcess(simpy.Process):
    """A SimPy process that, when its generator ends and nobody waits for it, ends at once
    instead of scheduling its end as an event (an event with no callbacks: nothing else changes,
    not even the order of the other events). A process that fails, or that has callbacks (an
    ``all_of`` over crew visits), ends as in SimPy."""

    def _resume(self, event: simpy.Event) -> None:
        env = self.env
        env._active_proc = self
        gen = self._generator
        while True:
            try:
                if event._ok:
                    event = gen.send(event._value)
                else:  # as in simpy.Process._resume: the process handles the failed event
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = gen.throw(exc)
            except StopIteration as e:
                event = None
                self._end(e.args[0] if e.args else None)
                break
            except BaseException as e:
                event = None
                self._ok = False
                e.__traceback__ = e.__traceback__.tb_next
                self._value = e
                env.schedule(self)
                break
            try:
                if event.callbacks is not None:  # not yet processed: resume when it is
                    event.callbacks.append(self._resume)
                    break
            except AttributeError:
                raise RuntimeError(f"Invalid yield value {event!r}") from None
        self._target = event
        env._active_proc = None

    def _end(self, value: object) -> None:
        self._ok, self._value = True, value
        if self.callbacks:
            self.env.schedule(self)
        else:
            self.callbacks = None  # processed: a later ``yield`` of it resumes at once


class DelayedProcess(LeanProcess):
    """A process whose generator is made, by ``start()``, ``delay`` hours from now: the timeout
    that starts it stands in for SimPy's ``Initialize`` event (one event instead of two). If
    ``start`` returns None there is nothing to run and the process ends there."""

    def __init__(self, env: simpy.Environment, start: Callable[[], Generator | None],
                 delay: float):
        self.env = env
        self.callbacks = []
        self._start = start
        self._target = timeout(env, delay)
        self._target.callbacks.append(self._begin)

    def _begin(self, event: simpy.Event) -> None:
        self.env._active_proc = self
        gen = self._start()
        if gen is None:
            self.env._active_proc = None
            self._end(None)
            return
        self._generator = gen
        self._resume(event)


def events_scheduled(env: simpy.Environment) -> int:
    """Events ``env`` has scheduled so far (SimPy numbers each one from an ``itertools.count``)."""
    return int(repr(env._eid)[len("count("):-1])
