"""Functional departments (S3): crews in every street as capacity-limited SimPy resources.

A crew is claimed only while its shift is open: a request made off-shift waits in the street's
priority queue, and when the shift opens the waiting cases get crews in priority order (an urgent
case reported at 07:00 goes before a routine one queued since 20:00). Emergency requests
(priority below ``ROUTINE_FLOOR``) are granted at any hour. What happens to work in progress at
the end of a shift is the department's ``end_of_shift`` (``sim.engine.workflow``).
"""

from __future__ import annotations

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
        pool = (PreemptiveShiftCrews if em is not None and em.enabled
                and em.rules.routine_work == "preempt" else ShiftCrews)
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
        return sum(len(r.queue) for r in self.crews)
