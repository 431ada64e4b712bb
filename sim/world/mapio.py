"""Reading a real map's polygons (``city.geometry``): CRS, repairs and the checks of bad geography.

:func:`read_units` returns one row per unit of the file's level — id, name, households,
parents named by attribute or found by containment in a second file, zone — with its polygon in
metres in a projected CRS, and notes for the report (repaired polygons, units without
households). The CRS is the file's, or ``crs`` (an EPSG code, or ``gcj02`` / ``bd09``, shifted
to WGS84 by ``sim.world.gcj02``); a file without one is taken as lon/lat only when every
coordinate is in range. Lon/lat is projected to the UTM zone of the map's centre.

Refused, naming the field: features that are not polygons, empty or NaN coordinates,
projected coordinates without a CRS, overlaps or gaps above ``tolerance`` of the map's area
(with their area), a parent that does not hold its child, a child named under two parents.
Invalid polygons are repaired with ``make_valid`` and reported.
"""

from __future__ import annotations

import numpy as np

from sim.scenario.errors import ScenarioRefError
from sim.scenario.mapfiles import read_layer, unit_table

LONLAT = "EPSG:4326"


def _coordinates(geoms, field: str) -> np.ndarray:
    """All coordinates of ``geoms``; none may be NaN."""
    import shapely

    xy = shapely.get_coordinates(np.asarray(geoms, dtype=object))
    if len(xy) == 0:
        raise ScenarioRefError(field, "the file has no coordinates")
    if np.isnan(xy).any():
        bad = [i for i, g in enumerate(geoms)
               if g is not None and np.isnan(shapely.get_coordinates(g)).any()]
        raise ScenarioRefError(field, f"feature {bad[0]} has NaN coordinates")
    return xy


def _metric(gdf, field: str, crs_override: str | None, target=None):
    """``gdf`` in a metric projected CRS (``target`` when given, else UTM of its centre)."""
    import shapely
    from pyproj import CRS

    geoms = gdf.geometry.values
    xy = _coordinates(geoms, field)
    in_range = bool((np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all())
    kind = (crs_override or "").lower()
    if kind in ("gcj02", "bd09"):
        from sim.world.gcj02 import to_wgs84

        if not in_range:
            raise ScenarioRefError("city.geometry.crs", f"{kind} coordinates are lon/lat, but "
                                                        "the file's are out of range")
        gdf = gdf.set_geometry(shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda p: np.column_stack(to_wgs84(kind, p[:, 0], p[:, 1]))), crs=LONLAT)
    elif crs_override:
        try:
            gdf = gdf.set_crs(CRS.from_user_input(crs_override), allow_override=True)
        except Exception:
            raise ScenarioRefError("city.geometry.crs", f"unknown CRS {crs_override!r}; "
                                   "write an EPSG code (EPSG:4547), gcj02 or bd09") from None
    elif gdf.crs is None:
        if not in_range:
            raise ScenarioRefError("city.geometry.crs", "the file has no CRS and its "
                                   "coordinates are not lon/lat (projected?): set "
                                   "city.geometry.crs to its EPSG code")
        gdf = gdf.set_crs(LONLAT)
    elif CRS.from_user_input(gdf.crs).is_geographic and not in_range:
        # GeoJSON without a "crs" member is lon/lat by its standard: these numbers are not
        raise ScenarioRefError("city.geometry.crs", "the file says lon/lat (GeoJSON without a "
                               "CRS does) but its coordinates are out of range (projected?): "
                               "set city.geometry.crs to their EPSG code")
    if target is not None:
        return gdf.to_crs(target)
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in ("metre", "meter"):
        return gdf
    return gdf.to_crs(gdf.estimate_utm_crs())


def _polygons(gdf, field: str, ids) -> tuple[np.ndarray, list[str]]:
    """Polygonal geometries, invalid ones repaired (and named in a note)."""
    import shapely

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            raise ScenarioRefError(field, f"feature {ids[i]!r} has no geometry")
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            raise ScenarioRefError(field, f"feature {ids[i]!r} is a {g.geom_type}; a boundary "
                                          "file needs polygons")
    bad = ~shapely.is_valid(geoms)
    notes = []
    if bad.any():
        fixed = shapely.make_valid(geoms[bad])
        fixed = np.array([shapely.union_all([p for p in shapely.get_parts(g)
                                             if p.geom_type in ("Polygon", "MultiPolygon")])
                          for g in fixed], dtype=object)
        geoms = geoms.copy()
        geoms[bad] = fixed
        named = [str(ids[i]) for i in np.flatnonzero(bad)]
        notes.append(f"{len(named)} invalid polygons repaired with make_valid: "
                     f"{', '.join(named[:12])}{' …' if len(named) > 12 else ''}")
    empty = shapely.area(geoms) <= 0
    if empty.any():
        raise ScenarioRefError(field, f"feature {ids[int(np.flatnonzero(empty)[0])]!r} has no "
                                      "area")
    return geoms, notes


def _overlaps(geoms: np.ndarray, ids, tol: float) -> np.ndarray:
    """Refuse overlaps above ``tol`` of the area; give smaller ones to the first unit."""
    import shapely

    tree = shapely.STRtree(geoms)
    a, b = np.concatenate([tree.query(geoms, predicate=p)  # interiors meet (not edges only)
                           for p in ("overlaps", "contains", "within")], axis=1)
    keep = a < b
    a, b = np.unique(np.column_stack([a[keep], b[keep]]), axis=0).T if keep.any() else (a[:0],
                                                                                        b[:0])
    keep = a < b
    a, b = a[keep], b[keep]
    total = float(shapely.area(geoms).sum())
    if len(a):
        inter = shapely.area(shapely.intersection(geoms[a], geoms[b]))
        big = inter > 1e-9 * total
        a, b, inter = a[big], b[big], inter[big]
        if inter.sum() > tol * total:
            k = int(np.argmax(inter))
            raise ScenarioRefError(
                "city.geometry.file",
                f"polygons overlap by {inter.sum():,.0f} m² in all ({inter.sum() / total:.2%} "
                f"of the map; at most {tol:.2%}, city.geometry.tolerance), most between "
                f"{ids[a[k]]!r} and {ids[b[k]]!r} ({inter[k]:,.0f} m²)")
        if len(b):
            geoms = geoms.copy()
            for j in np.unique(b):
                geoms[j] = shapely.difference(geoms[j], shapely.union_all(geoms[a[b == j]]))
    return geoms


def _gaps(geoms: np.ndarray, tol: float, clean: bool) -> None:
    """Refuse holes in the map's union (not holes of a unit itself) above ``tol`` of its area."""
    import shapely

    # a clean coverage (edges shared exactly, the usual GIS export) unions in linear time
    union = shapely.coverage_union_all(geoms) if clean else shapely.union_all(geoms)
    holes = [shapely.Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
    if not holes:
        return
    own = [shapely.Polygon(r) for g in geoms for p in shapely.get_parts(g) for r in p.interiors]
    gap = shapely.union_all(holes)
    if own:
        gap = shapely.difference(gap, shapely.union_all(own))
    total = float(shapely.area(geoms).sum())
    if gap.area > tol * total:
        x, y = gap.representative_point().coords[0]
        raise ScenarioRefError(
            "city.geometry.file",
            f"gaps between polygons cover {gap.area:,.0f} m² ({gap.area / total:.2%} of the map; "
            f"at most {tol:.2%}, city.geometry.tolerance), one at ({x:,.0f}, {y:,.0f})")


def _contained_parents(table, geo, level: str, crs) -> tuple[np.ndarray, dict[str, str]]:
    """Each unit's parent of ``level`` from the parent layer (the polygon holding most of it)."""
    import shapely

    layer = geo.parents[level]
    field = f"city.geometry.parents.{level}"
    df = read_layer(layer.file, layer.layer, f"{field}.file", encoding=geo.encoding)
    df = _metric(df, f"{field}.file", layer.crs, target=crs)
    for name in ("id", "name"):
        col = getattr(layer, name)
        if col and col not in df.columns:
            raise ScenarioRefError(f"{field}.{name}", f"no attribute {col!r} in {layer.file}")
    pid = df[layer.id].astype(str).to_numpy() if layer.id else \
        np.arange(len(df)).astype(str)
    pname = df[layer.name].astype(str).to_numpy() if layer.name else pid
    pgeoms, _ = _polygons(df, f"{field}.file", pid)
    child = np.asarray(table.geometry.values, dtype=object)
    tree = shapely.STRtree(pgeoms)
    c, p = tree.query(child, predicate="intersects")
    share = shapely.area(shapely.intersection(child[c], pgeoms[p])) / shapely.area(child[c])
    best = np.full(len(child), -1)
    best_share = np.zeros(len(child))
    for ci, pi, s in zip(c, p, share):
        if s > best_share[ci]:
            best[ci], best_share[ci] = pi, s
    worst = int(np.argmin(best_share))
    if best_share[worst] < 1 - max(geo.tolerance, 1e-6) - 1e-9:
        where = f"{pid[best[worst]]!r} holds {best_share[worst]:.1%}" if best[worst] >= 0 \
            else "no parent polygon touches it"
        raise ScenarioRefError(field, f"no {level} of {layer.file} contains unit "
                                      f"{table['id'].iloc[worst]!r} ({where}; at most "
                                      f"{geo.tolerance:.2%} may lie outside, "
                                      "city.geometry.tolerance)")
    return pid[best], dict(zip(pid, pname))


def read_units(geo, persons_per_household: float):
    """(units GeoDataFrame in metres, its CRS, parent names {level: {id: name}}, notes)."""
    df = read_layer(geo.file, geo.layer, "city.geometry.file", encoding=geo.encoding)
    if "geometry" not in df.columns:
        raise ScenarioRefError("city.geometry.file", f"{geo.file} has no geometry")
    table, notes = unit_table(df, geo, persons_per_household)
    ids = table["id"].to_numpy()
    _coordinates(table.geometry.values, "city.geometry.file")
    geoms, more = _polygons(table, "city.geometry.file", ids)
    notes = more + notes
    table = table.set_geometry(geoms)
    table = _metric(table, "city.geometry.file", geo.crs)
    geoms, _ = _polygons(table, "city.geometry.file", ids)  # reprojection may bend a ring
    import shapely

    clean = bool(shapely.coverage_is_valid(geoms))  # no overlaps, edges shared exactly
    if not clean:
        geoms = _overlaps(geoms, ids, geo.tolerance)
    _gaps(geoms, geo.tolerance, clean)
    table = table.set_geometry(geoms)
    names: dict[str, dict[str, str]] = {}
    for level in geo.parents:
        table[level], names[level] = _contained_parents(table, geo, level, table.crs)
    levels = ("grid", "community", "street", "district")
    above = [lv for lv in levels[levels.index(geo.level) + 1:] if lv in table.columns]
    for lo, hi in zip(above, above[1:]):
        pairs = table[[lo, hi]].drop_duplicates()
        dup = pairs[lo].duplicated(keep=False)
        if dup.any():
            c = pairs[lo][dup].iloc[0]
            raise ScenarioRefError(f"city.geometry.fields.{hi}",
                                   f"{lo} {c!r} lies in more than one {hi}: "
                                   f"{', '.join(sorted(pairs[hi][pairs[lo] == c]))}")
    return table, table.crs.to_string(), names, notes
