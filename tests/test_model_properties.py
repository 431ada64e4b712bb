"""Determinism, conservation, and monotone responses at common random numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.data.theory import mmc_scenario
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with

SHORT = scenario_with(Scenario(), {"run.days": 10, "run.warmup_days": 1})


def test_same_seed_same_results():
    a = run_scenario(SHORT, seed=5)
    b = run_scenario(SHORT, seed=5)
    assert a.kpis == pytest.approx(b.kpis, nan_ok=True)
    pd.testing.assert_frame_equal(a.cases, b.cases)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)


def test_different_seeds_differ():
    a = run_scenario(SHORT, seed=5)
    b = run_scenario(SHORT, seed=6)
    assert a.kpis["incidents_total"] != b.kpis["incidents_total"] or \
        not a.cases["t_occur_h"].equals(b.cases["t_occur_h"])


def test_scenario_seed_is_the_default_seed():
    a = run_scenario(scenario_with(SHORT, {"run.seed": 42}))
    b = run_scenario(SHORT, seed=42)
    assert a.kpis == pytest.approx(b.kpis, nan_ok=True)


FINAL_STATES = {"undiscovered", "reported", "filed", "dispatched", "coordinating", "returned",
                "handling", "feedback", "verification", "closed", "parked", "vanished"}


def test_conservation_every_incident_in_exactly_one_state():
    r = run_scenario(SHORT, seed=3)
    c = r.cases
    assert c.incident_id.is_unique
    assert len(c) == r.manifest["incidents"]
    assert set(c.state) <= FINAL_STATES
    counts = c.state.value_counts()
    assert counts.sum() == len(c)
    closed = c[c.state == "closed"]
    assert closed.t_closed_h.notna().all()
    assert c[c.state != "closed"].t_closed_h.isna().all()
    assert (c[c.state == "undiscovered"].channel == "").all()
    assert c[~c.state.isin(["undiscovered", "vanished"])].t_report_h.notna().all()
    assert c[c.state == "vanished"].t_report_h.isna().all()
    # time runs forward through the steps
    d = c[c.t_dispatch_h.notna()]
    assert (d.t_report_h >= d.t_occur_h).all() and (d.t_filed_h >= d.t_report_h).all()
    assert (d.t_dispatch_h >= d.t_filed_h).all()
    cl = d[d.t_closed_h.notna()]
    assert (cl.t_closed_h >= cl.t_handled_h).all()
    # the time-series stocks agree with the log at the end
    last = r.timeseries.iloc[-1]
    assert last.cum_incidents <= len(c)


def test_open_cases_are_counted_not_dropped():
    tight = scenario_with(SHORT, {"departments.public_works.crews_per_street": 1})
    r = run_scenario(tight, seed=3)
    k = r.kpis
    assert k["cases_open_end"] > 0
    c = r.cases
    window = c[(c.t_report_h >= 24) & (c.t_report_h < 240)]
    open_ = window[~window.state.isin(["closed", "parked"])]
    assert k["cases_open_end"] == len(open_)
    assert k["cases_filed"] == len(window)


def test_more_crews_never_lengthen_mean_wait():
    waits = [run_scenario(mmc_scenario(2.4, 1.0, c, days=30, seed=9), keep_cases=False)
             .kpis["mean_crew_wait_h"] for c in (3, 4, 5, 6)]
    assert all(a >= b for a, b in zip(waits, waits[1:])), waits
    assert waits[0] > waits[-1]


def test_more_workers_never_lower_discovery():
    base = scenario_with(SHORT, {"channels.resident_reports_per_incident_per_day": 0.02,
                                 "patrol.coverage_km2_per_h": 0.005})
    rates = [run_scenario(scenario_with(base, {"staffing.workers_per_grid": w}), seed=4)
             .kpis["discovery_rate"] for w in (1, 2, 3, 5)]
    assert all(a <= b for a, b in zip(rates, rates[1:])), rates
    assert rates[0] < rates[-1]


def test_same_incidents_at_common_random_numbers():
    a = run_scenario(SHORT, seed=8)
    b = run_scenario(scenario_with(SHORT, {"staffing.workers_per_grid": 4,
                                           "departments.police.crews_per_street": 5}), seed=8)
    cols = ["incident_id", "grid", "subtype", "t_occur_h"]
    pd.testing.assert_frame_equal(a.cases[cols].sort_values("incident_id").reset_index(drop=True),
                                  b.cases[cols].sort_values("incident_id").reset_index(drop=True))


def test_kpis_are_sane_on_baseline():
    k = run_scenario(Scenario(), seed=1).kpis
    for key in ("discovery_rate", "closure_rate", "on_time_rate", "return_rate", "rework_rate",
                "on_spot_share", "worker_utilization", "crew_utilization", "filing_rate"):
        assert 0 <= k[key] <= 1, key
    assert k["p50_time_to_close_h"] <= k["p90_time_to_close_h"]
    assert k["incidents_total"] > 1000
    core = ("incidents_total", "discovery_rate", "mean_discovery_latency_h", "reports_total",
            "duplicate_rate", "filing_rate", "cases_filed", "on_spot_share", "closure_rate",
            "on_time_rate", "mean_time_to_close_h", "p50_time_to_close_h", "p90_time_to_close_h",
            "cases_open_end", "return_rate", "rework_rate", "escalated_cases", "parked_cases",
            "mean_crew_wait_h", "worker_utilization", "crew_utilization", "monthly_staff_cost")
    assert not [key for key in core if math.isnan(k[key])]
