"""A city on its real map: land cells are a lattice of ``city.cell_m2`` clipped to the file's
polygons, and the levels below the file's are cut as in the synthetic city (S1.1).

Each lattice square is cut by the unit polygons it touches: a square on a boundary gives one
cell per unit (the cells keep the square's ``col`` / ``row``). A unit's households are spread
over its cells by area, or by the points of ``city.geometry.points`` that fall in them. Cells
are ordered unit by unit (parents first) along a Hilbert curve over the lattice, so each run of
cells is a compact area; communities are cut from streets (and streets from districts) by
``households_per_community`` / ``communities_per_street``, and grids from each (community,
zone) run by ``households_per_grid`` × difficulty, exactly as the synthetic city — unless the
file's polygons are the grids, which are used as they are (``regrid`` cuts them anew). Nothing
of this depends on ``households_per_grid`` but the last cut, so the same cells carry the same
incidents at every grid size (``sim.engine.arrivals``).

Crews start at each street's depot (a point of ``city.geometry.depots`` in the street nearest
its centre, else the cell nearest its centre). A crew trip to a grid is the straight-line
distance × ``detour_factor`` from the depot to the grid's cells, or the shortest path on the
``roads`` graph, weighted by where incidents arise. Grids are adjacent when their cells share a
lattice edge or square; separate islands are joined at their nearest grids (bridges, ferries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.scenario import CityConfig, ScenarioError
from sim.scenario.city import MAX_CELLS
from sim.scenario.errors import ScenarioRefError
from sim.world.geometry import LEVELS, CityGeometry


def hilbert_xy2d(order: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Curve index of lattice positions (x, y) on a 2**order square (vectorised)."""
    n = 1 << order
    x, y = x.astype(np.int64).copy(), y.astype(np.int64).copy()
    d = np.zeros_like(x)
    s = n // 2
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        flip = (ry == 0) & (rx == 1)
        x = np.where(flip, n - 1 - x, x)
        y = np.where(flip, n - 1 - y, y)
        swap = ry == 0
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s //= 2
    return d


@dataclass(frozen=True)
class MapBase:
    """Everything of a real-map city that does not depend on ``households_per_grid``."""

    polys: np.ndarray  # cell polygons (metres), in cell order
    cx: np.ndarray
    cy: np.ndarray
    area: np.ndarray  # m² per cell
    col: np.ndarray
    row: np.ndarray
    households: np.ndarray
    zone: np.ndarray
    unit: np.ndarray  # the file's unit of each cell (row of the unit table)
    community: np.ndarray
    street_of_comm: np.ndarray
    district_of_street: np.ndarray
    ids: dict
    names: dict
    unit_ids: np.ndarray
    unit_names: np.ndarray
    crs: str
    notes: tuple
    depot_cells: np.ndarray  # per street
    station_cells: np.ndarray | None
    station_responders: np.ndarray | None
    km: float


def _fail(e: ScenarioRefError, source: str | None = None) -> ScenarioError:
    return ScenarioError([(e.path, e.msg)], source)


def _lattice(geoms: np.ndarray, side: float, x0: float, y0: float):
    """Cells of every unit: (unit, col, row, polygon) of each non-empty clipped square, unit by
    unit, row by row (vectorised over all units' bounding-box squares at once)."""
    import shapely

    b = shapely.bounds(geoms)
    c0 = np.floor((b[:, 0] - x0) / side).astype(np.int64)
    r0 = np.floor((b[:, 1] - y0) / side).astype(np.int64)
    nc = np.maximum(np.ceil((b[:, 2] - x0) / side).astype(np.int64) - c0, 1)
    nr = np.maximum(np.ceil((b[:, 3] - y0) / side).astype(np.int64) - r0, 1)
    cnt = nc * nr
    unit = np.repeat(np.arange(len(geoms)), cnt)
    k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    col = c0[unit] + k % nc[unit]
    row = r0[unit] + k // nc[unit]
    boxes = shapely.box(x0 + col * side, y0 + row * side, x0 + (col + 1) * side,
                        y0 + (row + 1) * side)
    shapely.prepare(geoms)
    g = geoms[unit]
    inside = shapely.covers(g, boxes)  # whole squares (edges on the boundary too)
    edge = ~inside & shapely.intersects(g, boxes)
    pieces = boxes.copy()
    e = np.flatnonzero(edge)  # rectangle clipping (fast), repaired where it is not valid
    clip = shapely.clip_by_rect
    pieces[e] = [clip(gi, x0 + c * side, y0 + r * side, x0 + (c + 1) * side, y0 + (r + 1) * side)
                 for gi, c, r in zip(g[e], col[e].tolist(), row[e].tolist())]
    bad = e[~shapely.is_valid(pieces[e])]
    if len(bad):
        pieces[bad] = shapely.intersection(boxes[bad], g[bad])
    odd = edge & ~np.isin(shapely.get_type_id(pieces), (3, 6))  # not (Multi)Polygon
    for i in np.flatnonzero(odd):
        parts = [p for p in shapely.get_parts(pieces[i]) if p.geom_type == "Polygon"]
        pieces[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    keep = (inside | edge) & (shapely.area(pieces) > 1e-6 * side * side)
    lost = np.flatnonzero(np.bincount(unit[keep], minlength=len(geoms)) == 0)
    if len(lost):  # a sliver smaller than any square: the unit is its one cell
        first = np.searchsorted(unit, lost)
        keep[first] = True
        pieces[first] = geoms[lost]
    return unit[keep], col[keep], row[keep], pieces[keep]


def _codes(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Dense codes 0 … k-1 of ``values`` in order of first appearance along ``order``."""
    import pandas as pd

    codes, _ = pd.factorize(values[order])
    out = np.empty(len(values), dtype=np.int64)
    out[order] = codes
    return out


def _cut(weights: np.ndarray, parts: int) -> np.ndarray:
    """Part 0 … parts-1 of each item when a run is cut by cumulative weight (area when the
    run has no weight)."""
    if parts <= 1:
        return np.zeros(len(weights), dtype=np.int64)
    cum = np.cumsum(weights)
    mid = (cum - weights / 2.0) / cum[-1]
    return np.minimum((mid * parts).astype(np.int64), parts - 1)


def _runs(key: np.ndarray) -> tuple[list[int], list[int]]:
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return starts.tolist(), np.r_[starts[1:], len(key)].tolist()


def _points_in_cells(layer, field: str, geo, crs, polys: np.ndarray):
    """(cell of each point or -1, weights, the points) of a points layer."""
    import shapely

    from sim.scenario.mapfiles import read_layer
    from sim.world.mapio import _metric

    df = read_layer(layer.file, layer.layer, f"{field}.file", encoding=geo.encoding)
    df = _metric(df, f"{field}.file", layer.crs, target=crs)
    pts = np.asarray(df.geometry.values, dtype=object)
    kinds = set(shapely.get_type_id(pts).tolist())
    if not kinds <= {0}:
        raise ScenarioRefError(f"{field}.file", f"{layer.file} must hold points")
    w = np.ones(len(pts))
    if layer.weight:
        if layer.weight not in df.columns:
            raise ScenarioRefError(f"{field}.weight", f"no attribute {layer.weight!r} in "
                                                      f"{layer.file}")
        w = np.nan_to_num(df[layer.weight].to_numpy(dtype=float))
        if (w < 0).any():
            raise ScenarioRefError(f"{field}.weight", "weights must not be negative")
    tree = shapely.STRtree(polys)
    p, c = tree.query(pts, predicate="intersects")
    cell = np.full(len(pts), -1)
    cell[p[::-1]] = c[::-1]  # the first cell holding the point
    return cell, w, pts


@lru_cache(maxsize=4)
def _base_cached(key: str, stamps: tuple) -> MapBase:
    return _make_base(CityConfig.model_validate_json(key))


def map_base(cfg: CityConfig, source: str | None = None) -> MapBase:
    """The map's cells and hierarchy above the grids (cached per map and fields)."""
    geo = cfg.geometry
    assert geo is not None
    try:
        geo = geo.model_copy(update={"surfaces": None})  # where incidents arise: not the map
        stamps = tuple((p, Path(p).stat().st_size, Path(p).stat().st_mtime)
                       for p in geo.files().values() if Path(p).is_file())
        key = cfg.model_copy(update={"households_per_grid": 400.0, "geometry": geo}
                             ).model_dump_json(
            exclude={"hotspot_share", "hotspot_multiplier", "resident_propensity_spread"})
        return _base_cached(key, stamps)
    except ScenarioRefError as e:
        raise _fail(e, source) from None


def _make_base(cfg: CityConfig) -> MapBase:
    import pandas as pd
    import shapely

    from sim.world.mapio import read_units

    geo = cfg.geometry
    table, crs, parent_names, notes = read_units(geo, cfg.persons_per_household)
    geoms = np.asarray(table.geometry.values, dtype=object)
    side = math.sqrt(cfg.cell_m2)
    land = float(shapely.area(geoms).sum())
    if land / cfg.cell_m2 > MAX_CELLS:
        raise ScenarioRefError("city.cell_m2", f"the map's {land / 1e6:,.0f} km² make "
                                               f"{land / cfg.cell_m2:,.0f} cells of {cfg.cell_m2:g}"
                                               f" m²; at most {MAX_CELLS:,}: raise city.cell_m2")
    x0, y0 = (float(v) for v in shapely.total_bounds(geoms)[:2])
    unit, col, row, polys = _lattice(geoms, side, x0, y0)
    area = shapely.area(polys)
    cent = shapely.centroid(polys)
    cx, cy = shapely.get_x(cent), shapely.get_y(cent)
    # households: the unit's total spread by area, or by the points falling in its cells
    hh_unit = table["households"].to_numpy(dtype=float)
    total = hh_unit.sum()
    if round(total) != cfg.households:
        hh_unit = hh_unit * (cfg.households / total)  # city.households rescales the map
    unit_area = np.bincount(unit, weights=area, minlength=len(geoms))
    share = area / unit_area[unit]
    if geo.points is not None:
        cell, w, _ = _points_in_cells(geo.points, "city.geometry.points", geo, crs, polys)
        inside = cell >= 0
        per_cell = np.bincount(cell[inside], weights=w[inside], minlength=len(polys))
        per_unit = np.bincount(unit, weights=per_cell, minlength=len(geoms))
        has = per_unit[unit] > 0
        share = np.where(has, per_cell / np.where(has, per_unit[unit], 1.0), share)
        missing = int(((per_unit == 0) & (hh_unit > 0)).sum())
        if missing:
            notes.append(f"{missing} units with households hold no point of "
                         f"city.geometry.points: spread by area")
    households = hh_unit[unit] * share
    # zones: a field of the file, else the first zone
    zone_names = list(cfg.zones)
    if geo.fields.zone:
        bad = sorted(set(table["zone"]) - set(zone_names))
        if bad:
            raise ScenarioRefError("city.geometry.fields.zone",
                                   f"zone {bad[0]!r} is not in city.zones; allowed: "
                                   + ", ".join(zone_names))
        zone_unit = np.array([zone_names.index(z) for z in table["zone"]])
    else:
        zone_unit = np.zeros(len(geoms), dtype=np.int64)
    zone = zone_unit[unit]
    # the order: parents, the file's unit, then along the Hilbert curve
    order_bits = max(1, int(math.ceil(math.log2(max(col.max(), row.max()) + 2))))
    hkey = hilbert_xy2d(order_bits, col, row)
    level_i = LEVELS.index(geo.level)
    stem = Path(geo.file).stem
    ids: dict[str, np.ndarray] = {}
    names: dict[str, np.ndarray] = {}
    parent_cell: dict[str, np.ndarray] = {}
    vals = np.full(len(geoms), stem, dtype=object)  # no parent named: one for the file,
    for lv in LEVELS[:level_i:-1]:  # or one for each parent above it
        if lv in table.columns:
            vals = table[lv].to_numpy(dtype=object)
        parent_cell[lv] = vals[unit]

    def group_min(labels: np.ndarray) -> np.ndarray:
        return pd.Series(hkey).groupby(pd.factorize(labels)[0]).transform("min").to_numpy()

    keys = [hkey, unit, group_min(unit)]
    for lv in LEVELS[level_i + 1:]:
        keys += [pd.factorize(parent_cell[lv])[0], group_min(parent_cell[lv])]
    first = np.lexsort(keys)
    # communities: the file's, a field / parent layer's, or cut from streets or districts
    hpc = cfg.households_per_community
    if level_i >= 2:
        comm = np.empty(len(unit), dtype=np.int64)
        u_sorted = unit[first]
        starts, ends = _runs(u_sorted)
        k = 0
        for a, b in zip(starts, ends):
            idx = first[a:b]
            hh = households[idx]
            parts = int(min(b - a, max(1, round(float(hh.sum()) / hpc))))
            comm[idx] = k + _cut(hh if hh.sum() > 0 else area[idx], parts)
            k += parts
        comm_label = comm.astype(str).astype(object)
    elif level_i == 1:
        comm_label = table["id"].to_numpy(dtype=object)[unit]
    else:
        comm_label = parent_cell["community"]
    regrid = level_i >= 1 or geo.regrid
    final = [hkey] + ([] if regrid else [unit, group_min(unit)]) + [zone]
    cm = _codes(comm_label, first)
    order = np.lexsort(final + [cm])
    community = cm[order]
    # streets and districts of each community
    n_comm = int(community.max()) + 1
    firsts = np.searchsorted(community, np.arange(n_comm))
    u_first = unit[order][firsts]
    if level_i == 3:  # streets: communities_per_street consecutive communities of a district
        dist_of_comm = _codes(table["id"].to_numpy(dtype=object)[u_first], np.arange(n_comm))
        street_of_comm = np.empty(n_comm, dtype=np.int64)
        k = 0
        for a, b in zip(*_runs(dist_of_comm)):
            street_of_comm[a:b] = k + np.arange(b - a) // cfg.communities_per_street
            k = int(street_of_comm[b - 1]) + 1
    else:
        lab = table["id"].to_numpy(dtype=object)[u_first] if level_i == 2 \
            else parent_cell["street"][order][firsts]
        street_of_comm = _codes(lab, np.arange(n_comm))
    n_str = int(street_of_comm.max()) + 1
    s_first = np.searchsorted(street_of_comm, np.arange(n_str)) if np.all(
        np.diff(street_of_comm) >= 0) else np.array([int(np.flatnonzero(street_of_comm == s)[0])
                                                     for s in range(n_str)])
    d_lab = table["id"].to_numpy(dtype=object)[u_first] if level_i == 3 \
        else parent_cell["district"][order][firsts]
    district_of_street = _codes(d_lab[s_first], np.arange(n_str))
    # ids and names of the units above the grids
    uid, uname = table["id"].to_numpy(dtype=object), table["name"].to_numpy(dtype=object)

    def label(lv: str, at: np.ndarray, unit_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if LEVELS.index(lv) == level_i:
            return uid[unit_at], uname[unit_at]
        if LEVELS.index(lv) > level_i:
            v = parent_cell[lv][order][at]
            nm = parent_names.get(lv, {})
            return v, np.array([nm.get(x, x) for x in v], dtype=object)
        parent = uid[unit_at]  # a level cut from the file's units: numbered within each
        run_start = np.r_[0, np.flatnonzero(parent[1:] != parent[:-1]) + 1]
        k = np.arange(len(parent)) - run_start[np.searchsorted(run_start, np.arange(
            len(parent)), side="right") - 1]
        v = np.array([f"{p}-{lv[0]}{i + 1}" for p, i in zip(parent, k)], dtype=object)
        return v, v

    ids["community"], names["community"] = label("community", firsts, u_first)
    ids["street"], names["street"] = label("street", firsts[s_first], u_first[s_first])
    d_first = np.array([int(np.flatnonzero(district_of_street == d)[0])
                        for d in range(int(district_of_street.max()) + 1)])
    ids["district"], names["district"] = label("district", firsts[s_first][d_first],
                                               u_first[s_first][d_first])
    polys, cx, cy, area = polys[order], cx[order], cy[order], area[order]
    col, row, households, zone, unit = col[order], row[order], households[order], zone[order], \
        unit[order]
    cell_street = street_of_comm[community]
    depots = np.empty(n_str, dtype=np.int64)
    for s in range(n_str):
        idx = np.flatnonzero(cell_street == s)
        depots[s] = idx[np.argmin((cx[idx] - cx[idx].mean()) ** 2 + (cy[idx] - cy[idx].mean())
                                  ** 2)]
    if geo.depots is not None:
        cell, _, _ = _points_in_cells(geo.depots, "city.geometry.depots", geo, crs, polys)
        for s in range(n_str):
            mine = cell[(cell >= 0) & (cell_street[np.maximum(cell, 0)] == s)]
            if len(mine):
                c = cx[cell_street == s].mean(), cy[cell_street == s].mean()
                depots[s] = mine[np.argmin((cx[mine] - c[0]) ** 2 + (cy[mine] - c[1]) ** 2)]
    stations = station_resp = None
    if geo.stations is not None:
        cell, _, _ = _points_in_cells(geo.stations, "city.geometry.stations", geo, crs, polys)
        if (cell < 0).any():
            raise ScenarioRefError("city.geometry.stations.file",
                                   f"{int((cell < 0).sum())} stations lie outside the map")
        stations = cell
        layer = geo.stations
        if layer.responder:
            import pyogrio

            from sim.scenario.mapfiles import gdal_path

            df = pyogrio.read_dataframe(gdal_path(layer.file), layer=layer.layer,
                                        read_geometry=False)
            if layer.responder not in df.columns:
                raise ScenarioRefError("city.geometry.stations.responder",
                                       f"no attribute {layer.responder!r} in {layer.file}")
            station_resp = df[layer.responder].astype(str).to_numpy(dtype=object)
    return MapBase(polys=polys, cx=cx, cy=cy, area=area, col=col, row=row,
                   households=households, zone=zone, unit=unit, community=community,
                   street_of_comm=street_of_comm, district_of_street=district_of_street,
                   ids=ids, names=names, unit_ids=uid, unit_names=uname, crs=crs,
                   notes=tuple(notes), depot_cells=depots, station_cells=stations,
                   station_responders=station_resp, km=side / 1000)


def cell_grids(base: MapBase, cfg: CityConfig) -> np.ndarray:
    """The grid of each cell: the file's grids, or each (community, zone) run cut by
    households × difficulty ÷ ``households_per_grid`` (at least one, at most one per cell)."""
    geo = cfg.geometry
    if geo.level == "grid" and not geo.regrid:
        return _codes(base.unit, np.arange(len(base.unit)))
    diff = np.array([z.difficulty for z in cfg.zones.values()])[base.zone]
    load = base.households * diff
    grid = np.empty(len(load), dtype=np.int64)
    first = 0
    for a, b in zip(*_runs(base.community * 64 + base.zone)):
        parts = int(min(b - a, max(1, round(float(load[a:b].sum()) / cfg.households_per_grid))))
        w = load[a:b] if load[a:b].sum() > 0 else base.area[a:b]
        grid[a:b] = first + _cut(w, parts)
        first += parts
    return grid


def real_grid_count(cfg: CityConfig, source: str | None = None) -> int:
    return int(cell_grids(map_base(cfg, source), cfg).max()) + 1


def geometry_of(base: MapBase, cfg: CityConfig, cell_grid: np.ndarray) -> CityGeometry:
    ids, names = dict(base.ids), dict(base.names)
    n = int(cell_grid.max()) + 1
    firsts = np.searchsorted(cell_grid, np.arange(n))
    if cfg.geometry.level == "grid" and not cfg.geometry.regrid:
        ids["grid"] = base.unit_ids[base.unit[firsts]]
        names["grid"] = base.unit_names[base.unit[firsts]]
    else:
        comm = base.community[firsts]
        k = np.arange(n) - np.searchsorted(comm, comm)
        ids["grid"] = np.array([f"{base.ids['community'][c]}-g{i + 1}"
                                for c, i in zip(comm, k)], dtype=object)
        names["grid"] = ids["grid"]
    return CityGeometry(crs=base.crs, cells=base.polys, source=cfg.geometry.file, ids=ids,
                        names=names, notes=base.notes, station_cells=base.station_cells,
                        station_responders=base.station_responders)
