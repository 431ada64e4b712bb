"""The city: basic grids grouped into communities, streets and districts (S1.1, S1.2).

Grid sizes follow the grid-size lever: a zone's households are cut into grids of about
``households_per_grid / difficulty`` households, so harder zones (dense commercial areas) get
smaller grids. Grids are laid on a square lattice along a Hilbert curve, so that consecutive
grids — and hence each community and street — are compact areas; lattice neighbours are adjacent
grids (graph edges of the length between their centres). Travel runs over that graph.

Per-grid attributes live in numpy arrays (the model's hot path reads them); ``graph`` is the
networkx view of the whole hierarchy for analysis and the app.
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


@dataclass
class City:
    """Arrays indexed by basic-grid number 0 … n_grids-1, plus the hierarchy."""

    households: np.ndarray
    population: np.ndarray
    area_km2: np.ndarray
    zone: np.ndarray  # zone names
    difficulty: np.ndarray
    incident_multiplier: np.ndarray
    hotspot: np.ndarray  # bool
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
    _dist_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_grids(self) -> int:
        return len(self.households)

    @property
    def n_communities(self) -> int:
        return int(self.community.max()) + 1

    @property
    def n_streets(self) -> int:
        return int(self.street.max()) + 1

    @property
    def n_districts(self) -> int:
        return int(self.district.max()) + 1

    @cached_property
    def street_depots(self) -> np.ndarray:
        """For each street, the grid nearest the street's centroid: where its crews are based."""
        depots = np.empty(self.n_streets, dtype=np.int64)
        for s in range(self.n_streets):
            idx = np.flatnonzero(self.street == s)
            cx, cy = self.x_km[idx].mean(), self.y_km[idx].mean()
            depots[s] = idx[np.argmin((self.x_km[idx] - cx) ** 2 + (self.y_km[idx] - cy) ** 2)]
        return depots

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
        })


def build_city(cfg: CityConfig, rng: np.random.Generator) -> City:
    """Cut the city into grids and lay them out. ``rng`` is the city-layout stream."""
    zone_names: list[str] = []
    hh: list[float] = []
    diff: list[float] = []
    mult: list[float] = []
    dens: list[float] = []
    for name, z in cfg.zones.items():
        zone_hh = cfg.households * z.share
        size = cfg.households_per_grid / z.difficulty
        n = max(1, round(zone_hh / size))
        zone_names += [name] * n
        hh += [zone_hh / n] * n
        diff += [z.difficulty] * n
        mult += [z.incident_multiplier] * n
        dens += [z.households_per_km2] * n
    n = len(hh)
    households = np.asarray(hh)
    area = households / np.asarray(dens)
    order = max(1, math.ceil(math.log2(math.sqrt(n)))) if n > 1 else 1
    while (1 << order) ** 2 < n:
        order += 1
    col, row = hilbert_d2xy(order, np.arange(n, dtype=np.int64))
    cell = float(math.sqrt(area.mean()))
    community = np.arange(n) // cfg.grids_per_community
    street = community // cfg.communities_per_street
    district = street // cfg.streets_per_district

    hotspot = np.zeros(n, dtype=bool)
    k = int(round(cfg.hotspot_share * n))
    if k:
        hotspot[rng.choice(n, size=k, replace=False)] = True
    spread = cfg.resident_propensity_spread
    propensity = spread ** (rng.random(n) - 0.5)

    index = {(int(c), int(r)): i for i, (c, r) in enumerate(zip(col, row))}
    rows_, cols_ = [], []
    for i, (c, r) in enumerate(zip(col, row)):
        for dc, dr in ((1, 0), (0, 1)):
            j = index.get((int(c) + dc, int(r) + dr))
            if j is not None:
                rows_ += [i, j]
                cols_ += [j, i]
    adjacency = csr_matrix((np.full(len(rows_), cell), (rows_, cols_)), shape=(n, n))

    return City(
        households=households, population=households * cfg.persons_per_household,
        area_km2=area, zone=np.asarray(zone_names), difficulty=np.asarray(diff),
        incident_multiplier=np.asarray(mult) * np.where(hotspot, cfg.hotspot_multiplier, 1.0),
        hotspot=hotspot, resident_propensity=propensity,
        x_km=(col + 0.5) * cell, y_km=(row + 0.5) * cell, col=col, row=row,
        community=community, street=street, district=district, cell_km=cell, adjacency=adjacency,
    )
