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

from dataclasses import dataclass

import numpy as np

from sim.city import City
from sim.scenario import Deadline, Scenario

# Columns of the per-incident uniform draws.
(U_PATROL, U_RESIDENT, U_RES_CHANNEL, U_SENSOR, U_SENSOR_DELAY, U_VIDEO, U_VIDEO_DELAY,
 U_WORKER, U_ONSPOT, U_COMPLEX, U_UNSOLVABLE, U_MISROUTE, U_HANDLE, U_FIX, U_VERIFY,
 U_WRONG_DEPT, U_SCREEN, U_DISPATCH, U_COORD, U_FEEDBACK, U_VERIFY_TIME, U_RETURN_DELAY,
 U_ONSPOT_TIME, U_REPORT_TIME, U_AUTO) = range(25)
N_UNIFORMS = 25


@dataclass(frozen=True)
class SubtypeInfo:
    code: str  # "category.subtype"
    category: str
    subtype: str
    label_en: str
    label_zh: str
    department: str
    deadline: Deadline
    minor: bool
    complex_prob: float
    unsolvable_prob: float
    urgency: int
    patrol_visibility: float
    resident_salience: float
    sensor_detectable: bool
    video_detectable: bool
    rate_per_1000_households_per_day: float  # this subtype's share of the category rate


def taxonomy(scenario: Scenario) -> list[SubtypeInfo]:
    rows = []
    for cname, cat in scenario.incidents.categories.items():
        for sname, sub in cat.subtypes.items():
            rows.append(SubtypeInfo(
                code=f"{cname}.{sname}", category=cname, subtype=sname, label_en=sub.label_en,
                label_zh=sub.label_zh, department=sub.department or cat.department,
                deadline=sub.deadline, minor=sub.minor, complex_prob=sub.complex_prob,
                unsolvable_prob=sub.unsolvable_prob, urgency=sub.urgency,
                patrol_visibility=cat.patrol_visibility, resident_salience=cat.resident_salience,
                sensor_detectable=cat.sensor_detectable, video_detectable=cat.video_detectable,
                rate_per_1000_households_per_day=cat.rate_per_1000_households_per_day * sub.share,
            ))
    return rows


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
