"""Window-aware tallies of policy events (complaints, gaming caught, costs…) for the KPIs.

Every amount is counted only if it falls in the measurement window ``[warmup_h, horizon_h)``;
amounts that belong to a period (a month's bonus) are pro-rated by the period's overlap with it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class Tally:
    def __init__(self, model: Any):
        self.m = model
        self.w0 = model.warmup_h
        self.w1 = model.horizon_h
        self.values: dict[str, float] = defaultdict(float)

    def add(self, key: str, amount: float = 1.0, t: float | None = None) -> None:
        t = self.m.env.now if t is None else t
        if self.w0 <= t < self.w1:
            self.values[key] += amount

    def add_period(self, key: str, amount: float, t0: float, t1: float) -> None:
        """``amount`` earned evenly over ``[t0, t1)``: count the part inside the window."""
        if t1 <= t0:
            return
        overlap = max(0.0, min(t1, self.w1) - max(t0, self.w0))
        if overlap > 0:
            self.values[key] += amount * overlap / (t1 - t0)

    def get(self, key: str) -> float:
        return float(self.values.get(key, 0.0))

    @property
    def window_months(self) -> float:
        return (self.w1 - self.w0) / (24.0 * 30.0)

    def monthly(self, key: str) -> float:
        """Per 30 days of the window."""
        return self.get(key) / self.window_months if self.window_months > 0 else float("nan")
