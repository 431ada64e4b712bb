"""Paired comparison statistics for policies run at the same seeds (common random numbers).

Each seed gives a pair (reference, variant) that saw the same incidents, so the difference per
seed removes the shared noise and a paired t interval on the differences is much narrower than
comparing two independent means. Several comparisons are judged together with Holm's step-down
correction, so "significant" keeps its 5% meaning across the whole table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from sim.experiment.analysis import mean_ci as summary
from sim.experiment.analysis import t_half_width


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int


@dataclass(frozen=True)
class PairedDiff:
    """Variant minus reference, paired by seed."""

    mean: float
    lo: float
    hi: float
    p: float        # two-sided paired t-test; 0 when every difference is the same non-zero value
    n: int

    @property
    def identical(self) -> bool:
        return self.n > 0 and self.mean == 0 and self.lo == 0 and self.hi == 0


def mean_ci(x: np.ndarray | list[float], level: float = 0.95) -> Interval:
    """Mean and Student-t interval of ``x`` (NaNs dropped; no interval below two values)."""
    n, m, _, half = summary(x, level)
    return Interval(m, m - half, m + half, n)


def paired_diff(reference: np.ndarray | list[float], variant: np.ndarray | list[float],
                level: float = 0.95) -> PairedDiff:
    """Paired t interval and p-value of ``variant − reference`` (pairs with a NaN are dropped)."""
    r = np.asarray(reference, dtype=float)
    v = np.asarray(variant, dtype=float)
    if r.shape != v.shape:
        raise ValueError("reference and variant need one value per seed each")
    d = (v - r)[~(np.isnan(r) | np.isnan(v))]
    n = len(d)
    if n == 0:
        return PairedDiff(math.nan, math.nan, math.nan, math.nan, 0)
    m = float(d.mean())
    if n < 2:
        return PairedDiff(m, math.nan, math.nan, math.nan, n)
    sd = float(d.std(ddof=1))
    if sd == 0:
        return PairedDiff(m, m, m, 1.0 if m == 0 else 0.0, n)
    se = sd / math.sqrt(n)
    half = t_half_width(sd, n, level)
    p = float(2 * stats.t.sf(abs(m) / se, n - 1))
    return PairedDiff(m, m - half, m + half, p, n)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (NaNs stay NaN and do not count as tests)."""
    idx = [i for i, p in enumerate(pvalues) if not math.isnan(p)]
    m = len(idx)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out
