"""Time to close from a log: Kaplan–Meier quantiles and a checked lognormal fit.

A log's closed requests give durations; its open (and referred-out) requests are right-censored
at their age. Closures at 0 h (fixed on the spot, closed on the call) are a share of their own:
the fit is a *hurdle* — a share at zero and a lognormal of the positive durations (maximum
likelihood with censoring). The fit is then checked against the Kaplan–Meier quantiles, which
need no distributional assumption: a fitted mean beyond :data:`ABSURD_P99` × the observed p99,
or a median or p90 off by more than :data:`QUANTILE_TOLERANCE` ×, is not used; the lognormal
matched to the Kaplan–Meier median and p90 of the positive durations replaces it, and when even
those are unknown (too few closed) nothing is fitted. Each outcome carries a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: durations at or below this (hours, 36 s) count as closed at once
ZERO_H = 0.01
#: a fitted mean beyond this many times the observed p99 is absurd
ABSURD_P99 = 10.0
#: a fitted median or p90 more than this factor from Kaplan–Meier's is a poor fit
QUANTILE_TOLERANCE = 2.0
_Z90 = 1.2815515655446004


def km_quantile(durations: np.ndarray, censored: np.ndarray | None, q: float) -> float:
    """The ``q`` quantile of time to close by Kaplan–Meier: the first time the survival falls to
    1 − q or below. NaN when it never does (too many still open)."""
    d = np.asarray(durations, dtype=float)
    c = np.asarray(censored if censored is not None else [], dtype=float)
    if len(d) == 0:
        return float("nan")
    times = np.concatenate([d, c])
    events = np.concatenate([np.ones(len(d), bool), np.zeros(len(c), bool)])
    order = np.lexsort((~events, times))  # at a tie, events before censorings
    times, events = times[order], events[order]
    uniq, first = np.unique(times, return_index=True)
    n_at = len(times) - first
    d_at = np.add.reduceat(events.astype(float), first)
    surv = np.cumprod(1.0 - d_at / n_at)
    hit = np.nonzero(surv <= 1.0 - q + 1e-12)[0]
    return float(uniq[hit[0]]) if len(hit) else float("nan")


def km_quantiles(durations: np.ndarray, censored: np.ndarray | None = None,
                 qs: tuple[float, ...] = (0.5, 0.9, 0.99)) -> dict[str, float]:
    return {f"p{round(q * 100)}": km_quantile(durations, censored, q) for q in qs}


def _lognormal_ml(x: np.ndarray, c: np.ndarray) -> tuple[float, float] | None:
    """(mu, sigma) by maximum likelihood of log hours, censored values right-censored."""
    if len(x) < 2:
        return None
    logs = np.log(x)
    mu, s = float(logs.mean()), float(logs.std(ddof=0))
    if s == 0:
        return mu, 0.0
    if len(c) == 0:
        return mu, s
    from scipy import optimize, stats

    logc = np.log(c)

    def nll(theta: np.ndarray) -> float:
        m, log_s = theta
        sd = math.exp(log_s)
        return -(float(stats.norm.logpdf((logs - m) / sd).sum()) - len(logs) * log_s
                 + float(stats.norm.logsf((logc - m) / sd).sum()))

    res = optimize.minimize(nll, np.array([mu, math.log(s)]), method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    return float(res.x[0]), math.exp(float(res.x[1]))


def hurdle_summary(p0: float, mu: float, s: float) -> dict[str, float]:
    """Mean, cv, median and p90 of "0 h with probability p0, else lognormal(mu, s)"."""
    from scipy import stats

    m1 = math.exp(mu + s * s / 2)
    mean = (1 - p0) * m1
    second = (1 - p0) * math.exp(2 * mu + 2 * s * s)
    var = max(second - mean * mean, 0.0)

    def q(level: float) -> float:
        if level <= p0:
            return 0.0
        return math.exp(mu + s * float(stats.norm.ppf((level - p0) / (1 - p0))))

    return {"mean": mean, "cv": math.sqrt(var) / mean if mean > 0 else float("nan"),
            "median": q(0.5), "p90": q(0.9), "mu": mu, "sigma": s, "p0": p0}


@dataclass
class TTCFit:
    """What a category's time to close looks like in the log, and the distribution fitted."""

    closed: int
    censored: int
    zero: int
    km: dict[str, float]                       # p50, p90, p99 by Kaplan–Meier (hours)
    fit: dict[str, float] = field(default_factory=dict)  # mean, cv, median, p90, mu, sigma, p0
    kind: str = "none"                         # "lognormal (ML)", "quantile-matched", "none"
    warning: str = ""
    observed: dict[str, float] = field(default_factory=dict)  # closed only: mean, median, p90


def fit_ttc(durations: np.ndarray, censored: np.ndarray | None = None,
            name: str = "") -> TTCFit:
    """Fit and check one category's time to close (hours; ``censored``: ages of open requests)."""
    d = np.asarray(durations, dtype=float)
    c = np.asarray(censored if censored is not None else [], dtype=float)
    c = np.maximum(c, 0.0)
    zero = d <= ZERO_H
    km = km_quantiles(d, c)
    out = TTCFit(closed=len(d), censored=len(c), zero=int(zero.sum()), km=km)
    if len(d):
        out.observed = {"mean": float(d.mean()), "median": float(np.median(d)),
                        "p90": float(np.quantile(d, 0.9))}
    if len(d) < 2:
        out.warning = f"{name}: time to close not fitted ({len(d)} closed request(s))"
        return out
    n_all = len(d) + len(c)
    p0 = float(zero.sum()) / n_all
    pos, cpos = d[~zero], c[c > ZERO_H]
    ml = _lognormal_ml(pos, cpos) if len(pos) >= 2 else None
    if ml is not None:
        cand = hurdle_summary(p0, *ml)
        bad = _absurd(cand, km, d)
        if not bad:
            out.fit, out.kind = cand, "lognormal (ML)"
            return out
        reason = bad
    else:
        reason = "fewer than 2 positive durations"
    qm = _quantile_matched(pos, cpos, p0)
    bad_qm = _absurd(qm, km, d) if qm is not None else ""
    if qm is not None and not bad_qm:
        out.fit, out.kind = qm, "quantile-matched"
        out.warning = (f"{name}: the lognormal fit was not used ({reason}); the lognormal "
                       "matched to the Kaplan–Meier median and p90 replaces it")
        return out
    why = (f"the lognormal matched to the Kaplan–Meier quantiles is no better: {bad_qm}"
           if qm is not None else "too few closed to match the quantiles")
    out.warning = (f"{name}: time to close not fitted ({reason}; {why}); the Kaplan–Meier "
                   "quantiles stand as the targets")
    return out


def _absurd(fit: dict[str, float], km: dict[str, float], d: np.ndarray) -> str:
    p99 = km.get("p99")
    if p99 is None or p99 != p99:
        p99 = float(np.quantile(d, 0.99))
    if p99 > 0 and fit["mean"] > ABSURD_P99 * p99:
        return (f"fitted mean {fit['mean']:.3g} h is over {ABSURD_P99:g}× the observed p99 "
                f"{p99:.3g} h")
    for key, kkey in (("median", "p50"), ("p90", "p90")):
        a, b = fit[key], km.get(kkey, float("nan"))
        if b == b and a > 0 and b > 0 and max(a / b, b / a) > QUANTILE_TOLERANCE:
            return (f"fitted {key} {a:.3g} h against {b:.3g} h by Kaplan–Meier")
    return ""


def _quantile_matched(pos: np.ndarray, cpos: np.ndarray, p0: float) -> dict[str, float] | None:
    """The hurdle lognormal whose positive part has the Kaplan–Meier median and p90 of the
    positive durations."""
    med = km_quantile(pos, cpos, 0.5)
    p90 = km_quantile(pos, cpos, 0.9)
    if not (med == med and p90 == p90) or med <= 0 or p90 <= med:
        return None
    s = (math.log(p90) - math.log(med)) / _Z90
    return hurdle_summary(p0, math.log(med), s)
