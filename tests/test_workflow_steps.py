"""Exact traces of the workflow's mechanics (fixed times, no randomness in what is asserted):
shifts and overtime, priority at the shift opening, escalation and the level teams, parking after
the last level, misroutes that cost the wrong department, cases that need two departments."""

from __future__ import annotations

import pytest

from sim.engine import case as I
from sim.engine.model import GridModel
from sim.scenario import scenario_with
from tests.test_workflow_trace import BASE_U, fixed, trace_scenario

ALWAYS = {"start_h": 0, "end_h": 24}
PW = "departments.public_works"
TUE = 24.0


def run(sc, cases):
    """Inject (t, subtype, uniforms) cases; return the model and the log indexed by id."""
    m = GridModel(sc, seed=1)
    ids = [m.inject_incident(t, 0, sub, {**BASE_U, **u}) for t, sub, u in cases]
    m.finish()
    log = m.case_log.frame().set_index("incident_id")
    return m, [log.loc[i] for i in ids]


def test_urgent_case_overtakes_a_routine_one_queued_overnight():
    sc = trace_scenario(**{f"{PW}.crews_per_street": 1})
    _, (routine, urgent) = run(sc, [(TUE + 20.0, "infrastructure.street_light", {}),
                                    (TUE + 24 + 7.0, "infrastructure.manhole_cover", {})])
    wed8 = 2 * TUE + 8.0
    assert urgent.t_handled_h == pytest.approx(wed8 + 2.0)  # first when the shift opens
    assert routine.t_handled_h == pytest.approx(wed8 + 4.0)
    assert urgent.crew_wait_h == pytest.approx(wed8 - (TUE + 31.45))
    assert routine.crew_wait_h == pytest.approx(wed8 + 2.0 - (TUE + 20.45))


@pytest.mark.parametrize("mode, handled, overtime", [("overtime", 11.0, 1.0),
                                                     ("resume_next_shift", 24 + 9.0, 0.0)])
def test_work_past_the_shift_runs_as_overtime_or_resumes(mode, handled, overtime):
    sc = trace_scenario(**{f"{PW}.shift": {"start_h": 8, "end_h": 10},
                           f"{PW}.handling_time": fixed(3.0), f"{PW}.end_of_shift": mode,
                           f"{PW}.overtime_cost_per_h": 200.0})
    m, (row,) = run(sc, [(TUE + 7.0, "infrastructure.street_light", {})])
    assert row.t_handled_h == pytest.approx(TUE + handled)
    assert row.crew_wait_h == pytest.approx(8.0 - 7.45)
    k = m.run_context()
    assert k.crew_busy_h["public_works"] == pytest.approx(2.0 if mode == "overtime" else 3.0)
    assert k.crew_overtime_h["public_works"] == pytest.approx(overtime)
    assert k.overtime_cost == pytest.approx(200.0 * overtime)
    assert k.crew_busy_h["public_works"] <= k.crew_capacity_h["public_works"]


def _escalation_scenario(teams: int):
    return trace_scenario(**{
        f"{PW}.crews_per_street": 1, f"{PW}.shift": ALWAYS, f"{PW}.handling_time": fixed(10.0),
        "incidents.categories.infrastructure.subtypes.street_light.deadline":
            {"value": 4, "unit": "hours"},
        "platform.escalation.review_time": fixed(0.5),
        "staffing.level_teams": {"community": teams, "street": teams, "district": teams},
        "staffing.managers_per_grid": 1})


ESCALATION_CASES = [(34.0, "infrastructure.road_damage", {}),  # holds the crew 34.45–44.45
                    (34.2, "infrastructure.road_damage", {}),  # queued first, 5-day deadline
                    (34.5, "infrastructure.street_light", {})]  # queued next, due 38.95


def test_overdue_case_escalates_and_the_level_team_raises_its_priority():
    m, (_, patient, overdue) = run(_escalation_scenario(2), ESCALATION_CASES)
    # due 38.95: community review until 39.45 puts it ahead of the earlier routine case
    assert overdue.t_dispatch_h == pytest.approx(34.95)
    assert overdue.t_due_h == pytest.approx(38.95)
    assert overdue.t_handled_h == pytest.approx(44.45 + 10.0)
    assert patient.t_handled_h == pytest.approx(54.45 + 10.0)
    # deadlines at 38.95, 42.95, 46.95 moved it to the community, street and district teams
    assert overdue.escalation_level == 3 and overdue.state == "closed"
    teams = m.level_teams
    assert [t[0].escalations_received for t in (teams["community"], teams["street"],
                                                teams["district"])] == [1, 1, 1]
    assert teams["street"][0].cases_reviewed == 1


def test_without_level_teams_the_overdue_case_waits_and_is_parked_after_the_last_level():
    _, (_, patient, overdue) = run(_escalation_scenario(0), ESCALATION_CASES)
    assert patient.t_handled_h == pytest.approx(44.45 + 10.0)  # plain queue order
    # still waiting for a crew when the district's deadline passes (50.95): parked (挂账)
    assert overdue.state == "parked"
    assert overdue.t_parked_h == pytest.approx(50.95)
    assert overdue.escalation_level == 3
    assert overdue.crew_wait_h == pytest.approx(50.95 - 34.95)


def test_misrouted_case_costs_the_wrong_department():
    sc = trace_scenario(**{"platform.misroute_visit_prob": 1.0,
                           "platform.misroute_visit_time": fixed(1.0),
                           "departments.city_management.travel": False,
                           "departments.city_management.shift": ALWAYS})
    m, (row,) = run(sc, [(34.0, "infrastructure.street_light",
                          {I.U_MISROUTE: 0.0, I.U_WRONG_DEPT: 0.0})])
    assert row.misrouted_to == "city_management" and row.returns == 1
    # 1 h wasted visit by city management, 2 h to send it back, 0.1 h to dispatch it again
    assert row.t_handled_h == pytest.approx(34.45 + 1.0 + 2.0 + 0.1 + 2.0)
    wrong, right = m.departments["city_management"], m.departments["public_works"]
    assert (wrong.returns, wrong.misrouted_visits, right.returns) == (1, 1, 0)
    assert m.run_context().crew_busy_h["city_management"] == pytest.approx(1.0)
    assert row.crew_wait_h == pytest.approx(0.0)  # the right department's crew was free


@pytest.mark.parametrize("mode, handled", [("together", 3.0), ("sequential", 5.0)])
def test_two_department_case_needs_both(mode, handled):
    sl = "incidents.categories.infrastructure.subtypes.street_light"
    sc = trace_scenario(**{f"{sl}.partners": ["city_management"], f"{sl}.joint_mode": mode,
                           "departments.city_management.travel": False,
                           "departments.city_management.shift": ALWAYS,
                           "departments.city_management.handling_time": fixed(3.0)})
    m, (row,) = run(sc, [(34.0, "infrastructure.street_light", {})])
    # dispatched 34.45, coordinated by the grid manager (1 h), then both crews
    assert row.t_handled_h == pytest.approx(35.45 + handled)
    ctx = m.run_context()
    assert ctx.crew_busy_h["city_management"] == pytest.approx(3.0)
    assert ctx.crew_busy_h["public_works"] == pytest.approx(2.0)


@pytest.mark.parametrize("to_meeting", [True, False])
def test_district_team_sends_a_complex_case_to_the_joint_meeting(to_meeting):
    sc = scenario_with(_escalation_scenario(2), {"joint_meeting.enabled": True, "joint_meeting.interval_days": 30,
                            "platform.escalation.district_to_joint_meeting": to_meeting,
                            f"{PW}.handling_time": fixed(30.0)})
    complex_u = {I.U_COMPLEX: 0.0, I.U_UNSOLVABLE: 0.99}
    _, (_, _, overdue) = run(sc, [ESCALATION_CASES[0], ESCALATION_CASES[1],
                                  (34.5, "infrastructure.street_light", complex_u)])
    # coordinated 1 h (dispatched 34.95, due 38.95, then 42.95, 46.95): the district review ends
    # 47.45 while it still waits for the crew (held until 64.45 by the first case)
    if to_meeting:
        assert overdue.state == "parked" and overdue.t_parked_h == pytest.approx(47.45)
    else:  # the district team, with no other street, grants an extension (延期): the
        # district's own deadline (50.95) moves one period on, and it is parked at 54.95
        assert overdue.state == "parked" and overdue.t_parked_h == pytest.approx(54.95)
        assert overdue.extension
