"""Functional departments (S3): crews in every street as capacity-limited SimPy resources."""

from __future__ import annotations

import mesa
import simpy

from sim.agents.base import GridAgent
from sim.scenario import Department as DepartmentConfig


class Department(GridAgent):
    """职能部门 with ``crews_per_street`` crews based at each street's depot."""

    def __init__(self, model: mesa.Model, code: str, cfg: DepartmentConfig, n_streets: int,
                 env: simpy.Environment):
        super().__init__(model)
        self.code = code
        self.cfg = cfg
        em = getattr(model.scenario, "emergency", None)  # emergencies may pre-empt routine work
        pool = (simpy.PreemptiveResource if em is not None and em.enabled
                and em.rules.routine_work == "preempt" else simpy.PriorityResource)
        self.crews = [pool(env, capacity=cfg.crews_per_street)
                      for _ in range(n_streets)] if cfg.crews_per_street else []
        self.cases_handled = 0
        # answers to appraisal (sim.policies.incentives): handling time × time_factor; fix success
        self.time_factor = 1.0
        self.fix_success_prob = cfg.fix_success_prob
        self.returns = 0
        self.reworks = 0

    @property
    def n_crews(self) -> int:
        return self.cfg.crews_per_street * len(self.crews)

    def crews_busy(self) -> int:
        return sum(r.count for r in self.crews)

    def queue_length(self) -> int:
        return sum(len(r.queue) for r in self.crews)
