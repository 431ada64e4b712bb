"""Page 1 — Scenario lab: pick or upload a scenario, edit its levers, run, read the results."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import kpi_view, limits
from app_pages.common_ui import (
    lever_editor,
    progress_reporter,
    refuse_if_too_large,
    run_with_progress,
    scenario_picker,
    select,
    show_problems,
)
from app_pages.i18n import field_label, tr
from sim.metrics import KPI_DEFINITIONS, case_kpis, per_grid_kpis
from sim.scenario import Scenario, ScenarioError, scenario_with

if TYPE_CHECKING:  # altair and sim.run load when the first results are drawn
    import altair as alt

    from sim.run import RunResult

#: Largest seed a browser number widget can hold exactly (JavaScript's safe integer).
MAX_SEED = 2**53 - 1
#: Grid attributes that may colour the map besides the per-grid KPIs.
_GRID_ATTRS = ("households", "population", "area_km2", "difficulty", "resident_propensity")


def render(lang: str) -> None:
    st.header(tr("page_lab", lang))
    left, right = st.columns([1, 2])
    with left:
        loaded = scenario_picker(lang, "lab")
    if loaded is None:
        return
    with left:
        seed = int(st.number_input(tr("seed", lang), min_value=0, max_value=MAX_SEED,
                                   value=int(loaded.run.seed), step=1,
                                   key=f"lab_seed:{loaded.hash()}"))
    with right:
        st.subheader(tr("levers", lang))
        edits = lever_editor(loaded, lang, "lab")
    try:
        sc = scenario_with(loaded, edits) if edits else loaded
    except ScenarioError as err:
        show_problems(tr("scenario_invalid", lang), str(err).splitlines())
        return
    if refuse_if_too_large(sc, lang):
        return
    if left.button(tr("run", lang), type="primary", key="lab_run"):
        _run(loaded, sc, seed, lang)
    shown = st.session_state.get("lab_result")
    if not shown:
        st.info(tr("run_first", lang))
        return
    if shown["key"] != (sc.hash(), seed, loaded.hash()):
        st.warning(tr("stale", lang))
    _results(shown["scenario"], shown["result"], shown["base"], lang)


def _run(loaded: Scenario, sc: Scenario, seed: int, lang: str) -> None:
    base_ok = loaded is sc or not limits.check_scenario(loaded)
    runs = [sc] if loaded is sc or not base_ok else [loaded, sc]
    for_run, bar = progress_reporter(lang, len(runs))
    results = [run_with_progress(s, seed, for_run(i)) for i, s in enumerate(runs)]
    bar.empty()
    st.session_state["lab_result"] = {
        "key": (sc.hash(), seed, loaded.hash()), "scenario": sc, "result": results[-1],
        "base": results[0] if len(results) == 2 else (results[0] if loaded is sc else None),
    }


def _results(sc: Scenario, res: RunResult, base: RunResult | None, lang: str) -> None:
    m = res.manifest
    st.caption(tr("run_info", lang, grids=m["n_grids"], days=m["days"], warm=m["warmup_days"],
                  seed=m["seed"], inc=m["incidents"], wall=m["wall_time_s"]))
    st.subheader(tr("kpis", lang))
    show_delta = base is not None and base is not res
    keys = [k for k in kpi_view.HEADLINE if k in res.kpis]
    for i, key in enumerate(keys):
        if i % 4 == 0:
            cols = st.columns(4)
        v = res.kpis[key]
        d = v - base.kpis[key] if show_delta else None
        cols[i % 4].metric(kpi_view.label(key, lang), kpi_view.fmt(key, v),
                           delta=kpi_view.fmt_delta(key, d) if show_delta else None,
                           delta_color=kpi_view.delta_color(key),
                           help=KPI_DEFINITIONS[key][3])
    if show_delta:
        st.caption(tr("delta_note", lang))
    with st.expander(tr("all_kpis", lang)):
        st.dataframe(_kpi_table(res, base if show_delta else None, lang), hide_index=True,
                     width="stretch")
    t_ts, t_map, t_util, t_dl = st.tabs([tr("timeseries", lang), tr("map", lang),
                                         tr("utilisation", lang), tr("downloads", lang)])
    with t_ts:
        per_day = st.toggle(tr("per_day", lang), value=True, key="lab_per_day")
        st.altair_chart(_timeseries_chart(res, lang, per_day), width="stretch")
        st.caption(tr("ts_note", lang))
    with t_map:
        _grid_map(res, lang)
    with t_util:
        _utilisation(sc, res, lang)
    with t_dl:
        _downloads(sc, res, lang)


def _kpi_table(res: RunResult, base: RunResult | None, lang: str) -> pd.DataFrame:
    rows = []
    for key in KPI_DEFINITIONS:
        v = res.kpis.get(key, float("nan"))
        if v != v and (base is None or base.kpis.get(key, v) != base.kpis.get(key, v)):
            continue  # undefined here (e.g. emergency KPIs of a run without emergencies)
        row = {tr("kpi", lang): kpi_view.label(key, lang),
               tr("value", lang): kpi_view.fmt(key, res.kpis[key])}
        if base is not None:
            row[tr("loaded", lang)] = kpi_view.fmt(key, base.kpis[key])
            row[tr("change", lang)] = kpi_view.fmt_delta(key, res.kpis[key] - base.kpis[key]) or "–"
        row[tr("unit", lang)] = kpi_view.unit(key)
        rows.append(row)
    return pd.DataFrame(rows)


def timeseries_frame(res: RunResult, lang: str, per_day: bool = False) -> pd.DataFrame:
    """Backlog (open cases at the sample time), reports and closures since the previous sample,
    per collection interval or per day, in long format with time in days."""
    ts = res.timeseries[["t_h", "n_backlog", "cum_reported", "cum_closed"]]
    if per_day:  # the last sample of each day: day d covers (24(d-1), 24d]
        ts = ts.assign(_d=np.ceil(ts["t_h"] / 24.0 - 1e-9)).groupby("_d").last().reset_index()
        ts = ts.assign(t_h=ts["_d"] * 24.0)
    data = {tr("ts_backlog", lang): ts["n_backlog"],
            tr("ts_discoveries", lang): ts["cum_reported"].diff().fillna(ts["cum_reported"]),
            tr("ts_closures", lang): ts["cum_closed"].diff().fillna(ts["cum_closed"])}
    frame = pd.DataFrame({tr("day", lang): ts["t_h"].to_numpy() / 24.0, **data})
    return frame.melt(id_vars=[tr("day", lang)], var_name=tr("series", lang),
                      value_name=tr("count", lang))


def _timeseries_chart(res: RunResult, lang: str, per_day: bool) -> alt.Chart:
    import altair as alt

    df = timeseries_frame(res, lang, per_day)
    day, series, count = tr("day", lang), tr("series", lang), tr("count", lang)
    lines = alt.Chart(df).mark_line(point=per_day).encode(
        x=alt.X(f"{day}:Q"), y=alt.Y(f"{count}:Q"), color=alt.Color(f"{series}:N"),
        tooltip=[day, series, count])
    warm = alt.Chart(pd.DataFrame({"w": [res.context.warmup_h / 24]})).mark_rule(
        strokeDash=[4, 4], color="grey").encode(x=alt.X("w:Q", title=day))
    return (lines + warm).properties(height=320)


def grid_values(res: RunResult) -> pd.DataFrame:
    """One row per basic grid: attributes, coordinates and every per-grid KPI (for the map)."""
    ctx = res.context
    keys = tuple(k for k in case_kpis(res.cases.iloc[0:0], 0, 1) if k in KPI_DEFINITIONS)
    per = per_grid_kpis(res.cases, len(res.grids), ctx.warmup_h, ctx.end_h, keys=keys)
    return res.grids.merge(per, on="grid", how="left")


def map_options(frame: pd.DataFrame) -> list[str]:
    kpis = [k for k in KPI_DEFINITIONS if k in frame.columns]
    extra = [c for c in frame.columns if c not in kpis and c not in (
        "grid", "community", "street", "district", "x_km", "y_km", "col", "row")
        and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    return kpis + [c for c in _GRID_ATTRS if c in extra] + [c for c in extra
                                                             if c not in _GRID_ATTRS]


def _option_label(key: str, lang: str) -> str:
    return kpi_view.label(key, lang) if key in KPI_DEFINITIONS else field_label(key, lang)


def grid_map_chart(frame: pd.DataFrame, key: str, label: str) -> alt.Chart:
    """The basic grids as cells at their coordinates, coloured by ``key``; hotspots outlined."""
    import altair as alt

    from app_pages.maps import cell_layer

    df, enc = cell_layer(frame.assign(_value=frame[key]))
    scheme = "redyellowgreen" if kpi_view.direction(key) == "up" else (
        "yelloworangered" if kpi_view.direction(key) == "down" else "viridis")
    return alt.Chart(df).mark_rect(strokeWidth=2).encode(
        x=enc["x"], x2=enc["x2"], y=enc["y"], y2=enc["y2"],
        color=alt.Color("_value:Q", title=label, scale=alt.Scale(scheme=scheme)),
        stroke=alt.condition("datum.hotspot", alt.value("black"), alt.value(None)),
        tooltip=["grid", "community", "street", "zone", "hotspot",
                 alt.Tooltip("_value:Q", title=label, format=".3~f")],
    ).properties(width=enc["width"], height=enc["height"])


def _grid_map(res: RunResult, lang: str) -> None:
    frame = grid_values(res)
    opts = map_options(frame)
    default = opts.index("cases_open_end") if "cases_open_end" in opts else 0
    key = select(tr("colour_by", lang), opts, "lab_map_kpi", lang, index=default,
                 format_func=lambda k: _option_label(k, lang))
    st.altair_chart(grid_map_chart(frame, key, _option_label(key, lang)), width="content")
    st.caption(tr("map_note", lang))


def utilisation_frame(sc: Scenario, res: RunResult, lang: str) -> pd.DataFrame:
    ctx = res.context
    rows = [{tr("department", lang): tr("grid_workers", lang),
             tr("utilisation_share", lang): res.kpis.get("worker_utilization", float("nan"))}]
    for code, cap in ctx.crew_capacity_h.items():
        dep = sc.departments.get(code)
        name = (dep.label_zh if lang == "zh" else dep.label_en) if dep else code
        rows.append({tr("department", lang): name,
                     tr("utilisation_share", lang): ctx.crew_busy_h.get(code, 0.0) / cap
                     if cap else float("nan")})
    return pd.DataFrame(rows)


def _utilisation(sc: Scenario, res: RunResult, lang: str) -> None:
    df = utilisation_frame(sc, res, lang)
    dep, u = tr("department", lang), tr("utilisation_share", lang)
    import altair as alt

    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X(f"{u}:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        y=alt.Y(f"{dep}:N", sort="-x", axis=alt.Axis(labelLimit=240)),
        tooltip=[dep, alt.Tooltip(f"{u}:Q", format=".1%")])
    text = chart.mark_text(align="left", dx=4).encode(text=alt.Text(f"{u}:Q", format=".1%"))
    st.altair_chart((chart + text).properties(height=40 + 28 * len(df)), width="stretch")


def results_zip(sc: Scenario, res: RunResult) -> bytes:
    """scenario.yaml, kpis.json, manifest.json, timeseries.csv, cases.csv, grids.csv."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("scenario.yaml", sc.to_yaml())
        z.writestr("kpis.json", json.dumps({k: (None if v != v else v) for k, v in res.kpis.items()},
                                           indent=2, ensure_ascii=False))
        z.writestr("manifest.json", json.dumps(res.manifest, indent=2, ensure_ascii=False))
        z.writestr("timeseries.csv", res.timeseries.to_csv(index=False))
        if res.cases is not None:
            z.writestr("cases.csv", res.cases.to_csv(index=False))
        z.writestr("grids.csv", res.grids.to_csv(index=False))
    return buf.getvalue()


def _downloads(sc: Scenario, res: RunResult, lang: str) -> None:
    stem = f"{sc.name}-{res.manifest['seed']}"
    st.download_button(tr("dl_scenario", lang), sc.to_yaml().encode("utf-8"),
                       file_name=f"{sc.name}.yaml", mime="application/x-yaml", key="lab_dl_sc")
    shown = st.session_state.get("lab_result", {})
    if shown.get("result") is res and "zip" not in shown:
        shown["zip"] = results_zip(sc, res)
    data = shown["zip"] if shown.get("result") is res else results_zip(sc, res)
    st.download_button(tr("dl_results", lang), data, file_name=f"{stem}.zip",
                       mime="application/zip", key="lab_dl_res")
