"""Counts, sums and means over the rows of a boolean mask — over a whole table, or per unit
(grid, street …) in one pass with ``np.bincount`` — so that a KPI written once in
``sim.metrics`` gives the run's number and every unit's by the same formula."""

from __future__ import annotations

from typing import Any

import numpy as np


def share(num: Any, den: Any) -> Any:
    """num / den, NaN where den is 0; elementwise for arrays."""
    if np.ndim(num) == 0 and np.ndim(den) == 0:
        return float(num) / float(den) if den else float("nan")
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    return np.divide(num, den, out=out, where=den != 0)


def mean_or_nan(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else float("nan")


class Tally:
    """Counts, sums and means over the rows in a mask: over the whole log (``by`` None: plain
    numbers, the run's KPIs) or per unit (``by[i]`` the unit 0 … n-1 of row i: arrays over the
    units, the same formulas, e.g. per grid)."""

    def __init__(self, by: np.ndarray | None, n: int):
        self.by, self.n = by, n

    def f(self, x: Any) -> Any:
        return float(x) if self.by is None else np.asarray(x, dtype=float)

    def count(self, mask: np.ndarray) -> Any:
        if self.by is None:
            return int(mask.sum())
        return np.bincount(self.by[mask], minlength=self.n)

    def total(self, values: np.ndarray, mask: np.ndarray) -> Any:
        if self.by is None:
            return values[mask].sum()
        return np.bincount(self.by[mask], weights=values[mask], minlength=self.n)

    def mean(self, values: np.ndarray, mask: np.ndarray) -> Any:
        if self.by is None:
            return mean_or_nan(values[mask])
        return share(self.total(values, mask), self.count(mask))

    def each(self, fn: Any, values: np.ndarray, flags: np.ndarray, mask: np.ndarray) -> Any:
        """``fn(values, flags)`` over the masked rows (of each unit)."""
        if self.by is None:
            return fn(values[mask], flags[mask])
        b = self.by[mask]
        order = np.argsort(b, kind="stable")
        v, fl = values[mask][order], flags[mask][order]
        edges = np.searchsorted(b[order], np.arange(self.n + 1))
        return np.array([fn(v[i:j], fl[i:j]) for i, j in zip(edges[:-1], edges[1:])])
