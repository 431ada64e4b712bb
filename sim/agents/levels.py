"""What the level teams (上级网格管理团队) do with an escalated case (S1.2, S1.3, S2.3, S3.1).

At each deadline a case misses, ``sim.engine.workflow`` moves it up one level — community (1),
street (2), district (3) — and hands it to the team of its community, street or district. The team
has as many desks as members (``staffing.level_teams``): a member reviews the case
(``platform.escalation.review_time``) and raises the case's crew priority by ``priority_boost``;
a case waiting for a crew is re-queued at once at the new priority. Then, if the case is still
waiting for a crew of its department:

* a **street team** (level 2) with ``reassign`` on asks the other streets of its district: the
  first (nearest depot first) with spare capacity in that department — fewer crews out or
  claimed than it has, so the case gets a crew at once or when the shift opens — takes the case
  (重新指派; the crew travels from its own depot);
* a **district team** (level 3) with ``mutual_aid`` on orders the street of the district whose
  crews of that department have the fewest cases waiting per crew to take the case (跨区域联动),
  if its queue is shorter than the one the case waits in; if no street is less loaded, with
  ``extension`` on it grants an extension (延期): the case counts as deferred — the on-time rate
  leaves it out of cases due, as in the on-time formula of facts.md (closed on time ÷ (cases due
  − deferred)) — and its parking deadline moves one deadline period later.

Each such action keeps the member at the desk for ``coordination_time`` more. With
``district_to_joint_meeting`` and the joint meeting on, the district team sends a complex case
to the meeting instead: it is parked at its next step and joins the agenda. A team of 0 cannot
act (the escalation is only counted), and a busy team makes cases wait for a desk: its capacity
binds under an escalation load. A case still unsolved when the district's own deadline passes is
parked (``park_after_last_level``). What the teams did is in each team's counts
(``escalations_received``, ``cases_reviewed``, ``reassigned``, ``mutual_aid``, ``extension``),
in the case log (``reassigned``, ``mutual_aid``, ``extension``) and in the KPIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator

import numpy as np
import simpy

from sim.engine.case import Incident, case_uniform

if TYPE_CHECKING:
    from sim.engine.model import GridModel

LEVELS = ("community", "street", "district")
#: ``Incident.extra`` keys the teams set (read by ``sim.policies.registry.Policies.case_flags``)
ACTION_KEYS = ("reassigned", "mutual_aid", "extension")


class LevelDesks:
    """The review capacity of every level team (one SimPy resource per team) and the cases that
    wait for a department's crew (``waiting``), which the teams may move."""

    def __init__(self, m: "GridModel"):
        self.m = m
        self.desks: dict[str, list[simpy.Resource | None]] = {
            level: [simpy.Resource(m.env, capacity=t.size) if t.size > 0 else None
                    for t in m.level_teams[level]] for level in LEVELS}
        self.waiting: dict[int, tuple[str, Any]] = {}  # case id → (department, crew event)
        self._depot_xy: np.ndarray | None = None

    def team(self, inc: Incident, level: int) -> tuple[Any, simpy.Resource | None]:
        name = LEVELS[level - 1]
        arr = {"community": self.m.city.community, "street": self.m.city.street,
               "district": self.m.city.district}[name]
        k = int(arr[inc.grid])
        return self.m.level_teams[name][k], self.desks[name][k]

    def depot_km(self, street: int, g: int) -> float:
        """City-block distance from ``street``'s depot to grid ``g``'s centre."""
        city = self.m.city
        if self._depot_xy is None:
            c = city.cells
            d = city.depot_cells
            self._depot_xy = np.column_stack(((c.col[d] + 0.5) * city.cell_km,
                                              (c.row[d] + 0.5) * city.cell_km))
        x, y = self._depot_xy[street]
        return float(abs(city.x_km[g] - x) + abs(city.y_km[g] - y))

    def peer_streets(self, inc: Incident, home: int) -> list[int]:
        """The other streets of the case's district, nearest depot first."""
        city = self.m.city
        dist = city.district
        streets = sorted({int(s) for s in city.street[dist == dist[inc.grid]]} - {home})
        return sorted(streets, key=lambda s: (self.depot_km(s, inc.grid), s))


def crew_street(inc: Incident, home: int) -> int:
    """The street whose crews serve the case: its own, unless a level team moved it."""
    x = inc.extra
    if x:
        s = x.get("crew_street")
        if s is not None:
            return s
    return home


def crew_travel_h(m: "GridModel", inc: Incident, dept: Any, home_travel_h: float) -> float:
    """Travel of a crew to the case: from the street depot that serves it."""
    x = inc.extra
    s = x.get("crew_street") if x else None
    if s is None or not dept.cfg.travel:
        return home_travel_h
    return m.level_desks.depot_km(s, inc.grid) / dept.cfg.travel_speed_kmh


def escalate(m: "GridModel", inc: Incident, level: int) -> None:
    team, desk = m.level_desks.team(inc, level)
    team.escalations_received += 1
    if desk is not None:
        m.env.process(_review(m, inc, level, team, desk))


def _busy(pool: Any) -> int:
    """Crews out (``CrewPool`` counts them; SimPy's resources list their users)."""
    n = getattr(pool, "count", None)
    return len(pool.users) if n is None else n


def _pool_load(pool: Any) -> float:
    """Cases out or waiting per crew."""
    return (pool.n_waiting + _busy(pool)) / max(1, pool.capacity)


def _spare(pool: Any) -> bool:
    """A crew the case would get at once, or as soon as the shift opens: fewer crews out or
    claimed than the street has."""
    return _busy(pool) + pool.n_waiting < pool.capacity


def _plan(m: "GridModel", inc: Incident, level: int) -> tuple[str, int] | None:
    """What the street (2) or district (3) team does for a single-department case waiting for
    a crew: (action, street) or None."""
    esc = m.scenario.platform.escalation
    desks = m.level_desks
    waiting = desks.waiting.get(inc.id)
    if waiting is None or waiting[1].triggered or level < 2 or m.subtypes[inc.sub].partners:
        return None
    dept = m.departments[waiting[0]]
    here = crew_street(inc, m.street_of[inc.grid])
    peers = desks.peer_streets(inc, here)
    if level == 2:
        if esc.reassign:
            for s in peers:
                if _spare(dept.crews[s]):
                    return "reassigned", s
        return None
    if esc.mutual_aid and peers:
        best = min(peers, key=lambda s: (_pool_load(dept.crews[s]), desks.depot_km(s, inc.grid)))
        if _pool_load(dept.crews[best]) < _pool_load(dept.crews[here]) - 1e-9:
            return "mutual_aid", best
    if esc.extension and not (inc.extra and inc.extra.get("extension")):
        return "extension", here
    return None


def _act(m: "GridModel", inc: Incident, team: Any, action: str, street: int) -> None:
    """Carry out a planned action if the case still needs it (still open; a move only while it
    still waits for a crew)."""
    if inc.state in ("closed", "parked") or inc.park_due:
        return
    if action != "extension":
        waiting = m.level_desks.waiting.get(inc.id)
        if waiting is None or waiting[1].triggered:
            return  # a crew came while the team arranged it
        inc.extra = {**(inc.extra or {}), "crew_street": street, action: True}
    else:
        inc.extra = {**(inc.extra or {}), "extension": True}
    setattr(team, action, getattr(team, action) + 1)


def _review(m: "GridModel", inc: Incident, level: int, team: Any,
            desk: simpy.Resource) -> Generator:
    env = m.env
    esc = m.scenario.platform.escalation
    t_escalated = env.now
    req = desk.request()
    yield req
    waited = env.now - t_escalated
    yield env.timeout(esc.review_time.ppf(case_uniform(inc, "review", level)))
    team.cases_reviewed += 1
    tally = getattr(m.policies, "tally", None)  # window-aware counts for the KPIs
    if tally is not None:
        tally.add("cases_reviewed")
        tally.add("level_team_wait_h", waited)
    if inc.state in ("closed", "parked"):
        desk.release(req)
        return
    inc.priority -= esc.priority_boost
    if level == 3 and esc.district_to_joint_meeting and m.scenario.joint_meeting.enabled \
            and inc.complex:
        inc.park_due = True  # the district team puts it on the joint meeting's agenda
    else:
        plan = _plan(m, inc, level)
        if plan is not None:
            yield env.timeout(esc.coordination_time.ppf(case_uniform(inc, "coordinate", level)))
            _act(m, inc, team, *plan)
    desk.release(req)
    inc.wake()
