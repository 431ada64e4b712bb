"""Wires the behaviour and policy modules into a GridModel through a few hooks.

``GridModel`` calls: ``adjust_birth_times`` for a batch of new incidents (AI video),
``adjust_channel_times`` when a patrol finds one (a colluding patrol keeping it off the record),
``on_report`` at a first report, ``staged_verification`` before a site check, ``misroute_factor`` at dispatch, ``on_finish`` when a case closes or is
parked (returns True if the joint meeting holds it), ``on_overdue`` at each missed deadline,
``case_flags`` when a row is written, ``finish`` at the end and ``context`` for the KPIs.

Processes: a daily tick (campaigns, training, satisfaction sampling), the appraisal cycle,
public disclosure, the joint meeting, hotspot relearning and AI-video false alarms — each only
when switched on.

Periodic policies act in runs of any length over a week: the first appraisal period and the
first disclosure period are partial — they end after the learning week (7 days) — and later ones
end at multiples of ``appraisal.cycle_days`` / ``residents.disclosure.interval_days`` from the
start (``period_ends``). A partial appraisal period counts pro rata: quota and satisfaction bonus
scale with its length, departments are ranked on what it showed, and the quit chance over it is
1 − (1 − monthly chance)^months. Actions due at or after the end of the run would change nothing
the run measures and are not taken; ``sim.scenario.policies.periodic_warnings`` names a policy a
chosen run length leaves with no action at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sim.engine.case import Incident
from sim.policies.incentives import Incentives
from sim.policies.joint_meeting import JointMeeting
from sim.policies.residents import ResidentsBehaviour
from sim.policies.smart_platform import SmartPlatform
from sim.policies.tally import Tally
from sim.policies.workforce import Workforce

if TYPE_CHECKING:
    from sim.engine.case import SubtypeInfo
    from sim.engine.model import GridModel

LEARNING_WEEK_H = 7 * 24.0  # first worker decisions, first (partial) appraisal and disclosure


def period_ends(interval_h: float, horizon_h: float) -> list[float]:
    """When a periodic policy acts: after the learning week (the end of a first, partial period,
    if the interval is longer), then at every multiple of the interval, strictly before the end
    of the run (an action at the end would change nothing measured)."""
    times = {interval_h * k for k in range(1, int(horizon_h // interval_h) + 2)}
    if interval_h > LEARNING_WEEK_H:
        times.add(LEARNING_WEEK_H)
    return sorted(t for t in times if t < horizon_h)


_NO_FLAGS = (False,) * 8  # ``Policies.case_flags`` of a case with no extra


class Policies:
    def __init__(self, m: "GridModel"):
        self.m = m
        sc = m.scenario
        self.tally = Tally(m)
        self.incentives = Incentives(m, self.tally)
        self.residents = ResidentsBehaviour(m, self.tally, self.incentives)
        self.workforce = Workforce(m, self.tally, self.incentives)
        self.smart = SmartPlatform(m, self.tally)
        self.meeting = JointMeeting(m, self.tally) if sc.joint_meeting.enabled else None
        if self.workforce.recruited_initial or self.workforce.training_share:
            m.refresh_patrol_rates()  # skills or patrol time differ from the core's staffing
        self._sat_sum = 0.0
        self._sat_n = 0
        env = m.env
        env.process(self._daily())
        env.process(self._cycles())
        if sc.residents.disclosure.enabled:
            env.process(self._at(period_ends(sc.residents.disclosure.interval_days * 24.0,
                                             m.horizon_h), self.residents.disclose))
        if self.meeting is not None:
            env.process(self.meeting.process())
        if sc.smart_platform.hotspot_patrol.enabled:
            env.process(self._every(sc.smart_platform.hotspot_patrol.relearn_interval_days,
                                    self.smart.reallocate))
        if sc.smart_platform.ai_video.enabled:
            env.process(self.smart.false_alarms())

    # -------------------------------------------------------------------------------- processes
    def _at(self, times: list[float], action: Callable[[], None]):
        for t in times:
            yield self.m.env.timeout(t - self.m.env.now)
            action()

    def _every(self, days: float, action: Callable[[], None]):
        m = self.m
        t = days * 24.0
        while t < m.horizon_h:
            yield m.env.timeout(t - m.env.now)
            action()
            t += days * 24.0

    def _daily(self):
        m = self.m
        campaigns = self.residents.campaigns_active
        t = 24.0
        while t < m.horizon_h:
            yield m.env.timeout(t - m.env.now)
            if campaigns:
                self.residents.daily()
            if self.workforce.daily():
                m.refresh_patrol_rates()
            self._scan_overdue()
            if m.warmup_h <= t < m.horizon_h:
                self._sat_sum += self.residents.mean_satisfaction()
                self._sat_n += 1
            t += 24.0

    def _cycle_times(self) -> list[float]:
        return period_ends(self.m.scenario.appraisal.cycle_days * 24.0, self.m.horizon_h)

    def _cycles(self):
        """Each period end: close the (possibly partial) appraisal cycle — pay, department
        lists, who quits — then every worker re-chooses effort and gaming."""
        m = self.m
        inc = self.incentives
        inc.start_cycle_counts()
        times = self._cycle_times()
        for k, t in enumerate(times):
            yield m.env.timeout(t - m.env.now)
            months = (t - inc._cycle_start) / (30 * 24.0)
            inc.close_cycle()
            self.tally.add("appraisal_cycles")
            if self.workforce.appraise(months):
                m.refresh_patrol_rates()
            inc.start_cycle_counts()
            inc.decide()
            t_next = times[k + 1] if k + 1 < len(times) else m.horizon_h
            if inc.gaming_active:
                inc.schedule_padding(t_next)

    # ------------------------------------------------------------------------------------ hooks
    def adjust_channel_times(self, inc: Incident, sub: "SubtypeInfo",
                             times: dict[str, float]) -> None:
        if self.incentives.gaming_active and times:
            self.incentives.maybe_suppress(inc, times)

    def adjust_birth_times(self, grids: Any, subs: Any, t: Any, u: Any, free: Any,
                           t3: Any) -> None:
        """Channel times of a batch of new incidents (arrays; ``t3[:, 2]`` video): AI video."""
        if self.smart.ai.enabled:
            self.smart.adjust_birth_times(grids, subs, t, u, free, t3)

    def on_report(self, inc: Incident, channel: str) -> None:
        self.incentives.on_report(inc, channel)
        self.smart.on_report(inc)

    def staged_verification(self, inc: Incident, u_verify: float, fixed: bool) -> bool:
        if not self.incentives.gaming_active:
            return False
        return self.incentives.staged(inc, u_verify, fixed)

    def misroute_factor(self, inc: Incident) -> float:
        return self.workforce.misroute_factor(inc)

    def on_finish(self, inc: Incident, state: str) -> bool:
        """A case closed or parked. True if the joint meeting holds it (do not record yet)."""
        padded = bool(inc.extra and inc.extra.get("padded"))
        dispatched = inc.t_due == inc.t_due
        if state == "closed":
            self.incentives.on_closed(inc)
            if dispatched and inc.t_closed <= inc.t_due:
                self.residents.record_outcome(inc, True)
        if dispatched and (state == "parked" or inc.t_closed > inc.t_due):
            self._overdue(inc)
        if not padded:
            self.residents.on_finish(inc, state)
        if state == "parked" and self.meeting is not None:
            self.meeting.hold(inc)
            return True
        return False

    def _scan_overdue(self) -> None:
        """Once a day: open cases past their deadline count as overdue (once each)."""
        now = self.m.env.now
        for inc in list(self.m.open_incidents.values()):
            if inc.t_due < now and not (inc.extra and inc.extra.get("late")):
                self._overdue(inc)

    def _overdue(self, inc: Incident) -> None:
        """A case missed its deadline (counted once): penalties, residents' view, disclosure."""
        if inc.extra and inc.extra.get("late"):
            return
        inc.extra = {**(inc.extra or {}), "late": True}
        self.incentives.on_overdue(inc)
        self.residents.on_overdue(inc)
        self.residents.record_outcome(inc, False)

    @staticmethod
    def case_flags(inc: Incident) -> tuple[bool, ...]:
        """(padded, suppressed, staged_verification, gaming_caught, joint_meeting, reassigned,
        mutual_aid, extension): the case log's flag columns, in that order."""
        x = inc.extra
        if not x:  # most cases
            return _NO_FLAGS
        return (bool(x.get("padded")), x.get("suppressed_by") is not None,
                x.get("staged_by") is not None, bool(x.get("caught")),
                bool(x.get("joint_meeting")), bool(x.get("reassigned")),
                bool(x.get("mutual_aid")), bool(x.get("extension")))

    # ------------------------------------------------------------------------------------- end
    def finish(self) -> None:
        """Close the last, partial appraisal cycle at the horizon."""
        self.incentives.close_cycle()

    def reporters(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "resident_satisfaction": lambda m: self.residents.mean_satisfaction(),
            "resident_awareness": lambda m: self.residents.mean_awareness(),
            "resident_trust": lambda m: self.residents.mean_trust(),
            "mean_worker_effort": lambda m: self.incentives.mean_effort(),
            "mean_worker_skill": lambda m: self.workforce.mean_skill(),
            "cum_padded_reports": lambda m: self.incentives_padded(),
            "n_parked_waiting": lambda m: len(self.meeting.agenda) if self.meeting else 0,
        }

    def grid_frame(self, grids: Any) -> Any:
        """The city's grid table plus each grid's resident aggregates at the end of the run
        (satisfaction, awareness, trust, reports, complaints, campaign events) and its mean
        worker effort and skill — grid aggregates only, no person-level data (S5.3)."""
        r = self.m.residents
        out = grids.copy()
        out["resident_satisfaction"] = [x.satisfaction for x in r]
        out["resident_awareness"] = [x.awareness for x in r]
        out["resident_trust"] = [x.trust for x in r]
        out["resident_reports"] = [x.reports for x in r]
        out["complaints"] = [x.complaints for x in r]
        out["campaign_events"] = [x.campaign_events for x in r]
        ws = self.m.workers_by_grid
        out["mean_worker_effort"] = [sum(w.effort for w in g) / len(g) for g in ws]
        out["mean_worker_skill"] = [sum(w.skill for w in g) / len(g) for g in ws]
        return out

    def incentives_padded(self) -> int:
        return sum(st.padded_total for st in self.incentives.state.values())

    def context(self) -> dict[str, float]:
        """Window totals and end states the KPIs need (``RunContext.policy``)."""
        t = self.tally
        keys = ("complaints", "investigations", "gaming_caught", "caught_padded",
                "caught_suppressed", "caught_staged", "caught_by_complaint", "suppressed",
                "staged_verifications", "false_alarms", "campaign_events", "workers_quit",
                "workers_hired", "parked_resolved", "joint_meetings", "side_payments_yuan",
                "cases_reviewed", "level_team_wait_h")
        out = {k: t.get(k) for k in keys}
        for k in ("incentive_pay_yuan", "training_cost_yuan", "campaign_cost_yuan",
                  "recruitment_cost_yuan", "department_penalties_yuan"):
            out[k.replace("_yuan", "_monthly")] = t.monthly(k)
        out["ai_video_cost_monthly"] = self.smart.monthly_cost()
        out["worker_base_pay_monthly"] = len(self.incentives.state) \
            * self.m.scenario.staffing.pay.grid_worker
        out["resident_satisfaction"] = (self._sat_sum / self._sat_n if self._sat_n
                                        else self.residents.mean_satisfaction())
        out["resident_satisfaction_end"] = self.residents.mean_satisfaction()
        out["resident_trust_end"] = self.residents.mean_trust()
        out["mean_worker_effort_end"] = self.incentives.mean_effort()
        out["mean_worker_skill_end"] = self.workforce.mean_skill()
        return out
