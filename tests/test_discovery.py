"""Problems before anyone reports them: patrol discovery from the workers' time budget
(sim/engine/discovery.py), lifetimes while unreported (sim/engine/problems.py) and their KPIs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine import case as I
from sim.engine.model import GridModel
from sim.metrics import problem_kpis
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with, validate_scenario
from sim.world.calendar import advance


def _one_kind(unreported: str = "persist", lifetime: dict | None = None, harm: float = 0.0,
              visibility: float = 0.7, rate: float = 0.0, days: float = 12) -> dict:
    """A small city with one kind of problem, no channel but patrols, and no worker duties."""
    sub = {"label_en": "Job", "label_zh": "问题", "share": 1, "unreported": unreported,
           "deadline": {"value": 1000, "unit": "hours"}, "complex_prob": 0, "harm_yuan": harm}
    if lifetime:
        sub["lifetime_h"] = lifetime
    zero = {"dist": "fixed", "value": 0}
    return {
        "city": {"households": 4000, "households_per_grid": 400, "hotspot_share": 0,
                 "zones": {"residential": {"share": 1, "households_per_km2": 10000}}},
        "patrol": {"hours": {"start_h": 8.25, "end_h": 17.5, "days": [0, 1, 2, 3, 4]},
                   "on_spot_fix_prob": 0, "verification_time": zero, "report_time": zero,
                   "other_duties_h_per_day": 0},
        "incidents": {"categories": {"job": {
            "label_en": "Job", "label_zh": "问题", "department": "public_works",
            "rate_per_1000_households_per_day": rate, "patrol_visibility": visibility,
            "resident_salience": 0, "subtypes": {"job": sub}}}},
        "channels": {"resident_reports_per_incident_per_day": 0, "handed_down_per_day": 0,
                     "invalid_reports_per_1000_households_per_day": 0},
        "run": {"days": days, "warmup_days": 1},
    }


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 150.0), st.integers(0, 9), st.floats(0.001, 0.999)),
                min_size=1, max_size=6))
def test_without_lifetimes_or_duties_discovery_is_todays_competing_hazard(incidents):
    """Never vanish, no other duties: each incident is found after E / (rate · visibility)
    patrol hours, E = −ln(1 − U_PATROL) — exactly the per-incident formula of the old engine."""
    sc = validate_scenario(_one_kind())
    m = GridModel(sc, seed=1)
    vis = sc.incidents.categories["job"].patrol_visibility
    expected = {}
    for t, g, u in incidents:
        g = g % m.city.n_grids
        iid = m.inject_incident(t, g, "job.job", uniforms={I.U_PATROL: u})
        expected[iid] = advance(t, -math.log1p(-u) / (m.patrol_rate[g] * vis), sc.patrol.hours)
    m.finish()
    cases = m.case_log.frame().set_index("incident_id")
    for iid, t_exp in expected.items():
        t_rep = cases.loc[iid, "t_report_h"]
        if t_exp < m.horizon_h:
            assert t_rep == pytest.approx(t_exp, abs=1e-9)
        else:
            assert math.isnan(t_rep)


def _short(**over) -> Scenario:
    return scenario_with(Scenario(), {"run.days": 8, "run.warmup_days": 1, **over})


def test_more_workers_find_more_with_diminishing_returns():
    disc = []
    for w in (1, 2, 3, 4):
        k = [run_scenario(_short(**{"staffing.workers_per_grid": w}), seed=s,
                          keep_cases=False).kpis for s in (1, 2)]
        disc.append(np.mean([x["discovery_rate"] for x in k]))
    gains = np.diff(disc)
    assert np.all(gains > 0)
    assert gains[0] > gains[-1]


def test_other_duties_take_patrol_time():
    free = run_scenario(_short(**{"patrol.other_duties_h_per_day": 0}), seed=3).kpis
    busy = run_scenario(_short(**{"patrol.other_duties_h_per_day": 6}), seed=3).kpis
    assert busy["discovery_rate"] < free["discovery_rate"]
    assert busy["problem_hours_per_1000_households"] > free["problem_hours_per_1000_households"]


def test_fixes_and_verifications_are_charged_against_patrol():
    slow = {"dist": "fixed", "value": 3.0}
    m_fast = GridModel(_short(), seed=4)
    m_slow = GridModel(_short(**{"patrol.verification_time": slow}), seed=4)
    k_fast = pd.Series(run_scenario(_short(), seed=4, keep_cases=False).kpis)
    k_slow = pd.Series(run_scenario(_short(**{"patrol.verification_time": slow}), seed=4,
                                    keep_cases=False).kpis)
    m_fast.finish()
    m_slow.finish()
    assert m_slow.discovery.charged_h > 2 * m_fast.discovery.charged_h > 0
    assert k_slow["mean_discovery_latency_h"] > k_fast["mean_discovery_latency_h"]


def test_unseen_problems_vanish_after_their_lifetime():
    sc = validate_scenario(_one_kind("vanish", {"dist": "fixed", "value": 2.0}, visibility=0,
                                     rate=20))
    r = run_scenario(sc, seed=2)
    c = r.cases
    gone = c.t_occur_h + 2.0 < r.context.end_h
    assert set(c.state[gone]) == {"vanished"} and set(c.state[~gone]) <= {"undiscovered"}
    np.testing.assert_allclose(c.t_gone_h[gone] - c.t_occur_h[gone], 2.0)
    assert r.kpis["missed_share"] == 1.0 and r.kpis["discovery_rate"] == 0.0
    w0, w1 = r.context.warmup_h, r.context.end_h
    hours = (np.minimum(c.t_gone_h.fillna(w1), w1) - np.maximum(c.t_occur_h, w0)).clip(lower=0).sum()
    assert r.kpis["problem_hours_per_1000_households"] == pytest.approx(hours / 4.0)
    assert r.kpis["unreported_harm_yuan"] == 0


def test_unseen_problems_that_worsen_do_harm_once():
    sc = validate_scenario(_one_kind("worsen", {"dist": "fixed", "value": 5.0}, harm=1000.0,
                                     visibility=0, rate=20))
    r = run_scenario(sc, seed=2)
    c = r.cases
    w0, w1 = r.context.warmup_h, r.context.end_h
    in_w = (c.t_occur_h >= w0) & (c.t_occur_h < w1)
    worsened = in_w & (c.t_occur_h + 5.0 < w1)
    assert r.kpis["unreported_harm_yuan"] == pytest.approx(1000.0 * worsened.sum())
    assert (c.harm_yuan[in_w & ~worsened] == 0).all()


def test_a_lifetime_is_required_for_vanish_and_worsen():
    from sim.scenario import ScenarioError
    with pytest.raises(ScenarioError, match="lifetime_h is required"):
        validate_scenario(_one_kind("vanish"))


def test_problem_kpis_on_a_hand_built_log():
    nan = float("nan")
    cases = pd.DataFrame({
        # occurred  reported  closed  gone  harm
        "t_occur_h": [10.0, 12.0, 20.0, 5.0, 30.0, nan],
        "t_report_h": [11.0, nan, 21.0, nan, nan, 15.0],
        "t_closed_h": [14.0, nan, nan, nan, nan, 15.0],
        "t_gone_h": [13.0, 13.0, nan, 9.0, nan, nan],
        "harm_yuan": [0.0, 0.0, 0.0, 0.0, 500.0, 0.0],
    })
    k = problem_kpis(cases, warmup_h=8.0, end_h=40.0, households=2000.0)
    # occurred in W: rows 0, 1, 2, 4 (row 3 before W, row 5 padded); unreported: rows 1, 4
    assert k["missed_share"] == pytest.approx(2 / 4)
    # hours in W: 3 + 1 + 20 + 1 (row 3: 8..9) + 10 = 35, per 1,000 households: / 2
    assert k["problem_hours_per_1000_households"] == pytest.approx(35 / 2)
    assert k["mean_time_from_occurrence_to_close_h"] == pytest.approx(4.0)
    assert k["unreported_harm_yuan"] == 500.0
