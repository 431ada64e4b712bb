"""Paired comparison statistics for policies run at the same seeds (common random numbers).

Each seed gives a pair (reference, variant) that saw the same incidents, so the difference per
seed removes the shared noise and a paired t interval on the differences is much narrower than
comparing two independent means. Several comparisons are judged together with Holm's step-down
correction, so "significant" keeps its 5% meaning across the whole table.

What is tested is an *effect*: a KPI that differs by the same amount at every seed (a staff cost
set by the levers) is an input, reported as such and left out of the correction (:func:`judge`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

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


Kind = Literal["significant", "none", "fixed", "identical", "single"]


def fixed(d: PairedDiff) -> bool:
    """The same non-zero difference at every seed: an input the levers set (a cost), not an
    effect to test."""
    return d.n >= 2 and d.mean != 0 and d.lo == d.mean == d.hi


def excludes_zero(d: PairedDiff) -> bool:
    """The 95% interval lies on one side of zero."""
    return d.n >= 2 and not math.isnan(d.lo) and (d.lo > 0 or d.hi < 0)


@dataclass(frozen=True)
class Finding:
    """What a paired comparison says about one KPI of one variant."""

    variant: int
    key: str
    diff: PairedDiff
    kind: Kind
    p_adj: float = math.nan   # Holm-adjusted over the tested findings


def judge(diffs: dict[tuple[int, str], PairedDiff], keys: list[str], variants: list[int],
          alpha: float = 0.05) -> list[Finding]:
    """Findings for ``keys`` × ``variants``: inputs fixed by the levers and exact ties are
    reported as such and left out of the Holm correction, which runs over the rest together."""
    tested = [(v, k) for v in variants for k in keys
              if diffs[(v, k)].n >= 2 and not fixed(diffs[(v, k)])
              and not diffs[(v, k)].identical and not math.isnan(diffs[(v, k)].p)]
    adj = dict(zip(tested, holm([diffs[t].p for t in tested])))
    out: list[Finding] = []
    for v in variants:
        for k in keys:
            d = diffs[(v, k)]
            if d.n == 0:
                continue
            if d.identical:
                kind: Kind = "identical"
            elif fixed(d):
                kind = "fixed"
            elif d.n < 2 or (v, k) not in adj:
                kind = "single"
            else:
                kind = "significant" if adj[(v, k)] < alpha else "none"
            out.append(Finding(v, k, d, kind, adj.get((v, k), math.nan)))
    return out
