"""The arrays of a real-map city (``sim.world.realmap`` cuts it; ``sim.world.city`` holds it).

Randomness is the synthetic city's: the city-layout stream draws the hotspot cells, then each
community's resident propensity, both over the fixed cells and communities, so they do not
move with the grid size. Travel from a street's depot is straight-line × ``detour_factor``, or
the shortest path on the ``roads`` graph (nodes snapped to the nearest cell centres, the snap
legs straight-line × ``detour_factor``).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from sim.scenario import CityConfig, ScenarioError
from sim.scenario.errors import ScenarioRefError
from sim.world.hotspots import hotspot_grids
from sim.world.realmap import MapBase, cell_grids, geometry_of, map_base


def _adjacency(base: MapBase, cell_grid: np.ndarray, x: np.ndarray, y: np.ndarray,
               n: int) -> csr_matrix:
    """Grids whose cells share a lattice square or a lattice edge; islands joined at their
    nearest grids."""
    import pandas as pd

    df = pd.DataFrame({"c": base.col, "r": base.row, "g": cell_grid}).drop_duplicates()
    pairs = []
    for dc, dr in ((0, 0), (1, 0), (0, 1)):
        other = df.assign(c=df.c - dc, r=df.r - dr)
        m = df.merge(other, on=["c", "r"], suffixes=("", "_o"))
        m = m[m.g != m.g_o]
        pairs.append(np.column_stack([m.g.to_numpy(), m.g_o.to_numpy()]))
    p = np.concatenate(pairs)
    p = np.unique(np.sort(p, axis=1), axis=0) if len(p) else p.reshape(0, 2)
    a, b = p[:, 0].tolist(), p[:, 1].tolist()
    adj = csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    k, lab = connected_components(adj, directed=False)
    if k > 1:  # join every island to the nearest grid off it (bridges, ferries)
        main = np.bincount(lab).argmax()
        for c in range(k):
            if c == main:
                continue
            inside, rest = np.flatnonzero(lab == c), np.flatnonzero(lab != c)
            d = np.hypot(x[inside, None] - x[None, rest], y[inside, None] - y[None, rest]) \
                if len(inside) * len(rest) < 5e7 else None
            if d is None:
                i, j = int(inside[0]), int(rest[np.argmin(np.hypot(x[rest] - x[inside[0]],
                                                                   y[rest] - y[inside[0]]))])
            else:
                ii, jj = np.unravel_index(np.argmin(d), d.shape)
                i, j = int(inside[ii]), int(rest[jj])
            a.append(min(i, j))
            b.append(max(i, j))
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    w = np.maximum(np.hypot(x[a] - x[b], y[a] - y[b]), 1e-6)
    return csr_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n))


def _road_km(base: MapBase, path: str, detour: float, cell_street: np.ndarray) -> np.ndarray:
    """Per cell: road distance (km) from its street's depot on a GraphML graph."""
    import networkx as nx
    from pyproj import Transformer
    from scipy.spatial import cKDTree

    try:
        g = nx.read_graphml(path)
    except Exception as e:
        raise ScenarioRefError("city.geometry.roads", f"cannot read {path} as GraphML: "
                                                      f"{str(e).splitlines()[0]}") from None
    nodes = list(g.nodes)
    try:
        lon = np.array([float(g.nodes[v]["x"]) for v in nodes])
        lat = np.array([float(g.nodes[v]["y"]) for v in nodes])
    except (KeyError, ValueError):
        raise ScenarioRefError("city.geometry.roads", "every node needs numeric x and y "
                                                      "(lon/lat, as OSMnx saves)") from None
    if not nodes:
        raise ScenarioRefError("city.geometry.roads", f"{path} has no nodes")
    crs = g.graph.get("crs", "EPSG:4326")
    nx_, ny_ = Transformer.from_crs(crs, base.crs, always_xy=True).transform(lon, lat)
    tree = cKDTree(np.column_stack([nx_, ny_]))
    snap, node = tree.query(np.column_stack([base.cx, base.cy]))
    for u, v, d in g.edges(data=True):
        d["_w"] = float(d.get("length", np.hypot(nx_[nodes.index(u)] - nx_[nodes.index(v)],
                                                 ny_[nodes.index(u)] - ny_[nodes.index(v)])))
    out = np.empty(len(base.cx))
    for s, depot in enumerate(base.depot_cells):
        lengths = nx.single_source_dijkstra_path_length(g.to_undirected(as_view=True),
                                                        nodes[node[depot]], weight="_w")
        idx = np.flatnonzero(cell_street == s)
        road = np.array([lengths.get(nodes[node[c]], np.nan) for c in idx])
        straight = np.hypot(base.cx[idx] - base.cx[depot], base.cy[idx] - base.cy[depot])
        via = (snap[depot] + snap[idx]) * detour + road
        out[idx] = np.where(np.isnan(road), straight * detour, via) / 1000.0
    return out


def real_city(cfg: CityConfig, rng: np.random.Generator,
              source: str | None = None) -> tuple[dict, dict]:
    """Keyword arguments of ``Cells`` and of ``City`` for a city on its map."""
    base = map_base(cfg, source)
    cell_grid = cell_grids(base, cfg)
    n_cells = len(base.households)
    community = base.community
    n_comm = int(community.max()) + 1
    hotspot = np.zeros(n_cells, dtype=bool)
    k = int(round(cfg.hotspot_share * n_cells))
    if k:
        hotspot[rng.choice(n_cells, size=k, replace=False)] = True
    propensity = cfg.resident_propensity_spread ** (rng.random(n_comm) - 0.5)
    zones = list(cfg.zones.values())
    difficulty = np.array([z.difficulty for z in zones])[base.zone]
    mult = np.array([z.incident_multiplier for z in zones])[base.zone]
    weight_c = base.households / 1000.0 * mult * np.where(hotspot, cfg.hotspot_multiplier, 1.0)
    cells = dict(households=base.households, zone=base.zone, difficulty=difficulty,
                 incident_weight=weight_c, hotspot=hotspot, col=base.col, row=base.row,
                 community=community, km=base.km)
    n = int(cell_grid.max()) + 1
    area = np.bincount(cell_grid, weights=base.area, minlength=n)
    households = np.bincount(cell_grid, weights=base.households, minlength=n)
    weight = np.bincount(cell_grid, weights=weight_c, minlength=n)
    x = np.bincount(cell_grid, weights=base.cx * base.area, minlength=n) / area / 1000.0
    y = np.bincount(cell_grid, weights=base.cy * base.area, minlength=n) / area / 1000.0
    firsts = np.searchsorted(cell_grid, np.arange(n))
    g_comm = community[firsts]
    street = base.street_of_comm[g_comm]
    district = base.district_of_street[street]
    cell_street = base.street_of_comm[community]
    geo = cfg.geometry
    if geo.roads:
        try:
            dist = _road_km(base, geo.roads, geo.detour_factor, cell_street)
        except ScenarioRefError as e:
            raise ScenarioError([(e.path, e.msg)], source) from None
    else:
        d = base.depot_cells[cell_street]
        dist = np.hypot(base.cx - base.cx[d], base.cy - base.cy[d]) / 1000.0 * geo.detour_factor
    if geo.surfaces:  # a surfaces file names cells of this map (sim.engine.arrivals)
        from sim.scenario.surfaces import cell_weights

        try:
            cell_weights(geo.surfaces, n_cells)
        except ScenarioRefError as e:
            raise ScenarioError([(e.path, e.msg)], source) from None
    w = np.where(weight[cell_grid] > 0, weight_c, base.area)
    travel = np.bincount(cell_grid, weights=dist * w, minlength=n) \
        / np.bincount(cell_grid, weights=w, minlength=n)
    zone_names = np.asarray(list(cfg.zones))
    city = dict(
        households=households, population=households * cfg.persons_per_household,
        area_km2=area / 1e6, zone=zone_names[base.zone[firsts]], difficulty=difficulty[firsts],
        incident_multiplier=np.where(households > 0,
                                     weight * 1000.0 / np.maximum(households, 1e-12), 0.0),
        hotspot=hotspot_grids(cell_grid, hotspot, base.households, n),
        resident_propensity=propensity[g_comm], x_km=x, y_km=y, col=base.col[firsts],
        row=base.row[firsts], community=g_comm, street=street, district=district,
        cell_km=base.km, adjacency=_adjacency(base, cell_grid, x, y, n),
        cell_grid=cell_grid, depot_cells=base.depot_cells, travel_km=travel,
        _geometry=geometry_of(base, cfg, cell_grid))
    return cells, city
