"""Appraisal schemes and the behaviour they induce (S3.3, S6.2, S7.1), at common random numbers.

Each effect is measured against the same scenario with the lever off, at the same 8 seeds, and
tested with a one-sided paired t-test at 1% (tests/policy_helpers.py). The model's workers choose
effort and gaming by expected utility (sim/policies/incentives.py); none of these outcomes is coded in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.engine.model import GridModel
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with
from sim.scenario.distributions import Fixed
from tests.policy_helpers import assert_greater, kpi, paired, ready, with_

PPR = "appraisal.worker_scheme.pay_per_report_yuan"


@pytest.fixture(scope="module")
def ppr_runs():
    sc = ready("incentives_pay_per_report", **{"run.days": 30})
    flat = scenario_with(sc, {PPR: 0})
    out = {"ppr": [], "flat": []}
    for s in range(1, 9):
        out["ppr"].append(run_scenario(sc, seed=s))
        out["flat"].append(run_scenario(flat, seed=s))
    return out


def test_pay_per_report_raises_reports_and_padding(ppr_runs):
    ppr = np.array([r.kpis["cases_filed"] for r in ppr_runs["ppr"]])
    flat = np.array([r.kpis["cases_filed"] for r in ppr_runs["flat"]])
    assert_greater(ppr, flat, "cases filed, pay per report vs flat")
    pad = np.array([r.kpis["padded_report_share"] for r in ppr_runs["ppr"]])
    pad0 = np.array([r.kpis["padded_report_share"] for r in ppr_runs["flat"]])
    assert (pad0 == 0).all()
    assert_greater(pad, pad0, "padded-report share")
    effort = [r.kpis["mean_worker_effort"] for r in ppr_runs["ppr"]]
    assert min(effort) > 1.0  # the reward also buys real patrol effort
    assert all(r.kpis["mean_worker_effort"] == 1.0 for r in ppr_runs["flat"])


def test_padding_leaves_real_incidents_alone_and_is_logged(ppr_runs):
    for a, b in zip(ppr_runs["ppr"], ppr_runs["flat"]):
        c = a.cases
        pad = c[c.padded]
        assert len(pad) > 0
        assert pad.t_occur_h.isna().all() and (pad.channel == "patrol").all()
        assert (pad.state == "closed").all() and pad.on_spot.all()
        assert (pad.incident_id < 0).all()
        # every real incident is in the log exactly once, the padded ones on top
        assert len(c) == a.manifest["incidents"] + len(pad)
        assert a.kpis["incidents_total"] == b.kpis["incidents_total"]  # same incidents (CRN)
        assert b.cases.padded.sum() == 0


def test_spot_checks_catch_padding(ppr_runs):
    caught = [r.kpis["gaming_caught"] for r in ppr_runs["ppr"]]
    assert sum(caught) > 0
    assert all(r.kpis["gaming_caught"] == 0 for r in ppr_runs["flat"])


def test_more_spot_checks_lower_the_padded_share():
    # 15 days: the effect is about 20 standard deviations of the paired difference (p ~ 1e-10)
    sc = ready("incentives_pay_per_report", **{"run.days": 15, PPR: 45})
    strict = with_(sc, appraisal__supervision__spot_check_share=0.1)
    lax, tight = paired(sc, strict, kpi("padded_report_share"))
    assert_greater(lax, tight, "padded share at 5% vs 10% spot checks")


def test_no_reward_for_reporting_means_no_padding():
    """Overdue penalties and a satisfaction bonus, no spot checks and no scruples: still no
    padding, because a padded report earns nothing."""
    sc = ready("incentives_pay_per_report", **{
        "run.days": 30, PPR: 0, "appraisal.worker_scheme.overdue_penalty_yuan": 200,
        "appraisal.worker_scheme.satisfaction_bonus_yuan_per_point": 50,
        "appraisal.supervision.spot_check_share": 0.0})
    sc = scenario_with(sc, {"appraisal.behaviour.honesty_cost_yuan": Fixed(value=0).model_dump()})
    for s in (1, 2, 3):
        r = run_scenario(sc, seed=s)
        assert r.kpis["padded_report_share"] == 0
        assert r.cases.padded.sum() == 0


def test_quota_produces_padded_reports():
    sc = ready("incentives_quota", **{"run.days": 15})  # p ~ 1e-5 at 15 days as at 30
    off = with_(sc, appraisal__worker_scheme__quota_penalty_yuan=0)
    q, q0 = paired(sc, off, kpi("padded_report_share"), seeds=range(1, 6))
    assert_greater(q, q0, "padded share with a quota")


def test_collusion_keeps_problems_off_the_record_and_complaints_catch_some():
    sc = ready("incentives_collusion", **{"run.days": 30})
    honest = with_(sc, appraisal__behaviour__collusion_side_payment_share=0.0)
    runs = [(run_scenario(sc, seed=s, keep_cases=False).kpis,
             run_scenario(honest, seed=s, keep_cases=False).kpis) for s in range(1, 9)]
    sup = np.array([a["suppressed_incidents"] for a, _ in runs])
    sup0 = np.array([b["suppressed_incidents"] for _, b in runs])
    assert (sup0 == 0).all()
    assert_greater(sup, sup0, "suppressed incidents with side payments")
    r, r0 = runs[0]
    assert r["discovery_rate"] < r0["discovery_rate"]
    assert r["gaming_caught"] > 0
    # more complaints on average over the 8 seeds (p ≈ 0.08: a direction, not tested at 1%)
    assert np.mean([a["complaints"] - b["complaints"] for a, b in runs]) > 0
    assert r["resident_satisfaction"] < r0["resident_satisfaction"]


def test_black_list_speeds_departments_up_and_costs_quality():
    sc = with_(Scenario(), run__days=40, run__warmup_days=2,
               appraisal__department_scheme__black_list_share=0.25)
    m = GridModel(sc, seed=2)
    m.run_until(7 * 24 + 1)  # the first (partial) cycle closes after the learning week
    sped = [d for d in m.departments.values() if d.time_factor < 1.0]
    assert len(sped) == 2  # ceil(0.25 · 8 departments)
    for d in sped:
        assert d.fix_success_prob < d.cfg.fix_success_prob
    for d in m.departments.values():
        if d not in sped:
            assert d.time_factor == 1.0 and d.fix_success_prob == d.cfg.fix_success_prob


def test_flat_pay_changes_nothing():
    """The baseline (flat pay, no campaigns …) has no gaming and workers keep the base effort."""
    r = run_scenario(with_(Scenario(), run__days=10, run__warmup_days=1), seed=4)
    k = r.kpis
    assert k["padded_report_share"] == 0 and k["suppressed_incidents"] == 0
    assert k["staged_verifications"] == 0 and k["gaming_caught"] == 0
    assert k["mean_worker_effort"] == 1.0 and k["incentive_pay_monthly"] == 0
    assert not r.cases[["padded", "suppressed", "staged_verification", "joint_meeting"]].any().any()


def test_valuing_time_leads_to_staged_checks_and_false_closures():
    """When an hour saved is worth enough, some verifiers stop visiting the site: failed fixes
    are then closed (false closures), residents complain, spot checks catch some."""
    sc = ready("incentives_pay_per_report", **{
        "run.days": 30, PPR: 0, "appraisal.behaviour.time_value_yuan_per_h": 150})
    honest = with_(sc, appraisal__behaviour__time_value_yuan_per_h=0)
    for s in (1, 2):
        r, r0 = run_scenario(sc, seed=s), run_scenario(honest, seed=s)
        assert r.kpis["staged_verifications"] > 0 and r0.kpis["staged_verifications"] == 0
        assert r.cases.false_closure.sum() > r0.cases.false_closure.sum()
        assert r.kpis["gaming_caught"] > 0
        assert r.kpis["resident_satisfaction"] < r0.kpis["resident_satisfaction"]


def test_red_list_makes_the_others_take_care():
    sc = with_(Scenario(), run__days=40, run__warmup_days=2,
               appraisal__department_scheme__red_list_share=0.25)
    m = GridModel(sc, seed=2)
    m.run_until(7 * 24 + 1)  # the first (partial) cycle closes after the learning week
    careful = [d for d in m.departments.values() if d.fix_success_prob > d.cfg.fix_success_prob]
    assert len(careful) == 6  # all but the ceil(0.25 · 8) on the red list
    assert all(d.time_factor > 1.0 for d in careful)  # care takes time


class _NoPolicies:
    """Stand-in with every hook neutral: what GridModel would do without sim.policies."""

    def __init__(self, m):
        pass

    def adjust_channel_times(self, inc, sub, times):
        pass

    def adjust_birth_times(self, grids, subs, t, u, free, t3):
        pass

    def on_report(self, inc, channel):
        pass

    def staged_verification(self, inc, u_verify, fixed):
        return False

    def misroute_factor(self, inc):
        return 1.0

    def on_finish(self, inc, state):
        return False

    case_flags = staticmethod(lambda inc: (False,) * 8)

    def finish(self):
        pass

    def reporters(self):
        return {}

    def context(self):
        return {}

    def grid_frame(self, grids):
        return grids


def test_default_sections_leave_the_core_model_untouched(monkeypatch):
    """With every new section at its default, the case log is identical to a run with the
    policy hooks removed: the baseline's numbers do not depend on sim.policies."""
    import sim.engine.model

    sc = with_(Scenario(), run__days=12, run__warmup_days=1)
    a = run_scenario(sc, seed=7).cases
    monkeypatch.setattr(sim.engine.model, "Policies", _NoPolicies)
    b = run_scenario(sc, seed=7).cases
    pd.testing.assert_frame_equal(a, b)


def test_satisfaction_weighted_pay_deters_collusion():
    """A problem kept off the record later costs residents' satisfaction; when pay follows
    satisfaction the worker bears that cost, and fewer problems are kept off the record."""
    sc = ready("incentives_collusion", **{"run.days": 30})
    weighted = with_(sc, appraisal__worker_scheme__satisfaction_bonus_yuan_per_point=20)
    plain, sat = paired(sc, weighted, kpi("suppressed_incidents"), seeds=range(1, 9))
    assert_greater(plain, sat, "suppressed incidents, plain vs satisfaction-weighted pay")


# ----------------------------------------------------------- periodic policies in default runs
def test_periodic_policies_first_act_after_the_learning_week():
    from sim.policies.registry import period_ends
    day = 24.0
    assert period_ends(30 * day, 30 * day) == [7 * day]  # a 30-day run: one (partial) cycle
    assert period_ends(30 * day, 31 * day) == [7 * day, 30 * day]
    assert period_ends(5 * day, 12 * day) == [5 * day, 10 * day]  # short cycles: no extra
    assert period_ends(30 * day, 7 * day) == []  # nothing strictly before the end


def test_a_default_length_run_closes_a_cycle_and_discloses():
    sc = with_(Scenario(), city__households=6000, residents__disclosure__enabled=True,
               appraisal__department_scheme__black_list_share=0.25)
    assert sc.run.days == 30 and sc.appraisal.cycle_days == 30
    assert sc.residents.disclosure.interval_days == 30 and sc.warnings() == []
    m = GridModel(sc, seed=3)
    m.run_until(8 * 24)
    assert m.policies.tally.get("appraisal_cycles") == 1
    assert m.policies.tally.get("disclosures") == 1
    assert sum(d.time_factor < 1.0 for d in m.departments.values()) == 2  # black-listed


def test_a_run_too_short_for_a_periodic_policy_is_warned_about(run_cli, tmp_path):
    short = {"run.days": 6, "run.warmup_days": 1, "residents.disclosure.enabled": True,
             "workforce.attrition.quit_sensitivity": 0.5}
    sc = scenario_with(Scenario(), short)
    fields = [f for f, _ in sc.warnings()]
    assert fields == ["appraisal.cycle_days", "residents.disclosure.interval_days"]
    assert "never acts" in sc.warnings()[0][1]
    assert scenario_with(sc, {"run.days": 8}).warnings() == []
    assert with_(Scenario(), run__days=6, run__warmup_days=1).warnings() == []  # nothing on
    r = run_cli("run", "--days", "6", "--set", "run.warmup_days=1", "--set",
                "residents.disclosure.enabled=true", "--set", "city.households=2000")
    assert r.returncode == 0 and "residents.disclosure.interval_days" in r.stderr


PERIODIC_ARMS = [  # (lever, KPI it must move at the default length, sign)
    ({"appraisal.department_scheme.black_list_share": 0.3}, "crew_overtime_h", -1),
    ({"appraisal.department_scheme.red_list_share": 0.3}, "rework_rate", -1),
    ({"workforce.attrition.quit_sensitivity": 1.0}, "discovery_rate", -1),
    ({"residents.disclosure.enabled": True}, "complaints", +1),
]


@pytest.mark.slow
@pytest.mark.parametrize("over, key, sign", PERIODIC_ARMS, ids=lambda x: str(x)[:40])
def test_periodic_levers_move_a_kpi_at_the_default_length(over, key, sign):
    """30 days (the default): each periodic lever moves its KPI, paired 95% CI away from 0."""
    base = Scenario()
    d = []
    for s in range(1, 9):
        a = run_scenario(base, seed=s, keep_cases=False).kpis[key]
        b = run_scenario(scenario_with(base, over), seed=s, keep_cases=False).kpis[key]
        d.append(b - a)
    d = np.array(d)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert sign * d.mean() - half > 0, (d.mean(), half)
