"""The joint meeting of departments (联席会议, S3.1) on parked cases (挂账).

With ``joint_meeting.enabled`` a parked case — a complex, multi-department problem one
department could not solve, or one that failed too many reworks — is no longer recorded when it
is parked: it waits on the meeting's agenda (state ``parked``) and stays in the case log as
parked if the run ends first. Every ``interval_days`` at ``hour`` the meeting takes up to
``capacity_cases`` cases, oldest first; it agrees a joint solution with ``resolve_prob`` (else
the case waits for the next meeting). An agreed case is handled by a crew of the responsible
department (handling time × ``handling_time_factor``, travel as usual), the result fed back and
verified on site by a grid worker (the crew visit is the workflow's, so emergencies may
pre-empt it); the fix holds with ``fix_success_prob``, otherwise the case
goes back on the agenda. Closed cases are marked ``joint_meeting`` in the case log.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Generator

from sim.engine.case import Incident
from sim.policies.tally import Tally
from sim.world.calendar import next_open

if TYPE_CHECKING:
    from sim.engine.model import GridModel


class JointMeeting:
    def __init__(self, m: "GridModel", tally: Tally):
        self.m = m
        self.tally = tally
        self.cfg = m.scenario.joint_meeting
        self.rng = m.streams["joint_meeting"]
        self.agenda: deque[Incident] = deque()

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
        taken = [self.agenda.popleft() for _ in range(min(cfg.capacity_cases, len(self.agenda)))]
        for inc in taken:
            self.tally.add("meeting_cases_discussed")
            if self.rng.random() < cfg.resolve_prob:
                m.counters["parked"] -= 1
                m.env.process(self._joint_handling(inc))
            else:
                self.agenda.append(inc)

    def _joint_handling(self, inc: Incident) -> Generator:
        m, cfg = self.m, self.cfg
        env, rng = m.env, self.rng
        sub = m.subtypes[inc.sub]
        dept = m.departments[sub.department]
        g = inc.grid
        inc.state = "handling"
        inc.extra = {**(inc.extra or {}), "joint_meeting": True}
        crews = dept.crews[m.city.street[g]]
        work = dept.cfg.handling_time.ppf(rng.random()) * cfg.handling_time_factor \
            * dept.time_factor
        wait = inc.crew_wait_h  # the case's first wait for a crew stays the one recorded
        yield from m.crew_visit(inc, dept, crews, -(sub.urgency + 1),
                                 m.travel_h(sub.department, g), work)
        inc.crew_wait_h = wait
        dept.cases_handled += 1
        inc.state = "feedback"
        yield env.timeout(m.scenario.platform.feedback_delay.ppf(rng.random()))
        inc.state = "verification"
        pool = m.worker_pools[g]
        req = pool.request()
        yield req
        start = next_open(env.now, m.scenario.patrol.hours)
        if start > env.now:
            yield env.timeout(start - env.now)
        token = m.busy_start("worker", 1)
        yield env.timeout(m.scenario.patrol.verification_time.ppf(rng.random()))
        pool.release(req)
        m.busy_stop(token)
        if rng.random() < cfg.fix_success_prob:
            inc.t_closed = env.now
            self.tally.add("parked_resolved")
            m.finish_case(inc, "closed")
        else:
            m.finish_case(inc, "parked")
