"""The seven steps with fixed times: each step happens at exactly the expected moment."""

from __future__ import annotations

import pytest

from sim.engine import case as I
from sim.engine.model import GridModel
from sim.scenario import Scenario, scenario_with


def fixed(v):
    return {"dist": "fixed", "value": v}


def trace_scenario(**extra) -> Scenario:
    over = {
        "run.days": 14, "run.warmup_days": 0.5,
        "city.households": 400, "city.hotspot_share": 0,
        "channels.resident_reports_per_incident_per_day": 0,
        "channels.invalid_reports_per_1000_households_per_day": 0,
        "channels.handed_down_per_day": 0,
        "channels.sensor_coverage": 1, "channels.sensor_detect_prob": 1,
        "channels.sensor_delay": fixed(0.25),
        "platform.screening_time": fixed(0.1), "platform.dispatch_time": fixed(0.1),
        "platform.feedback_delay": fixed(0.5), "platform.return_delay": fixed(2.0),
        "platform.manager_coordination_time": fixed(1.0),
        "patrol.verification_time": fixed(0.5), "patrol.coverage_km2_per_h": 1e-9,
        "departments.public_works.handling_time": fixed(2.0),
        "departments.public_works.travel": False,
        "departments.public_works.fix_success_prob": 1.0,
    }
    for cat in Scenario().incidents.categories:
        over[f"incidents.categories.{cat}.rate_per_1000_households_per_day"] = 0
    over.update(extra)
    return scenario_with(Scenario(), over)


def run_one(sc: Scenario, t: float, uniforms: dict[int, float]):
    m = GridModel(sc, seed=1)
    m.inject_incident(t, 0, "infrastructure.street_light", uniforms)
    m.finish()
    return m.case_log.frame().iloc[0]


BASE_U = {I.U_SENSOR: 0.0, I.U_COMPLEX: 0.99, I.U_MISROUTE: 0.99, I.U_AUTO: 0.99, I.U_FIX: 0.0}


def test_straight_through_case():
    row = run_one(trace_scenario(), 24 + 10.0, BASE_U)  # Tuesday 10:00
    t0 = 34.0
    assert row.channel == "sensor"
    assert row.t_report_h == pytest.approx(t0 + 0.25)
    assert row.t_filed_h == pytest.approx(t0 + 0.35)
    assert row.t_dispatch_h == pytest.approx(t0 + 0.45)
    assert row.crew_wait_h == pytest.approx(0)
    assert row.t_handled_h == pytest.approx(t0 + 2.45)
    assert row.t_closed_h == pytest.approx(t0 + 2.45 + 0.5 + 0.5)
    # 2 working days from Tuesday 10:27 (08:30–17:30 working hours) → Thursday 10:27
    assert row.t_due_h == pytest.approx(3 * 24 + 10.45)
    assert row.state == "closed" and row.returns == 0 and row.reworks == 0


def test_complex_case_goes_through_the_manager():
    row = run_one(trace_scenario(), 34.0, {**BASE_U, I.U_COMPLEX: 0.0})
    assert row.complex
    assert row.t_handled_h == pytest.approx(34.0 + 0.45 + 1.0 + 2.0)


def test_misrouted_case_is_returned_and_redispatched():
    sc = trace_scenario(**{"platform.misroute_visit_prob": 0.0})
    row = run_one(sc, 34.0, {**BASE_U, I.U_MISROUTE: 0.0})
    assert row.returns == 1
    # 2 h with the wrong department, 0.1 h to dispatch again, then 2 h of handling
    assert row.t_handled_h == pytest.approx(34.0 + 0.45 + 2.0 + 0.1 + 2.0)


def test_case_waits_for_the_crews_shift_and_the_workers_patrol_hours():
    # Tuesday 20:00: crews (08:00–18:00) start Wednesday 08:00; verification at 10:30 is in hours
    row = run_one(trace_scenario(), 24 + 20.0, BASE_U)
    assert row.t_handled_h == pytest.approx(2 * 24 + 8.0 + 2.0)
    assert row.t_closed_h == pytest.approx(2 * 24 + 10.0 + 0.5 + 0.5)
    # asked for a crew at 20:27 (dispatch), claimed one when the shift opened at 08:00
    assert row.t_crew_request_h == pytest.approx(24 + 20.45)
    assert row.crew_wait_h == pytest.approx(2 * 24 + 8.0 - (24 + 20.45))


def test_failed_fix_is_reworked():
    sc = trace_scenario(**{"departments.public_works.fix_success_prob": 0.5,
                           "platform.verification_miss_prob": 0.0})
    row = run_one(sc, 34.0, {**BASE_U, I.U_FIX: 0.9})
    assert row.reworks >= 1
    assert row.state in ("closed", "parked")


def test_overdue_case_escalates():
    sc = trace_scenario(**{"departments.public_works.handling_time": fixed(60.0)})
    row = run_one(sc, 34.0, BASE_U)
    assert row.escalation_level >= 1
    assert row.t_closed_h > row.t_due_h


def test_unsolvable_complex_case_is_parked():
    sc = trace_scenario(**{
        "incidents.categories.infrastructure.subtypes.street_light.unsolvable_prob": 1.0})
    row = run_one(sc, 34.0, {**BASE_U, I.U_COMPLEX: 0.0, I.U_UNSOLVABLE: 0.0})
    assert row.state == "parked" and row.t_closed_h != row.t_closed_h
