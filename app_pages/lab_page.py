"""Page 1 — Scenario lab: pick or upload a scenario, edit its levers, run at a few seeds, read
each result with its 95% interval and each change against the scenario as loaded as a paired
difference (common random numbers), "no detectable change" when its interval spans zero."""

from __future__ import annotations

import io
import json
import math
import zipfile
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import kpi_view, limits
from app_pages.common_ui import (lever_editor, refuse_if_too_large, run_many, scenario_picker,
                                 show_problems, warn_never_acts)
from app_pages.i18n import tr, unit_label
from app_pages.stats import excludes_zero, fixed, mean_ci, paired_diff
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import Scenario, ScenarioError, scenario_with

if TYPE_CHECKING:  # altair and sim.run load when the first results are drawn
    import altair as alt

    from sim.run import RunResult

#: Largest seed a browser number widget can hold exactly (JavaScript's safe integer).
MAX_SEED = 2**53 - 1
#: Seeds per run by default (a few, so that a change can be told from chance), and at most.
DEFAULT_SEEDS = 3
MAX_LAB_SEEDS = 10


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
                                   key=f"lab_seed:{loaded.hash()}", persist_state="session"))
        reps = int(st.number_input(tr("lab_reps", lang), min_value=1, max_value=MAX_LAB_SEEDS,
                                   value=DEFAULT_SEEDS, step=1, key="lab_reps",
                                   help=tr("lab_reps_help", lang), persist_state="session"))
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
    warn_never_acts([("", sc)], lang, left)   # valid, but a periodic policy would never act
    seeds = [seed + i for i in range(reps)]
    runs = [sc] if loaded is sc or limits.check_scenario(loaded) else [loaded, sc]
    problems = limits.check_batch(runs, reps)
    if problems:
        show_problems(tr("too_many", lang), [p.text(lang) for p in problems])
        return
    if left.button(tr("run", lang), type="primary", key="lab_run"):
        _run(loaded, sc, runs, seeds, lang)
    shown = st.session_state.get("lab_result")
    if not shown:
        st.info(tr("run_first", lang))
        return
    if shown["key"] != (sc.hash(), tuple(seeds), loaded.hash()):
        st.warning(tr("stale", lang))
    _results(shown, lang)


def _run(loaded, sc, runs, seeds, lang) -> None:
    pairs = [(s, seed) for s in runs for seed in seeds]
    results = run_many(pairs, lang)
    n = len(seeds)
    res = results[-n:]
    base = results[:n] if len(runs) == 2 else (res if loaded is sc else None)
    st.session_state["lab_result"] = {"key": (sc.hash(), tuple(seeds), loaded.hash()),
                                      "scenario": sc, "loaded": loaded, "seeds": list(seeds),
                                      "results": res, "base": base}


clip_ci = kpi_view.clip_ci


def card(key: str, res: list[dict], base: list[dict] | None, lang: str) -> dict:
    """What the card of ``key`` shows: value, its interval, and the change against the loaded
    scenario (paired by seed) with whether it is detectable. Plain data, tested without UI."""
    vals = [k.get(key, math.nan) for k in res]
    ci = mean_ci(vals)
    lo, hi = clip_ci(key, ci.lo, ci.hi)
    out = {"label": kpi_view.label(key, lang), "value": kpi_view.fmt(key, ci.mean, lang),
           "ci": "" if math.isnan(ci.lo) else tr("ci", lang, lo=kpi_view.fmt(key, lo, lang),
                                                hi=kpi_view.fmt(key, hi, lang)),
           "delta": None, "delta_color": "off", "change": ""}
    if base is None or base is res:
        return out
    d = paired_diff([k.get(key, math.nan) for k in base], vals)
    if d.n == 0:
        return out
    if d.identical:
        out["delta"] = None
        out["change"] = tr("no_change_same", lang)
        return out
    text = kpi_view.fmt_delta(key, d.mean, lang)
    if d.n < 2:
        out.update(delta=text, change=tr("one_seed_change", lang))
    elif fixed(d):
        out.update(delta=text, delta_color=kpi_view.delta_color(key),
                   change=tr("change_fixed", lang))
    elif excludes_zero(d):
        out.update(delta=text, delta_color=kpi_view.delta_color(key),
                   change=tr("change_ci", lang, lo=kpi_view.fmt_delta(key, d.lo, lang),
                             hi=kpi_view.fmt_delta(key, d.hi, lang)))
    else:
        out.update(delta=tr("no_change", lang), change=tr(
            "no_change_ci", lang, d=text, lo=kpi_view.fmt_delta(key, d.lo, lang),
            hi=kpi_view.fmt_delta(key, d.hi, lang)))
    return out


def _results(shown: dict, lang: str) -> None:
    sc, res, base = shown["scenario"], shown["results"], shown["base"]
    seeds = shown["seeds"]
    m = res[0].manifest
    kp = [r.kpis for r in res]
    bp = [r.kpis for r in base] if base is not None and base is not res else None
    st.caption(tr("run_info", lang, grids=m["n_grids"], days=m["days"], warm=m["warmup_days"],
                  seeds=", ".join(map(str, seeds)),
                  inc=round(float(np.mean([r.manifest["incidents"] for r in res]))),
                  inc_w=round(float(np.mean([k.get("incidents_total", 0) for k in kp]))),
                  wall=float(np.mean([r.manifest["wall_time_s"] for r in res]))))
    st.subheader(tr("kpis", lang))
    keys = [k for k in kpi_view.HEADLINE if k in res[0].kpis]
    for i, key in enumerate(keys):
        if i % 4 == 0:
            cols = st.columns(4)
        c = card(key, kp, bp, lang)
        with cols[i % 4]:
            st.metric(c["label"], c["value"], delta=c["delta"], delta_color=c["delta_color"],
                      help=kpi_view.definition(key, lang), border=True,
                      delta_arrow="off" if c["delta_color"] == "off" else "auto")
            st.caption(" · ".join(x for x in (c["ci"], c["change"]) if x) or " ")
    st.caption(tr("seeds_note", lang, n=len(seeds), first=seeds[0], last=seeds[-1])
               if len(seeds) > 1 else tr("single_seed_note", lang))
    with st.expander(tr("all_kpis", lang)):
        st.dataframe(kpi_table(kp, bp, lang), hide_index=True, width="stretch")
    # keyed and tracked, so a toggle or a download inside a tab keeps that tab open
    t_ts, t_map, t_util, t_dl = st.tabs([tr("timeseries", lang), tr("map", lang),
                                         tr("utilisation", lang), tr("downloads", lang)],
                                        key=f"lab_tabs@{lang}", on_change="rerun")
    first_base = base[0] if base is not None and base is not res else None
    with t_ts:
        per_day = st.toggle(tr("per_day", lang), value=True, key="lab_per_day",
                            persist_state="session")
        st.altair_chart(_timeseries_chart(res[0], first_base, lang, per_day), width="stretch")
        st.caption(tr("ts_note", lang) + " " + tr("ts_seed_note", lang, seed=seeds[0]))
    with t_map:
        from app_pages.map_ui import lab_map
        lab_map(sc, res, base if first_base is not None else None, lang)
    with t_util:
        _utilisation(sc, res, lang)
    with t_dl:
        _downloads(shown, lang)


def kpi_table(res: list[dict], base: list[dict] | None, lang: str) -> pd.DataFrame:
    """Every KPI: mean over the seeds and its 95% CI; with a base, its mean and the paired
    change with its CI (KPIs undefined in every run are left out)."""
    rows = []
    for key in KPI_DEFINITIONS:
        vals = [k.get(key, math.nan) for k in res]
        bvals = [k.get(key, math.nan) for k in base] if base is not None else []
        if all(v != v for v in vals + bvals):
            continue  # undefined here (e.g. emergency KPIs of a run without emergencies)
        ci = mean_ci(vals)
        row = {tr("kpi", lang): kpi_view.label(key, lang),
               tr("value", lang): kpi_view.fmt(key, ci.mean, lang),
               tr("ci_col", lang): "–" if math.isnan(ci.lo) else
               "{} – {}".format(*(kpi_view.fmt(key, x, lang) for x in clip_ci(key, ci.lo, ci.hi)))}
        if base is not None:
            d = paired_diff(bvals, vals)
            row[tr("loaded", lang)] = kpi_view.fmt(key, mean_ci(bvals).mean, lang)
            cell = kpi_view.fmt_delta(key, d.mean, lang) or "–"
            if not math.isnan(d.lo) and d.lo != d.hi:
                cell += (f" [{kpi_view.fmt_delta(key, d.lo, lang)}, "
                         f"{kpi_view.fmt_delta(key, d.hi, lang)}]")
                if not excludes_zero(d):
                    cell += " " + tr("no_change", lang)
            row[tr("change", lang)] = cell
        row[tr("unit", lang)] = unit_label(kpi_view.unit(key), lang)
        rows.append(row)
    return pd.DataFrame(rows)


def timeseries_frame(res: RunResult, lang: str, per_day: bool = False,
                     scenario: str = "") -> pd.DataFrame:
    """Backlog (open cases at the sample time), reports and closures since the previous sample,
    per collection interval or per day, in long format with time in days."""
    ts = res.timeseries[["t_h", "n_backlog", "cum_reported", "cum_closed"]]
    if per_day:  # the last sample of each day: day d covers (24(d-1), 24d]
        ts = ts.assign(_d=np.ceil(ts["t_h"] / 24.0 - 1e-9)).groupby("_d").last().reset_index()
        ts = ts.assign(t_h=ts["_d"] * 24.0)
    rep, clo = ("ts_discoveries_day", "ts_closures_day") if per_day else ("ts_discoveries",
                                                                          "ts_closures")
    data = {tr("ts_backlog", lang): ts["n_backlog"],
            tr(rep, lang): ts["cum_reported"].diff().fillna(ts["cum_reported"]),
            tr(clo, lang): ts["cum_closed"].diff().fillna(ts["cum_closed"])}
    frame = pd.DataFrame({tr("day", lang): ts["t_h"].to_numpy() / 24.0, **data})
    out = frame.melt(id_vars=[tr("day", lang)], var_name=tr("series", lang),
                     value_name=tr("count", lang))
    return out.assign(**{tr("ts_scenario", lang): scenario}) if scenario else out


#: backlog, reports, closures: one colour each in both languages (Okabe–Ito, colour-blind safe)
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73")


def _timeseries_chart(res: RunResult, base: RunResult | None, lang: str,
                      per_day: bool) -> alt.Chart:
    import altair as alt

    scen = tr("ts_scenario", lang)
    # the legend's symbol of a dash pattern is not drawn: its labels say which line is which
    parts = [timeseries_frame(res, lang, per_day, tr("ts_changed_solid", lang) if base else
                              tr("loaded", lang))]
    if base is not None:
        parts.insert(0, timeseries_frame(base, lang, per_day, tr("ts_loaded_dashed", lang)))
    df = pd.concat(parts, ignore_index=True)
    day, series, count = tr("day", lang), tr("series", lang), tr("count", lang)
    names = list(dict.fromkeys(df[scen]))
    rep, clo = ("ts_discoveries_day", "ts_closures_day") if per_day else ("ts_discoveries",
                                                                          "ts_closures")
    order = [tr("ts_backlog", lang), tr(rep, lang), tr(clo, lang)]
    lines = alt.Chart(df).mark_line(point=per_day).encode(
        x=alt.X(f"{day}:Q", axis=alt.Axis(tickMinStep=1)), y=alt.Y(f"{count}:Q"),
        color=alt.Color(f"{series}:N", scale=alt.Scale(domain=order, range=list(SERIES_COLOURS)),
                        legend=alt.Legend(orient="bottom", labelLimit=320, columns=1)),
        strokeDash=alt.StrokeDash(f"{scen}:N", title=scen, scale=alt.Scale(
            domain=names, range=[[7, 4], [1, 0]] if len(names) == 2 else [[1, 0]]),
            legend=alt.Legend(orient="bottom", symbolStrokeWidth=2.5, symbolSize=700,
                              symbolType="stroke", symbolStrokeColor="#444444")
            if len(names) == 2 else None),
        tooltip=[scen, day, series, count])
    warm = alt.Chart(pd.DataFrame({"w": [res.context.warmup_h / 24]})).mark_rule(
        strokeDash=[4, 4], color="grey").encode(x=alt.X("w:Q", title=day))
    return (lines + warm).properties(height=320)


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


def _utilisation(sc: Scenario, results: list[RunResult], lang: str) -> None:
    """Mean utilisation over the seeds; the axis reaches past 100% when a department works
    beyond its shift hours, with a rule at 100%."""
    frames = [utilisation_frame(sc, r, lang) for r in results]
    dep, u = tr("department", lang), tr("utilisation_share", lang)
    df = pd.concat(frames).groupby(dep, sort=False, as_index=False)[u].mean()
    import altair as alt

    top = max(1.0, float(df[u].max()) * 1.08 if df[u].notna().any() else 1.0)
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X(f"{u}:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, top])),
        y=alt.Y(f"{dep}:N", sort="-x", axis=alt.Axis(labelLimit=240)),
        tooltip=[dep, alt.Tooltip(f"{u}:Q", format=".1%")])
    text = chart.mark_text(align="left", dx=4).encode(text=alt.Text(f"{u}:Q", format=".1%"))
    full = alt.Chart(pd.DataFrame({u: [1.0]})).mark_rule(strokeDash=[4, 3], color="grey"
                                                         ).encode(x=f"{u}:Q")
    st.altair_chart((chart + text + full).properties(height=40 + 28 * len(df)), width="stretch")
    st.caption(tr("util_note", lang, n=len(results)))


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


def download_names(sc: Scenario, edited: bool, seeds: list[int]) -> dict[str, str]:
    """File names that say what each download holds: the scenario as run (``-changed`` when
    levers were edited), one seed's results, the KPI table over the seeds."""
    span = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
    return {"scenario": f"{sc.name}{'-changed' if edited else ''}.yaml",
            "results": f"{sc.name}{'-changed' if edited else ''}-results-seed-{seeds[0]}.zip",
            "kpis": f"{sc.name}{'-changed' if edited else ''}-kpis-seeds-{span}.csv"}


def kpi_download(kp: list[dict], bp: list[dict] | None, lang: str) -> bytes:
    """The KPI table as CSV: headers in ``lang``, each KPI's code kept in its own column."""
    table = kpi_table(kp, bp, lang)
    keys = [k for k in KPI_DEFINITIONS if kpi_view.label(k, lang) in set(table[tr("kpi", lang)])]
    table.insert(1, tr("kpi_code", lang), keys)
    return table.to_csv(index=False).encode("utf-8-sig")   # BOM: spreadsheets read the 中文


def _downloads(shown: dict, lang: str) -> None:
    sc, res, base = shown["scenario"], shown["results"], shown["base"]
    edited = shown["loaded"].hash() != sc.hash()
    names = download_names(sc, edited, shown["seeds"])
    st.download_button(tr("dl_scenario", lang), sc.to_yaml().encode("utf-8"),
                       file_name=names["scenario"], mime="application/x-yaml", key="lab_dl_sc",
                       on_click="ignore")
    if "zip" not in shown:
        shown["zip"] = results_zip(sc, res[0])
    st.download_button(tr("dl_results", lang, seed=shown["seeds"][0]), shown["zip"],
                       file_name=names["results"], mime="application/zip", key="lab_dl_res",
                       on_click="ignore")
    bp = [r.kpis for r in base] if base is not None and base is not res else None
    st.download_button(tr("dl_kpis", lang), kpi_download([r.kpis for r in res], bp, lang),
                       file_name=names["kpis"], mime="text/csv", key=f"lab_dl_kpis@{lang}",
                       on_click="ignore")
