"""The city's one geometry (S1.1): the polygons of its land cells in a projected, metric CRS.

Every city has one — the synthetic city's square cells laid on a local transverse Mercator plane,
or a real district's lattice cells clipped to its boundary polygons (``sim.world.realmap``).
Grids, communities, streets and districts are the unions of their cells; lon/lat (EPSG:4326) is
for output only. Everything that needs the city's shape (beats, distances, hotspots, the size
guard, grid layers out, the app's maps) reads this object: never a second copy of the shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

#: the four levels of the hierarchy, from the smallest up (S1.2)
LEVELS = ("grid", "community", "street", "district")

#: where the synthetic city is laid when nothing says otherwise: Dongcheng, Beijing (lon, lat),
#: the district whose unit-grid method the synthetic city follows (facts.md)
SYNTHETIC_ORIGIN = (116.416, 39.928)


def local_tmerc(lon: float, lat: float) -> str:
    """A metric transverse Mercator CRS centred on (lon, lat): distortion < 0.01% within 50 km."""
    return (f"+proj=tmerc +lat_0={lat:.6f} +lon_0={lon:.6f} +k=1 +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs")


@dataclass(frozen=True)
class CityGeometry:
    """Cell polygons (metres, in ``crs``) and the ids and names each unit carries.

    ``cells[i]`` is the polygon of land cell ``i`` (the same index as ``City.cells``).
    ``ids[level]`` / ``names[level]`` hold one string per unit index of that level (grid,
    community, street, district); a level missing from them is named by its index. For a real
    map they are the file's own ``fields.id`` / ``fields.name`` values at its level and for
    parents named by attribute.
    """

    crs: str
    cells: np.ndarray  # shapely Polygon / MultiPolygon per cell
    source: str = "synthetic"
    ids: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what reading the map repaired or left out (for the report)
    station_cells: np.ndarray | None = None  # cells of a map's emergency stations, if given
    station_responders: np.ndarray | None = None  # responder of each station (None: any)

    def unit_ids(self, level: str, n: int) -> np.ndarray:
        """The id of each of the ``n`` units of ``level`` (their index as text when unnamed)."""
        got = self.ids.get(level)
        return np.asarray(got, dtype=object) if got is not None \
            else np.arange(n).astype(str).astype(object)


def synthetic_geometry(col: np.ndarray, row: np.ndarray, km: float,
                       origin: tuple[float, float] = SYNTHETIC_ORIGIN) -> CityGeometry:
    """Square cells of side ``km`` at lattice positions (col, row), the lattice's centre at
    ``origin`` (lon, lat) on a local transverse Mercator plane."""
    import shapely

    m = km * 1000.0
    side = float(max(col.max(), row.max()) + 1) * m
    x0 = col * m - side / 2.0
    y0 = row * m - side / 2.0
    return CityGeometry(crs=local_tmerc(*origin), cells=shapely.box(x0, y0, x0 + m, y0 + m))


def cell_units(city, level: str) -> np.ndarray:  # city: sim.world.city.City
    """The unit of ``level`` each land cell belongs to."""
    if level == "grid":
        return city.cell_grid
    if level == "community":
        return city.cells.community
    if level in ("street", "district"):
        return getattr(city, level)[city.cell_grid]
    raise ValueError(f"level must be one of {', '.join(LEVELS)} (got {level!r})")


def unit_polygons(city, level: str = "grid") -> np.ndarray:
    """One (Multi)Polygon per unit of ``level`` (index order), in metres in the city's CRS: the
    union of the unit's cells. The synthetic city's squares share their edges exactly, so a
    coverage union is exact and fast; a real map's cells are clipped from its polygons, whose
    edges need not be noded alike, so they take a full union."""
    import shapely

    unit = cell_units(city, level)
    order = np.argsort(unit, kind="stable")
    bounds = np.searchsorted(unit[order], np.arange(int(unit.max()) + 2))
    cells = city.geometry.cells[order]
    union = shapely.coverage_union_all if city.geometry.source == "synthetic" \
        else shapely.union_all
    return np.array([union(cells[a:b]) for a, b in zip(bounds[:-1], bounds[1:])], dtype=object)


@lru_cache(maxsize=8)
def _transformer(crs: str):  # -> pyproj.Transformer (building one takes ~0.1 s)
    from pyproj import Transformer

    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_lonlat(geoms: np.ndarray, crs: str) -> np.ndarray:
    """``geoms`` (metres in ``crs``) in lon/lat (EPSG:4326), for output."""
    import shapely

    tr = _transformer(crs)
    return shapely.transform(np.asarray(geoms), lambda xy: np.column_stack(tr.transform(
        xy[:, 0], xy[:, 1])))


def unit_frame(city, level: str = "grid", lonlat: bool = True, attributes: bool = True):
    """One row per unit of ``level`` (a GeoDataFrame): its index ``<level>_index``, the ids of
    it and of its parents under the level names (``grid``, ``community``, ``street``,
    ``district``, from :meth:`CityGeometry.unit_ids`), their names where the geometry has them
    (``<level>_name``), with ``attributes`` the unit's households, population and area (for
    grids every column of ``City.grid_frame``), and its polygon — lon/lat (EPSG:4326) for
    output, or metres in the city's CRS."""
    import geopandas as gpd
    import pandas as pd

    geo = city.geometry
    k = LEVELS.index(level)
    unit = cell_units(city, level)
    n = int(unit.max()) + 1
    first = np.zeros(n, dtype=np.int64)
    first[unit[::-1]] = np.arange(len(unit))[::-1]  # a cell of each unit: the first of it
    cols: dict[str, np.ndarray] = {}
    for up in LEVELS[k:]:
        of_cell = cell_units(city, up)
        idx = of_cell[first]
        cols[up] = geo.unit_ids(up, int(of_cell.max()) + 1)[idx]
        if up in geo.names:
            cols[f"{up}_name"] = np.asarray(geo.names[up], dtype=object)[idx]
    frame = pd.DataFrame({f"{level}_index": np.arange(n), **cols})
    if attributes:
        g = city.grid_frame()
        if level == "grid":
            extra = g.drop(columns=list(LEVELS))
        else:
            of_grid = getattr(city, level)  # the unit of each grid
            extra = pd.DataFrame({c: np.bincount(of_grid, weights=g[c], minlength=n)
                                  for c in ("households", "population", "area_km2", "cells")})
        frame = pd.concat([frame, extra.reset_index(drop=True)], axis=1)
    import shapely

    polys = shapely.orient_polygons(unit_polygons(city, level))  # exteriors anticlockwise
    if lonlat:
        return gpd.GeoDataFrame(frame, geometry=to_lonlat(polys, geo.crs), crs="EPSG:4326")
    return gpd.GeoDataFrame(frame, geometry=polys, crs=geo.crs)
