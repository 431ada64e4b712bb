"""The emergency drill's map, drawn from the city's geometry (plain Altair, no Streamlit).

Layers, bottom up: every grid (light, thin borders); grids a hazard reached earlier; the hazard
now, grid by grid, each hazard on its own scale (its peak so far, so colours do not drift between
frames); grids under a declared response level outlined and labelled with it; the cordon around
the grids of an emergency that grid workers or police hold; stations; each unit's way to its
destination; the units at their positions, coloured by department and shaped by status.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from app_pages.i18n import field_label, tr
from app_pages.map_geo import MapGeometry, turned
from app_pages.maps import BORDER, MAX_HEIGHT, MIN_HEIGHT, projection, with_data

HAZARD_SCHEMES = {"m²": "orangered", "m2": "orangered", "cm": "blues"}
OTHER_SCHEME = "purples"
AFFECTED_COLOUR = "#8d6e63"
LEVEL_COLOUR = "#6a0dad"
CORDON_COLOUR = "#b00020"
GROUND = "#f1f1f1"
GRID_LINE = "#c4c4c4"
#: legends that fit beside the map within its height (seven of them on a fire drill); set on
#: each legend, as the app's chart theme would override a config
COMPACT_LEGENDS = {"labelFontSize": 11, "titleFontSize": 11, "symbolSize": 70, "rowPadding": 1,
                   "titlePadding": 2, "offset": 6, "padding": 0, "labelLimit": 130}
#: the projector layout at 1280×720: the map beside the clock and the cards, all in the window
PROJECTOR_HEIGHT = 420


def cordons(drill: Any) -> list[list[int]]:
    """For each emergency not yet contained whose cordon is up (grid workers or police on
    scene, as the hazard's spread counts it), the grids its hazard covers now."""
    out = []
    for e in drill.manager.emergencies:
        if not np.isnan(e.t_contained) or not (e.workers_on_scene > 0
                                               or e.on_scene.get("police", 0) > 0):
            continue
        h = e.hazard
        if hasattr(h, "depth_cm"):
            grids = [int(g) for g in np.flatnonzero(np.asarray(h.depth_cm) > 0)]
        else:
            grids = [int(g) for g, s in h.s.items() if s > 0]
        if grids:
            out.append(grids)
    return out


def routes(drill: Any) -> pd.DataFrame:
    """Each unit on its way (dispatched or returning): its destination grid."""
    rows = [{"unit": u.id, "to_grid": int(u.grid)} for u in drill.manager.units.values()
            if u.status in ("dispatched", "returning") and u.grid >= 0]
    return pd.DataFrame(rows, columns=["unit", "to_grid"])


def should_turn(geo: MapGeometry) -> bool:
    """A city taller than wide is turned a quarter on a projector (north to the right)."""
    w, h = geo.size_m
    return h > w * 1.05


def drill_height(geo: MapGeometry, width: float, max_height: int = MAX_HEIGHT) -> int:
    w, h = geo.size_m
    return int(min(max_height, max(MIN_HEIGHT, round(width * h / w))))


def _grid_features(geo: MapGeometry, grids: pd.DataFrame, hz: pd.DataFrame, peaks: dict,
                   lang: str) -> list[dict]:
    g = grids.set_index("grid").reindex(range(geo.n_grids))
    now = hz.groupby("grid")["value"].sum() if len(hz) else pd.Series(dtype=float)
    unit_of = hz.groupby("grid")["hz_unit"].first() if len(hz) else pd.Series(dtype=object)
    comm = geo.parents["community"]
    out = []
    for i in range(geo.n_grids):
        v = float(now.get(i, 0.0))
        level = g["level"].iloc[i] if "level" in g else ""
        zone = g["zone"].iloc[i] if "zone" in g else ""
        out.append({"type": "Feature", "geometry": geo.grid_geoms[i],
                    "hz": v if v > 0 else None, "hz_unit": unit_of.get(i, ""),
                    "affected": bool(peaks.get(("grid", i))) and v <= 0,
                    "level": level if isinstance(level, str) else "",
                    "t_grid": geo.unit_name("grid", i, lang),
                    "t_community": geo.unit_name("community", int(comm[i]), lang),
                    "t_zone": field_label(str(zone), lang) if zone == zone and zone else "",
                    "t_stations": g["stations"].iloc[i] if "stations" in g and
                    isinstance(g["stations"].iloc[i], str) else "",
                    "t_hazard": f"{v:,.1f} {unit_of.get(i, '')}".strip() if v > 0 else "–"})
    return out


def _cordon_features(geo: MapGeometry, groups: list[list[int]]) -> list[dict]:
    import shapely

    w, h = geo.size_m
    pad = 0.012 * max(w, h)
    out = []
    for grids in groups:
        shape = shapely.union_all(geo.grid_polys[grids]).buffer(pad, join_style="mitre")
        out.append({"type": "Feature", "geometry": json.loads(shapely.to_geojson(
            shapely.boundary(shape)))})
    return out


def drill_map(geo: MapGeometry, grids: pd.DataFrame, units: pd.DataFrame, hz: pd.DataFrame,
              peaks: dict, depts: tuple[list[str], list[str]],
              status: tuple[list[str], list[str]], lang: str, *,
              stations: list[dict] = (), cordon: list[list[int]] = (),
              way: pd.DataFrame | None = None, turn: bool = False,
              width: float = 640, max_height: int = MAX_HEIGHT) -> dict:
    """The drill's map now, as a Vega-Lite spec as wide as its container. ``grids``: grid,
    zone, level, stations (``drill_page.map_frames``); ``units``: unit, department,
    status_label, station, x_km, y_km; ``hz``: grid, hz_unit, value; ``way``: unit, to_grid."""
    import altair as alt

    if turn:
        geo = turned(geo)
    height = drill_height(geo, width, max_height)
    proj = projection()
    tips = [alt.Tooltip("t_grid:N", title=tr("map_t_grid", lang)),
            alt.Tooltip("t_community:N", title=field_label("community", lang)),
            alt.Tooltip("t_zone:N", title=field_label("zones", lang)),
            alt.Tooltip("level:N", title=tr("dr_level", lang)),
            alt.Tooltip("t_hazard:N", title=tr("dr_hazard", lang)),
            alt.Tooltip("t_stations:N", title=tr("dr_stations", lang))]
    data = alt.Data(name="grids")
    datasets: dict[str, Any] = {"grids": _grid_features(geo, grids, hz, peaks, lang)}
    layers = [alt.Chart(data).mark_geoshape(fill=GROUND, stroke=GRID_LINE, strokeWidth=0.7)
              .encode(tooltip=tips).project(**proj)]
    affected = tr("dr_affected", lang)
    layers.append(alt.Chart(data).transform_filter("datum.affected").transform_calculate(
        what=f"{json.dumps(affected, ensure_ascii=False)}").mark_geoshape(
        opacity=0.6, stroke=BORDER, strokeWidth=0.7).encode(
        color=alt.Color("what:N", title=None, scale=alt.Scale(domain=[affected],
                                                               range=[AFFECTED_COLOUR]),
                        legend=alt.Legend(**COMPACT_LEGENDS, orient="right")), tooltip=tips).project(**proj))
    for u in sorted(hz["hz_unit"].unique()) if len(hz) else []:
        title = f"{tr('dr_hazard', lang)} ({u})" if u else tr("dr_hazard", lang)
        cond = f"datum.hz_unit == {json.dumps(u, ensure_ascii=False)} && isValid(datum.hz)"
        layers.append(alt.Chart(data).transform_filter(cond).mark_geoshape(
            stroke=BORDER, strokeWidth=0.7).encode(
            color=alt.Color("hz:Q", title=title, scale=alt.Scale(
                scheme=HAZARD_SCHEMES.get(u, OTHER_SCHEME),
                domain=[0, max(peaks.get(u, 1.0), 1e-9)], clamp=True),
                legend=alt.Legend(**COMPACT_LEGENDS, format=",.3~g", orient="right", gradientLength=80,
                                  direction="horizontal", titleLimit=220)),
            tooltip=tips).project(**proj))
    layers.append(alt.Chart(data).transform_filter("datum.level != ''").mark_geoshape(
        filled=False, stroke=LEVEL_COLOUR, strokeWidth=3).encode(tooltip=tips).project(**proj))
    if cordon:
        datasets["cordon"] = _cordon_features(geo, list(cordon))
        layers.append(alt.Chart(alt.Data(name="cordon")).mark_geoshape(
            filled=False, stroke=CORDON_COLOUR, strokeWidth=2.5, strokeDash=[6, 4])
            .project(**proj))
    lab = geo.labels["grid"]
    lev = grids[grids["level"].astype(str) != ""] if "level" in grids else grids.iloc[0:0]
    if len(lev):
        datasets["levels"] = [{"x": float(lab.x[g]), "y": float(lab.y[g]), "level": str(lv)}
                              for g, lv in zip(lev.grid, lev.level)]
        layers.append(alt.Chart(alt.Data(name="levels")).mark_text(
            fontWeight="bold", fontSize=14, color="black", stroke="white", strokeWidth=3,
            strokeJoin="round").encode(longitude="x:Q", latitude="y:Q", text="level:N")
            .project(**proj))
        layers.append(alt.Chart(alt.Data(name="levels")).mark_text(
            fontWeight="bold", fontSize=14, color="black").encode(
            longitude="x:Q", latitude="y:Q", text="level:N").project(**proj))
    d_dom, d_rng = depts
    dept_scale = alt.Scale(domain=d_dom, range=d_rng)
    if stations:
        sx, sy = geo.place([s["x_km"] for s in stations], [s["y_km"] for s in stations])
        datasets["stations"] = [
            {"x": float(x), "y": float(y), "department": s["label_zh"] if lang == "zh"
             else s["label_en"], "station": s["station"], "what": tr("map_station", lang)}
            for s, x, y in zip(stations, sx, sy)]
        layers.append(alt.Chart(alt.Data(name="stations")).mark_point(
            shape="square", filled=False, strokeWidth=2.5, opacity=0.9).encode(
            longitude="x:Q", latitude="y:Q",
            color=alt.Color("department:N", scale=dept_scale, legend=None),
            size=alt.Size("what:N", title=None, scale=alt.Scale(
                type="ordinal", domain=[tr("map_station", lang)], range=[300]),
                legend=alt.Legend(**COMPACT_LEGENDS, orient="right", symbolFillColor="transparent",
                                  symbolStrokeColor="#555555", symbolStrokeWidth=2)),
            tooltip=[alt.Tooltip("what:N", title=tr("map_station", lang)),
                     alt.Tooltip("station:N", title=tr("dr_stations", lang)),
                     alt.Tooltip("department:N", title=tr("department", lang))]).project(**proj))
    if not units.empty:
        ux, uy = geo.place(units["x_km"], units["y_km"])
        u = units.assign(x=ux, y=uy)
        if way is not None and len(way):
            w = u.merge(way, on="unit")
            at = grids.set_index("grid")[["x_km", "y_km"]].reindex(w.to_grid)
            tx, ty = geo.place(at.x_km.to_numpy(float), at.y_km.to_numpy(float))
            datasets["way"] = [{"x": float(a), "y": float(b), "x2": float(c), "y2": float(d),
                                "department": dep} for a, b, c, d, dep in
                               zip(w.x, w.y, tx, ty, w.department)]
            layers.append(alt.Chart(alt.Data(name="way")).mark_rule(
                strokeWidth=2, strokeDash=[2, 3], opacity=0.9).encode(
                longitude="x:Q", latitude="y:Q", longitude2="x2:Q", latitude2="y2:Q",
                color=alt.Color("department:N", scale=dept_scale, legend=None)).project(**proj))
        s_dom, s_rng = status
        datasets["units"] = [
            {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in u[["unit", "department", "status_label", "station", "x", "y"]]
            .to_dict("records")]
        layers.append(alt.Chart(alt.Data(name="units")).mark_point(
            filled=True, size=130, opacity=0.95, stroke="white", strokeWidth=1).encode(
            longitude="x:Q", latitude="y:Q",
            color=alt.Color("department:N", title=tr("department", lang), scale=dept_scale,
                            legend=alt.Legend(**COMPACT_LEGENDS, orient="right")),
            shape=alt.Shape("status_label:N", title=tr("dr_status", lang),
                            scale=alt.Scale(domain=s_dom, range=s_rng),
                            legend=alt.Legend(**COMPACT_LEGENDS, orient="right")),
            tooltip=[alt.Tooltip("unit:N", title=tr("dr_unit", lang)),
                     alt.Tooltip("department:N", title=tr("department", lang)),
                     alt.Tooltip("status_label:N", title=tr("dr_status", lang)),
                     alt.Tooltip("station:N", title=tr("dr_stations", lang))]).project(**proj))
    chart = alt.layer(*layers).resolve_scale(color="independent", size="independent")
    chart = chart.properties(width="container", height=height)
    return with_data(chart, datasets)


def drill_spec(drill: Any, geo: MapGeometry, grids: pd.DataFrame, units: pd.DataFrame,
               hz: pd.DataFrame, peaks: dict, depts: tuple[list[str], list[str]],
               status: tuple[list[str], list[str]], lang: str, projector: bool = False
               ) -> tuple[dict, bool]:
    """The drill's map now and whether it is turned (a tall city on the projector)."""
    turn = projector and should_turn(geo)
    return drill_map(geo, grids, units, hz, peaks, depts, status, lang,
                     stations=drill.stations(), cordon=cordons(drill), way=routes(drill),
                     turn=turn, width=820 if projector else 560,
                     max_height=PROJECTOR_HEIGHT if projector else MAX_HEIGHT), turn
