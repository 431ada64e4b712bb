"""Time handled honestly: rates over the log's true span, sparse tails, --from/--to, and
profiles shrunk towards the base shape where the log saw little (sim/data/logtimes.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.data.calibrate import CalibrationError, calibrate
from sim.data.calreport import fit_report
from sim.data.logtimes import find_period, fit_profiles, hour_bins
from sim.scenario import Scenario

DATA = Path(__file__).parent / "data"
BASE = Scenario()


def _expected_count(sc: Scenario, cal, cat: str) -> float:
    """Requests the written scenario's arrival process gives over the log's window (per
    household rate × multiplier × households × ∫ profiles)."""
    inc = sc.incidents
    h = np.asarray(inc.hourly_profile) / np.mean(inc.hourly_profile)
    w = np.asarray(inc.weekly_profile) / np.mean(inc.weekly_profile)
    frac, hod, dow = hour_bins(cal.period.start, cal.period.end)
    exposure_days = float((frac * h[hod] * w[dow]).sum()) / 24
    rate = inc.categories[cat].rate_per_1000_households_per_day * cal.multiplier
    return rate * sc.city.households / 1000 * exposure_days


def test_a_12_hour_window_gives_the_daily_rate_not_half_of_it():
    """Wednesday 08:00–20:00 at 960 requests a day (baseline profiles): the old whole-days rule
    gave 960 × (share of a day's requests in those hours) ≈ 0.7 of it on one day — and half a
    real day's rate for a 12-hour log generally."""
    cal, sc = calibrate(DATA / "window_12h.csv", "nyc311")
    n = cal.counts["used"]
    assert cal.period.hours == pytest.approx(12.0, abs=0.05)
    total = sum(f.rate_per_day for f in cal.categories.values())
    se = 960 / math.sqrt(n)  # Poisson: relative error 1/√n
    assert abs(total - 960) < 3 * se, (total, n)
    # the written scenario, run over the same 12 hours, expects exactly the log's counts
    for c in ("infrastructure", "environment_sanitation"):
        assert _expected_count(sc, cal, c) == pytest.approx(cal.categories[c].requests, rel=1e-4)
    # hours the log never saw keep the base shape (not 0, and not the old floor of 0.001)
    base = np.asarray(BASE.incidents.hourly_profile)
    ratio = np.asarray(cal.hourly) / (base / base.mean())
    night = [0, 1, 2, 3, 4, 5, 22, 23]
    assert np.allclose(ratio[night], ratio[night][0], rtol=1e-3)
    assert 0.5 < ratio[0] < 2
    # weekdays: only Wednesday was seen; the others keep the base shape
    assert np.allclose(np.asarray(cal.weekly) / (np.asarray(BASE.incidents.weekly_profile)
                                                 / np.mean(BASE.incidents.weekly_profile)),
                       1.0, atol=0.02)
    assert any("the log covers 12.0 hours" in w for w in cal.warnings)
    report = fit_report(cal)
    assert "| 03 | 0 | 0.0 |" in report  # 03:00 had no data behind it, and the report says so


def test_a_sparse_tail_is_detected_and_left_out():
    """Four dense days at 500 a day plus 200 strays over eight months: the span rule gave
    1/60 of the rate."""
    cal, _ = calibrate(DATA / "sparse_tail.csv", "open311")
    p = cal.period
    assert p.how.startswith("dense window")
    assert p.start >= pd.Timestamp("2024-03-04") and p.end < pd.Timestamp("2024-03-08")
    assert p.days == pytest.approx(4.0, abs=0.05)
    assert 180 <= p.outside <= 200
    rate = cal.categories["infrastructure"].rate_per_day
    n = cal.categories["infrastructure"].requests
    assert abs(rate - 500) < 3 * 500 / math.sqrt(n)
    assert any(w.startswith("sparse tail:") for w in cal.warnings)
    # --from/--to chooses the period instead (here: the first two dense days)
    two, _ = calibrate(DATA / "sparse_tail.csv", "open311", start="2024-03-04",
                       end="2024-03-06")
    assert two.period.how == "--from/--to" and two.period.days == 2.0
    r2 = two.categories["infrastructure"]
    assert abs(r2.rate_per_day - 500) < 3 * 500 / math.sqrt(r2.requests)
    with pytest.raises(CalibrationError, match="to: must be later than --from"):
        calibrate(DATA / "sparse_tail.csv", "open311", start="2024-03-06", end="2024-03-04")
    with pytest.raises(CalibrationError, match="from: not a date or time: 'soon'"):
        calibrate(DATA / "sparse_tail.csv", "open311", start="soon")


def test_profiles_of_a_long_log_are_the_logs_own():
    """Four weeks of arrivals with a shape unlike the base one: the fit follows the data."""
    rng = np.random.default_rng(2)
    shape = np.where(np.arange(24) < 12, 0.5, 1.5)
    t0 = pd.Timestamp("2024-01-01")
    times = []
    for h in range(28 * 24):
        k = rng.poisson(60 * shape[h % 24])
        times += list(t0 + pd.Timedelta(hours=h) + pd.to_timedelta(rng.random(k) * 3600,
                                                                    unit="s"))
    created = pd.Series(times)
    period = find_period(created)
    prof = fit_profiles(created, period, np.asarray(BASE.incidents.hourly_profile),
                        np.asarray(BASE.incidents.weekly_profile))
    np.testing.assert_allclose(prof.hourly, shape, rtol=0.12)
    assert prof.exposure_h == pytest.approx(period.hours, rel=0.02)
    assert len(created) / prof.exposure_h * 24 == pytest.approx(1440, rel=0.03)
