"""Functional departments (S3): crews in every street as capacity-limited SimPy resources.

A crew is claimed only while its shift is open: a request made off-shift waits in the street's
priority queue, and when the shift opens the waiting cases get crews in priority order (an urgent
case reported at 07:00 goes before a routine one queued since 20:00). Emergency requests
(priority below ``ROUTINE_FLOOR``) are granted at any hour. What happens to work in progress at
the end of a shift is the department's ``end_of_shift`` (``sim.engine.workflow``).
"""

from __future__ import annotations

import heapq
from typing import Any, Generator

import mesa
import simpy

from sim.agents.base import GridAgent
from sim.scenario import Department as DepartmentConfig
from sim.scenario import Window
from sim.world.calendar import HOURS_PER_DAY, in_window, next_open

#: requests with a priority below this are emergencies and ignore the shift
ROUTINE_FLOOR = -50


class _ShiftGate:
    """Mixin for SimPy priority resources: routine requests are granted only inside ``shift``."""

    shift: Window

    def _do_put(self, event: Any) -> Any:  # noqa: D401 - SimPy hook
        if event.priority > ROUTINE_FLOOR and not in_window(self._env.now, self.shift):
            return None  # stays queued; the shift opening grants it
        return super()._do_put(event)  # type: ignore[misc]

    def grant_waiting(self) -> None:
        """Grant queued requests while crews are free (called when the shift opens)."""
        while self.put_queue and len(self.users) < self.capacity:  # type: ignore[attr-defined]
            n = len(self.users)  # type: ignore[attr-defined]
            self._trigger_put(None)  # type: ignore[attr-defined]
            if len(self.users) == n:  # type: ignore[attr-defined]
                break


    # the claim interface of the workflow (``sim.engine.workflow._crew_visit``), as CrewPool's
    def claim(self, priority: int, case_id: int) -> tuple[Any, Any]:
        """Ask for a crew: (token, None) if one is granted now, else (token, event to wait
        for)."""
        req = self.request(priority=priority, preempt=False)  # type: ignore[attr-defined]
        req.case_id = case_id  # lets an emergency name the case it pre-empts
        return req, (None if req.triggered else req)

    def unclaim(self, token: Any) -> None:
        token.cancel()

    def give_back(self, token: Any) -> None:
        self.release(token)  # type: ignore[attr-defined]

    @property
    def n_waiting(self) -> int:
        return len(self.queue)  # type: ignore[attr-defined]


class CrewPool:
    """A street's crews of one department when no emergency can claim them: the same rules as
    ``ShiftCrews`` — by priority, first come first served within one, routine requests granted
    only inside the shift — but a free crew is taken without an event, and only a case that
    must wait gets one (triggered when a crew passes to it)."""

    __slots__ = ("env", "capacity", "shift", "count", "n_waiting", "_heap", "_seq")

    def __init__(self, env: simpy.Environment, capacity: int, shift: Window):
        self.env = env
        self.capacity = capacity
        self.shift = shift
        self.count = 0  # crews out
        self.n_waiting = 0
        self._heap: list[tuple[int, float, int, simpy.Event]] = []
        self._seq = 0

    def _open(self) -> bool:
        return self.shift.always or in_window(self.env.now, self.shift)

    def claim(self, priority: int, case_id: int) -> tuple[Any, Any]:
        if self.count < self.capacity and self._open():
            self.count += 1
            return None, None
        ev = simpy.Event(self.env)
        ev.waiting = True  # type: ignore[attr-defined]
        self._seq += 1
        heapq.heappush(self._heap, (priority, self.env.now, self._seq, ev))
        self.n_waiting += 1
        return ev, ev

    def unclaim(self, token: Any) -> None:
        if token.waiting:  # left lazily in the heap, skipped when it comes up
            token.waiting = False
            self.n_waiting -= 1

    def give_back(self, token: Any) -> None:
        self.count -= 1
        if self._heap and self._open():
            self._grant()

    def _grant(self) -> bool:
        heap = self._heap
        while heap:
            ev = heapq.heappop(heap)[3]
            if ev.waiting:
                ev.waiting = False
                self.n_waiting -= 1
                self.count += 1
                ev.succeed()
                return True
        return False

    def grant_waiting(self) -> None:
        """Grant queued requests while crews are free (called when the shift opens)."""
        while self.count < self.capacity and self._grant():
            pass



class ShiftCrews(_ShiftGate, simpy.PriorityResource):
    def __init__(self, env: simpy.Environment, capacity: int, shift: Window):
        super().__init__(env, capacity=capacity)
        self.shift = shift


class PreemptiveShiftCrews(_ShiftGate, simpy.PreemptiveResource):
    def __init__(self, env: simpy.Environment, capacity: int, shift: Window):
        super().__init__(env, capacity=capacity)
        self.shift = shift


def shift_openings(env: simpy.Environment, shift: Window,
                   pools: list[_ShiftGate]) -> Generator:
    """At every opening of ``shift``, let the pools grant what waited overnight."""
    t = env.now
    while True:
        t_open = next_open(t, shift)
        if t_open > env.now:
            yield env.timeout(t_open - env.now)
        for p in pools:
            p.grant_waiting()
        day = int(t_open // HOURS_PER_DAY)
        t = day * HOURS_PER_DAY + shift.end_h
        while next_open(t, shift) == t:  # open straight through midnight: no new opening
            day += 1
            t = day * HOURS_PER_DAY + shift.end_h


def shift_end(t: float, shift: Window) -> float:
    """End of the open stretch of ``shift`` that contains ``t`` (``t`` itself if closed)."""
    if shift.always:
        return float("inf")
    if not in_window(t, shift):
        return t
    day = int(t // HOURS_PER_DAY)
    end = day * HOURS_PER_DAY + shift.end_h
    for _ in range(8):
        if next_open(end, shift) != end:
            return end
        day += 1
        end = day * HOURS_PER_DAY + shift.end_h
    return float("inf")


class Department(GridAgent):
    """职能部门 with ``crews_per_street`` crews based at each street's depot."""

    def __init__(self, model: mesa.Model, code: str, cfg: DepartmentConfig, n_streets: int,
                 env: simpy.Environment):
        super().__init__(model)
        self.code = code
        self.cfg = cfg
        em = getattr(model.scenario, "emergency", None)  # emergencies may pre-empt routine work
        if em is None or not em.enabled:
            pool: Any = CrewPool
        else:
            pool = PreemptiveShiftCrews if em.rules.routine_work == "preempt" else ShiftCrews
        self.crews = [pool(env, cfg.crews_per_street, cfg.shift)
                      for _ in range(n_streets)] if cfg.crews_per_street else []
        if self.crews and not cfg.shift.always:
            env.process(shift_openings(env, cfg.shift, self.crews))
        self.cases_handled = 0
        # answers to appraisal (sim.policies.incentives): handling time × time_factor; fix success
        self.time_factor = 1.0
        self.fix_success_prob = cfg.fix_success_prob
        self.returns = 0  # cases misrouted to this department and sent back (回退)
        self.misrouted_visits = 0  # crew visits wasted on cases that were not this department's
        self.reworks = 0

    @property
    def n_crews(self) -> int:
        return self.cfg.crews_per_street * len(self.crews)

    def crews_busy(self) -> int:
        return sum(r.count for r in self.crews)

    def queue_length(self) -> int:
        return sum(r.n_waiting for r in self.crews)
