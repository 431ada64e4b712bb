"""What a map draws, read from the city's one geometry (``City.geometry``), without Streamlit.

Grids, communities and streets are the unions of their cells (``sim.world.geometry``), in the
geometry's own metric CRS: Vega draws them with an identity projection (y up), so a synthetic
city and a real district's boundary file go through the same code, and nothing is fetched from a
tile server. Polygons are simplified to well under a pixel and rounded to 0.1 m before they reach
the browser. Units of the emergency drill move between grid centres in the model's kilometre
coordinates; :attr:`MapGeometry.affine` places them on the map (an exact fit for the synthetic
city, a least-squares one for a real map).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from app_pages.i18n import field_label
from sim.world.geometry import to_lonlat, unit_polygons

#: outline levels the maps offer, from the smallest up
OUTLINE_LEVELS = ("community", "street")
#: simplification tolerance, as a share of the map's longer side (1/4000: under a pixel)
SIMPLIFY = 1 / 4000


@dataclass(frozen=True)
class MapGeometry:
    """A city's polygons as GeoJSON geometries (metres) with the names of their units."""

    crs: str
    bounds: tuple[float, float, float, float]        # x0, y0, x1, y1 in metres
    grid_geoms: list[dict]                           # GeoJSON geometry per grid (index order)
    grid_polys: np.ndarray                           # shapely polygon per grid (for unions, out)
    grid_ids: np.ndarray                             # the geometry's id of each grid
    parents: dict[str, np.ndarray]                   # level -> unit index of each grid
    outlines: dict[str, list[dict]]                  # level -> GeoJSON geometry per unit
    names: dict[str, list[str | None]]               # level -> given name per unit (or None)
    labels: dict[str, pd.DataFrame]                  # level -> x, y, w, h (metres) per unit
    affine: np.ndarray = field(repr=False, default_factory=lambda: np.eye(3)[:, :2])

    @property
    def n_grids(self) -> int:
        return len(self.grid_geoms)

    @property
    def size_m(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.bounds
        return max(x1 - x0, 1.0), max(y1 - y0, 1.0)

    def unit_name(self, level: str, i: int, lang: str) -> str:
        """A unit's given name, else its level and index ("Community 3", "社区 3")."""
        if level == "grid":
            return str(self.grid_ids[i])
        got = self.names.get(level)
        name = got[i] if got is not None and i < len(got) else None
        return str(name) if name else f"{field_label(level, lang)} {i}"

    def place(self, x_km, y_km) -> tuple[np.ndarray, np.ndarray]:
        """Model kilometre coordinates (grid centres, units between them) on the map."""
        xy = np.column_stack([np.asarray(x_km, float), np.asarray(y_km, float),
                              np.ones(np.size(x_km))])
        out = xy @ self.affine
        return out[:, 0], out[:, 1]


def _geojson(geoms: np.ndarray, tol: float) -> list[dict]:
    import shapely

    g = shapely.simplify(np.asarray(geoms), tol, preserve_topology=True)
    g = shapely.transform(g, lambda c: np.round(c, 1))
    return [json.loads(s) for s in shapely.to_geojson(g)]


def _names(geometry, level: str, n: int) -> list[str | None]:
    got = geometry.names.get(level)
    if got is None:
        return [None] * n
    return [None if v is None or (isinstance(v, float) and v != v) or str(v) == "" else str(v)
            for v in list(got)[:n]] + [None] * max(0, n - len(got))


def _labels(polys: np.ndarray) -> pd.DataFrame:
    import shapely

    pt = shapely.point_on_surface(polys)
    b = shapely.bounds(polys)
    return pd.DataFrame({"x": shapely.get_x(pt), "y": shapely.get_y(pt),
                         "w": b[:, 2] - b[:, 0], "h": b[:, 3] - b[:, 1]})


def _affine(city, polys: np.ndarray) -> np.ndarray:
    """Least-squares affine map from grid centres in model km to grid centroids in metres."""
    import shapely

    c = shapely.centroid(polys)
    a = np.column_stack([city.x_km, city.y_km, np.ones(city.n_grids)])
    b = np.column_stack([shapely.get_x(c), shapely.get_y(c)])
    if city.n_grids < 3 or np.linalg.matrix_rank(a) < 3:   # a line of grids: scale by 1000
        return np.array([[1000.0, 0.0], [0.0, 1000.0], b.mean(0) - 1000.0 * a[:, :2].mean(0)])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def map_geometry(city) -> MapGeometry:  # city: sim.world.city.City
    """Everything the maps draw of ``city``: built once per city (cache it by the city)."""
    import shapely

    geo = city.geometry
    grids = unit_polygons(city, "grid")
    x0, y0, x1, y1 = shapely.total_bounds(grids)
    tol = max(x1 - x0, y1 - y0) * SIMPLIFY
    outlines, names, labels, parents = {}, {}, {}, {}
    for level in OUTLINE_LEVELS:
        polys = unit_polygons(city, level)
        outlines[level] = _geojson(shapely.boundary(polys), tol)
        names[level] = _names(geo, level, len(polys))
        labels[level] = _labels(polys)
        parents[level] = np.asarray(getattr(city, level))
    labels["grid"] = _labels(grids)
    return MapGeometry(crs=geo.crs, bounds=(float(x0), float(y0), float(x1), float(y1)),
                       grid_geoms=_geojson(grids, tol), grid_polys=grids,
                       grid_ids=geo.unit_ids("grid", city.n_grids), parents=parents,
                       outlines=outlines, names=names, labels=labels,
                       affine=_affine(city, grids))


def turned(geo: MapGeometry) -> MapGeometry:
    """The map a quarter turn clockwise (north to the right), for a tall city on a wide screen."""
    import shapely

    def turn(g: dict) -> dict:
        s = shapely.transform(shapely.from_geojson(json.dumps(g)), lambda c: c[:, ::-1] * [1, -1])
        return json.loads(shapely.to_geojson(s))

    x0, y0, x1, y1 = geo.bounds
    rot = np.array([[0.0, -1.0], [1.0, 0.0]])        # (x, y) -> (y, -x)
    return MapGeometry(
        crs=geo.crs, bounds=(y0, -x1, y1, -x0), grid_geoms=[turn(g) for g in geo.grid_geoms],
        grid_polys=shapely.transform(geo.grid_polys, lambda c: c[:, ::-1] * [1, -1]),
        grid_ids=geo.grid_ids, parents=geo.parents,
        outlines={k: [turn(g) for g in v] for k, v in geo.outlines.items()}, names=geo.names,
        labels={k: v.assign(x=v.y, y=-v.x, w=v.h, h=v.w) for k, v in geo.labels.items()},
        affine=geo.affine @ rot)


def grids_geojson(geo: MapGeometry, values: pd.DataFrame | None = None) -> bytes:
    """The grids as a GeoJSON FeatureCollection in lon/lat (RFC 7946), with ``values`` (one row
    per grid, column ``grid`` = index) as properties."""
    import shapely

    ll = shapely.to_geojson(to_lonlat(geo.grid_polys, geo.crs))
    rows = values.set_index("grid").reindex(range(geo.n_grids)) if values is not None else None
    feats = []
    for i, g in enumerate(ll):
        props = {"grid": str(geo.grid_ids[i]),
                 **{lvl: geo.unit_name(lvl, int(geo.parents[lvl][i]), "en")
                    for lvl in OUTLINE_LEVELS}}
        if rows is not None:
            for k, v in rows.iloc[i].items():
                v = v.item() if hasattr(v, "item") else v
                props[str(k)] = None if isinstance(v, float) and v != v else v
        feats.append({"type": "Feature", "geometry": json.loads(g), "properties": props})
    return json.dumps({"type": "FeatureCollection", "features": feats},
                      ensure_ascii=False).encode("utf-8")
