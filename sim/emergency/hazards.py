"""Hazards that evolve while they wait (formulas in ``sim.scenario.emergency``).

:class:`GrowthState` — fire, gas leak, public-order incident: per affected grid
``dS/dt = (r·(1 − B/K) − λ·B/K)·S − c`` (B = what has grown there so far, K its capacity,
λ burn-out; ``c`` = control of the units on site, shared among the grids in proportion to their
severity), solved exactly over a tick with B/K held at its start; spread to neighbouring grids.
:class:`FloodState` — water stored per grid from a rain event, drainage and pumps.
Both are advanced only by :meth:`step`; random draws (spread) come from the generator passed in.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from sim.scenario.emergency import FloodHazard, GrowthHazard

if TYPE_CHECKING:
    from sim.world.city import City


def _grow(s: float, a: float, c: float, dt: float) -> tuple[float, float]:
    """Severity after ``dt`` minutes of dS/dt = a·S − c (a of any sign), and ∫S dt over it."""
    if s <= 0:
        return 0.0, 0.0
    if abs(a) < 1e-12:
        if c <= 0:
            return s, s * dt
        tau = min(dt, s / c)
        return max(0.0, s - c * tau), s * tau - c * tau * tau / 2
    eq = c / a
    e = math.exp(a * dt)
    s1 = (s - eq) * e + eq
    if s1 > 0:
        return s1, (s - eq) * (e - 1) / a + eq * dt
    tau = math.log(eq / (eq - s)) / a  # the moment S reaches 0
    return 0.0, max(0.0, (s - eq) * (math.exp(a * tau) - 1) / a + eq * tau)


class GrowthState:
    """Severity per affected grid; ``burned`` = S0 + cumulative growth (the damage base)."""

    def __init__(self, cfg: GrowthHazard, origin: int, city: "City"):
        self.cfg = cfg
        self.city = city
        self.s: dict[int, float] = {origin: cfg.initial}
        self.burned = cfg.initial
        self.burned_by_grid: dict[int, float] = {origin: cfg.initial}
        self.growth_factor = 1.0  # cfg.cut_growth_factor once every supply is cut

    @property
    def severity(self) -> float:
        return float(sum(self.s.values()))

    @property
    def n_grids(self) -> int:
        return len(self.s)

    @property
    def contained(self) -> bool:
        return all(v <= 0 for v in self.s.values())

    def step(self, dt_min: float, control: float, cordon: bool, rng: np.random.Generator
             ) -> list[int]:
        """Advance ``dt_min`` with total control ``c`` per minute; return newly caught grids."""
        cfg = self.cfg
        total = self.severity
        for g in sorted(self.s):
            s = self.s[g]
            c = control * s / total if total > 0 else 0.0
            used = min(1.0, self.burned_by_grid[g] / cfg.capacity_per_grid)
            r = cfg.growth_per_min * self.growth_factor * (1.0 - used)
            s1, integral = _grow(s, r - cfg.burnout_per_min * used, c, dt_min)
            grown = min(r * integral, cfg.capacity_per_grid - self.burned_by_grid[g])
            self.s[g] = s1
            self.burned += grown
            self.burned_by_grid[g] += grown
        caught: list[int] = []
        if cfg.spread_at is not None and cfg.spread_prob_per_min > 0:
            p = cfg.spread_prob_per_min * (cfg.cordon_spread_factor if cordon else 1.0)
            p_tick = 1.0 - (1.0 - p) ** dt_min
            for g in sorted(self.s):
                if self.s[g] < cfg.spread_at:
                    continue
                for n in sorted(int(x) for x in self.city.neighbours(g)):
                    if n in self.s or n in caught:
                        continue
                    if rng.random() < p_tick:
                        caught.append(n)
            for n in caught:
                self.s[n] = cfg.initial
                self.burned += cfg.initial
                self.burned_by_grid[n] = cfg.initial
        return caught

    def damage_yuan(self) -> float:
        return self.burned * self.cfg.damage_yuan_per_unit

    def people_affected(self) -> float:
        return self.burned * self.cfg.people_per_unit


class FloodState:
    """Water stored (mm) in every grid; depth (cm) = stored · ponding / 10."""

    def __init__(self, cfg: FloodHazard, city: "City", t_start_h: float,
                 layout: np.random.Generator, sensed: np.ndarray, report_delay_ticks: int):
        self.cfg = cfg
        self.city = city
        self.t0 = t_start_h
        n = city.n_grids
        low = layout.random(n) < cfg.low_lying_share
        self.ponding = np.where(low, cfg.low_lying_factor, 1.0)
        self.stored_mm = np.zeros(n)
        self.sensed = sensed
        self._history: deque[np.ndarray] = deque(maxlen=report_delay_ticks + 1)
        self._history.append(np.zeros(n))
        self.household_h = 0.0
        self.closed_grid_h = 0.0  # grid-hours with the roads closed (depth ≥ road_closure_cm)
        self.reached = np.zeros(n, dtype=bool)

    def rain_mm_per_h(self, t_h: float) -> float:
        cfg = self.cfg
        x = (t_h - self.t0) / cfg.rain_duration_h
        if x < 0 or x >= 1:
            return 0.0
        if cfg.rain_profile == "block":
            return cfg.rain_peak_mm_per_h
        return cfg.rain_peak_mm_per_h * (1.0 - abs(2.0 * x - 1.0))

    @property
    def depth_cm(self) -> np.ndarray:
        return self.stored_mm * self.ponding / 10.0

    def observed_cm(self) -> np.ndarray:
        """What the platform knows: sensor grids now, the others ``unsensed`` delay ago."""
        return np.where(self.sensed, self.depth_cm, self._history[0])

    @property
    def severity(self) -> float:
        return float(self.observed_cm().max())

    def step(self, t_h: float, dt_min: float, pump_mm_per_h: np.ndarray) -> None:
        cfg = self.cfg
        dt_h = dt_min / 60.0
        rain = self.rain_mm_per_h(t_h + dt_h / 2)
        net = rain * cfg.runoff_coefficient - cfg.drainage_mm_per_h - pump_mm_per_h
        self.stored_mm = np.maximum(0.0, self.stored_mm + net * dt_h)
        d = self.depth_cm
        self._history.append(d.copy())
        wet = d >= cfg.affecting_depth_cm
        self.reached |= wet
        self.household_h += float(self.city.households[wet].sum()) * dt_h
        self.closed_grid_h += float(np.count_nonzero(d >= cfg.road_closure_cm)) * dt_h

    def closed(self, grid: int) -> bool:
        """The roads of ``grid`` are closed by the water now."""
        return bool(self.depth_cm[grid] >= self.cfg.road_closure_cm)

    def contained(self, threshold_cm: float) -> bool:
        return bool(self.depth_cm.max() < threshold_cm)

    def damage_yuan(self) -> float:
        return self.household_h * self.cfg.damage_yuan_per_household_h

    def people_affected(self) -> float:
        return float(self.city.population[self.reached].sum())
