"""Time to close that survives real categories: Kaplan–Meier with censoring and zeros, a hurdle
lognormal checked against it, a fallback or a refusal when it is absurd (sim/data/ttcfit.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.data.ttcfit import ABSURD_P99, fit_ttc, km_quantile, km_quantiles


def test_kaplan_meier_by_hand():
    # 1, 2, 3+, 4, 5+, 6: S(1)=5/6, S(2)=4/6, S(4)=4/6·2/3=4/9, S(6)=0
    d = np.array([1.0, 2.0, 4.0, 6.0])
    c = np.array([3.0, 5.0])
    assert km_quantile(d, c, 0.25) == 2.0      # S(2) = 0.667 ≤ 0.75
    assert km_quantile(d, c, 0.5) == 4.0       # S(4) = 0.444 ≤ 0.5
    assert km_quantile(d, c, 0.9) == 6.0
    # a censoring tied with an event is still at risk for it
    assert km_quantile(np.array([2.0]), np.array([2.0]), 0.5) == 2.0
    # too much still open: the p90 is unknown, never a guess
    assert math.isnan(km_quantile(np.array([1.0]), np.full(20, 100.0), 0.9))
    assert km_quantiles(np.array([0.0, 0.0, 5.0])) == {"p50": 0.0, "p90": 5.0, "p99": 5.0}


def test_zero_hour_closures_are_a_share_of_their_own():
    """Graffiti removed on the spot: 30% at 0 h. Dropping them (as before) overstates the time
    to close; the hurdle keeps them."""
    rng = np.random.default_rng(1)
    x = np.concatenate([np.zeros(3000), rng.lognormal(2.0, 0.5, 7000)])
    f = fit_ttc(x)
    assert f.kind == "lognormal (ML)" and f.zero == 3000
    assert f.fit["p0"] == pytest.approx(0.3)
    assert f.fit["mu"] == pytest.approx(2.0, abs=0.02)
    assert f.fit["mean"] == pytest.approx(x.mean(), rel=0.02)
    assert f.fit["median"] == pytest.approx(np.median(x), rel=0.03)
    assert f.fit["p90"] == pytest.approx(np.quantile(x, 0.9), rel=0.03)


def test_open_requests_are_censored_not_dropped():
    rng = np.random.default_rng(8)
    created = rng.random(20000) * 20 * 24
    ttc = rng.lognormal(mean=4.0, sigma=1.0, size=created.size)
    done = created + ttc <= 20 * 24
    naive = fit_ttc(ttc[done])
    fair = fit_ttc(ttc[done], 20 * 24 - created[~done])
    assert naive.fit["mu"] < 3.85
    assert fair.fit["mu"] == pytest.approx(4.0, abs=0.03)
    assert fair.km["p50"] == pytest.approx(math.exp(4.0), rel=0.03)


def test_an_absurd_fit_falls_back_to_the_quantiles_with_a_warning():
    """A cluster of near-instant closures beside the real ones: the maximum-likelihood
    lognormal spreads over both and misses the median by 5×. It is checked against Kaplan–Meier
    and replaced by the lognormal matched to its median and p90."""
    rng = np.random.default_rng(3)
    d = np.concatenate([rng.lognormal(3.0, 0.5, 700), rng.uniform(0.011, 0.05, 300)])
    f = fit_ttc(d, np.full(5, 40.0), name="sanitation")
    assert f.kind == "quantile-matched"
    assert "sanitation: the lognormal fit was not used (fitted median" in f.warning
    assert f.fit["mean"] <= ABSURD_P99 * f.km["p99"]
    assert f.fit["median"] == pytest.approx(f.km["p50"], rel=1e-6)
    assert f.fit["p90"] == pytest.approx(f.km["p90"], rel=1e-6)


def test_a_bimodal_category_is_refused_rather_than_given_an_absurd_mean():
    """Quick fixes and months-long cases: no lognormal fits both (matched to the quantiles its
    mean is 10^5 h); nothing is fitted and Kaplan–Meier's quantiles remain."""
    rng = np.random.default_rng(3)
    d = np.concatenate([rng.uniform(0.5, 2.0, 200), rng.uniform(500, 700, 60)])
    f = fit_ttc(d, np.full(5, 800.0), name="sanitation")
    assert f.kind == "none" and f.fit == {}
    assert "no better" in f.warning and "Kaplan–Meier quantiles stand" in f.warning
    assert f.km["p90"] == pytest.approx(np.quantile(d, 0.9), rel=0.05)


def test_a_fit_with_nothing_to_stand_on_is_refused():
    f = fit_ttc(np.array([1.0, 2.0, 3.0, 500.0]), np.full(200, 2000.0), name="x")
    assert f.kind == "none" and f.fit == {}
    assert f.warning.startswith("x: time to close not fitted")
    one = fit_ttc(np.array([4.0]))
    assert one.fit == {} and "1 closed request" in one.warning
