"""Where emergency units are based and which of them are free.

A :class:`Station` holds a SimPy resource (its pool) and named units. For a responder that shares
routine crews the pool *is* ``Department.crews[street]`` (so emergencies and routine cases compete
for the same crews); dedicated stations (fire brigade, gas company, 120) get their own pool.
Dedicated stations are placed by deterministic k-means over the grid centres (weighted by area)
so that each covers about ``station_district_km2``, or at a real map's station points
(``city.geometry.stations``); a grid's *home* station is the nearest by
travel distance (its station district, 辖区). Nothing here draws random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import simpy

from sim.scenario.emergency import Responder

if TYPE_CHECKING:
    from sim.world.city import City

EMERGENCY_PRIORITY = -100  # ahead of every routine case (routine priorities are 0 … -6)
OUT_OF_SERVICE_PRIORITY = -1000


@dataclass
class Unit:
    """One crew or vehicle (出动单位). ``status``: available, routine (busy on a routine case),
    dispatched, on_scene, returning, out_of_service."""

    id: str
    responder: str
    station: "Station"
    status: str = "available"
    emergency: int = -1
    grid: int = -1
    t_depart_h: float = math.nan
    t_arrive_h: float = math.nan
    from_grid: int = -1
    request: simpy.Resource | None = field(default=None, repr=False)
    process: simpy.Process | None = field(default=None, repr=False)


@dataclass
class Station:
    id: str  # "S1" (unique within its responder)
    responder: str
    index: int
    grid: int
    pool: simpy.Resource
    shared: bool
    units: list[Unit] = field(default_factory=list)

    def held(self) -> int:
        """Units this station's pool has given to emergencies or taken out of service."""
        return sum(1 for u in self.units if u.request is not None)

    def free_units(self, preempt: bool) -> int:
        """Units that could leave now: idle ones, plus routine-busy ones when pre-emption is on."""
        idle = self.pool.capacity - self.pool.count - len(self.pool.queue)
        if self.shared and preempt:
            return max(0, self.pool.capacity - self.held())
        return max(0, idle)

    def next_unit(self) -> Unit:
        """The named unit a newly granted request gets: the first one not held."""
        for u in self.units:
            if u.request is None:
                return u
        raise RuntimeError(f"station {self.id} of {self.responder} has no unheld unit")

    def refresh_routine(self) -> None:
        """Label the anonymous unheld units of a shared station: as many as its pool has
        routine cases in hand are ``routine`` (the first by number), the rest ``available``."""
        busy = self.pool.count - self.held() if self.shared else 0
        for u in self.units:
            if u.request is None:
                u.status = "routine" if busy > 0 else "available"
                busy -= 1


def kmeans_sites(city: "City", k: int) -> np.ndarray:
    """Grids for ``k`` stations: area-weighted k-means of grid centres, farthest-point start."""
    xy = np.column_stack([city.x_km, city.y_km])
    w = city.area_km2
    k = max(1, min(k, city.n_grids))
    centre = (xy * w[:, None]).sum(0) / w.sum()
    first = int(np.argmin(((xy - centre) ** 2).sum(1)))
    centres = [xy[first]]
    d2 = ((xy - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        nxt = int(np.argmax(d2))
        centres.append(xy[nxt])
        d2 = np.minimum(d2, ((xy - xy[nxt]) ** 2).sum(1))
    c = np.array(centres, dtype=float)
    for _ in range(50):
        lab = np.argmin(((xy[:, None, :] - c[None, :, :]) ** 2).sum(2), axis=1)
        new = c.copy()
        for j in range(k):
            m = lab == j
            if m.any():
                new[j] = (xy[m] * w[m, None]).sum(0) / w[m].sum()
        if np.allclose(new, c):
            break
        c = new
    sites: list[int] = []
    for j in range(k):
        order = np.argsort(((xy - c[j]) ** 2).sum(1), kind="stable")
        sites.append(int(next(g for g in order if int(g) not in sites)))
    return np.asarray(sites, dtype=np.int64)


def _centre_grids(city: "City", groups: np.ndarray) -> np.ndarray:
    out = []
    for k in range(int(groups.max()) + 1):
        idx = np.flatnonzero(groups == k)
        cx, cy = city.x_km[idx].mean(), city.y_km[idx].mean()
        out.append(int(idx[np.argmin((city.x_km[idx] - cx) ** 2 + (city.y_km[idx] - cy) ** 2)]))
    return np.asarray(out, dtype=np.int64)


def map_station_grids(city: "City", code: str | None) -> np.ndarray | None:
    """Grids of a real map's station points (``city.geometry.stations``) for responder
    ``code`` (those whose responder attribute names it, or all when the map names none)."""
    geo = getattr(city, "_geometry", None)  # never builds the synthetic city's geometry
    if geo is None or geo.station_cells is None:
        return None
    cells = geo.station_cells
    if geo.station_responders is not None:
        cells = cells[geo.station_responders == code]
    return np.unique(city.cell_grid[cells]) if len(cells) else None


def station_grids(city: "City", r: Responder,
                  code: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grid of each station, home station of each grid) for a responder's placement."""
    if r.placement in ("street_depots", "streets"):
        return np.asarray(city.street_depots, dtype=np.int64), city.street.astype(np.int64)
    if r.placement == "communities":
        return _centre_grids(city, city.community), city.community.astype(np.int64)
    sites = map_station_grids(city, code)
    if sites is None:
        k = r.station_count or math.ceil(float(city.area_km2.sum()) / r.station_district_km2
                                         - 1e-9)
        sites = kmeans_sites(city, k)
    city.precompute_distances(sites)
    dist = np.vstack([city.distances_from(int(s)) for s in sites])
    return sites, np.argmin(dist, axis=0).astype(np.int64)


def station_coverage(city: "City", r: Responder, speed_kmh: float, minutes: float = 5.0,
                     sites: np.ndarray | None = None) -> float:
    """Share of households whose grid a unit reaches within ``minutes`` of dispatch (turnout +
    travel over the grid graph from the nearest station) — the fire norm's 5-minute coverage."""
    if sites is None:
        sites, _ = station_grids(city, r)
    city.precompute_distances(sites)
    dist = np.vstack([city.distances_from(int(s)) for s in sites]).min(axis=0)
    t_min = r.turnout_min + 60.0 * dist / speed_kmh
    return float(city.households[t_min <= minutes + 1e-9].sum() / city.households.sum())
