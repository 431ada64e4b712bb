"""Page 3 — Sweep explorer: open a results store written by ``gridsim sweep`` (DuckDB, see
``sim.experiment.store``), filter design points, plot a KPI against one or two factors, show the
cost versus on-time trade-off frontier and the runs that failed, with their errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app_pages import kpi_view, optimize_view
from app_pages.common_ui import select
from app_pages.i18n import tr
from app_pages.stats import mean_ci
from sim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
COST, ON_TIME = "monthly_staff_cost", "on_time_rate"
NONE = "__none__"


@dataclass
class StoreData:
    """What the explorer reads from a store (read-only)."""

    name: str
    factors: list[str]
    points: pd.DataFrame            # point_id, scenario_hash, one column per factor
    runs: pd.DataFrame              # one row per run, with status and error
    kpis: pd.DataFrame              # one row per ok run: point_id, replication, KPI columns
    meta: dict = field(default_factory=dict)

    @property
    def kpi_keys(self) -> list[str]:
        return [c for c in self.kpis.columns if c not in ("point_id", "replication")]


def find_stores() -> list[Path]:
    """Results stores under ``out/`` (where ``gridsim sweep`` writes by default)."""
    found: set[Path] = set()
    for base in {ROOT / "out", Path.cwd() / "out"}:
        if base.is_dir():
            found.update(p.resolve() for p in base.rglob("*.duckdb"))
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


@st.cache_data(show_spinner=False, max_entries=8)
def load_store(path: str, mtime: float) -> StoreData:
    """Read a store once per modification time (``mtime`` is part of the cache key)."""
    from sim.experiment.store import ResultsStore

    with ResultsStore(path, read_only=True) as s:
        meta = s.meta()
        factors = json.loads(meta.get("factors", "[]"))
        return StoreData(name=meta.get("name", Path(path).stem), factors=factors,
                         points=s.points(), runs=s.runs(), kpis=s.kpis(), meta=meta)


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the points that no other point beats on both lower cost and higher value."""
    order = np.lexsort((-value, cost))
    best, front = -np.inf, []
    for i in order:
        if np.isfinite(value[i]) and np.isfinite(cost[i]) and value[i] > best:
            front.append(int(i))
            best = value[i]
    return np.asarray(front, dtype=int)


def point_summary(data: StoreData, keys: list[str]) -> pd.DataFrame:
    """Per design point: its factors, the number of ok runs and each KPI's mean and CI."""
    rows = []
    by_point = dict(tuple(data.kpis.groupby("point_id"))) if len(data.kpis) else {}
    for _, p in data.points.iterrows():
        g = by_point.get(p.point_id)
        row = {"point_id": int(p.point_id), **{f: p[f] for f in data.factors},
               "n": 0 if g is None else len(g)}
        for k in keys:
            ci = mean_ci([] if g is None else g[k].to_numpy(float))
            row[k] = ci.mean
            row[f"{k}__lo"], row[f"{k}__hi"] = clip_ci(k, ci.lo, ci.hi)
        rows.append(row)
    return pd.DataFrame(rows)


def _field(name: str) -> str:
    """A column name Vega-Lite reads literally (a dot would mean a nested field)."""
    return name.replace(".", "·")


def _vl(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={c: _field(c) for c in df.columns if "." in str(c)})


def clip_ci(key: str, lo: float, hi: float) -> tuple[float, float]:
    """A CI clipped to the KPI's range (a share lies in [0, 1]; counts, costs, hours >= 0)."""
    u = kpi_view.unit(key)
    if u == "share":
        return max(0.0, lo), min(1.0, hi)
    if u in ("count", "yuan", "h"):
        return max(0.0, lo), hi
    return lo, hi


def _filters(data: StoreData, lang: str) -> pd.Series:
    """Widgets that filter design points by factor value; returns the mask over points."""
    mask = pd.Series(True, index=data.points.index)
    if not data.factors:
        return mask
    st.markdown(f"**{tr('sw_filter', lang)}**")
    cols = st.columns(min(3, len(data.factors)))
    for i, f in enumerate(data.factors):
        values = data.points[f]
        uniq = sorted(values.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
        with cols[i % len(cols)]:
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            if numeric and len(uniq) > 12:
                lo, hi = float(min(uniq)), float(max(uniq))
                a, b = st.slider(f, lo, hi, (lo, hi), key=f"sw_f:{f}")
                mask &= values.between(a, b)
            else:
                chosen = st.multiselect(f, uniq, default=uniq, key=f"sw_f:{f}")
                mask &= values.isin(chosen)
    return mask


def _kpi_vs_factors(runs_kpi: pd.DataFrame, summary: pd.DataFrame, data: StoreData,
                    key: str, x: str, y: str, lang: str) -> alt.Chart:
    label = kpi_view.label(key, lang)
    fx, fy = _field(x), _field(y)
    factor_tips = [alt.Tooltip(_field(f), title=f) for f in data.factors]
    if y == NONE:
        rows = []
        for xv, g in runs_kpi.groupby(x, sort=True):
            ci = mean_ci(g[key].to_numpy(float))
            lo, hi = clip_ci(key, ci.lo, ci.hi)
            rows.append({fx: xv, "mean": ci.mean, "lo": lo, "hi": hi, "n": ci.n})
        agg = pd.DataFrame(rows)
        typ = "Q" if pd.api.types.is_numeric_dtype(agg[fx]) else "N"
        enc_x = alt.X(f"{fx}:{typ}", title=x, scale=alt.Scale(zero=False) if typ == "Q" else
                      alt.Undefined)
        line = alt.Chart(agg).mark_line(point=True).encode(
            x=enc_x, y=alt.Y("mean:Q", title=label, scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip(fx, title=x), alt.Tooltip("mean:Q", format=".4~g"), "n"])
        band = alt.Chart(agg).mark_errorbar().encode(x=enc_x, y=alt.Y("lo:Q", title=label),
                                                     y2="hi:Q")
        dots = alt.Chart(_vl(summary)).mark_circle(opacity=0.35, size=40).encode(
            x=enc_x, y=alt.Y(f"{key}:Q", title=label),
            tooltip=["point_id", *factor_tips, alt.Tooltip(f"{key}:Q", format=".4~g")])
        return (band + line + dots).properties(height=340)
    agg = _vl(runs_kpi.groupby([x, y], sort=True)[key].mean().reset_index())
    base = alt.Chart(agg).encode(x=alt.X(f"{fx}:O", title=x), y=alt.Y(f"{fy}:O", title=y))
    heat = base.mark_rect().encode(
        color=alt.Color(f"{key}:Q", title=label,
                        scale=alt.Scale(scheme="redyellowgreen" if kpi_view.direction(key) == "up"
                                        else "yelloworangered")),
        tooltip=[alt.Tooltip(fx, title=x), alt.Tooltip(fy, title=y),
                 alt.Tooltip(f"{key}:Q", format=".4~g")])
    text = base.mark_text(fontSize=12).encode(text=alt.Text(f"{key}:Q", format=".3~g"))
    return (heat + text).properties(height=340)


def frontier_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """Points with both cost and on-time means, flagged when on the Pareto frontier."""
    df = summary.dropna(subset=[COST, ON_TIME]).reset_index(drop=True)
    front = pareto_front(df[COST].to_numpy(float), df[ON_TIME].to_numpy(float))
    return df.assign(on_frontier=df.index.isin(front))


def _frontier_chart(df: pd.DataFrame, data: StoreData, lang: str) -> alt.Chart:
    tips = ["point_id", *[alt.Tooltip(_field(f), title=f) for f in data.factors],
            alt.Tooltip(f"{COST}:Q", format=",.0f"), alt.Tooltip(f"{ON_TIME}:Q", format=".1%")]
    enc = dict(x=alt.X(f"{COST}:Q", title=kpi_view.label(COST, lang), scale=alt.Scale(zero=False)),
               y=alt.Y(f"{ON_TIME}:Q", title=kpi_view.label(ON_TIME, lang),
                       axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)))
    vl = _vl(df)
    pts = alt.Chart(vl).mark_circle(size=80).encode(
        **enc, color=alt.Color("on_frontier:N", title=tr("sw_on_frontier", lang),
                               scale=alt.Scale(domain=[True, False], range=["crimson", "#8899aa"])),
        tooltip=tips)
    bars = alt.Chart(vl).mark_errorbar(opacity=0.4).encode(
        x=enc["x"], y=alt.Y(f"{ON_TIME}__lo:Q", title=kpi_view.label(ON_TIME, lang)),
        y2=f"{ON_TIME}__hi:Q")
    line = alt.Chart(vl[vl.on_frontier].sort_values(COST)).mark_line(
        interpolate="step-after", color="crimson").encode(**enc)
    return (bars + line + pts).properties(height=360)


def render(lang: str) -> None:
    st.header(tr("page_sweeps", lang))
    st.caption(tr("sw_intro", lang))
    stores = find_stores()
    c1, c2 = st.columns(2)
    options = [str(p) for p in stores]
    picked = c1.selectbox(tr("sw_store", lang), options, key="sw_store",
                          format_func=lambda p: str(Path(p).relative_to(ROOT))
                          if Path(p).is_relative_to(ROOT) else p) if options else None
    typed = c2.text_input(tr("sw_path", lang), key="sw_path").strip()
    path = typed or picked
    if not path:
        st.info(tr("sw_none", lang))
        return
    p = Path(path).expanduser()
    if p.suffix != ".duckdb" or not p.is_file():
        st.error(tr("sw_cannot_open", lang, err=f"{path}: not a .duckdb file"))
        return
    try:
        data = load_store(str(p.resolve()), p.stat().st_mtime)
    except ScenarioError as err:
        st.error(tr("sw_cannot_open", lang, err=str(err)))
        return
    _explore(data, lang)
    optimize_view.render(str(p.resolve()), lang)  # optimisation answer, scenario discovery


def _explore(data: StoreData, lang: str) -> None:
    st.subheader(data.name)
    if data.meta.get("description"):
        st.caption(data.meta["description"])
    mask = _filters(data, lang)
    pts = data.points[mask]
    ids = set(pts.point_id)
    runs = data.runs[data.runs.point_id.isin(ids)]
    kpis = data.kpis[data.kpis.point_id.isin(ids)]
    failed = runs[runs.status != "ok"]
    st.caption(tr("sw_points", lang, n=len(runs), p=len(pts), f=len(failed)))
    if pts.empty:
        st.info(tr("sw_empty", lang))
        return
    keys = data.kpi_keys
    summary = point_summary(StoreData(data.name, data.factors, pts, runs, kpis), keys)
    st.dataframe(summary[["point_id", *data.factors, "n", *keys]], hide_index=True,
                 width="stretch", column_config={k: st.column_config.NumberColumn(
                     kpi_view.label(k, lang), format="percent" if kpi_view.unit(k) == "share"
                     else "%.4g") for k in keys})
    if data.factors and keys:
        c1, c2, c3 = st.columns(3)
        key = select(tr("sw_kpi", lang), keys, "sw_kpi", lang, where=c1,
                     index=keys.index(ON_TIME) if ON_TIME in keys else 0,
                     format_func=lambda k: kpi_view.label(k, lang))
        x = c2.selectbox(tr("sw_x", lang), data.factors, key="sw_x")
        y = select(tr("sw_y", lang), [NONE, *[f for f in data.factors if f != x]], "sw_y", lang,
                   where=c3, format_func=lambda f: tr("sw_none_factor", lang) if f == NONE else f)
        runs_kpi = kpis.merge(pts[["point_id", *data.factors]], on="point_id")
        if not runs_kpi.empty:
            st.altair_chart(_kpi_vs_factors(runs_kpi, summary, data, key, x, y, lang),
                            width="stretch")
    elif not data.factors:
        st.info(tr("sw_no_factors", lang))
    if COST in keys and ON_TIME in keys:
        st.subheader(tr("sw_frontier", lang))
        df = frontier_frame(summary)
        if not df.empty:
            st.altair_chart(_frontier_chart(df, data, lang), width="stretch")
            st.caption(tr("sw_frontier_note", lang))
            st.dataframe(df[df.on_frontier][["point_id", *data.factors, COST, ON_TIME]],
                         hide_index=True, width="stretch", column_config={
                             COST: st.column_config.NumberColumn(kpi_view.label(COST, lang),
                                                                 format="%.0f"),
                             ON_TIME: st.column_config.NumberColumn(kpi_view.label(ON_TIME, lang),
                                                                    format="percent")})
    st.subheader(tr("sw_failed", lang))
    if failed.empty:
        st.success(tr("sw_no_failed", lang))
    else:
        show = failed.merge(pts[["point_id", *data.factors]], on="point_id", how="left")
        st.dataframe(show[["point_id", "replication", "seed", *data.factors, "error"]],
                     hide_index=True, width="stretch")

