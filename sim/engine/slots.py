"""A pool of identical servers, first come first served, that costs no event when one is free.

SimPy's ``Resource`` schedules two events for every use — the request and the release — even
when a server is free and nobody waits, which on the platform (hundreds of operators) and on the
beats' worker pools is almost always. ``Slots`` takes a free server at once (no event); only a
process that must wait gets an event, triggered when a server passes to it on release. The
queue is FIFO, as in ``simpy.Resource``, so waiting times are those of the same M/M/c queue;
what differs is only the order of steps at one instant (a process that takes a free server goes
on at once instead of after the other events of that instant).

Use::

    ev = slots.acquire()
    if ev is not None:
        yield ev
    ...                     # holding one server
    slots.release()
"""

from __future__ import annotations

from collections import deque

import simpy


class Slots:
    __slots__ = ("env", "capacity", "count", "queue", "waits")

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.capacity = capacity
        self.count = 0  # servers in use
        self.queue: deque[simpy.Event] = deque()  # processes waiting for a server
        self.waits = 0  # processes that ever had to wait

    def acquire(self) -> simpy.Event | None:
        """Take a server: None if one was free (taken now), else an event to wait for."""
        if self.count < self.capacity:
            self.count += 1
            return None
        ev = simpy.Event(self.env)
        self.queue.append(ev)
        self.waits += 1
        return ev

    def take_now(self) -> None:
        """Take a server at once even if none is free (an emergency drawing a worker off
        routine work): the pool is over capacity, and waiting processes get servers only
        once it is back under it."""
        self.count += 1

    def release(self) -> None:
        """Give a server back; the longest-waiting process, if any, gets it (unless servers
        were taken beyond capacity with :meth:`take_now`: then the pool shrinks back first)."""
        if self.queue and self.count <= self.capacity:
            self.queue.popleft().succeed()
        else:
            self.count -= 1
