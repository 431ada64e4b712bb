"""What the level teams (上级网格管理团队) do with an escalated case (S1.3, S2.3).

At each deadline a case misses, ``sim.engine.workflow`` moves it up one level — community (1),
street (2), district (3) — and hands it to the team of its community, street or district. The team
has as many desks as members (``staffing.level_teams``): a member reviews the case
(``platform.escalation.review_time``) and raises the case's crew
priority by ``priority_boost``; a case waiting for a crew is re-queued at once at the new priority.
With ``district_to_joint_meeting`` and the joint meeting on, the district team sends a complex case
to the meeting instead: it is parked at its next step (waiting for a crew, or after coordination)
and joins the agenda.
A team of 0 cannot act (the escalation is only counted). A case still unsolved when the district's
own deadline passes is parked (``park_after_last_level``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator

import simpy

from sim.engine.case import Incident, case_uniform

if TYPE_CHECKING:
    from sim.engine.model import GridModel

LEVELS = ("community", "street", "district")


class LevelDesks:
    """The review capacity of every level team: one SimPy resource per team."""

    def __init__(self, m: "GridModel"):
        self.m = m
        self.desks: dict[str, list[simpy.Resource | None]] = {
            level: [simpy.Resource(m.env, capacity=t.size) if t.size > 0 else None
                    for t in m.level_teams[level]] for level in LEVELS}

    def team(self, inc: Incident, level: int) -> tuple[Any, simpy.Resource | None]:
        name = LEVELS[level - 1]
        arr = {"community": self.m.city.community, "street": self.m.city.street,
               "district": self.m.city.district}[name]
        k = int(arr[inc.grid])
        return self.m.level_teams[name][k], self.desks[name][k]


def escalate(m: "GridModel", inc: Incident, level: int) -> None:
    team, desk = m.level_desks.team(inc, level)
    team.escalations_received += 1
    if desk is not None:
        m.env.process(_review(m, inc, level, team, desk))


def _review(m: "GridModel", inc: Incident, level: int, team: Any,
            desk: simpy.Resource) -> Generator:
    env = m.env
    esc = m.scenario.platform.escalation
    req = desk.request()
    yield req
    yield env.timeout(esc.review_time.ppf(case_uniform(inc, "review", level)))
    desk.release(req)
    team.cases_reviewed += 1
    if inc.state in ("closed", "parked"):
        return
    inc.priority -= esc.priority_boost
    if level == 3 and esc.district_to_joint_meeting and m.scenario.joint_meeting.enabled \
            and inc.complex:
        inc.park_due = True  # the district team puts it on the joint meeting's agenda
    inc.wake()
