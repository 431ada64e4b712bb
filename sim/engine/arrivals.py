"""The arrival process (S2.1): incidents on the city's fixed land cells.

Arrivals are a non-homogeneous Poisson process per cell and subtype with a piecewise-constant
hourly intensity::

    rate(c, s, t) = households_c / 1000 · zone/hotspot multiplier_c
                    · rate_per_1000_households_per_day(category_s) / 24 · share_s
                    · hourly_profile[hour(t)] · weekly_profile[weekday(t)]   (profiles mean 1)

Each hour, the total count is Poisson; each incident's cell and subtype are drawn independently
(the intensity is a product of a cell term and a subtype term), at a uniform time within the
hour — exactly that process. With per-category surfaces (``city.geometry.surfaces``,
estimated from a log's places by ``sim.data.places``) a category's cell term is its surface,
scaled to the cells' total weight so that rates keep their meaning; the subtype is drawn first and
the cell from the same uniform on its category's surface (categories without one, and every run
without a surfaces file, draw exactly as before). Cells are fixed whatever the grid size (``sim.world.city``), and
nothing here reads the grid partition or the staffing, so at one seed the same incidents (time,
cell, subtype) occur whatever the grid size and staffing: common random numbers across the two
levers. Every incident carries a row of uniform numbers drawn at birth (``U_*`` columns,
``sim.engine.case``) and a row of *fate* uniforms (``F_*``: its lifetime while unreported, and
whether residents would ever report it), from streams of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.case import N_UNIFORMS, SubtypeInfo
from sim.scenario import Scenario
from sim.world.city import City

F_LIFETIME, F_RESIDENT = range(2)
N_FATE = 2


def normalised(profile: tuple[float, ...]) -> np.ndarray:
    a = np.asarray(profile, dtype=float)
    return a / a.mean()


@dataclass(frozen=True)
class HourBatch:
    """One hour's incidents, sorted by time."""

    times: np.ndarray
    cells: np.ndarray
    grids: np.ndarray
    subs: np.ndarray
    handed: np.ndarray  # bool: handed down by a higher level
    u: np.ndarray  # (n, N_UNIFORMS)
    fate: np.ndarray  # (n, N_FATE)

    def __len__(self) -> int:
        return len(self.times)

    def take(self, idx: np.ndarray) -> "HourBatch":
        """The incidents at positions ``idx`` (in order)."""
        return HourBatch(self.times[idx], self.cells[idx], self.grids[idx], self.subs[idx],
                         self.handed[idx], self.u[idx], self.fate[idx])

    def part(self, a: int, b: int) -> "HourBatch":
        return HourBatch(self.times[a:b], self.cells[a:b], self.grids[a:b], self.subs[a:b],
                         self.handed[a:b], self.u[a:b], self.fate[a:b])


class ArrivalGenerator:
    """Draws each hour's incidents: cell, subtype, time and the per-incident uniforms."""

    def __init__(self, scenario: Scenario, city: City, subtypes: list[SubtypeInfo],
                 rng: np.random.Generator, rng_u: np.random.Generator,
                 rng_fate: np.random.Generator):
        per_h = np.array([s.rate_per_1000_households_per_day for s in subtypes]) / 24.0
        self.cell_cum = np.cumsum(city.cells.incident_weight)
        self.sub_cum = np.cumsum(per_h)
        total_w = float(self.cell_cum[-1]) if len(self.cell_cum) else 0.0
        self.rate_per_h = total_w * float(self.sub_cum[-1]) if len(self.sub_cum) else 0.0
        self.cell_grid = city.cell_grid
        self.hourly = normalised(scenario.incidents.hourly_profile)
        self.weekly = normalised(scenario.incidents.weekly_profile)
        self.handed_down_per_h = scenario.channels.handed_down_per_day / 24.0
        self.rng = rng
        self.rng_u = rng_u
        self.rng_fate = rng_fate
        self.sub_row, self.cum_rows = _surface_rows(scenario, city, subtypes, total_w)

    def intensity(self, hour: int) -> float:
        """Expected incidents per hour during model hour ``hour`` (0 = Monday 00:00–01:00)."""
        return self.rate_per_h * self.hourly[hour % 24] * self.weekly[(hour // 24) % 7]

    def draw_hour(self, hour: int) -> HourBatch:
        """The incidents of one hour (and the cases handed down in it), sorted by time."""
        return self.draw_hours(hour, hour + 1)[0]

    def draw_hours(self, h0: int, h1: int) -> tuple[HourBatch, np.ndarray]:
        """The incidents of hours h0 … h1-1 in one batch sorted by time, and where each hour
        starts in it (``starts[k]`` … ``starts[k + 1]`` is hour h0 + k). Drawing a day at once
        keeps the per-hour overhead small; each hour's count is still its own Poisson draw."""
        hours = np.arange(h0, h1)
        lam = self.rate_per_h * self.hourly[hours % 24] * self.weekly[(hours // 24) % 7]
        n = self.rng.poisson(lam) if self.rate_per_h else np.zeros(len(hours), dtype=np.int64)
        m = self.rng.poisson(self.handed_down_per_h, len(hours)) if self.handed_down_per_h \
            else np.zeros(len(hours), dtype=np.int64)
        total = int(n.sum() + m.sum())
        starts = np.r_[0, np.cumsum(n + m)]
        if total == 0:
            e = np.empty(0, dtype=np.int64)
            return HourBatch(np.empty(0), e, e, e, np.empty(0, dtype=bool),
                             np.empty((0, N_UNIFORMS)), np.empty((0, N_FATE))), starts
        r = self.rng.random((3, total))  # cell, subtype, time
        cells = np.minimum(np.searchsorted(self.cell_cum, r[0] * self.cell_cum[-1], side="right"),
                           len(self.cell_cum) - 1)
        subs = np.minimum(np.searchsorted(self.sub_cum, r[1] * self.sub_cum[-1], side="right"),
                          len(self.sub_cum) - 1)
        if self.sub_row is not None:  # a category with its own surface draws its cells on it
            row = self.sub_row[subs]
            for k in range(1, len(self.cum_rows)):
                sel = np.flatnonzero(row == k)
                if len(sel):
                    cum = self.cum_rows[k]
                    cells[sel] = np.minimum(np.searchsorted(cum, r[0][sel] * cum[-1],
                                                            side="right"), len(cum) - 1)
        times = np.repeat(hours, n + m) + r[2]
        handed = np.concatenate([np.r_[np.zeros(a, dtype=bool), np.ones(b, dtype=bool)]
                                 for a, b in zip(n.tolist(), m.tolist())])
        order = np.argsort(times, kind="stable")  # hours stay in their blocks
        u = self.rng_u.random((total, N_UNIFORMS))
        fate = self.rng_fate.random((total, N_FATE))
        cells = cells[order]
        batch = HourBatch(times[order], cells, self.cell_grid[cells], subs[order], handed[order],
                          u[order], fate[order])
        return batch, starts


def _surface_rows(scenario: Scenario, city: City, subtypes: list[SubtypeInfo], total_w: float
                  ) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """(row of each subtype: 0 = the cells' own weights, k = its category's surface; the
    cumulative weights of each row), or (None, []) when the scenario names no surfaces."""
    geo = scenario.city.geometry
    if geo is None or not geo.surfaces:
        return None, []
    from sim.scenario import ScenarioError
    from sim.scenario.errors import ScenarioRefError
    from sim.scenario.surfaces import cell_weights

    try:
        surf = cell_weights(geo.surfaces, len(city.cells.incident_weight))
    except ScenarioRefError as e:
        raise ScenarioError([(e.path, e.msg)], scenario.name) from None
    cats = sorted(c for c in surf if any(s.category == c for s in subtypes))
    rows = [np.cumsum(city.cells.incident_weight)] + [np.cumsum(surf[c] * total_w) for c in cats]
    index = {c: k + 1 for k, c in enumerate(cats)}
    return np.array([index.get(s.category, 0) for s in subtypes], dtype=np.int64), rows
