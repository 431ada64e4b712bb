"""Closing the loop: capacity sized for the log, a saturation check, the calibrated city run
against the log, and department handling times fitted until it closes cases like the log
(sim/data/sizing.py, sim/data/closedloop.py). Small cities and short runs keep this fast."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.data.calibrate import calibrate
from sim.data.calreport import fit_report
from sim.data.closedloop import check_calibration
from sim.data.cohortfit import fit_departments
from sim.data.logexport import cases_to_log
from sim.data.sizing import crews_needed, n_streets, reduced_city, saturation_check
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with

DATA = Path(__file__).parent / "data"

#: every incident reported within minutes (residents), none found on patrol, none handed down
QUICK = {"city.hotspot_share": 0.0, "channels.resident_reports_per_incident_per_day": 240.0,
         "patrol.coverage_km2_per_h": 1e-9, "channels.handed_down_per_day": 0.0}
#: the city whose log is calibrated: slow departments (hours to days), crews to match
SLOW = {"sanitation": (6.0, 14), "public_works": (30.0, 40), "city_management": (12.0, 12),
        "civil_affairs": (20.0, 8), "police": (3.0, 4)}


def _slow(base: Scenario) -> Scenario:
    over = {}
    for d, (mean, crews) in SLOW.items():
        over[f"departments.{d}.handling_time"] = {"dist": "lognormal", "mean": mean, "cv": 0.9}
        over[f"departments.{d}.crews_per_street"] = crews
    return scenario_with(base, over)


@pytest.fixture(scope="module")
def slow_log(tmp_path_factory):
    base = scenario_with(Scenario(), {**QUICK, "city.households": 16000, "run.days": 11,
                                      "run.warmup_days": 1})
    true = _slow(base)
    result = run_scenario(true, seed=3)
    path = tmp_path_factory.mktemp("slow") / "slow_city.csv"
    cases_to_log(result.cases, "nyc311").to_csv(path, index=False)
    cal, sc = calibrate(path, "nyc311", base=base, households=16000)
    return base, true, result, cal, sc


def test_crews_follow_the_load():
    assert crews_needed(24.0 * 0.7, 1, 1.0, 1.0) == 1          # exactly 70% busy
    assert crews_needed(24.0 * 0.7 + 0.01, 1, 1.0, 1.0) == 2
    assert crews_needed(100.0, 10, 5.0, 10 / 24) == math.ceil(100 / 10 / 24 * 5 / (10 / 24 * 0.7))


def test_a_citywide_log_gets_citywide_capacity():
    """--households 3,190,000 on the baseline's sub-district staffing left 98% of cases open;
    sizing gives operators and crews for the volume, and the check run does not saturate."""
    cal, sc = calibrate(DATA / "window_12h.csv", "nyc311", households=3_190_000)
    base = Scenario()
    assert sc.platform.operators > base.platform.operators
    rows = {r["unit"]: r for r in cal.sizing.rows}
    assert all(r["utilisation"] <= 0.7 + 1e-9 for r in rows.values())
    san = rows["sanitation"]
    assert sc.departments["sanitation"].crews_per_street == san["sized"]
    warns, util = saturation_check(sc, days=3, seed=1)
    assert warns == [] and max(util.values()) < 0.95
    # without sizing, three operators for the whole city: the check says so
    _, unsized = calibrate(DATA / "window_12h.csv", "nyc311", households=3_190_000, size=False)
    assert unsized.platform.operators == base.platform.operators
    warns, util = saturation_check(unsized, days=3, seed=1)
    assert util["platform"] > 3
    assert any(w.startswith("the platform saturates: at the busiest hour its 3 operator(s)")
               for w in warns)
    # and a department with too few crews for its street's load
    # (one crew a street, day-long visits, and twenty times the log's sanitation requests: the
    # fixture's rate per household is low, so the two-street check city needs the extra load)
    rate = sc.incidents.categories["environment_sanitation"].rate_per_1000_households_per_day
    tight = scenario_with(sc, {"departments.sanitation.crews_per_street": 1,
                               "departments.sanitation.handling_time":
                                   {"dist": "lognormal", "mean": 24.0, "cv": 0.5},
                               "incidents.categories.environment_sanitation."
                               "rate_per_1000_households_per_day": 20 * rate})
    warns, _ = saturation_check(tight, days=3, seed=1)
    assert any(w.startswith("department sanitation saturates") for w in warns)
    assert "## Capacity sized for the log's volume" in fit_report(cal)


def test_reduced_city_keeps_the_load_per_street():
    sc = scenario_with(Scenario(), {"city.households": 160_000})
    small = reduced_city(sc, 2)
    assert small.city.households == pytest.approx(160_000 * 2 / n_streets(sc), abs=1)
    assert n_streets(small) == 2
    assert small.departments["sanitation"].crews_per_street == \
        sc.departments["sanitation"].crews_per_street


def test_the_check_agrees_when_the_log_comes_from_the_same_city(slow_log):
    """The log of a run, calibrated onto the very departments that made it: volumes and
    Kaplan–Meier quantiles agree within their intervals."""
    base, true, result, cal, _ = slow_log
    same = scenario_with(true, {k: v for k, v in cal.overrides().items()
                                if not k.startswith("departments.")
                                and not k.startswith("platform.")})
    check = check_calibration(cal, same, reps=3, seed=5)
    t = check.table.set_index("category")
    print()
    print(t[["log_per_day", "sim_per_day", "log_p50", "sim_p50", "log_p90", "sim_p90"]].round(2))
    big = [c for c in t.index if cal.categories[c].requests >= 100]
    for c in big:
        assert t.loc[c, "per_day_ok"], c
        assert abs(t.loc[c, "sim_p50"] / t.loc[c, "log_p50"] - 1) < 0.35, c
    assert "## Verdict" not in fit_report(cal)  # not set on cal


def test_the_fit_recovers_the_departments_time_to_close(slow_log):
    """Calibrated onto the baseline's quick departments the city closes in hours what the log
    closes in days; the fit moves the handling times towards the slow city's and its median and
    p90 towards the log's."""
    base, true, result, cal, sc = slow_log
    before = check_calibration(cal, sc, reps=2, seed=5).table.set_index("category")
    fit, fitted = fit_departments(cal, sc, trials=3, reps=2, seed=5)
    after = check_calibration(cal, fitted, reps=2, seed=5).table.set_index("category")
    cal.fitted, cal.check = fit, check_calibration(cal, fitted, reps=2, seed=5)
    print()
    print(fit.handling, fit.loss, fit.start_loss)
    print(after[["log_p50", "sim_p50", "log_p90", "sim_p90"]].round(1))
    assert fit.loss < 0.5 * fit.start_loss
    # the three busiest categories (with lifetimes and residents who report only some problems,
    # an 11-day log of 16,000 households has fewer than 100 requests in most categories)
    big = sorted(after.index, key=lambda c: cal.categories[c].requests)[-3:]
    assert min(cal.categories[c].requests for c in big) >= 30

    def err(t, c, k):
        return abs(math.log(t.loc[c, f"sim_{k}"] / t.loc[c, f"log_{k}"]))

    assert sum(err(after, c, "p50") for c in big) < 0.5 * sum(err(before, c, "p50") for c in big)
    for c in big:
        assert err(after, c, "p50") < math.log(2.0), c  # within a factor 2 after three trials
    # slower in the slow city, slower in the fit (crews differ: the fit re-sizes them, so the
    # handling times themselves are not identified, only the times to close they give)
    assert fit.handling["public_works"][0] > fit.handling["sanitation"][0]
    report = fit_report(cal)
    assert "## Departments fitted to the log (--fit)" in report
    assert "## Verdict: the log against the calibrated city" in report


def test_round_trip_rates_profiles_and_quantiles(slow_log):
    """export-log → calibrate: rates, hour profile and time-to-close quantiles come back within
    sampling error of the run that wrote the log."""
    base, true, result, cal, _ = slow_log
    c = result.cases
    rep = c[c.t_report_h.notna()]
    span_days = (rep.t_report_h.max() - rep.t_report_h.min()) / 24
    for cat, f in cal.categories.items():
        n = int((rep.category == cat).sum())
        assert f.requests == n
        assert f.rate_per_day * cal.profiles.exposure_h / 24 == pytest.approx(n)
        if n >= 50:
            assert abs(f.rate_per_day - n / span_days) < 3 * math.sqrt(n) / span_days
            closed = rep[(rep.category == cat) & (rep.state == "closed")]
            ttc = (closed.t_closed_h - closed.t_report_h).to_numpy()
            if (rep[rep.category == cat].state != "closed").mean() < 0.05:
                assert f.ttc.km["p50"] == pytest.approx(np.median(ttc), rel=0.1)
    busy = np.asarray(base.incidents.hourly_profile) > np.mean(base.incidents.hourly_profile)
    base_h = np.asarray(base.incidents.hourly_profile) / np.mean(base.incidents.hourly_profile)
    np.testing.assert_allclose(np.asarray(cal.hourly)[busy], base_h[busy], rtol=0.25)


def test_cli_check_and_fit_write_their_sections(tmp_path):
    from tests.conftest import gridsim_inproc

    out = tmp_path / "city.yaml"
    r = gridsim_inproc("calibrate", str(DATA / "own_columns.csv"), "--format", "csv",
                       "--out", str(out), "--check", "--check-reps", "2", "--fit",
                       "--fit-trials", "2", "--fit-reps", "1", "--seed", "3")
    assert r.returncode == 0, r.stderr
    report = out.with_suffix(".fit.md").read_text(encoding="utf-8")
    assert "## Departments fitted to the log (--fit)" in report
    assert "## Verdict: the log against the calibrated city" in report
    assert "handling_time" in out.read_text(encoding="utf-8")
    bad = gridsim_inproc("calibrate", str(DATA / "own_columns.csv"), "--format", "csv",
                         "--fit", "--fit-trials", "1", "--out", str(tmp_path / "x.yaml"))
    assert bad.returncode == 2 and "fit-trials: needs at least 2 trials" in bad.stderr
    assert not (tmp_path / "x.yaml").exists()
