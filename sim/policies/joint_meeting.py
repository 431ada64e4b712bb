"""The joint meeting of departments (联席会议, S3.1) on parked cases (挂账).

With ``joint_meeting.enabled`` a parked case — a complex, multi-department problem one department
could not solve, or one that failed too many reworks — is no longer recorded when it is parked: it
waits on the meeting's agenda (state ``parked``) and stays in the case log as parked if the run
ends first. Every ``interval_days`` at ``hour`` the meeting takes up to ``capacity_cases`` cases,
oldest first; it agrees a joint solution with ``resolve_prob`` (else the case waits for the next
meeting). An agreed case is handled by a crew of the responsible department (handling time ×
``handling_time_factor``, travel as usual), the result fed back and verified on site by a grid
worker (the crew visit is the workflow's, so emergencies may pre-empt it); the fix holds with
``fix_success_prob``, otherwise the case goes back on the agenda. Every draw is the case's own
(``sim.engine.case.case_uniform``), keyed by the sitting. Closed cases are marked ``joint_meeting``
in the case log.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Generator

from sim.engine.case import Incident, case_uniform
from sim.policies.tally import Tally

if TYPE_CHECKING:
    from sim.engine.model import GridModel


class JointMeeting:
    def __init__(self, m: "GridModel", tally: Tally):
        self.m = m
        self.tally = tally
        self.cfg = m.scenario.joint_meeting
        self.agenda: deque[Incident] = deque()
        self.sittings = 0

    def hold(self, inc: Incident) -> None:
        """A parked case waits for the meeting (it stays open in the model)."""
        self.agenda.append(inc)

    def process(self) -> Generator:
        m, cfg = self.m, self.cfg
        period = cfg.interval_days * 24.0
        t = period + cfg.hour  # the first meeting sits after one interval
        while t < m.horizon_h:
            yield m.env.timeout(t - m.env.now)
            self.sit()
            t += period

    def sit(self) -> None:
        m, cfg = self.m, self.cfg
        self.tally.add("joint_meetings")
        self.sittings += 1
        taken = [self.agenda.popleft() for _ in range(min(cfg.capacity_cases, len(self.agenda)))]
        for inc in taken:
            self.tally.add("meeting_cases_discussed")
            if case_uniform(inc, "meeting_resolve", self.sittings) < cfg.resolve_prob:
                m.counters["parked"] -= 1
                m.env.process(self._joint_handling(inc))
            else:
                self.agenda.append(inc)

    def _joint_handling(self, inc: Incident) -> Generator:
        m, cfg = self.m, self.cfg
        env = m.env
        sub = m.subtypes[inc.sub]
        dept = m.departments[sub.department]
        g = inc.grid
        k = self.sittings
        inc.state = "handling"
        inc.park_due = False
        inc.extra = {**(inc.extra or {}), "joint_meeting": True}
        work = dept.cfg.handling_time.ppf(case_uniform(inc, "meeting_handle", k)) \
            * cfg.handling_time_factor * dept.time_factor
        inc.priority = -(sub.urgency + 1)
        yield from m.crew_visit(inc, dept, m.travel_h(sub.department, g), work)
        dept.cases_handled += 1
        inc.state = "feedback"
        yield env.timeout(m.scenario.platform.feedback_delay.ppf(
            case_uniform(inc, "meeting_feedback", k)))
        inc.state = "verification"
        yield from m.verify(inc, m.scenario.patrol.verification_time.ppf(
            case_uniform(inc, "meeting_verify_time", k)))
        if case_uniform(inc, "meeting_fix", k) < cfg.fix_success_prob:
            inc.t_closed = env.now
            self.tally.add("parked_resolved")
            m.finish_case(inc, "closed")
        else:
            inc.t_parked = env.now
            m.finish_case(inc, "parked")
