"""Statistics of sweeps checked against known answers: CI coverage on M/M/c (Erlang C), Sobol and
Morris on a model where one factor alone matters, common random numbers, precision mode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.data.theory import erlang_c_wait, mmc_scenario
from sim.experiment.analysis import (
    mean_ci,
    morris_indices,
    paired_differences,
    precision_targets,
    sobol_indices,
    summarize,
)
from sim.experiment.backends import SerialBackend
from sim.experiment.design import design_points, design_seed
from sim.experiment.engine import sweep
from sim.experiment.spec import Precision, validate_experiment
from sim.experiment.store import ResultsStore
from sim.scenario import Scenario, scenario_with
from tests.conftest import ROOT


def _run(tmp_path, data):
    exp = validate_experiment(data, data["name"], ROOT)
    s = sweep(exp, SerialBackend(), tmp_path / f"{data['name']}.duckdb")
    assert s.failed == 0
    with ResultsStore(s.store, read_only=True) as st:
        return exp, st.kpis(), st.points()


def test_mean_ci_is_the_student_t_interval():
    y = np.array([1.0, 2.5, 2.0, 4.0, 3.5])
    n, m, sd, hw = mean_ci(y)
    lo, hi = stats.t.interval(0.95, n - 1, loc=y.mean(), scale=stats.sem(y))
    assert (n, m) == (5, pytest.approx(2.6)) and m - hw == pytest.approx(lo)
    assert m + hw == pytest.approx(hi)
    assert mean_ci([1.0, float("nan"), None, 3.0])[:2] == (2, 2.0)


@pytest.mark.slow
def test_confidence_intervals_cover_the_erlang_c_wait_at_the_nominal_rate(tmp_path):
    """50 independent 95% CIs (8 replications each) of the M/M/2 mean wait for a crew.

    Runs of 16 days keep the per-run mean close enough to normal for the t interval; with 5
    shorter runs per interval the skew of the waits costs a few points of coverage."""
    lam, mu, c = 1.0, 1.0, 2
    base = mmc_scenario(lam, 1 / mu, c, days=16, warmup_days=1).model_dump(mode="json")
    k, n = 50, 8
    _, kp, _ = _run(tmp_path, {"name": "mmc", "base": base,
                               "factors": {"platform.operators": [1000]},
                               "replications": k * n, "kpis": ["mean_crew_wait_h"], "seed": 3})
    truth = erlang_c_wait(lam, mu, c)
    batches = kp.assign(point_id=kp.replication // n)  # 50 disjoint groups of 8 replications
    s = summarize(batches, ["mean_crew_wait_h"])
    assert len(s) == k and (s.n == n).all()
    covered = int(((s.ci_low <= truth) & (truth <= s.ci_high)).sum())
    # binomial tolerance: coverage far below 95% (e.g. 40 of 50) fails at the 0.1% level
    assert stats.binomtest(covered, k, 0.95).pvalue > 0.001, f"{covered}/{k} covered {truth:.3f}"
    assert s.half_width.mean() < 0.5 * truth, "the intervals must be sharp enough to miss"
    grand = kp.mean_crew_wait_h.mean()
    assert abs(grand - truth) < 3 * kp.mean_crew_wait_h.std() / np.sqrt(len(kp))


def _one_factor_matters(design: dict) -> dict:
    tiny = scenario_with(Scenario(), {"run.days": 1, "run.warmup_days": 0.5,
                                      "city.households": 300}).model_dump(mode="json")
    return {"name": f"one_{design['type']}", "base": tiny, "design": design, "replications": 1,
            "factors": {"platform.misroute_prob": {"low": 0.0, "high": 0.3},
                        "staffing.pay.grid_worker": {"low": 4000, "high": 8000},
                        "patrol.on_spot_fix_prob": {"low": 0.5, "high": 1.0}},
            "kpis": ["monthly_staff_cost"], "seed": 5}


def test_sobol_indices_find_the_only_factor_that_matters(tmp_path):
    """Monthly staff cost depends on the grid workers' pay alone: S1 = ST = 1 for pay, 0 else."""
    exp, kp, pts = _run(tmp_path, _one_factor_matters({"type": "sobol", "samples": 64}))
    assert len(pts) == 64 * 5
    idx = sobol_indices(kp, exp.factor_names, len(pts), ["monthly_staff_cost"], False,
                        design_seed(exp.spec.seed))
    cost = idx[idx.kpi == "monthly_staff_cost"].set_index("factor")
    pay = cost.loc["staffing.pay.grid_worker"]
    assert abs(pay.ST - 1) <= max(pay.ST_conf, 0.1) and abs(pay.S1 - 1) <= max(pay.S1_conf, 0.15)
    others = cost.drop("staffing.pay.grid_worker")
    assert np.allclose(others[["S1", "ST"]].to_numpy(), 0, atol=1e-9)
    # the report computes the same indices from the store and draws them
    from sim.experiment.report import build_report, write_html

    with ResultsStore(tmp_path / "one_sobol.duckdb", read_only=True) as st:
        data = build_report(st)
    pd.testing.assert_frame_equal(data.sobol.reset_index(drop=True), idx.reset_index(drop=True))
    page = write_html(data, tmp_path / "r.html").read_text()
    assert "Sobol indices" in page and "main effects" in page


def test_morris_screens_out_the_factors_that_do_not_matter(tmp_path):
    exp, kp, pts = _run(tmp_path, _one_factor_matters({"type": "morris", "samples": 6,
                                                       "levels": 4}))
    x = np.array([p.x for p in design_points(exp)])
    idx = morris_indices(kp, x, exp.factor_names, ["monthly_staff_cost"], 4, 1)
    mu_star = idx.set_index("factor").mu_star
    assert mu_star["staffing.pay.grid_worker"] > 0
    assert mu_star.drop("staffing.pay.grid_worker").abs().max() == pytest.approx(0, abs=1e-9)


def _pairing(tmp_path, crn: bool):
    tiny = scenario_with(Scenario(), {"run.days": 3, "run.warmup_days": 1,
                                      "city.households": 2000}).model_dump(mode="json")
    _, kp, _ = _run(tmp_path, {"name": f"crn_{crn}", "base": tiny, "replications": 6,
                               "common_random_numbers": crn,
                               "factors": {"platform.misroute_prob": [0.0, 0.3]},
                               "kpis": ["incidents_total", "mean_time_to_close_h"]})
    return paired_differences(kp, [(0, 1)], ["incidents_total", "mean_time_to_close_h"]
                              ).set_index("kpi")


def test_common_random_numbers_pair_the_design_points(tmp_path):
    """Misrouting does not change which incidents occur: under CRN both points see the same
    incidents (difference exactly 0); with independent seeds they do not."""
    crn, indep = _pairing(tmp_path, True), _pairing(tmp_path, False)
    assert crn.loc["incidents_total", "mean_diff"] == 0
    assert crn.loc["incidents_total", "half_width"] == 0
    assert crn.loc["incidents_total", "unpaired_half_width"] > 0
    assert indep.loc["incidents_total", "half_width"] > 0
    # the paired CI of a real effect is narrower than the unpaired one under CRN
    t = crn.loc["mean_time_to_close_h"]
    assert t.half_width < t.unpaired_half_width


def test_precision_targets_add_replications_only_where_needed():
    kp = pd.DataFrame({"point_id": [0] * 4 + [1] * 4, "replication": list(range(4)) * 2,
                       "on_time_rate": [0.9, 0.9, 0.9, 0.9, 0.5, 0.9, 0.6, 0.8]})
    prec = Precision(kpi="on_time_rate", half_width=0.05, max_replications=50)
    nxt = precision_targets(kp, prec, {0: 4, 1: 4})
    assert nxt[0] == 4 and 4 < nxt[1] <= 8  # at most doubling per round
    assert precision_targets(kp, prec.model_copy(update={"max_replications": 4}),
                             {0: 4, 1: 4}) == {0: 4, 1: 4}


def test_precision_mode_reaches_the_half_width_target_and_resumes_identically(tmp_path):
    tiny = scenario_with(Scenario(), {"run.days": 3, "run.warmup_days": 1,
                                      "city.households": 2000}).model_dump(mode="json")
    data = {"name": "prec", "base": tiny, "replications": 3,
            "factors": {"staffing.workers_per_grid": [1, 3]},
            "kpis": ["mean_time_to_close_h", "discovery_rate"]}
    exp = validate_experiment(data, "prec", ROOT)
    prec = Precision(kpi="mean_time_to_close_h", half_width=0.35, max_replications=24)
    a = sweep(exp, SerialBackend(), tmp_path / "a.duckdb", precision=prec)
    with ResultsStore(a.store, read_only=True) as st:
        s = summarize(st.kpis(), ["mean_time_to_close_h"])
    assert (s.n > 3).any(), "the target should need more than the initial replications"
    assert ((s.half_width <= 0.35) | (s.n >= 24)).all()
    # an interrupted precision sweep resumed later takes the same decisions
    b_path = tmp_path / "b.duckdb"
    sweep(exp, SerialBackend(), b_path, replications=4)  # as if killed after some extra runs
    b = sweep(exp, SerialBackend(), b_path, precision=prec)
    assert b.replications == a.replications


def test_sobol_second_order_indices_of_a_one_factor_model_vanish_between_idle_factors(tmp_path):
    data = _one_factor_matters({"type": "sobol", "samples": 8, "second_order": True})
    data["name"] = "one_sobol_s2"
    exp, kp, pts = _run(tmp_path, data)
    assert len(pts) == 8 * (2 * 3 + 2)
    idx = sobol_indices(kp, exp.factor_names, len(pts), ["monthly_staff_cost"], True, 1)
    s2 = idx.attrs["S2"]
    assert len(s2) == 3  # one row per pair of the three factors
    idle = s2[(s2.factor != "staffing.pay.grid_worker") & (s2.factor_2 != "staffing.pay.grid_worker")]
    assert len(idle) == 1 and idle.S2.abs().max() < 1e-9

