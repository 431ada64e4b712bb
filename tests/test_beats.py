"""Patrol beats: a city-wide head count of grid workers (staffing.workers_total, sim/world/beats.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.model import GridModel, monthly_staff_cost
from sim.run import run_scenario
from sim.scenario import Scenario, ScenarioError, scenario_with
from sim.world.beats import patrol_beats

SHORT = scenario_with(Scenario(), {"run.days": 6, "run.warmup_days": 1})


def test_dongcheng_head_count_makes_compact_beats_of_four_or_five_grids():
    b = patrol_beats(scenario_with(Scenario(), {"staffing.workers_total": 350}).staffing, 1593)
    assert b.n_beats == 350 and b.n_workers == 350 and not b.identity
    sizes = np.bincount(b.beat_of_grid)
    assert set(sizes.tolist()) == {4, 5} and sizes.sum() == 1593
    assert np.all(np.diff(b.beat_of_grid) >= 0)  # consecutive grids (adjacent on the curve)


def test_more_workers_than_grids_are_dealt_out_evenly():
    b = patrol_beats(scenario_with(Scenario(), {"staffing.workers_total": 250}).staffing, 100)
    assert b.identity and b.n_workers == 250
    assert sorted(set(b.workers.tolist())) == [2, 3]


def test_default_is_workers_per_grid_on_every_grid():
    b = patrol_beats(Scenario().staffing, 40)
    assert b.identity and b.n_workers == 40 * Scenario().staffing.workers_per_grid


def test_zero_head_count_is_rejected_with_its_path():
    with pytest.raises(ScenarioError, match="staffing.workers_total"):
        scenario_with(Scenario(), {"staffing.workers_total": 0})


def test_head_count_equal_to_per_grid_staffing_gives_the_identical_run():
    n = GridModel(SHORT).city.n_grids
    wpg = SHORT.staffing.workers_per_grid
    a = run_scenario(SHORT, seed=5).kpis
    b = run_scenario(scenario_with(SHORT, {"staffing.workers_total": n * wpg}), seed=5).kpis
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)  # NaN == NaN here


def test_beat_patrol_hazard_is_coverage_over_effective_beat_area():
    sc = scenario_with(SHORT, {"staffing.workers_total": 10, "staffing.assistants_per_grid": 0,
                               "staffing.skill_sd": 0.0})
    m = GridModel(sc)
    city, beats = m.city, m.beats
    eff = city.area_km2 * city.difficulty
    beat_area = np.bincount(beats.beat_of_grid, weights=eff)
    plan = 1.0 - sc.patrol.other_duties_h_per_day / sc.patrol.hours.hours_per_day
    expected = sc.patrol.coverage_km2_per_h * sc.staffing.skill_mean * sc.staffing.effort \
        * plan / beat_area[beats.beat_of_grid]
    np.testing.assert_allclose(m.patrol_rate, expected, rtol=1e-12)
    # the grids of one beat share the same workers and the same verification pool
    g0, g1 = np.flatnonzero(beats.beat_of_grid == 0)[:2]
    assert m.workers_by_grid[g0] is m.workers_by_grid[g1]
    assert m.worker_pools[g0] is m.worker_pools[g1]


def test_fewer_workers_discover_less_and_cost_less():
    n = GridModel(SHORT).city.n_grids
    runs = {w: run_scenario(scenario_with(SHORT, {"staffing.workers_total": w,
                                                  "channels.resident_reports_per_incident_per_day":
                                                  0.0}), seed=9)
            for w in (n // 4, n, 2 * n)}
    lat = [runs[w].kpis["mean_discovery_latency_h"] for w in sorted(runs)]
    assert lat[0] > lat[1] > lat[2]
    cost = [runs[w].kpis["monthly_staff_cost"] for w in sorted(runs)]
    pay = SHORT.staffing.pay.grid_worker
    assert cost[1] - cost[0] == pytest.approx((n - n // 4) * pay)
    assert cost[2] - cost[1] == pytest.approx(n * pay)


def test_worker_capacity_counts_the_head_count():
    sc = scenario_with(SHORT, {"staffing.workers_total": 7})
    m = GridModel(sc)
    ctx = m.finish()
    per_worker = GridModel(SHORT).finish().worker_capacity_h / (
        GridModel(SHORT).city.n_grids * SHORT.staffing.workers_per_grid)
    assert ctx.worker_capacity_h == pytest.approx(7 * per_worker)
    assert monthly_staff_cost(sc, m.city) < monthly_staff_cost(SHORT, m.city)


def test_policy_modules_count_each_beat_worker_once():
    """With beats, one worker appears under several grids; training, attrition and appraisal
    must still see each worker once (training cost is per worker-hour)."""
    sc = scenario_with(SHORT, {"staffing.workers_total": 7,
                               "workforce.training.hours_per_month": 8})
    m = GridModel(sc)
    assert len(m.policies.workforce.workers) == 7
    assert len({w.unique_id for w in m.policies.workforce.workers}) == 7
    assert len(m.policies.incentives.state) == 7
