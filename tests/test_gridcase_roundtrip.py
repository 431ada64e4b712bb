"""Round trip of a per-step case export: a run with known step distributions and a channel mix →
``export-log --format gridcase`` → ``calibrate --format gridcase`` gives back each step's
distribution, the channel shares and the on-time rate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.data.calibrate import calibrate
from sim.data.gridcase import cases_to_gridcase
from sim.metrics import case_kpis, km_quantile
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with
from sim.scenario.distributions import LogNormal
from tests.conftest import gridsim_inproc

SCREENING = LogNormal(mean=0.5, cv=0.6)
DISPATCH = LogNormal(mean=1.0, cv=0.5)
START = pd.Timestamp("2024-01-01")


def _scenario() -> Scenario:
    """Operators enough that nobody waits: report → filed is the screening time for a case not
    found on patrol, filed → dispatched the dispatch time; sensors and video make a channel mix."""
    return scenario_with(Scenario(), {
        "run.days": 14, "run.warmup_days": 0, "platform.operators": 60,
        "platform.screening_time": SCREENING.model_dump(by_alias=True),
        "platform.dispatch_time": DISPATCH.model_dump(by_alias=True),
        "channels.sensor_coverage": 0.6, "channels.video_coverage": 0.6})


@pytest.fixture(scope="module")
def runs():
    sc = _scenario()
    return run_scenario(sc, seed=5), run_scenario(sc, seed=6)


@pytest.fixture(scope="module", params=["zh", "en"])
def fitted(runs, request, tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / f"cases_{request.param}.csv"
    cases_to_gridcase(runs[0].cases, request.param).to_csv(path, index=False)
    cal, sc = calibrate(path, "gridcase", size=False)
    return cal, sc, path


def _sigma(d: LogNormal) -> float:
    return math.sqrt(math.log1p(d.cv ** 2))


@pytest.mark.parametrize("a,b,field,truth", [
    ("created", "filed", "screening_time", SCREENING),
    ("filed", "dispatched", "dispatch_time", DISPATCH)])
def test_each_step_comes_back_within_sampling_error(fitted, a, b, field, truth):
    """The written lognormal's median and spread are the scenario's within 3.5 standard errors
    (log median: 1.2533·σ/√n; σ: σ/√(2n)); a step taken from the wrong columns, censoring
    ignored or patrol report times mixed in would be off by far more."""
    cal, sc, _ = fitted
    st = cal.steps.step(a, b)
    n = st.fit.closed
    assert n >= 200
    got = getattr(sc.platform, field)
    s = _sigma(truth)
    assert abs(math.log(got.ppf(0.5) / truth.ppf(0.5))) < 3.5 * 1.2533 * s / math.sqrt(n)
    assert abs(_sigma(got) - s) < 3.5 * s / math.sqrt(2 * n)
    km = st.fit.km["p50"]
    assert abs(math.log(km / truth.ppf(0.5))) < 3.5 * 1.2533 * s / math.sqrt(n)


def test_handling_step_is_the_case_logs_own_with_open_cases_censored(runs, fitted):
    """Per department, the Kaplan–Meier median of dispatched → handled equals the one computed
    from the case log by sim.metrics (cases still open censored at the log's last time)."""
    cal, sc, _ = fitted
    c = runs[0].cases
    ext = (cal.steps.cases.extracted - START) / pd.Timedelta(hours=1)
    c = c[c.t_dispatch_h.notna()]
    open_ = ~c.state.isin(["closed", "parked"]) & c.t_handled_h.isna()
    use = c.t_handled_h.notna() | open_
    fitted_depts = 0
    for dept, g in c[use].groupby("department"):
        dur = np.where(g.t_handled_h.notna(), g.t_handled_h - g.t_dispatch_h, ext - g.t_dispatch_h)
        want = km_quantile(dur, g.t_handled_h.notna().to_numpy(), 0.5)
        st = cal.steps.step("dispatched", "handled", dept)
        assert st.fit.km["p50"] == pytest.approx(want, abs=1e-3), dept
        assert st.fit.censored == int(open_[g.index].sum())
        if st.target:
            fitted_depts += 1
            assert sc.departments[dept].handling_time == LogNormal(**{
                k: v for k, v in cal.steps.overrides[st.target].items() if k != "dist"})
    assert fitted_depts >= 4


def test_channel_shares_are_the_runs(runs, fitted):
    cal, _, _ = fitted
    reported = runs[0].cases[runs[0].cases.t_report_h.notna()]
    assert {k: v[0] for k, v in cal.steps.channels.items()} == \
        reported.channel.value_counts().to_dict()
    for k, p, lo, hi in cal.steps.channels.values():
        assert lo < p < hi and k / len(reported) == pytest.approx(p)


def test_channel_shares_of_one_week_cover_the_next(runs, tmp_path):
    """Fitted on the first week's cases, each channel's share agrees with the second week's
    (same city, so the same sensor and video grids; independent incidents) by a two-sample test
    at z = 3.3 — a reader that mixed channels up, or shares of the wrong denominator, fail."""
    c = runs[0].cases[runs[0].cases.t_report_h.notna()]
    first, second = c[c.t_report_h < 168], c[c.t_report_h >= 168]
    path = tmp_path / "week1.csv"
    cases_to_gridcase(first, "zh").to_csv(path, index=False)
    cal, _ = calibrate(path, "gridcase", size=False)
    other = second.channel.value_counts(normalize=True)
    n1, n2 = len(first), len(second)
    assert set(cal.steps.channels) >= {"patrol", "sensor", "video"}
    for code, (k, p, lo, hi) in cal.steps.channels.items():
        q = float(other.get(code, 0.0))
        pooled = (k + q * n2) / (n1 + n2)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        assert abs(p - q) <= 3.3 * se, code


def test_on_time_rate_is_the_kpi_of_the_same_cases(runs, fitted):
    """Deadlines written as due times give back the run's on_time_rate over the same window.
    A log's extension (延期) without a new deadline keeps its case among those due, so the
    comparison is with the KPI that counts the model's deferred cases too."""
    cal, _, _ = fitted
    ext = (cal.steps.cases.extracted - START) / pd.Timedelta(hours=1)
    k = case_kpis(runs[0].cases.drop(columns=["extension"]), 0.0, ext)
    assert cal.steps.on_time[2] == pytest.approx(k["on_time_rate"], abs=1e-12)
    c = runs[0].cases
    due = c[c.t_due_h.notna() & c.t_report_h.notna() & (c.t_report_h < ext)]
    assert cal.steps.extended_share == pytest.approx(float((due.extension == True).mean()),  # noqa: E712
                                                     rel=0.01)  # the same cases, up to the log's window edge


def test_channel_names_alone_are_recognised(runs, fitted, tmp_path):
    """Without the code column the Chinese or English names classify to the same channels."""
    cal, _, path = fitted
    log = pd.read_csv(path, dtype=str, keep_default_na=False)
    log = log.drop(columns=[c for c in ("来源代码", "channel_code") if c in log])
    p = tmp_path / "names.csv"
    log.to_csv(p, index=False)
    cal2, _ = calibrate(p, "gridcase", size=False)
    assert cal2.steps.channels == cal.steps.channels
    assert cal2.steps.cases.channel_unknown == {}


def test_export_log_command_round_trip(runs, tmp_path):
    """The command writes the log from a run folder; calibrate reads it back, every case
    mapped by the default gridcase mapping."""
    sc = _scenario()
    run_scenario(sc, seed=5, out_dir=tmp_path / "run")
    out = tmp_path / "log.csv"
    r = gridsim_inproc("export-log", str(tmp_path / "run"), "--format", "gridcase", "--out",
                       str(out))
    assert r.returncode == 0, r.stderr
    cal, _ = calibrate(out, "gridcase", size=False)
    assert cal.log.unmapped == {} and cal.log.malformed == {}
    assert cal.counts["used"] == int(runs[0].cases.t_report_h.notna().sum())
