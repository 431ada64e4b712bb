"""Resident dynamics (S4, S7.1): campaigns, satisfaction, complaints, public disclosure.

* Campaigns (S4.1): each kind (talks, leaflets, volunteers) holds ``events_per_grid_per_month``
  events in every grid, evenly spaced and staggered across grids. One event closes
  ``awareness_gain`` of the gap between the grid's awareness and ``awareness_max``; every day the
  excess over 1 shrinks by ``0.5 ** (1 / awareness_half_life_days)``. Each event costs
  ``cost_per_event_yuan``.
* Satisfaction (0–100) moves toward the score residents give each handled problem of their grid,
  with weight ``satisfaction_learning_rate`` (× ``own_report_weight`` when they reported it):
  fixed on the spot → 100; closed → 100 · exp(−h late / lateness_scale_h), where h late counts
  from the incident's occurrence (a problem left unreported for days is late for residents)
  against the time its deadline allowed; a false closure (problem still there) →
  ``false_closure_score``; parked → ``parked_score``; a missed deadline → ``overdue_score``.
* Complaints (S4.3): a score below 50 is a bad experience; residents complain through the
  supervision hotline or mailbox with chance ``prob_per_bad_experience · trust / 0.5``. Each
  complaint opens an investigation of the grid's staff after ``investigation_delay_days``; if the
  case was gamed (kept off the record, or a staged verification) the investigation uncovers it
  with ``investigation_detect_prob``; the outcome is fed back and trust rises.
* Public disclosure (S4.2, S4.3): every ``interval_days`` each grid's on-time closure rate is
  published; a good rate raises trust (``trust_gain`` of the gap to 1), a bad one lowers it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.engine.case import Incident, case_uniform
from sim.policies.tally import Tally

if TYPE_CHECKING:
    from sim.engine.model import GridModel
    from sim.policies.incentives import Incentives

RESIDENT_CHANNELS = ("resident",)
CAMPAIGN_KINDS = ("talks", "leaflets", "volunteers")
BAD_EXPERIENCE = 50.0
OVERDUE, FINISHED = 0, 1  # the moments residents judge a case (its complaint numbers)


class ResidentsBehaviour:
    def __init__(self, m: "GridModel", tally: Tally, incentives: "Incentives"):
        self.m = m
        self.tally = tally
        self.incentives = incentives
        self.cfg = m.scenario.residents
        n = m.city.n_grids
        golden = (np.sqrt(5) - 1) / 2
        self._acc = {k: (np.arange(n) * golden) % 1.0 for k in CAMPAIGN_KINDS}
        self._disc_on_time = np.zeros(n)
        self._disc_late = np.zeros(n)

    @property
    def campaigns_active(self) -> bool:
        c = self.cfg.campaigns
        return any(getattr(c, k).events_per_grid_per_month > 0 for k in CAMPAIGN_KINDS)

    # -------------------------------------------------------------------------------- campaigns
    def daily(self) -> None:
        cfg = self.cfg
        keep = 0.5 ** (1.0 / cfg.awareness_half_life_days)
        groups = self.m.residents
        for r in groups:
            r.fade_awareness(keep)
        for kind in CAMPAIGN_KINDS:
            c = getattr(cfg.campaigns, kind)
            if c.events_per_grid_per_month <= 0:
                continue
            acc = self._acc[kind] + c.events_per_grid_per_month / 30.0
            n_events = np.floor(acc).astype(int)
            self._acc[kind] = acc - n_events
            for g in np.nonzero(n_events)[0].tolist():
                for _ in range(int(n_events[g])):
                    groups[g].raise_awareness(c.awareness_gain, cfg.awareness_max)
                self.tally.add("campaign_events", float(n_events[g]))
                self.tally.add("campaign_cost_yuan", c.cost_per_event_yuan * float(n_events[g]))

    # ----------------------------------------------------------------------------- satisfaction
    def _weight(self, inc: Incident) -> float:
        return self.cfg.own_report_weight if inc.channel in RESIDENT_CHANNELS else 1.0

    def on_finish(self, inc: Incident, state: str) -> None:
        cfg = self.cfg
        if state == "parked":
            self._experience(inc, cfg.parked_score, FINISHED)
            return
        if state != "closed":
            return
        if inc.false_closure:
            score = cfg.false_closure_score
        elif inc.on_spot:
            score = 100.0
        else:
            allowed = inc.t_due - inc.t_dispatch if inc.t_due == inc.t_due else 0.0
            late = max(0.0, (inc.t_closed - inc.t_occur) - allowed)
            score = 100.0 * math.exp(-late / cfg.lateness_scale_h)
        self._experience(inc, score, FINISHED)

    def on_overdue(self, inc: Incident) -> None:
        self._experience(inc, self.cfg.overdue_score, OVERDUE)

    def _experience(self, inc: Incident, score: float, moment: int) -> None:
        """Residents judge a case (when it goes overdue, and when it closes or is parked); after
        a bad experience they may complain — decided by the case's own number for that moment,
        so the same case gives the same complaint whatever else happened in the run."""
        g = inc.grid
        self.m.residents[g].observe(score, self._weight(inc))
        if score < BAD_EXPERIENCE \
                and case_uniform(inc, "complaint", moment) < self.incentives.complain_prob(g):
            self._complain(inc)

    # ------------------------------------------------------------------------------- complaints
    def _complain(self, inc: Incident) -> None:
        m = self.m
        m.residents[inc.grid].complaints += 1
        self.tally.add("complaints")
        delay_h = self.cfg.complaints.investigation_delay_days * 24.0
        if m.env.now + delay_h < m.horizon_h:
            ev = m.env.timeout(delay_h)
            ev.callbacks.append(lambda _e: self._investigate(inc))

    def _investigate(self, inc: Incident) -> None:
        cfg = self.cfg.complaints
        self.tally.add("investigations")
        extra = inc.extra or {}
        for key, kind in (("suppressed_by", "suppressed"), ("staged_by", "staged")):
            wid = extra.get(key)
            if wid is not None and not extra.get("caught") \
                    and case_uniform(inc, "investigation_" + kind) \
                    < cfg.investigation_detect_prob:
                self.incentives.caught(wid, kind, inc)
                self.tally.add("caught_by_complaint")
        self.m.residents[inc.grid].move_trust(gain=cfg.feedback_trust_gain)

    # ------------------------------------------------------------------------------- disclosure
    def record_outcome(self, inc: Incident, on_time: bool) -> None:
        if on_time:
            self._disc_on_time[inc.grid] += 1
        else:
            self._disc_late[inc.grid] += 1

    def disclose(self) -> None:
        d = self.cfg.disclosure
        tot = self._disc_on_time + self._disc_late
        for g, r in enumerate(self.m.residents):
            if tot[g] == 0:
                continue
            if self._disc_on_time[g] / tot[g] >= d.good_on_time_rate:
                r.move_trust(gain=d.trust_gain)
            else:
                r.move_trust(loss=d.trust_loss)
        self.tally.add("disclosures")
        self._disc_on_time[:] = 0
        self._disc_late[:] = 0

    # ---------------------------------------------------------------------------------- summary
    def mean_satisfaction(self) -> float:
        r = self.m.own_residents  # the city's groups (a part's own: sim.engine.parts)
        w = np.array([x.households for x in r])
        s = np.array([x.satisfaction for x in r])
        return float((w * s).sum() / w.sum()) if w.sum() else float("nan")

    def mean_trust(self) -> float:
        return float(np.mean([x.trust for x in self.m.own_residents]))

    def mean_awareness(self) -> float:
        return float(np.mean([x.awareness for x in self.m.own_residents]))
