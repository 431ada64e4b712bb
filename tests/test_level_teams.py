"""Level teams coordinate (S1.2, S3.1): exact traces of a reassignment, mutual aid and an
extension; the level-team KPIs on hand-built case logs; and team size moving on-time closure
under an escalation load but not in the quiet baseline (paired, common random numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.metrics import RunContext, case_kpis, compute_kpis
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with
from tests.test_kpi_formulas import END, case, closed, log
from tests.test_workflow_steps import ESCALATION_CASES, PW, _escalation_scenario, run
from tests.test_workflow_trace import fixed

ESC = "platform.escalation"


def _two_streets(**over):
    """The escalation trace in a city of two streets (grid 0 in street 0), street 0's one crew
    held 34.45–64.45 by the first case; street 1's crew free."""
    return scenario_with(_escalation_scenario(2), {
        "city.households": 3200, "city.communities_per_street": 1,
        f"{ESC}.coordination_time": fixed(1.0), f"{PW}.handling_time": fixed(30.0), **over})


def _teams(m):
    return {lv: [(t.escalations_received, t.cases_reviewed, t.reassigned, t.mutual_aid,
                  t.extension) for t in ts] for lv, ts in m.level_teams.items()}


def test_street_team_reassigns_a_waiting_case_to_the_other_streets_free_crew():
    m, (_, patient, overdue) = run(_two_streets(), ESCALATION_CASES)
    assert m.city.n_streets == 2
    # due 38.95 → community (review to 39.45) → street at 42.95: review to 43.45, one hour to
    # arrange it, then street 1's free crew takes it at 44.45 (no travel): 30 h of work
    assert overdue.t_handled_h == pytest.approx(44.45 + 30.0)
    assert overdue.reassigned and not overdue.mutual_aid and not overdue.extension
    assert patient.t_handled_h == pytest.approx(64.45 + 30.0)  # the home crew, in turn
    assert _teams(m)["street"][0] == (1, 1, 1, 0, 0)


def test_district_team_orders_mutual_aid_when_the_street_team_does_not_reassign():
    m, (_, _, overdue) = run(_two_streets(**{f"{ESC}.reassign": False}), ESCALATION_CASES)
    # district deadline 46.95: review to 47.45, arranged by 48.45, street 1 (no case waiting
    # per crew, against three in street 0) takes it
    assert overdue.t_handled_h == pytest.approx(48.45 + 30.0)
    assert overdue.mutual_aid and not overdue.reassigned
    assert _teams(m)["district"][0] == (1, 1, 0, 1, 0)


def test_district_team_grants_an_extension_when_no_street_can_help():
    sc = _two_streets(**{f"{ESC}.reassign": False, f"{ESC}.mutual_aid": False})
    m, (_, _, overdue) = run(sc, ESCALATION_CASES)
    # the extension moves the district's own deadline 50.95 one period (4 h) on: parked 54.95
    assert overdue.extension and overdue.state == "parked"
    assert overdue.t_parked_h == pytest.approx(54.95)
    assert _teams(m)["district"][0] == (1, 1, 0, 0, 1)
    off = scenario_with(sc, {f"{ESC}.extension": False})
    _, (_, _, plain) = run(off, ESCALATION_CASES)
    assert plain.t_parked_h == pytest.approx(50.95) and not plain.extension


def test_a_team_of_zero_only_counts_the_escalation():
    m, (_, _, overdue) = run(scenario_with(_two_streets(), {
        "staffing.level_teams": {"community": 0, "street": 0, "district": 0}}), ESCALATION_CASES)
    assert not (overdue.reassigned or overdue.mutual_aid or overdue.extension)
    assert overdue.state == "parked" and overdue.t_parked_h == pytest.approx(50.95)


# ------------------------------------------------------------------------------------- KPIs
def test_level_team_kpis_on_a_hand_built_log():
    k = case_kpis(log(
        closed(10, 20, t_due_h=30.0),                                   # on time
        closed(10, 60, t_due_h=30.0, escalation_level=2, reassigned=True),  # late
        closed(10, 70, t_due_h=30.0, escalation_level=3, mutual_aid=True),  # late
        closed(10, 90, t_due_h=30.0, escalation_level=3, extension=True),   # deferred
        case(t_report_h=10, t_dispatch_h=10, t_due_h=30.0, escalation_level=1),  # open, late
        closed(-5, 1, t_due_h=3.0, escalation_level=3, reassigned=True),  # before W: not counted
    ), 0.0, END)
    assert k["escalations_received"] == 2 + 3 + 3 + 1
    assert k["escalated_cases"] == 4
    assert (k["reassigned_cases"], k["mutual_aid_cases"], k["extensions_granted"]) == (1, 1, 1)
    # the deferred case leaves the cases due (facts.md: on time ÷ (due − deferred)): 1 of 4
    assert k["on_time_rate"] == pytest.approx(1 / 4)


def test_a_log_without_the_team_columns_reads_as_no_actions():
    rows = log(closed(10, 20, t_due_h=30.0), closed(10, 60, t_due_h=30.0, escalation_level=1))
    k = case_kpis(rows.drop(columns=["reassigned", "mutual_aid", "extension"], errors="ignore"),
                  0.0, END)
    assert (k["reassigned_cases"], k["extensions_granted"], k["on_time_rate"]) == (0, 0, 0.5)


def test_reviews_and_desk_wait_come_from_the_run_context():
    rows = log(closed(10, 20, t_due_h=30.0))
    ctx = RunContext(warmup_h=0.0, end_h=END, policy={"cases_reviewed": 4.0,
                                                        "level_team_wait_h": 6.0})
    k = compute_kpis(rows, ctx)
    assert k["cases_reviewed"] == 4 and k["level_team_wait_h"] == pytest.approx(1.5)
    assert np.isnan(compute_kpis(rows, RunContext(warmup_h=0.0, end_h=END))["level_team_wait_h"])


# ---------------------------------------------------------- team size under an escalation load
#: two streets whose public-works crews (short shifts) a hotspot-heavy road-damage load swamps:
#: escalated cases pile up at the street and district teams, and reviews take 2 h
LOAD = {"run.days": 21, "run.warmup_days": 2, "city.households": 16000,
        "city.hotspot_multiplier": 6.0, "city.hotspot_share": 0.15,
        f"{PW}.crews_per_street": 2, f"{PW}.shift": {"start_h": 8, "end_h": 16},
        "incidents.categories.infrastructure.rate_per_1000_households_per_day": 2.0,
        f"{ESC}.review_time": {"dist": "lognormal", "mean": 2.0, "cv": 0.5}}
#: an uneven, moderate load: the commercial zone's five-fold rate swamps one street while the
#: other has spare crews now and then — what street teams reassign into
UNEVEN = {**LOAD, "city.hotspot_share": 0.0, "city.zones.commercial.incident_multiplier": 5.0,
          "incidents.categories.infrastructure.rate_per_1000_households_per_day": 1.0}
QUIET = {"run.days": 21, "run.warmup_days": 2}
SEEDS = range(1, 7)


def _paired(over: dict, small: int, large: int, key: str) -> np.ndarray:
    out = []
    for s in SEEDS:
        a = run_scenario(scenario_with(Scenario(), {**over, "staffing.level_teams.street": small,
                                                    "staffing.level_teams.district": small}),
                         seed=s, keep_cases=False).kpis
        b = run_scenario(scenario_with(Scenario(), {**over, "staffing.level_teams.street": large,
                                                    "staffing.level_teams.district": large}),
                         seed=s, keep_cases=False).kpis
        out.append((a[key], b[key], a["reassigned_cases"] + a["mutual_aid_cases"],
                    b["reassigned_cases"] + b["mutual_aid_cases"], a["level_team_wait_h"],
                    b["level_team_wait_h"]))
    return np.array(out, dtype=float)


@pytest.mark.slow
def test_team_size_moves_on_time_closure_under_load_and_not_in_the_quiet_baseline():
    d = _paired(LOAD, 1, 5, "on_time_rate")
    diff = d[:, 1] - d[:, 0]
    half = 2.571 * diff.std(ddof=1) / np.sqrt(len(diff))  # t(5), 95%
    assert diff.mean() - half > 0, (diff.mean(), half)  # larger teams: more closed on time
    assert (d[:, 3] > 0).all()  # and they do reassign / send for mutual aid
    assert (d[:, 4] > d[:, 5]).all()  # a team of one makes escalations wait for a desk
    q = _paired(QUIET, 1, 5, "on_time_rate")
    qd = q[:, 1] - q[:, 0]
    assert abs(qd.mean()) < max(1e-9, 2.571 * qd.std(ddof=1) / np.sqrt(len(qd))) \
        or np.allclose(qd, 0.0)


@pytest.mark.slow
def test_street_teams_reassign_under_an_uneven_load_and_the_case_log_shows_it():
    r = run_scenario(scenario_with(Scenario(), UNEVEN), seed=1, keep_cases=True)
    c = r.cases
    assert r.kpis["reassigned_cases"] > 0 and r.kpis["mutual_aid_cases"] > 0
    moved = c[c.reassigned & c.t_report_h.between(r.context.warmup_h, r.context.end_h,
                                                   inclusive="left")]
    assert len(moved) == r.kpis["reassigned_cases"]
    assert (moved.escalation_level >= 2).all() and (moved.department == "public_works").all()
