"""Requests with places: a log's requests on the real map's land cells, and each category's
surface of where its incidents arise (``city.geometry.surfaces``).

When the base scenario has ``city.geometry``, :class:`PlaceIndex` places every request of a log
that has coordinates (the ``lat`` / ``lon`` fields; ``crs``: lon/lat WGS84 by default, an EPSG
code, or ``gcj02`` / ``bd09`` for Chinese web-map coordinates, converted by
:mod:`sim.world.gcj02` exactly as a map's ``city.geometry.crs``) on the land cell holding it
(point in polygon against the city's own cell polygons, ``City.geometry``, with a Shapely
STRtree), or whose ``unit`` code is the id of one of the map's units (any level) on that unit.
Coordinates are turned into cell indices chunk by chunk as the log is read
(:func:`sim.data.servicelog.read_log`) and are never kept: the frame holds only ``place``
(none, outside, cell, unit) and ``where`` (the cell or unit index).

:func:`fit_surfaces` estimates, per category, where its requests arise, by **empirical Bayes
in two steps**. The count ``y`` of an area is Poisson with mean ``θ · e``, where ``e`` is its
expectation and ``θ`` its relative risk. First over the map's units (the file's polygons: fixed
areas, whatever the grid size), ``e`` the unit's households' share of the category's placed
requests; then over the cells, ``e`` the cell's households' share of its unit's posterior rate.
At each step the prior of ``θ`` is estimated from the counts themselves — the nonparametric
maximum-likelihood mixing distribution (Kiefer–Wolfowitz), fitted by EM on a log-spaced grid —
and each area's rate is its posterior mean ``e · E[θ | y]``. An area with few requests stays
near its households' share, a market with hundreds keeps its own count, and a category that
follows households gets the household surface back. Why not a gamma prior: one gamma fitted to
counts where a few cells are hotspots shrank the largest hotspot of the test city
(``tests/test_places.py``) by about 30%; its single shape cannot describe a city that is mostly
households with a few markets. Why not a kernel: a bandwidth to choose, and it smears a hotspot
across a river or a park; the two steps respect the map's units and adapt to each category's
amount of data.
Requests outside the map's boundaries or without a place are counted, reported, and spread by
households (they add ``n · h_c / H``). Requests placed on a unit are spread over its cells by
households before the fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.data.servicelog import CalibrationError

if TYPE_CHECKING:
    import pandas as pd

    from sim.scenario import Scenario

#: ``place`` codes of the log frame
NONE, OUTSIDE, CELL, UNIT = 0, 1, 2, 3
#: coordinate systems a log's lat/lon may be in besides EPSG codes
CHINESE = ("gcj02", "bd09")
#: households added to every cell's expectation (a share of the mean cell's), so that a cell
#: without residents can still hold requests (markets, stations, parks)
FLOOR = 0.01


def check_crs(crs: str | None) -> str | None:
    """A message when ``crs`` is neither gcj02, bd09 nor a CRS pyproj knows, else None."""
    if crs is None or crs.lower() in CHINESE:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(crs)
    except CRSError:
        return f"unknown CRS {crs!r}; allowed: an EPSG code (EPSG:4326), gcj02 or bd09"
    return None


@dataclass
class PlaceIndex:
    """The map's land cells and units, to place a log's requests on (see the module)."""

    crs: str | None
    city_crs: str
    tree: object                       # shapely STRtree of the cell polygons
    households: np.ndarray             # per cell
    unit_of: dict[str, tuple[str, int]]  # unit id → (level, index)
    cell_units: dict[str, np.ndarray]  # level → unit of each cell
    level: str = "street"              # the map file's own level

    @classmethod
    def for_scenario(cls, scenario: "Scenario", crs: str | None = None) -> "PlaceIndex":
        import shapely

        from sim.engine.seeding import Streams
        from sim.world.city import build_city
        from sim.world.geometry import LEVELS, cell_units

        if (msg := check_crs(crs)) is not None:
            raise CalibrationError([("crs", msg)], "--crs")
        city = build_city(scenario.city, Streams(scenario.run.seed)["city"])
        geo = city.geometry
        units: dict[str, tuple[str, int]] = {}
        per_cell: dict[str, np.ndarray] = {}
        for level in LEVELS:
            ids = geo.ids.get(level)
            if ids is None:
                continue
            per_cell[level] = cell_units(city, level)
            for k, v in enumerate(ids):
                units.setdefault(str(v), (level, k))
        return cls(crs=crs, city_crs=geo.crs, tree=shapely.STRtree(geo.cells),
                   households=np.asarray(city.cells.households, dtype=float), unit_of=units,
                   cell_units=per_cell, level=scenario.city.geometry.level)

    @property
    def n_cells(self) -> int:
        return len(self.households)

    def _metres(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from pyproj import Transformer

        src = "EPSG:4326"
        if self.crs is not None and self.crs.lower() in CHINESE:
            from sim.world.gcj02 import to_wgs84

            lon, lat = to_wgs84(self.crs.lower(), lon, lat)
        elif self.crs is not None:
            src = self.crs
        tr = Transformer.from_crs(src, self.city_crs, always_xy=True)
        return tr.transform(lon, lat)

    def place(self, lat: list[str] | None, lon: list[str] | None, unit: list[str] | None,
              n: int) -> tuple[np.ndarray, np.ndarray]:
        """(place code, cell or unit index) of ``n`` rows from their text fields."""
        import pandas as pd
        import shapely

        kind = np.full(n, NONE, dtype=np.int8)
        where = np.full(n, -1, dtype=np.int64)
        if lat is not None and lon is not None:
            y = pd.to_numeric(pd.Series(lat, dtype=object), errors="coerce").to_numpy(float)
            x = pd.to_numeric(pd.Series(lon, dtype=object), errors="coerce").to_numpy(float)
            ok = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
            if self.crs is None or self.crs.lower() in CHINESE:
                ok &= (np.abs(y) <= 90) & (np.abs(x) <= 180)
            idx = np.flatnonzero(ok)
            if len(idx):
                mx, my = self._metres(x[idx], y[idx])
                good = np.isfinite(mx) & np.isfinite(my)
                pts = shapely.points(np.where(good, mx, 0.0), np.where(good, my, 0.0))
                p, c = self.tree.query(pts, predicate="intersects")
                cell = np.full(len(idx), -1, dtype=np.int64)
                cell[p[::-1]] = c[::-1]  # the first cell holding the point
                cell[~good] = -1
                kind[idx] = np.where(cell >= 0, CELL, OUTSIDE)
                where[idx] = cell
                del mx, my, pts
            del x, y
        if unit is not None and self.unit_of:
            codes = pd.Series(unit, dtype=object).fillna("").astype(str).str.strip()
            todo = np.flatnonzero((kind == NONE) & (codes != "").to_numpy())
            for i in todo.tolist():
                hit = self.unit_of.get(codes.iat[i])
                if hit is not None:
                    kind[i] = UNIT
                    where[i] = self._unit_key(*hit)
        return kind, where

    def _unit_key(self, level: str, k: int) -> int:
        """One integer per (level, unit): level rank × 2**32 + unit."""
        return list(self.cell_units).index(level) * (1 << 32) + k

    def finest_units(self) -> np.ndarray | None:
        """The unit of each cell at the map file's own level (its polygons: fixed areas, not
        the grids ``households_per_grid`` cuts), or None."""
        return self.cell_units.get(self.level)

    def unit_cells(self, key: int) -> np.ndarray:
        level = list(self.cell_units)[key >> 32]
        return np.flatnonzero(self.cell_units[level] == (key & 0xFFFFFFFF))

    def cell_counts(self, kind: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Requests per cell: those on a cell, and those on a unit spread by households."""
        out = np.bincount(where[kind == CELL], minlength=self.n_cells).astype(float)
        keys, n = np.unique(where[kind == UNIT], return_counts=True)
        for key, k in zip(keys.tolist(), n.tolist()):
            cells = self.unit_cells(key)
            h = self.households[cells] + FLOOR * max(self.households.mean(), 1e-9)
            out[cells] += k * h / h.sum()
        return out

    def draw_cells(self, kind: np.ndarray, where: np.ndarray, u: np.ndarray,
                   default: np.ndarray) -> np.ndarray:
        """Cells of requests (replay): their own cell, a cell of their unit drawn by households
        with their uniform ``u``, else ``default``."""
        out = np.where(kind == CELL, where, default)
        for key in np.unique(where[kind == UNIT]).tolist():
            sel = np.flatnonzero((kind == UNIT) & (where == key))
            cells = self.unit_cells(key)
            cum = np.cumsum(self.households[cells] + 1e-12)
            out[sel] = cells[np.minimum(np.searchsorted(cum, u[sel] * cum[-1], side="right"),
                                        len(cells) - 1)]
        return out


#: support points of the relative-risk prior (log-spaced) and EM iterations of its fit
GRID, EM_STEPS = 120, 400


def risk_prior(y: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(support θ_j, weights w_j) of the relative-risk distribution: the nonparametric maximum
    likelihood prior (Kiefer–Wolfowitz) of counts ``y`` ~ Poisson(θ · ``e``), fitted by EM on a
    log-spaced grid."""
    rel = y / e
    hi = max(float(rel.max()) * 1.5, 2.0)
    theta = np.r_[0.0, np.geomspace(1e-3, hi, GRID - 1)]
    log_l = _log_lik(y, e, theta)
    w = np.full(len(theta), 1.0 / len(theta))
    for _ in range(EM_STEPS):
        post = _posterior(log_l, w)
        w_new = post.mean(axis=0)
        if np.abs(w_new - w).max() < 1e-7:
            w = w_new
            break
        w = w_new
    return theta, w


def _log_lik(y: np.ndarray, e: np.ndarray, theta: np.ndarray) -> np.ndarray:
    mu = e[:, None] * theta[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mu > 0, y[:, None] * np.log(np.where(mu > 0, mu, 1.0)) - mu,
                       np.where(y[:, None] > 0, -np.inf, 0.0))
    return out


def _posterior(log_l: np.ndarray, w: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        a = log_l + np.log(w)[None, :]
    a -= a.max(axis=1, keepdims=True)
    p = np.exp(a)
    return p / p.sum(axis=1, keepdims=True)


def posterior_rates(y: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, float]:
    """Each cell's posterior mean rate e_c · E[θ_c | y_c] under :func:`risk_prior`, and the
    prior's standard deviation of θ (0: requests follow households)."""
    theta, w = risk_prior(y, e)
    post = _posterior(_log_lik(y, e, theta), w)
    mean = float((w * theta).sum())
    sd = float(np.sqrt(max((w * theta ** 2).sum() - mean ** 2, 0.0))) / max(mean, 1e-12)
    return e * (post @ theta), sd


def two_level_rates(y: np.ndarray, base: np.ndarray, unit: np.ndarray | None
                    ) -> tuple[np.ndarray, float]:
    """Cell rates by empirical Bayes in two steps: each map unit's rate shrunk towards its
    households' share (:func:`posterior_rates` over units), then each cell's towards its share
    of its unit's rate by households; and the cell-level risk spread."""
    if unit is None:
        return posterior_rates(y, y.sum() * base / base.sum())
    n_u = int(unit.max()) + 1
    yu = np.bincount(unit, weights=y, minlength=n_u)
    bu = np.bincount(unit, weights=base, minlength=n_u)
    lam_u, _ = posterior_rates(yu, y.sum() * bu / bu.sum())
    e = lam_u[unit] * base / bu[unit]
    e = e / e.sum() * y.sum()
    return posterior_rates(y, np.maximum(e, 1e-12 * y.sum()))


@dataclass
class CategorySurface:
    category: str
    requests: int          # used requests of the category
    on_cells: float        # placed on a cell or a unit
    outside: int
    no_place: int
    spread: float          # the prior's standard deviation of relative risk (0: households)
    weights: np.ndarray    # per cell, adding up to 1


@dataclass
class Places:
    """What placing a log's requests found, and each category's surface."""

    counts: dict[str, int]                   # rows by place code, all used requests
    surfaces: dict[str, CategorySurface] = field(default_factory=dict)
    crs: str = "EPSG:4326"

    def weights(self) -> dict[str, np.ndarray]:
        return {c: s.weights for c, s in self.surfaces.items()}


def fit_surfaces(frame: "pd.DataFrame", index: PlaceIndex, categories: list[str]) -> Places:
    """Each category's surface from the used requests of ``frame`` (see the module)."""
    kind = frame["place"].to_numpy()
    where = frame["where"].to_numpy()
    cats = frame["category"].to_numpy(object)
    h = index.households
    base = h + FLOOR * max(h.mean(), 1e-9)
    share = base / base.sum()
    counts = {"cell": int((kind == CELL).sum()), "unit": int((kind == UNIT).sum()),
              "outside": int((kind == OUTSIDE).sum()), "none": int((kind == NONE).sum())}
    out = Places(counts=counts, crs=index.crs or "EPSG:4326")
    for cat in categories:
        sel = cats == cat
        n = int(sel.sum())
        k, w = kind[sel], where[sel]
        placed = (k == CELL) | (k == UNIT)
        if n == 0 or not placed.any():
            continue
        y = index.cell_counts(k, w)
        lam, spread = two_level_rates(y, base, index.finest_units())
        lam = lam / lam.sum() * y.sum() + (n - y.sum()) * share  # the rest by households
        out.surfaces[cat] = CategorySurface(
            category=cat, requests=n, on_cells=float(y.sum()),
            outside=int((k == OUTSIDE).sum()), no_place=int((k == NONE).sum()), spread=spread,
            weights=lam / lam.sum())
    return out


def places_report(places: Places) -> str:
    """The fit report's section: how many requests were placed, and each surface's α."""
    c = places.counts
    total = sum(c.values())
    pct = (lambda v: f"{100 * v / total:.1f}%") if total else (lambda v: "–")
    lines = ["## Requests with places", "",
             f"Coordinates read as {places.crs}; used only to count requests per land cell "
             "(none is kept or written).", "",
             "| place | requests | share |", "|---|---:|---:|",
             f"| on a land cell | {c['cell']:,} | {pct(c['cell'])} |",
             f"| on a unit (by its code) | {c['unit']:,} | {pct(c['unit'])} |",
             f"| outside the map | {c['outside']:,} | {pct(c['outside'])} |",
             f"| without a place | {c['none']:,} | {pct(c['none'])} |", "",
             "Requests outside the map or without a place are spread by households.", "",
             "Each category's surface: empirical Bayes over the land cells, shrunk towards "
             "households where its requests are few (risk spread: the fitted prior's standard "
             "deviation of relative risk; 0 = requests follow households).", "",
             "| category | requests | placed | risk spread |",
             "|---|---:|---:|---:|"]
    for s in places.surfaces.values():
        lines.append(f"| {s.category} | {s.requests:,} | {s.on_cells:,.0f} | {s.spread:.2f} |")
    return "\n".join(lines) + "\n"
