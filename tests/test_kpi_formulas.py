"""Every case KPI formula on small hand-built case logs with answers worked out by hand.

The logs include a congested platform (cases never dispatched) and cases still open at the end:
the KPIs must show the backlog, never hide it by leaving those cases out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.engine.records import CASE_SCHEMA
from sim.metrics import (RunContext, case_kpis, compute_kpis, kaplan_meier, km_quantile,
                         km_restricted_mean)

NAN = float("nan")
END = 100.0


def case(**kw) -> dict:
    """One case-log row; by default a patrol case reported at 10 h and never dispatched."""
    row = {f.name: NAN for f in CASE_SCHEMA}
    row.update(incident_id=0, grid=0, category="c", subtype="s", department="d", t_occur_h=9.0,
               channel="sensor", t_report_h=10.0, n_reports=1, worker=-1, on_spot=False,
               complex=False, returns=0, reworks=0, escalation_level=0, false_closure=False,
               state="filed", misrouted_to="", padded=False, suppressed=False,
               staged_verification=False, gaming_caught=False, joint_meeting=False)
    row.update(kw)
    return row


def closed(t_report: float, t_close: float, **kw) -> dict:
    row = dict(t_report_h=t_report, t_filed_h=t_report, t_dispatch_h=t_report,
               t_due_h=t_report + 50, t_closed_h=t_close, state="closed")
    return case(**{**row, **kw})


def log(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def kpis(*rows: dict, limit: float = 2.0, w0: float = 0.0) -> dict[str, float]:
    return case_kpis(log(*rows), w0, END, acceptance_limit_h=limit)


def test_congested_platform_shows_in_closure_and_acceptance():
    # one case closed; three waiting at the platform, never dispatched (the overloaded platform)
    k = kpis(closed(10, 14), case(t_report_h=20), case(t_report_h=30), case(t_report_h=40))
    assert k["closure_rate"] == pytest.approx(1 / 4)
    assert k["dispatched_closure_rate"] == pytest.approx(1.0)  # closed ÷ dispatched
    assert k["timely_acceptance_rate"] == pytest.approx(1 / 4)  # 3 waited past the 2 h limit
    assert k["cases_open_end"] == 3
    # time to close counts the open cases as censored at the end: the median is not 4 h
    assert k["p50_time_to_close_h"] == pytest.approx(80.0)  # not reached: longest follow-up
    assert k["mean_time_to_close_h"] > 40


def test_kaplan_meier_by_hand():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    e = np.array([True, True, False, True, False])
    t, s = kaplan_meier(d, e)
    assert t.tolist() == [1.0, 2.0, 4.0]
    assert s.tolist() == pytest.approx([0.8, 0.6, 0.3])  # 4/5, ·3/4, ·1/2
    assert km_quantile(d, e, 0.5) == 4.0
    assert km_quantile(d, e, 0.9) == 5.0  # never reached: the longest follow-up (a lower bound)
    assert km_restricted_mean(d, e) == pytest.approx(1 + 0.8 + 2 * 0.6 + 0.3)
    # no censoring: the plain mean and the empirical median
    full = np.ones(5, dtype=bool)
    assert km_restricted_mean(d, full) == pytest.approx(3.0)
    assert km_quantile(d, full, 0.5) == 3.0


def test_kaplan_meier_ties_close_before_censoring():
    d = np.array([2.0, 2.0, 2.0, 6.0])
    e = np.array([True, False, True, True])
    t, s = kaplan_meier(d, e)
    assert s.tolist() == pytest.approx([0.5, 0.0])  # at 2: 2 of 4 close; the censored one leaves
    assert km_restricted_mean(d, e) == pytest.approx(2 + 0.5 * 4)


def test_time_to_close_from_report_and_from_dispatch():
    rows = [closed(10, 12), closed(10, 14), closed(10, 16)]
    rows[2]["t_dispatch_h"] = 13.0  # dispatched 3 h after the report
    k = kpis(*rows)
    assert k["p50_time_to_close_h"] == pytest.approx(4.0)
    assert k["mean_time_to_close_h"] == pytest.approx(4.0)
    assert k["p90_time_to_close_h"] == pytest.approx(6.0)
    assert k["p50_time_from_dispatch_to_close_h"] == pytest.approx(3.0)  # 2, 4, 3


def test_on_time_counts_open_cases_past_their_deadline_at_any_step():
    rows = [
        closed(10, 20, t_due_h=30),  # on time
        closed(10, 40, t_due_h=30),  # late
        case(t_dispatch_h=11, t_due_h=60, state="handling"),  # open, past its deadline: late
        case(t_due_h=70, state="filed"),  # never dispatched, nominal deadline passed: late
        case(t_dispatch_h=90, t_due_h=120, state="handling"),  # not due yet: undecided
        case(t_dispatch_h=11, t_due_h=200, state="parked", t_parked_h=50),  # parked: not on time
        case(on_spot=True, t_closed_h=10.2, state="closed"),  # on-the-spot fix: no deadline
    ]
    k = kpis(*rows)
    assert k["on_time_rate"] == pytest.approx(1 / 5)
    assert k["closure_rate"] == pytest.approx(3 / 7)
    assert k["parked_cases"] == 1 and k["cases_open_end"] == 3


def test_timely_acceptance():
    rows = [
        closed(10, 20, t_dispatch_h=11),  # 1 h: in time
        closed(10, 20, t_dispatch_h=13),  # 3 h: late
        case(t_report_h=50),  # waiting 50 h at the end: late
        case(t_report_h=99),  # waiting 1 h at the end: its limit has not passed, undecided
        case(on_spot=True, t_closed_h=10.2, state="closed"),  # fixed on the spot: not counted
    ]
    assert kpis(*rows)["timely_acceptance_rate"] == pytest.approx(1 / 3)
    assert kpis(*rows, limit=5.0)["timely_acceptance_rate"] == pytest.approx(2 / 3)


def test_crew_wait_counts_the_shift_wait_and_cases_still_waiting():
    rows = [
        closed(10, 30, t_crew_request_h=12, crew_wait_h=12.0),  # waited overnight for the shift
        case(t_dispatch_h=90, t_due_h=120, t_crew_request_h=96, state="handling"),  # waiting 4 h
        closed(10, 12),  # never asked for a crew: not counted
    ]
    assert kpis(*rows)["mean_crew_wait_h"] == pytest.approx((12 + 4) / 2)


def test_false_closures_and_resolved_rate():
    rows = [closed(10, 20), closed(10, 20), closed(10, 20, false_closure=True),
            closed(10, 20, false_closure=True), case(t_report_h=30)]
    k = kpis(*rows)
    assert k["false_closure_share"] == pytest.approx(2 / 4)
    assert k["resolved_rate"] == pytest.approx(2 / 5)
    assert k["closure_rate"] == pytest.approx(4 / 5)


def test_window_and_closure_after_the_end():
    rows = [closed(5, 8), closed(30, 40),
            closed(40, 150)]  # closed after the end of the log's window: open at the end
    k = kpis(*rows, w0=20.0)
    assert k["cases_filed"] == 2
    assert k["closure_rate"] == pytest.approx(1 / 2)


def test_crew_utilisation_and_overtime_come_from_the_context():
    ctx = RunContext(warmup_h=0.0, end_h=30 * 24.0, crew_busy_h={"a": 50.0, "b": 30.0},
                     crew_capacity_h={"a": 100.0, "b": 100.0}, crew_overtime_h={"a": 12.0},
                     overtime_cost=1800.0, acceptance_limit_h=2.0)
    k = compute_kpis(log(closed(10, 12)), ctx)
    assert k["crew_utilization"] == pytest.approx(0.4)
    assert k["crew_overtime_h"] == pytest.approx(12.0)
    assert k["overtime_cost_monthly"] == pytest.approx(1800.0)


def test_empty_log_gives_nan_not_errors():
    empty = log(case()).iloc[0:0]
    k = case_kpis(empty, 0, END)
    assert math.isnan(k["closure_rate"]) and math.isnan(k["p50_time_to_close_h"])


@pytest.mark.parametrize("name", ["baseline", "incentives_collusion", "joint_meeting_weekly",
                                  "flood_drill", "smart_ai_video", "dongcheng_2009"])
def test_kpis_read_only_the_columns_they_declare(name):
    """A run that does not keep its case log reads back only KPI_CASE_COLUMNS: the KPIs from
    those columns equal the KPIs from the whole log (policy, emergency and meeting sections on)."""
    from sim.engine.records import CASE_COLUMNS
    from sim.metrics import KPI_CASE_COLUMNS, compute_kpis
    from sim.run import run_scenario
    from sim.scenario import load_scenario
    from tests.conftest import SCENARIOS

    sc = load_scenario(SCENARIOS / f"{name}.yaml", {"run.days": 8, "run.warmup_days": 1})
    r = run_scenario(sc, seed=3)
    assert set(KPI_CASE_COLUMNS) <= set(CASE_COLUMNS)
    full = compute_kpis(r.cases, r.context)
    part = compute_kpis(r.cases[list(KPI_CASE_COLUMNS)], r.context)
    assert full.keys() == part.keys()
    assert all(a == b or (a != a and b != b) for a, b in zip(full.values(), part.values()))
    lean = run_scenario(sc, seed=3, keep_cases=False).kpis
    assert all(a == b or (a != a and b != b) for a, b in zip(full.values(), lean.values()))


def test_department_penalties_are_the_charges_per_30_days_of_the_window():
    """Known answer from the run's own case log: at 7 yuan per case filed (and nothing per
    overdue case) the KPI is 7 × the cases reported in the window ÷ its months; a charge per
    overdue case adds whole multiples of that charge."""
    from sim.run import run_scenario
    from sim.scenario import Scenario, scenario_with

    sc = scenario_with(Scenario(), {"run.days": 8, "run.warmup_days": 2,
                                    "appraisal.department_scheme.penalty_per_case_yuan": 7.0})
    r = run_scenario(sc, seed=3)
    w = r.context
    months = (w.end_h - w.warmup_h) / 720.0
    t = r.cases.t_report_h
    filed = int(((t >= w.warmup_h) & (t < w.end_h)).sum())
    assert filed > 100
    assert r.kpis["department_penalties_monthly"] == pytest.approx(7.0 * filed / months)
    late = scenario_with(sc, {"appraisal.department_scheme.penalty_per_case_yuan": 0.0,
                              "appraisal.department_scheme.penalty_per_overdue_yuan": 11.0})
    n = run_scenario(late, seed=3).kpis["department_penalties_monthly"] * months / 11.0
    assert n >= 1 and n == pytest.approx(round(n))
    none = scenario_with(sc, {"appraisal.department_scheme.penalty_per_case_yuan": 0.0})
    assert run_scenario(none, seed=3).kpis["department_penalties_monthly"] == 0.0
