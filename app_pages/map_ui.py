"""The maps on the app's pages (Streamlit): the lab's grid map, the compare page's maps of the
variants, and the downloads of both. The charts come from :mod:`app_pages.maps`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from app_pages import kpi_view, maps
from app_pages.common_ui import select
from app_pages.i18n import field_label, tr
from app_pages.map_geo import OUTLINE_LEVELS, MapGeometry, grids_geojson, map_geometry

if TYPE_CHECKING:
    from sim.run import RunResult
    from sim.scenario import Scenario

KEEP = "session"


@st.cache_resource(show_spinner=False, max_entries=8)
def _geometry(city_json: str, seed: int) -> MapGeometry:
    from sim.engine.seeding import Streams
    from sim.scenario import CityConfig
    from sim.world.city import build_city

    return map_geometry(build_city(CityConfig.model_validate_json(city_json),
                                   Streams(seed)["city"]))


def geometry_for(sc: Scenario, seed: int) -> MapGeometry:
    """The map of the city a run of ``sc`` at ``seed`` was played on (the run's own city)."""
    return _geometry(sc.city.model_dump_json(), int(seed))


def drill_geometry(drill: Any) -> MapGeometry:
    """The map of the drill's own city, kept while that city is shown."""
    city = drill.model.city
    kept = st.session_state.get("_map_drill_geo")
    if kept is None or kept[0] is not city:
        kept = (city, map_geometry(city))
        st.session_state["_map_drill_geo"] = kept
    return kept[1]


#: per-grid KPIs are computed grid by grid with the run's own formulas (a few ms per grid and
#: run): the map averages as many seeds as keep that under this many grid-runs (all of the
#: baseline's; one at the app's size limit) and says how many
MAP_GRID_RUNS = 700


def map_seeds(results: list[RunResult]) -> list[RunResult]:
    n = max(1, len(results[0].grids))
    return results[:max(1, min(len(results), MAP_GRID_RUNS // n))]


def _grid_kpis(tag: str, results: list[RunResult]) -> pd.DataFrame:
    """Per-grid KPIs of ``results`` (:func:`map_seeds` of them), kept while they are shown."""
    memo = st.session_state.setdefault("_map_values", {})
    used = map_seeds(results)
    key = (tag, tuple(id(r) for r in used))
    if memo.get(tag, (None,))[0] != key:
        memo[tag] = (key, maps.grid_kpis(used))
    return memo[tag][1]


def _option_label(key: str, lang: str) -> str:
    return maps.kpi_title(key, lang, False)


def _scale_note(key: str, diff: bool, domain: tuple[float, float], lang: str) -> str:
    if diff:
        what = tr("map_scale_neutral" if kpi_view.direction(key) == "none" else "map_scale_diff",
                  lang)
    elif kpi_view.unit(key) == "share":
        what = tr("map_scale_share", lang)
    else:
        what = tr("map_scale_range", lang, lo=kpi_view.fmt(key, domain[0]),
                  hi=kpi_view.fmt(key, domain[1]))
    return tr("map_scale_note", lang, what=what)


def _controls(prefix: str, opts: list[str], lang: str, diff_label: str | None
              ) -> tuple[str, bool, list[str], bool]:
    c1, c2, c3, c4 = st.columns([2.2, 1.6, 1.6, 0.8], vertical_alignment="bottom")
    default = opts.index("on_time_rate") if "on_time_rate" in opts else 0
    key = select(tr("colour_by", lang), opts, f"{prefix}_map_kpi", lang, index=default, where=c1,
                 format_func=lambda k: _option_label(k, lang))
    diff = diff_label is not None and c2.toggle(diff_label, key=f"{prefix}_map_diff",
                                                persist_state=KEEP)
    outlines = c3.pills(tr("map_outlines", lang), list(OUTLINE_LEVELS), selection_mode="multi",
                        format_func=lambda lv: field_label(lv, lang),
                        key=f"{prefix}_map_outlines", persist_state=KEEP) or []
    names = c4.toggle(tr("map_names", lang), value=True, key=f"{prefix}_map_names",
                      persist_state=KEEP)
    return key, bool(diff), list(outlines), bool(names)


def _downloads(chart: Any, geo: MapGeometry, values: pd.DataFrame, stem: str, prefix: str,
               lang: str) -> None:
    c1, c2, c3 = st.columns(3)
    c1.download_button(tr("map_dl_png", lang), lambda: maps.to_png(chart),
                       file_name=f"{stem}.png", mime="image/png", key=f"{prefix}_map_png",
                       on_click="ignore")
    c2.download_button(tr("map_dl_svg", lang), lambda: maps.to_svg(chart),
                       file_name=f"{stem}.svg", mime="image/svg+xml", key=f"{prefix}_map_svg",
                       on_click="ignore")
    keep = [c for c in values.columns if c == "grid" or c in kpi_view.KPI_DEFINITIONS
            or c in maps.GRID_ATTRS or c in ("zone", "hotspot")]
    c3.download_button(tr("map_dl_geojson", lang), lambda: grids_geojson(geo, values[keep]),
                       file_name=f"{stem}-grids.geojson", mime="application/geo+json",
                       key=f"{prefix}_map_geojson", on_click="ignore")


def lab_map(sc: Scenario, results: list[RunResult], base: list[RunResult] | None,
            lang: str) -> None:
    """The lab's map: a KPI per grid (mean over the seeds), or its change from the scenario as
    loaded when the levers changed something."""
    seed = int(results[0].manifest["seed"])
    geo = geometry_for(sc, seed)
    values = _grid_kpis("lab", results)
    opts = maps.map_options(values)
    if not opts:
        return
    key, diff, outlines, names = _controls("lab", opts, lang,
                                           tr("map_diff", lang) if base else None)
    # the loaded scenario's grids: for the change, and for one scale when a KPI has no top
    base_values = _grid_kpis("lab_base", base) if base and (
        diff or kpi_view.unit(key) not in ("share", "level")) else None
    if diff and not maps.same_grids(values, base_values):
        st.info(tr("map_diff_other_grids", lang))
        diff = False
    frame = maps.shown_frame(values, key, base_values if diff else None)
    if diff:
        m = maps.change_extent(key, frame["value"])
        domain = (-m, m)
    else:
        domain = maps.kpi_domain(key, values[key], *(
            [base_values[key]] if base_values is not None and key in base_values else []))
    chart = maps.grid_map(geo, frame, key, lang, diff=diff, domain=domain, outlines=outlines,
                          names=names)
    st.vega_lite_chart(chart, width="stretch")
    st.caption(_scale_note(key, diff, domain, lang) + " "
               + tr("map_mean_note", lang, n=len(map_seeds(results))))
    _downloads(chart, geo, values, f"{sc.name}-{key}{'-change' if diff else ''}", "lab", lang)


def keep_compare_values(scenarios: list[Scenario], seeds: list[int],
                        results: list[RunResult]) -> None:
    """After a comparison: each variant's per-grid KPIs (mean over the seeds) and its map."""
    n = len(seeds)
    used = [map_seeds(results[i * n:(i + 1) * n]) for i in range(len(scenarios))]
    st.session_state["cmp_map"] = {
        "scenarios": scenarios, "seed": seeds[0], "n": min(len(u) for u in used),
        "values": [maps.grid_kpis(u) for u in used]}


def compare_map(names: list[str], lang: str) -> None:
    """The variants side by side on one colour scale, or each variant's change from the
    reference grid by grid."""
    kept = st.session_state.get("cmp_map")
    if not kept or len(kept["values"]) != len(names):
        return
    st.subheader(tr("map_cmp", lang))
    values: list[pd.DataFrame] = kept["values"]
    opts = maps.map_options(values[0])
    if not opts:
        return
    key, diff, outlines, show_names = _controls("cmp", opts, lang,
                                                tr("map_cmp_diff", lang, ref=names[0]))
    same = all(maps.same_grids(values[0], v) for v in values[1:])
    if diff and not same:
        st.info(tr("map_diff_other_grids", lang))
        diff = False
    shown = list(range(1, len(names))) if diff else list(range(len(names)))
    frames = {v: maps.shown_frame(values[v], key, values[0] if diff else None) for v in shown}
    if diff:
        m = maps.change_extent(key, *[f["value"] for f in frames.values()])
        domain = (-m, m)
    else:
        domain = maps.kpi_domain(key, *[f["value"] for f in frames.values()])
    cols = st.columns(len(shown))
    for col, v in zip(cols, shown):
        geo = geometry_for(kept["scenarios"][v], kept["seed"])
        with col:
            st.markdown(f"**{names[v]}**")
            width = maps.WIDTH_HINT / len(shown) * 1.3
            chart = maps.grid_map(geo, frames[v], key, lang, diff=diff, domain=domain,
                                  outlines=outlines, names=show_names, width=width,
                                  height=maps.map_height(geo, width, 360), legend_at="top")
            st.vega_lite_chart(chart, width="stretch")
    st.caption(_scale_note(key, diff, domain, lang) + " "
               + tr("map_mean_note", lang, n=kept["n"]))
