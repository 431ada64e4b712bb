"""Grid maps of KPIs, drawn from the city's geometry (plain Altair, no Streamlit).

Why Altair (Vega-Lite ``geoshape``): the app already draws every chart with it, it needs no tile
server and no WebGL (it works offline and on a classroom PC), the same spec is written to PNG and
SVG by vl-convert, its tooltips are the app's words, and at the app's limit (600 grids) the
polygons are a few hundred kB and draw in a fraction of a second. The polygons stay in the
geometry's metric CRS under an identity projection, so cells keep their true shape.

Colours mean one thing on every map of a page: a KPI's value on a fixed scale (shares on 0–100%,
other KPIs from 0 to a round number that covers every map shown together), a change on a
diverging scale centred on 0 whose green end is *better* for that KPI (``kpi_view.direction``).
Grids without a value (no case to measure) are grey.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from app_pages import kpi_view
from app_pages.i18n import field_label, tr, unit_label
from app_pages.map_geo import MapGeometry

if TYPE_CHECKING:
    import altair as alt

#: a map's height in pixels: at least this, at most this (a 720-pixel window keeps the legend and
#: the map in view together)
MIN_HEIGHT, MAX_HEIGHT = 240, 460
#: the column width a map is laid out for when the browser's is unknown (names that fit)
WIDTH_HINT = 640
NO_DATA = "#d9d9d9"
HOTSPOT = "#d7301f"
BORDER = "#ffffff"
SEQUENTIAL = "yellowgreenblue"     # light to dark, colour-blind safe
DIVERGING = "purplegreen"          # purple = worse, green = better (colour-blind safe)
NEUTRAL = "blueorange"             # a change that is neither better nor worse
OUTLINE_STYLE = {"community": ("#444444", 1.6, [5, 3]), "street": ("#111111", 3.2, None)}


def nice_ceiling(v: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``v`` (> 0)."""
    if not v > 0 or not math.isfinite(v):
        return 1.0
    k = 10.0 ** math.floor(math.log10(v))
    return next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= v * (1 - 1e-12))


def _finite(*arrays) -> np.ndarray:
    vals = np.concatenate([np.asarray(a, float).ravel() for a in arrays]) if arrays \
        else np.array([])
    return vals[np.isfinite(vals)]


def kpi_domain(key: str, *arrays) -> tuple[float, float]:
    """The colour domain of ``key``'s values: its natural range (shares 0–1, levels I–IV), else
    0 to a round number covering every value on the maps shown together (``arrays``)."""
    u = kpi_view.unit(key)
    if u == "share":
        return 0.0, 1.0
    if u == "level":
        return 1.0, 4.0
    vals = _finite(*arrays)
    lo = min(0.0, float(vals.min())) if len(vals) else 0.0
    hi = float(vals.max()) if len(vals) else 1.0
    return (-nice_ceiling(-lo) if lo < 0 else 0.0), nice_ceiling(hi)


def change_extent(key: str, *arrays) -> float:
    """Half-width of the diverging scale of a change of ``key`` (centred on 0): a round number
    covering every change shown; at least 1 pp for shares."""
    vals = np.abs(_finite(*arrays))
    m = float(vals.max()) if len(vals) else 0.0
    if kpi_view.unit(key) == "share":
        return max(0.01, nice_ceiling(m)) if m > 0 else 0.01
    return nice_ceiling(m) if m > 0 else 1.0


def colour_scale(key: str, diff: bool, domain: tuple[float, float]) -> alt.Scale:
    """Sequential on ``domain`` for values; for changes, diverging on ``domain`` with its middle
    at 0 and green where the change is better (reversed for lower-is-better KPIs)."""
    import altair as alt

    if not diff:
        return alt.Scale(scheme=SEQUENTIAL, domain=list(domain), clamp=True)
    d = kpi_view.direction(key)
    return alt.Scale(scheme=NEUTRAL if d == "none" else DIVERGING, domain=list(domain),
                     domainMid=0, reverse=d == "down", clamp=True)


def legend(key: str, diff: bool, at: str = "right", height: int = MAX_HEIGHT,
           lang: str = "en") -> dict:
    """The colour legend: beside the map (``right``) or above it (``top``, in narrow columns);
    shares in %, their changes in percentage points (pp / 个百分点), changes signed."""
    out: dict[str, Any] = {"orient": at, "labelOverlap": True}
    if at == "right":
        out.update(direction="vertical", gradientLength=min(240, height - 60), titleLimit=220)
    else:
        out.update(direction="horizontal", gradientLength=220, titleLimit=600)
    if diff and kpi_view.unit(key) == "share":
        pp = " 个百分点" if lang == "zh" else " pp"
        out["labelExpr"] = f"format(datum.value * 100, '+.0f') + '{pp}'"
    else:
        out["format"] = "+,.3~g" if diff else ".0%" if kpi_view.unit(key) == "share" \
            else ",.3~g"
    return out


def map_height(geo: MapGeometry, width: float = WIDTH_HINT, max_height: int = MAX_HEIGHT) -> int:
    """The map's height for a column ``width`` pixels wide: the city's aspect, within bounds."""
    w, h = geo.size_m
    return int(min(max_height, max(MIN_HEIGHT, round(width * h / w))))


def px_per_m(geo: MapGeometry, width: float, height: float) -> float:
    w, h = geo.size_m
    return min(width / w, height / h)


def text_px(text: str, size: float = 11.0) -> float:
    """About how wide ``text`` is drawn (CJK characters are square, Latin ones narrower)."""
    return sum(size if ord(ch) > 0x2E7F else 0.6 * size for ch in text)


def fitting_labels(geo: MapGeometry, level: str, lang: str, width: float, height: float,
                   size: float = 11.0) -> pd.DataFrame:
    """Names of ``level``'s units whose shape on screen holds the name (x, y, name)."""
    lab = geo.labels[level]
    names = [geo.unit_name(level, i, lang) for i in range(len(lab))]
    s = px_per_m(geo, width, height)
    fits = [(w * s >= text_px(n, size) + 6) and (h * s >= size + 6)
            for n, w, h in zip(names, lab.w, lab.h)]
    return lab.assign(name=names)[fits][["x", "y", "name"]]


def hotspot_width(geo: MapGeometry, width: float, height: float) -> float:
    """The hotspot outline: thinner where the typical grid is small on screen, so that the
    colours of a dense real district still show."""
    lab = geo.labels["grid"]
    typical = float(np.median(np.minimum(lab.w, lab.h))) * px_per_m(geo, width, height)
    return 1.8 if typical >= 20 else 1.0


def value_text(key: str, v: float, diff: bool, lang: str = "en") -> str:
    """A grid's value in its tooltip, with the unit word in ``lang`` (pp → 个百分点)."""
    if v != v:
        return "–"
    if key in kpi_view.KPI_DEFINITIONS:
        return (kpi_view.fmt_delta(key, v, lang) or "0") if diff else kpi_view.fmt(key, v, lang)
    return f"{v:+,.4g}" if diff else f"{v:,.4g}"


def tooltip_fields(lang: str, title: str) -> list[tuple[str, str]]:
    """(field, title in ``lang``) of a grid's tooltip."""
    return [("t_grid", tr("map_t_grid", lang)), ("t_community", field_label("community", lang)),
            ("t_street", field_label("street", lang)), ("t_value", title),
            ("t_cases", kpi_view.label("cases_filed", lang)), ("t_hotspot", tr("hotspot", lang))]


def grid_records(geo: MapGeometry, frame: pd.DataFrame, key: str, lang: str,
                 diff: bool = False) -> list[dict]:
    """One GeoJSON feature per grid with its value ``v`` (None when undefined) and its tooltip
    texts. ``frame``: one row per grid index (``grid``) with ``value`` and, when known,
    ``cases_filed`` and ``hotspot``."""
    f = frame.set_index("grid").reindex(range(geo.n_grids))
    vals = f["value"].astype(float).to_numpy()
    cases = f["cases_filed"].to_numpy(float) if "cases_filed" in f else np.full(geo.n_grids,
                                                                                 np.nan)
    hot = f["hotspot"].fillna(False).astype(bool).to_numpy() if "hotspot" in f \
        else np.zeros(geo.n_grids, bool)
    comm, street = geo.parents["community"], geo.parents["street"]
    yes, no = tr("yes", lang), tr("no", lang)
    out = []
    for i in range(geo.n_grids):
        v = float(vals[i])
        out.append({"type": "Feature", "geometry": geo.grid_geoms[i],
                    "v": v if math.isfinite(v) else None, "hot": bool(hot[i]),
                    "t_grid": geo.unit_name("grid", i, lang),
                    "t_community": geo.unit_name("community", int(comm[i]), lang),
                    "t_street": geo.unit_name("street", int(street[i]), lang),
                    "t_value": value_text(key, v, diff, lang),
                    "t_cases": "–" if cases[i] != cases[i] else f"{cases[i]:,.0f}",
                    "t_hotspot": yes if hot[i] else no})
    return out


def kpi_title(key: str, lang: str, diff: bool) -> str:
    label = kpi_view.label(key, lang) if key in kpi_view.KPI_DEFINITIONS else field_label(key,
                                                                                          lang)
    u = kpi_view.unit(key)
    if u and u not in ("share", "count", "level"):
        label = f"{label} ({unit_label(u, lang)})"
    return tr("map_change_of", lang, kpi=label) if diff else label


def outline_layers(levels, projection) -> list:
    """Community and street boundaries (named data ``outline_<level>``)."""
    import altair as alt

    out = []
    for level in (lv for lv in ("community", "street") if lv in levels):
        colour, width, dash = OUTLINE_STYLE[level]
        out.append(alt.Chart(alt.Data(name=f"outline_{level}")).mark_geoshape(
            filled=False, stroke=colour, strokeWidth=width,
            **({"strokeDash": dash} if dash else {})).project(**projection))
    return out


def outline_data(geo: MapGeometry, levels) -> dict[str, list[dict]]:
    return {f"outline_{lv}": [{"type": "Feature", "geometry": g} for g in geo.outlines[lv]]
            for lv in ("community", "street") if lv in levels}


def label_layers(lab: pd.DataFrame, projection, name: str = "labels") -> list:
    """Names at their units (named data ``name``: x, y, name), on a white halo."""
    import altair as alt

    if lab.empty:
        return []
    enc = {"longitude": "x:Q", "latitude": "y:Q", "text": "name:N"}
    data = alt.Data(name=name)
    return [alt.Chart(data).mark_text(fontSize=11, fontWeight="bold", color="#111111",
                                      stroke="white", strokeWidth=3, strokeOpacity=0.85,
                                      strokeJoin="round").encode(**enc).project(**projection),
            alt.Chart(data).mark_text(fontSize=11, fontWeight="bold", color="#111111").encode(
                **enc).project(**projection)]


def projection() -> dict:
    """Identity projection, y up: the geometry's metres as they are."""
    return {"type": "identity", "reflectY": True}


def with_data(chart, datasets: dict[str, Any]) -> dict:
    """The chart's Vega-Lite spec with its named data filled in, drawn with
    ``st.vega_lite_chart`` and exported by vl-convert as it is. Altair's schema validation (a
    third of a second per map, seconds with the polygons inline) is left to the tests, which
    validate every kind of map this module and ``map_drill`` build."""
    spec = chart.to_dict(validate=False)
    spec.setdefault("datasets", {}).update(datasets)
    spec["usermeta"] = {"embedOptions": {"renderer": "svg"}}   # crisp lines, paths to measure
    return spec


def grid_map(geo: MapGeometry, frame: pd.DataFrame, key: str, lang: str, *, diff: bool = False,
             domain: tuple[float, float] | None = None, outlines=(), names: bool = True,
             height: int | None = None, width: float = WIDTH_HINT,
             title: str | None = None, legend_at: str = "right") -> dict:
    """The grids filled by ``frame.value`` (``key``'s value or, with ``diff``, its change),
    hotspots outlined, ``outlines`` (community, street) drawn over them, names where they fit;
    a Vega-Lite spec as a dict, as wide as its container. ``domain``: the colour domain shared
    by the maps shown together (else this map's own)."""
    import altair as alt

    height = height or map_height(geo, width)
    title = title or kpi_title(key, lang, diff)
    if domain is None:
        if diff:
            m = change_extent(key, frame["value"])
            domain = (-m, m)
        else:
            domain = kpi_domain(key, frame["value"])
    proj = projection()
    tips = [alt.Tooltip(f"{f}:N", title=t) for f, t in tooltip_fields(lang, title)]
    data = alt.Data(name="grids")
    base = alt.Chart(data).mark_geoshape(fill=NO_DATA, stroke=BORDER, strokeWidth=0.8).encode(
        tooltip=tips).project(**proj)
    fill = alt.Chart(data).transform_filter("isValid(datum.v)").mark_geoshape(
        stroke=BORDER, strokeWidth=0.8).encode(
        color=alt.Color("v:Q", title=title, scale=colour_scale(key, diff, domain),
                        legend=alt.Legend(**legend(key, diff, legend_at, height, lang))),
        tooltip=tips).project(**proj)
    hot = alt.Chart(data).transform_filter("datum.hot").mark_geoshape(
        filled=False, stroke=HOTSPOT, strokeWidth=hotspot_width(geo, width, height)).encode(
        tooltip=tips).project(**proj)
    layers = [base, fill, hot] + outline_layers(outlines, proj)
    datasets: dict[str, Any] = {"grids": grid_records(geo, frame, key, lang, diff),
                                **outline_data(geo, outlines)}
    if names:
        level = next((lv for lv in ("community", "street") if lv in outlines), "grid")
        lab = fitting_labels(geo, level, lang, width, height)
        layers += label_layers(lab, proj)
        datasets["labels"] = lab.to_dict("records")
    return with_data(alt.layer(*layers).properties(height=height, width="container"), datasets)


def grid_kpis(results) -> pd.DataFrame:
    """Per-grid KPIs (``sim.metrics.per_grid_kpis``, the run's own formulas) averaged over the
    runs of one scenario at several seeds (grid by grid), with each grid's attributes."""
    from sim.metrics import KPI_DEFINITIONS, case_kpis, per_grid_kpis

    first = results[0]
    keys = tuple(k for k in case_kpis(first.cases.iloc[0:0], 0, 1) if k in KPI_DEFINITIONS)
    frames = [per_grid_kpis(r.cases, len(r.grids), r.context.warmup_h, r.context.end_h,
                            keys=keys) for r in results]
    mean = pd.concat(frames).groupby("grid", sort=True).mean(numeric_only=True).reset_index()
    return first.grids.drop(columns=[k for k in keys if k in first.grids]).merge(
        mean, on="grid", how="left")


#: grid attributes that may colour the map after the per-grid KPIs
GRID_ATTRS = ("households", "population", "area_km2", "difficulty", "resident_propensity")


def map_options(frame: pd.DataFrame) -> list[str]:
    """KPIs with a value in at least one grid, in the catalogue's order, then the grids'
    attributes."""
    return [k for k in (*kpi_view.KPI_DEFINITIONS, *GRID_ATTRS)
            if k in frame and np.isfinite(frame[k].to_numpy(float)).any()]


def shown_frame(values: pd.DataFrame, key: str, base: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """grid, value (or its change from ``base``, grid by grid), cases_filed, hotspot."""
    v = values[key].astype(float).to_numpy()
    if base is not None:
        v = v - base.set_index("grid")[key].reindex(values["grid"]).astype(float).to_numpy()
    out = pd.DataFrame({"grid": values["grid"].to_numpy(), "value": v})
    for c in ("cases_filed", "hotspot"):
        if c in values:
            out[c] = values[c].to_numpy()
    return out


def same_grids(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two runs cut the city into the same grids (a change grid by grid means
    something): same count, and the same community and street of each grid."""
    cols = [c for c in ("grid", "community", "street", "x_km", "y_km") if c in a and c in b]
    return len(a) == len(b) and a[cols].reset_index(drop=True).equals(
        b[cols].reset_index(drop=True))


def export_spec(spec: dict, width: int = 900) -> dict:
    """The spec with a fixed width (vl-convert has no container to fill)."""
    spec = {**spec, "width": width}
    spec["config"] = {**spec.get("config", {}), "background": "white"}
    return spec


def to_png(chart, width: int = 900, scale: float = 2.0) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_png(export_spec(chart, width), scale=scale)


def to_svg(chart, width: int = 900) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(export_spec(chart, width)).encode("utf-8")
