"""Training, recruitment and attrition of grid workers (S6.1, S6.2, S6.3).

* Training: each worker spends ``hours_per_month`` in training, spread over the days. An hour
  closes ``skill_gain_per_hour`` of the gap between the worker's skill and 1. Skill raises the
  on-the-spot fix chance (``patrol.on_spot_fix_prob · skill``), lowers verification misses
  (``platform.verification_miss_prob · (1 − skill)``) and lowers the misclassification
  (misroute) chance of the worker's reports by the factor (1 − skill) / (1 − skill when hired).
  Training time is taken from patrols: patrol strength × (1 − training hours / patrol hours).
  Cost: ``cost_per_hour_yuan`` per worker-hour.
* Attrition: at each appraisal, a worker whose month's pay (base + variable) falls short of what
  the workload asks — base pay × max(1, (reports + verifications) / reference_cases_per_month)
  — quits with monthly chance ``min(max_quit_prob, quit_sensitivity · shortfall share)``; over
  an appraisal period of ``months`` (a partial first period, or cycles other than 30 days) the
  chance is 1 − (1 − monthly chance)^months.
* Recruitment: the post stays vacant ``vacancy_days``; the replacement is the best of
  ``applicants_per_hire`` applicants whose skills are Normal(applicant_skill_mean, sd); each
  applicant screened costs ``cost_per_applicant_yuan`` and each hire ``cost_per_hire_yuan``.
  With ``applies_to_initial`` the starting workforce was recruited the same way (its one-off
  hiring cost is not counted in the run's monthly costs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine.case import Incident
from sim.policies.tally import Tally
from sim.world.calendar import open_hours_between

if TYPE_CHECKING:
    from sim.engine.model import GridModel
    from sim.policies.incentives import Incentives


class Workforce:
    def __init__(self, m: "GridModel", tally: Tally, incentives: "Incentives"):
        self.m = m
        self.tally = tally
        self.incentives = incentives
        self.cfg = m.scenario.workforce
        self.rng = m.streams["workforce"]
        # each worker once: with patrol beats (staffing.workers_total) grids share workers
        self.workers = list({w.unique_id: w for ws in m.workers_by_grid for w in ws}.values())
        self.by_id = {w.unique_id: w for w in self.workers}
        patrol_h_month = open_hours_between(0.0, 30 * 24.0, m.scenario.patrol.hours)
        tr = self.cfg.training
        share = tr.hours_per_month / patrol_h_month if patrol_h_month > 0 else 0.0
        self.training_share = min(0.9, share)
        if tr.hours_per_month > 0:
            for w in self.workers:
                w.training_share = self.training_share
        self.recruited_initial = self.cfg.recruitment.applies_to_initial
        if self.recruited_initial:
            rng = m.streams["recruitment_initial"]
            for w in self.workers:
                w.skill = w.initial_skill = self._best_applicant(rng)

    @property
    def active(self) -> bool:
        return self.cfg.training.hours_per_month > 0 or self.cfg.attrition.quit_sensitivity > 0

    # --------------------------------------------------------------------------------- training
    def daily(self) -> bool:
        """One day of training. Returns True if skills changed."""
        tr = self.cfg.training
        if tr.hours_per_month <= 0:
            return False
        hours = tr.hours_per_month / 30.0
        keep = (1.0 - tr.skill_gain_per_hour) ** hours
        n = 0
        for w in self.workers:
            if w.present:
                w.skill = 1.0 - (1.0 - w.skill) * keep
                n += 1
        self.tally.add("training_hours", hours * n)
        self.tally.add("training_cost_yuan", hours * n * tr.cost_per_hour_yuan)
        return True

    def misroute_factor(self, inc: Incident) -> float:
        """Classification accuracy of the reporting worker (1 for other channels)."""
        if not self.active or inc.channel != "patrol" or inc.worker < 0:
            return 1.0
        w = self.by_id.get(inc.worker)
        if w is None or w.skill == w.initial_skill or w.initial_skill >= 1.0:
            return 1.0
        return max(0.0, (1.0 - w.skill) / (1.0 - w.initial_skill))

    # ------------------------------------------------------------------------ attrition, hiring
    def appraise(self, months: float) -> bool:
        """End of a cycle: who quits. Returns True if anyone left."""
        at = self.cfg.attrition
        if at.quit_sensitivity <= 0 or months <= 0:
            return False
        base = self.m.scenario.staffing.pay.grid_worker
        left = False
        for st in self.incentives.state.values():
            w = st.worker
            if not w.present:
                continue
            work = ((w.reports - st.reports_at_cycle) + (w.verifications - st.verifs_at_cycle)) \
                / months
            pay = base + st.pay_in_cycle / months
            need = base * max(1.0, work / at.reference_cases_per_month)
            shortfall = max(0.0, 1.0 - pay / need) if need > 0 else 0.0
            p = min(at.max_quit_prob, at.quit_sensitivity * shortfall)
            if self.rng.random() < 1.0 - (1.0 - p) ** months:
                self._quit(w)
                left = True
        return left

    def _quit(self, w) -> None:
        m = self.m
        w.present = False
        self.tally.add("workers_quit")
        delay = self.cfg.recruitment.vacancy_days * 24.0
        if m.env.now + delay < m.horizon_h:
            ev = m.env.timeout(delay)
            ev.callbacks.append(lambda _e, w=w: self._hire(w))

    def _hire(self, w) -> None:
        rc = self.cfg.recruitment
        w.skill = w.initial_skill = self._best_applicant(self.rng)
        w.present = True
        st = self.incentives.state[w.unique_id]
        w.effort = st.base_effort
        st.reports_at_decision = w.reports
        st.reports_at_cycle = w.reports
        st.verifs_at_cycle = w.verifications
        self.tally.add("workers_hired")
        self.tally.add("recruitment_cost_yuan",
                       rc.cost_per_hire_yuan + rc.applicants_per_hire * rc.cost_per_applicant_yuan)
        self.m.refresh_patrol_rates()

    def _best_applicant(self, rng: np.random.Generator) -> float:
        rc = self.cfg.recruitment
        draws = rng.normal(rc.applicant_skill_mean, rc.applicant_skill_sd, rc.applicants_per_hire)
        return float(np.clip(draws.max(), 0.05, 1.0))

    def mean_skill(self) -> float:
        s = [w.skill for w in self.m.own_workers if w.present]  # a part's own (sim.engine.parts)
        return float(np.mean(s)) if s else float("nan")
