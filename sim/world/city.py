"""The city: fixed land cells, grouped into communities, streets and districts, and cut into
basic grids by the grid-size lever (S1.1, S1.2).

The city is a fixed set of square land cells of ``city.cell_m2`` (Dongcheng's unit-grid method:
10,000 m², facts.md), laid zone by zone along a Hilbert curve so that consecutive cells are
adjacent and every run of cells is a compact area. Each cell has households (a zone's households
spread evenly over its cells), a zone, a difficulty and an incident weight (zone and hotspot
multipliers). Communities (社区) are consecutive runs of cells of about
``households_per_community`` households; streets (街道) are ``communities_per_street`` consecutive
communities and districts ``streets_per_district`` streets. None of this depends on
``households_per_grid``: the grid-size lever only decides how each community's cells are grouped
into basic grids — inside each run of one zone within a community, into
``round(Σ households × difficulty / households_per_grid)`` grids (at least one, at most one per
cell), so harder zones get smaller grids. Incidents arise on cells (``sim.engine.arrivals``), so
the same incidents occur whatever the grid size.

Per-grid attributes live in numpy arrays aggregated from the cells (the model's hot path reads
them); ``graph`` is the networkx view of the whole hierarchy for analysis and the app. Grids are
adjacent when two of their cells share an edge. Department crews sit at each street's depot, the
cell nearest the street's centroid; a routine crew trip to a grid is the mean city-block distance
from the depot to the grid's cells (weighted by where incidents arise).

A city on its real map (``city.geometry``) has the same arrays, built from the map's polygons by
``sim.world.realmap`` and ``sim.world.realcity``: :func:`build_city` and :func:`grid_count`
hand it over to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim.scenario import CityConfig
from sim.world.geometry import CityGeometry, synthetic_geometry
from sim.world.hotspots import hotspot_grids


def hilbert_d2xy(order: int, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of curve indices ``d`` on a 2**order square (vectorised classic algorithm)."""
    x = np.zeros_like(d)
    y = np.zeros_like(d)
    t = d.copy()
    s = 1
    while s < (1 << order):
        rx = 1 & (t // 2)
        ry = 1 & (t ^ rx)
        swap = ry == 0
        flip = swap & (rx == 1)
        x = np.where(flip, s - 1 - x, x)
        y = np.where(flip, s - 1 - y, y)
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        x = x + s * rx
        y = y + s * ry
        t = t // 4
        s *= 2
    return x, y


@dataclass(frozen=True)
class Cells:
    """The fixed land cells, indexed 0 … n-1 along the curve (independent of the grid size)."""

    households: np.ndarray
    zone: np.ndarray  # zone index into City.zone_names
    difficulty: np.ndarray
    incident_weight: np.ndarray  # households / 1000 × zone multiplier × hotspot multiplier
    hotspot: np.ndarray  # bool
    col: np.ndarray
    row: np.ndarray
    community: np.ndarray
    km: float  # side of a cell

    @property
    def n(self) -> int:
        return len(self.households)


@dataclass
class City:
    """Arrays indexed by basic-grid number 0 … n_grids-1, the cells, and the hierarchy."""

    households: np.ndarray
    population: np.ndarray
    area_km2: np.ndarray
    zone: np.ndarray  # zone names
    difficulty: np.ndarray
    incident_multiplier: np.ndarray
    hotspot: np.ndarray  # bool: twice the city's share of households in hotspot cells
    resident_propensity: np.ndarray
    x_km: np.ndarray
    y_km: np.ndarray
    col: np.ndarray
    row: np.ndarray
    community: np.ndarray
    street: np.ndarray
    district: np.ndarray
    cell_km: float
    adjacency: csr_matrix
    cells: Cells
    cell_grid: np.ndarray  # the basic grid of each cell
    depot_cells: np.ndarray  # per street: the cell its crews start from
    travel_km: np.ndarray  # per grid: mean city-block distance from its street's depot
    _geometry: CityGeometry | None = field(default=None, repr=False)  # None: synthetic squares
    _dist_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_grids(self) -> int:
        return len(self.households)

    @property
    def n_cells(self) -> int:
        return self.cells.n

    @property
    def n_communities(self) -> int:
        return int(self.cells.community.max()) + 1

    @property
    def n_streets(self) -> int:
        return int(self.street.max()) + 1

    @property
    def n_districts(self) -> int:
        return int(self.district.max()) + 1

    @property
    def geometry(self) -> CityGeometry:
        """The city's one geometry (``sim.world.geometry``): a real map's, or the synthetic
        city's square cells, built on first use."""
        if self._geometry is None:
            self._geometry = synthetic_geometry(self.cells.col, self.cells.row, self.cells.km)
        return self._geometry

    @cached_property
    def street_depots(self) -> np.ndarray:
        """For each street, the grid holding its depot cell: where its crews are based."""
        return self.cell_grid[self.depot_cells]

    def distances_from(self, source: int) -> np.ndarray:
        """Shortest-path travel distance (km) over the grid graph from one grid to every grid."""
        d = self._dist_cache.get(source)
        if d is None:
            d = dijkstra(self.adjacency, directed=False, indices=source)
            self._dist_cache[source] = d
        return d

    def precompute_distances(self, sources: np.ndarray) -> None:
        todo = [int(s) for s in np.unique(sources) if int(s) not in self._dist_cache]
        if todo:
            rows = dijkstra(self.adjacency, directed=False, indices=todo)
            for s, r in zip(todo, np.atleast_2d(rows)):
                self._dist_cache[s] = r

    def neighbours(self, g: int) -> np.ndarray:
        return self.adjacency.indices[self.adjacency.indptr[g]: self.adjacency.indptr[g + 1]]

    @cached_property
    def graph(self) -> nx.Graph:
        """The hierarchy as one networkx graph.

        Nodes: basic grids ``("grid", i)``, communities ``("community", c)``, streets
        ``("street", s)``, districts ``("district", d)``; edges of kind ``contains`` join a unit
        to its parent, edges of kind ``adjacent`` (with ``length_km``) join neighbouring grids.
        """
        g = nx.Graph()
        for d in range(self.n_districts):
            g.add_node(("district", d), level="district")
        for s in range(self.n_streets):
            d = int(self.district[self.street == s][0])
            g.add_node(("street", s), level="street")
            g.add_edge(("district", d), ("street", s), kind="contains")
        for c in range(self.n_communities):
            s = int(self.street[self.community == c][0])
            g.add_node(("community", c), level="community")
            g.add_edge(("street", s), ("community", c), kind="contains")
        for i in range(self.n_grids):
            g.add_node(("grid", i), level="basic_grid", households=int(self.households[i]),
                       population=int(self.population[i]), area_km2=float(self.area_km2[i]),
                       zone=str(self.zone[i]), difficulty=float(self.difficulty[i]),
                       hotspot=bool(self.hotspot[i]), x_km=float(self.x_km[i]),
                       y_km=float(self.y_km[i]))
            g.add_edge(("community", int(self.community[i])), ("grid", i), kind="contains")
        coo = self.adjacency.tocoo()
        for a, b, w in zip(coo.row, coo.col, coo.data):
            if a < b:
                g.add_edge(("grid", int(a)), ("grid", int(b)), kind="adjacent", length_km=float(w))
        for level in ("community", "street", "district"):
            arr = getattr(self, level)
            for k in range(int(arr.max()) + 1):
                mask = arr == k
                g.nodes[(level, k)].update(households=int(self.households[mask].sum()),
                                           population=int(self.population[mask].sum()),
                                           area_km2=float(self.area_km2[mask].sum()))
        return g

    def grid_frame(self):  # -> pandas.DataFrame
        """One row per basic grid with its attributes (for maps and per-grid KPIs)."""
        import pandas as pd

        return pd.DataFrame({
            "grid": np.arange(self.n_grids), "community": self.community, "street": self.street,
            "district": self.district, "zone": self.zone, "households": self.households,
            "population": self.population, "area_km2": self.area_km2,
            "difficulty": self.difficulty, "hotspot": self.hotspot,
            "resident_propensity": self.resident_propensity, "x_km": self.x_km, "y_km": self.y_km,
            "cells": np.bincount(self.cell_grid, minlength=self.n_grids),
        })


def _cut(weights: np.ndarray, parts: int) -> np.ndarray:
    """Part index 0 … parts-1 of each item when a run is cut by cumulative weight."""
    cum = np.cumsum(weights)
    mid = (cum - weights / 2.0) / cum[-1]
    return np.minimum((mid * parts).astype(np.int64), parts - 1)


def _layout(cfg: CityConfig) -> tuple[np.ndarray, ...]:
    """(zone, households, difficulty, zone multiplier, community) of each cell: no randomness."""
    cell_km2 = cfg.cell_m2 / 1e6
    z_idx, hh, diff, mult = [], [], [], []
    for k, z in enumerate(cfg.zones.values()):
        zone_hh = cfg.households * z.share
        n = max(1, round(zone_hh / z.households_per_km2 / cell_km2))
        z_idx.append(np.full(n, k))
        hh.append(np.full(n, zone_hh / n))
        diff.append(np.full(n, z.difficulty))
        mult.append(np.full(n, z.incident_multiplier))
    households = np.concatenate(hh)
    n = len(households)
    n_comm = int(min(n, max(1, round(cfg.households / cfg.households_per_community))))
    return (np.concatenate(z_idx), households, np.concatenate(diff), np.concatenate(mult),
            _cut(households, n_comm))


def _land_cells(cfg: CityConfig, rng: np.random.Generator) -> tuple[Cells, list[str], np.ndarray]:
    """The fixed cells, their communities, and each community's resident propensity."""
    zone, households, difficulty, mult, community = _layout(cfg)
    n = len(households)
    n_comm = int(community.max()) + 1
    order = 1
    while (1 << order) ** 2 < n:
        order += 1
    col, row = hilbert_d2xy(order, np.arange(n, dtype=np.int64))
    hotspot = np.zeros(n, dtype=bool)
    k = int(round(cfg.hotspot_share * n))
    if k:
        hotspot[rng.choice(n, size=k, replace=False)] = True
    propensity = cfg.resident_propensity_spread ** (rng.random(n_comm) - 0.5)
    weight = households / 1000.0 * mult * np.where(hotspot, cfg.hotspot_multiplier, 1.0)
    cells = Cells(households=households, zone=zone, difficulty=difficulty,
                  incident_weight=weight, hotspot=hotspot, col=col, row=row, community=community,
                  km=math.sqrt(cfg.cell_m2 / 1e6))
    return cells, list(cfg.zones), propensity


def _cell_grids(community: np.ndarray, zone: np.ndarray, households: np.ndarray,
                difficulty: np.ndarray, households_per_grid: float) -> np.ndarray:
    """The basic grid of each cell: each (community, zone) run cut by households × difficulty."""
    n = len(households)
    key = community * 64 + zone
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], n]
    grid = np.empty(n, dtype=np.int64)
    load = households * difficulty
    first = 0
    for a, b in zip(starts.tolist(), ends.tolist()):
        parts = int(min(b - a, max(1, round(float(load[a:b].sum()) / households_per_grid))))
        grid[a:b] = first + _cut(load[a:b], parts)
        first += parts
    return grid


def grid_count(cfg: CityConfig) -> int:
    """The number of basic grids :func:`build_city` cuts, without building the city (a real
    map's cells are cut once and cached; only its grids are counted)."""
    if cfg.geometry is not None:
        from sim.world.realmap import real_grid_count

        return real_grid_count(cfg)
    zone, households, difficulty, _, community = _layout(cfg)
    return int(_cell_grids(community, zone, households, difficulty,
                           cfg.households_per_grid).max()) + 1


def _grid_adjacency(cells: Cells, cell_grid: np.ndarray, x: np.ndarray, y: np.ndarray,
                    n_grids: int) -> csr_matrix:
    side = int(max(cells.col.max(), cells.row.max())) + 2
    at = np.full((side, side), -1, dtype=np.int64)
    at[cells.col, cells.row] = cell_grid
    pairs = []
    for dc, dr in ((1, 0), (0, 1)):
        other = at[cells.col + dc, cells.row + dr]
        ok = (other >= 0) & (other != cell_grid)
        pairs.append(np.column_stack([cell_grid[ok], other[ok]]))
    p = np.concatenate(pairs)
    p = np.unique(np.sort(p, axis=1), axis=0) if len(p) else p.reshape(0, 2)
    a, b = p[:, 0], p[:, 1]
    w = np.hypot(x[a] - x[b], y[a] - y[b])
    return csr_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n_grids, n_grids))


def build_city(cfg: CityConfig, rng: np.random.Generator) -> City:
    """Lay out the fixed cells and cut them into grids. ``rng`` is the city-layout stream."""
    if cfg.geometry is not None:  # a real map (sim.world.realmap)
        from sim.world.realcity import real_city

        cell_kw, city_kw = real_city(cfg, rng)
        return City(cells=Cells(**cell_kw), **city_kw)
    cells, zone_names, propensity = _land_cells(cfg, rng)
    cell_grid = _cell_grids(cells.community, cells.zone, cells.households, cells.difficulty,
                            cfg.households_per_grid)
    n = int(cell_grid.max()) + 1
    km = cells.km
    cx, cy = (cells.col + 0.5) * km, (cells.row + 0.5) * km
    count = np.bincount(cell_grid, minlength=n)
    households = np.bincount(cell_grid, weights=cells.households, minlength=n)
    weight = np.bincount(cell_grid, weights=cells.incident_weight, minlength=n)
    x = np.bincount(cell_grid, weights=cx, minlength=n) / count
    y = np.bincount(cell_grid, weights=cy, minlength=n) / count
    firsts = np.searchsorted(cell_grid, np.arange(n))  # grids are runs of consecutive cells
    community = cells.community[firsts]
    street_of_comm = np.arange(int(cells.community.max()) + 1) // cfg.communities_per_street
    street = street_of_comm[community]
    district = street // cfg.streets_per_district
    cell_street = street_of_comm[cells.community]
    n_streets = int(street.max()) + 1
    depots = np.empty(n_streets, dtype=np.int64)
    for s in range(n_streets):
        idx = np.flatnonzero(cell_street == s)
        mx, my = cx[idx].mean(), cy[idx].mean()
        depots[s] = idx[np.argmin((cx[idx] - mx) ** 2 + (cy[idx] - my) ** 2)]
    d = cell_street
    block = (np.abs(cells.col - cells.col[depots[d]]) + np.abs(cells.row - cells.row[depots[d]])) \
        * km
    w = np.where(weight[cell_grid] > 0, cells.incident_weight, 1.0)
    travel = np.bincount(cell_grid, weights=block * w, minlength=n) \
        / np.bincount(cell_grid, weights=w, minlength=n)
    return City(
        households=households, population=households * cfg.persons_per_household,
        area_km2=count * km * km, zone=np.asarray(zone_names)[cells.zone[firsts]],
        difficulty=cells.difficulty[firsts],
        incident_multiplier=np.where(households > 0, weight * 1000.0 / np.maximum(households, 1e-12),
                                     0.0),
        hotspot=hotspot_grids(cell_grid, cells.hotspot, cells.households, n),
        resident_propensity=propensity[community], x_km=x, y_km=y,
        col=cells.col[firsts], row=cells.row[firsts], community=community, street=street,
        district=district, cell_km=km,
        adjacency=_grid_adjacency(cells, cell_grid, x, y, n), cells=cells, cell_grid=cell_grid,
        depot_cells=depots, travel_km=travel,
    )
