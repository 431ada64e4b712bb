"""Incident taxonomy (S2.1) and the arrival process.

The taxonomy is flattened into one row per subtype (``category.subtype``) with its department,
deadline and flags. Arrivals are a non-homogeneous Poisson process per grid and subtype with a
piecewise-constant hourly intensity::

    rate(g, s, t) = households_g / 1000 · zone/hotspot multiplier_g
                    · rate_per_1000_households_per_day(category_s) / 24 · share_s
                    · hourly_profile[hour(t)] · weekly_profile[weekday(t)]   (profiles mean 1)

Each hour, the total count is Poisson and the incidents are spread over (grid, subtype) by their
weights, at uniform times within the hour — exactly that process. Every incident carries a row of
uniform numbers drawn at birth (``U_*`` columns) that fixes its intrinsic randomness (how long it
takes to notice, to fix, whether the fix holds…), so common random numbers hold across policies.
"""

from __future__ import annotations

import numpy as np

from sim.engine.case import N_UNIFORMS, SubtypeInfo
from sim.scenario import Scenario
from sim.world.city import City


def normalised(profile: tuple[float, ...]) -> np.ndarray:
    a = np.asarray(profile, dtype=float)
    return a / a.mean()


class ArrivalGenerator:
    """Draws each hour's incidents: grid, subtype, time and the per-incident uniforms."""

    def __init__(self, scenario: Scenario, city: City, subtypes: list[SubtypeInfo],
                 rng: np.random.Generator, rng_u: np.random.Generator):
        per_h = np.array([s.rate_per_1000_households_per_day for s in subtypes]) / 24.0
        weights = np.outer(city.households / 1000.0 * city.incident_multiplier, per_h)
        self.n_sub = len(subtypes)
        self.cum = np.cumsum(weights.ravel())
        self.rate_per_h = float(self.cum[-1]) if len(self.cum) else 0.0
        self.hourly = normalised(scenario.incidents.hourly_profile)
        self.weekly = normalised(scenario.incidents.weekly_profile)
        self.handed_down_per_h = scenario.channels.handed_down_per_day / 24.0
        self.rng = rng
        self.rng_u = rng_u

    def intensity(self, hour: int) -> float:
        """Expected incidents per hour during model hour ``hour`` (0 = Monday 00:00–01:00)."""
        return self.rate_per_h * self.hourly[hour % 24] * self.weekly[(hour // 24) % 7]

    def draw_hour(self, hour: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                               np.ndarray]:
        """(times, grids, subtypes, handed_down flags, uniforms) for one hour, sorted by time."""
        n = int(self.rng.poisson(self.intensity(hour)))
        m = int(self.rng.poisson(self.handed_down_per_h)) if self.handed_down_per_h else 0
        total = n + m
        if total == 0 or self.rate_per_h == 0:
            empty = np.empty(0)
            return empty, empty.astype(np.int64), empty.astype(np.int64), empty.astype(bool), \
                np.empty((0, N_UNIFORMS))
        pick = np.searchsorted(self.cum, self.rng.random(total) * self.cum[-1], side="right")
        pick = np.minimum(pick, len(self.cum) - 1)
        times = hour + self.rng.random(total)
        order = np.argsort(times, kind="stable")
        handed = np.zeros(total, dtype=bool)
        handed[n:] = True
        u = self.rng_u.random((total, N_UNIFORMS))
        return (times[order], (pick // self.n_sub)[order], (pick % self.n_sub)[order],
                handed[order], u[order])
