"""Page 3 — Sweep explorer: open a results store written by ``gridsim sweep`` (DuckDB, see
``sim.experiment.store``), filter design points, plot a KPI against one or two factors, show the
cost versus on-time trade-off frontier and the runs that failed, with their errors; launch a ready
experiment on this server's cores. Stores are opened only inside the results folder
(``app_pages.deploy``); factors are labelled by the schema's names, values formatted."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app_pages import deploy, kpi_view, limits, optimize_view, words
from app_pages.common_ui import scenario_description, scenario_label, select, show_problems
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
    spec: Any = None                # the experiment's spec (labels, descriptions), if readable

    @property
    def kpi_keys(self) -> list[str]:
        return [c for c in self.kpis.columns if c not in ("point_id", "replication")]


def factor_label(path: str, lang: str) -> str:
    """A factor by the schema's names (``words.lever_label``)."""
    return words.lever_label(path, lang)


fmt_value = words.fmt_value


@st.cache_data(show_spinner=False, max_entries=8)
def load_store(path: str, mtime: float) -> StoreData:
    """Read a store once per modification time (``mtime`` is part of the cache key)."""
    from sim.experiment.store import ResultsStore

    with ResultsStore(path, read_only=True) as s:
        meta = s.meta()
        factors = json.loads(meta.get("factors", "[]"))
        try:
            spec = s.experiment().spec
        except (ScenarioError, ValueError, KeyError):
            spec = None
        return StoreData(name=meta.get("name", Path(path).stem), factors=factors,
                         points=s.points(), runs=s.runs(), kpis=s.kpis(), meta=meta, spec=spec)


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
        label = factor_label(f, lang)
        with cols[i % len(cols)]:
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            if numeric and len(uniq) > 12:
                lo, hi = float(min(uniq)), float(max(uniq))
                a, b = st.slider(label, lo, hi, (lo, hi), key=f"sw_f:{f}")
                mask &= values.between(a, b)
            else:
                chosen = st.multiselect(label, uniq, default=uniq, key=f"sw_f:{f}",
                                        format_func=fmt_value)
                mask &= values.isin(chosen)
    return mask


def _axis_format(key: str) -> str:
    return words.axis_format(key)


#: a factor's levels on an axis: plain decimals, never 2.6e+2
FACTOR_FORMAT = ",.4~r"


def _tip_format(key: str) -> str:
    u = kpi_view.unit(key)
    return ".1%" if u == "share" else ",.0f" if u in ("yuan", "count") else ",.2f"


def _kpi_vs_factors(runs_kpi: pd.DataFrame, summary: pd.DataFrame, data: StoreData,
                    key: str, x: str, y: str, lang: str) -> alt.Chart:
    label = kpi_view.label(key, lang)
    fx, fy = _field(x), _field(y)
    tx = factor_label(x, lang)
    factor_tips = [alt.Tooltip(_field(f), title=factor_label(f, lang)) for f in data.factors]
    yfmt, tfmt = _axis_format(key), _tip_format(key)
    n_title = tr("sw_runs_col", lang)
    if y == NONE:
        rows = []
        for xv, g in runs_kpi.groupby(x, sort=True):
            ci = mean_ci(g[key].to_numpy(float))
            lo, hi = clip_ci(key, ci.lo, ci.hi)
            rows.append({fx: xv, "mean": ci.mean, "lo": lo, "hi": hi, "n": ci.n})
        agg = pd.DataFrame(rows)
        typ = "Q" if pd.api.types.is_numeric_dtype(agg[fx]) and agg[fx].nunique() > 2 else "O"
        levels = sorted(agg[fx].dropna().unique().tolist())
        ticks = {"values": levels} if len(levels) <= 12 else {"tickCount": 8}
        enc_x = alt.X(f"{fx}:{typ}", title=tx, axis=alt.Axis(labelAngle=0, format=FACTOR_FORMAT,
                                                             **ticks)
                      if typ == "Q" else alt.Axis(labelAngle=0),
                      scale=alt.Scale(zero=False, padding=16) if typ == "Q" else alt.Undefined)
        tips = [alt.Tooltip(fx, title=tx), alt.Tooltip("mean:Q", title=label, format=tfmt),
                alt.Tooltip("n:Q", title=n_title)]
        line = alt.Chart(agg).mark_line(point=True).encode(
            x=enc_x, y=alt.Y("mean:Q", scale=alt.Scale(zero=False),
                             axis=words.kpi_axis(key, lang)), tooltip=tips)
        band = alt.Chart(agg).mark_errorbar(ticks=True).encode(
            x=enc_x, y=alt.Y("lo:Q", title=words.axis_title(key, lang)), y2="hi:Q")
        dots = alt.Chart(_vl(summary)).mark_circle(opacity=0.35, size=40).encode(
            x=enc_x, y=alt.Y(f"{key}:Q", title=words.axis_title(key, lang)),
            tooltip=[alt.Tooltip("point_id:Q", title=tr("sw_point_col", lang)), *factor_tips,
                     alt.Tooltip(f"{key}:Q", title=label, format=tfmt)])
        return (band + line + dots).properties(height=340)
    agg = _vl(runs_kpi.groupby([x, y], sort=True)[key].mean().reset_index())
    agg[fx] = agg[fx].map(fmt_value)
    agg[fy] = agg[fy].map(fmt_value)
    order_x = [fmt_value(v) for v in sorted(runs_kpi[x].unique())]
    order_y = [fmt_value(v) for v in sorted(runs_kpi[y].unique())]
    base = alt.Chart(agg).encode(x=alt.X(f"{fx}:O", title=tx, sort=order_x,
                                         axis=alt.Axis(labelAngle=0)),
                                 y=alt.Y(f"{fy}:O", title=factor_label(y, lang), sort=order_y))
    share = kpi_view.unit(key) == "share"
    heat = base.mark_rect().encode(
        color=alt.Color(f"{key}:Q", title=words.axis_title(key, lang), legend=alt.Legend(
            format=yfmt, **({"labelExpr": words.axis_label_expr(key)}
                            if words.axis_label_expr(key) else {})),
                        scale=alt.Scale(scheme="viridis" if kpi_view.direction(key) == "up"
                                        else "yelloworangered",   # colour-blind safe
                                        domain=[0, 1] if share else alt.Undefined)),
        tooltip=[alt.Tooltip(fx, title=tx), alt.Tooltip(fy, title=factor_label(y, lang)),
                 alt.Tooltip(f"{key}:Q", title=label, format=tfmt)])
    text = base.mark_text(fontSize=12).encode(text=alt.Text(f"{key}:Q", format=tfmt))
    return (heat + text).properties(height=340)


def frontier_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """Points with both cost and on-time means, flagged when on the Pareto frontier."""
    df = summary.dropna(subset=[COST, ON_TIME]).reset_index(drop=True)
    front = pareto_front(df[COST].to_numpy(float), df[ON_TIME].to_numpy(float))
    return df.assign(on_frontier=df.index.isin(front))


def padded_domain(lo: float, hi: float, share: float = 0.08) -> list[float]:
    """An axis domain with a margin on both sides, so no point sits on the edge."""
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.1
    return [lo - share * span, hi + share * span]


#: colour-blind-safe (Okabe–Ito): the frontier in vermilion, the rest in grey
FRONT_COLOUR, OFF_FRONT_COLOUR = "#D55E00", "#999999"


def _frontier_chart(df: pd.DataFrame, data: StoreData, lang: str) -> alt.Chart:
    tips = [alt.Tooltip("point_id:Q", title=tr("sw_point_col", lang)),
            *[alt.Tooltip(_field(f), title=factor_label(f, lang)) for f in data.factors],
            alt.Tooltip(f"{COST}:Q", title=kpi_view.label(COST, lang), format=",.0f"),
            alt.Tooltip(f"{ON_TIME}:Q", title=kpi_view.label(ON_TIME, lang), format=".1%")]
    lo_y = float(np.nanmin(df[f"{ON_TIME}__lo"].fillna(df[ON_TIME])))
    hi_y = float(np.nanmax(df[f"{ON_TIME}__hi"].fillna(df[ON_TIME])))
    enc = dict(x=alt.X(f"{COST}:Q", axis=words.kpi_axis(COST, lang),
                       scale=alt.Scale(domain=padded_domain(float(df[COST].min()),
                                                            float(df[COST].max())), nice=False)),
               y=alt.Y(f"{ON_TIME}:Q", axis=words.kpi_axis(ON_TIME, lang),
                       scale=alt.Scale(domain=padded_domain(lo_y, hi_y), nice=False)))
    vl = _vl(df).assign(frontier=np.where(df.on_frontier, tr("sw_on_frontier", lang),
                                          tr("sw_off_frontier", lang)))
    pts = alt.Chart(vl).mark_circle(size=80).encode(
        **enc, color=alt.Color("frontier:N", title=tr("sw_frontier_legend", lang),
                               scale=alt.Scale(domain=[tr("sw_on_frontier", lang),
                                                       tr("sw_off_frontier", lang)],
                                               range=[FRONT_COLOUR, OFF_FRONT_COLOUR])),
        tooltip=tips)
    bars = alt.Chart(vl).mark_errorbar(opacity=0.4).encode(
        x=enc["x"], y=alt.Y(f"{ON_TIME}__lo:Q", title=kpi_view.label(ON_TIME, lang)),
        y2=f"{ON_TIME}__hi:Q")
    line = alt.Chart(vl[vl.on_frontier].sort_values(COST)).mark_line(
        interpolate="step-after", color=FRONT_COLOUR).encode(**enc)
    return (bars + line + pts).properties(height=360)


def _store_picker(lang: str) -> Path | None:
    """The store to explore: one found in the results folder, or a path typed inside it."""
    root = deploy.results_root()
    stores = deploy.find_stores(root)
    c1, c2 = st.columns(2)
    options = [deploy.shown(p, root) for p in stores]
    opened = st.session_state.pop("sw_open", None)
    if opened in options:
        st.session_state["sw_store"] = opened
    picked = select(tr("sw_store", lang), options, "sw_store", lang, where=c1) if options else None
    typed = c2.text_input(tr("sw_path", lang), key="sw_path", max_chars=deploy.MAX_PATH_CHARS,
                          persist_state="session").strip()
    st.caption(tr("sw_root", lang, root=deploy.scrub(str(root), root), n=len(stores)))
    text = typed or picked
    if not text:
        st.info(tr("sw_none", lang))
        return None
    try:
        return deploy.resolve_store(text, root)
    except deploy.Refused as err:
        st.error(tr("sw_cannot_open", lang, err=tr(err.key, lang, **err.fmt)))
        return None


def render(lang: str) -> None:
    st.header(tr("page_sweeps", lang))
    st.caption(tr("sw_intro", lang))
    _launcher(lang)
    p = _store_picker(lang)
    if p is None:
        return
    try:
        data = load_store(str(p), p.stat().st_mtime)
    except ScenarioError as err:
        logging.getLogger("gridsim.app").warning("cannot open store %s: %s", p, err)
        st.error(tr("sw_cannot_open", lang, err=deploy.scrub(str(err))))
        return
    _explore(data, lang)
    optimize_view.render(str(p.resolve()), lang)  # optimisation answer, scenario discovery


def _number_columns(keys: list[str], lang: str) -> dict:
    def fmt(k: str) -> str:
        u = kpi_view.unit(k)
        return "percent" if u == "share" else "yen" if u == "yuan" else \
            "localized" if u == "count" else "%.2f"

    return {k: st.column_config.NumberColumn(words.axis_title(k, lang), format=fmt(k))
            for k in keys}


def _factor_columns(data: StoreData, lang: str) -> dict:
    return {"point_id": st.column_config.NumberColumn(tr("sw_point_col", lang), format="%d"),
            "n": st.column_config.NumberColumn(tr("sw_runs_col", lang), format="%d"),
            "replication": st.column_config.NumberColumn(tr("sw_replication_col", lang),
                                                         format="%d"),
            "seed": st.column_config.TextColumn(tr("seed", lang)),
            "error": st.column_config.TextColumn(tr("sw_error_col", lang), width="large"),
            **{f: st.column_config.Column(factor_label(f, lang)) for f in data.factors}}


def _explore(data: StoreData, lang: str) -> None:
    if data.spec is not None:
        st.subheader(scenario_label(data.spec, lang))
        if data.spec.description:
            st.caption(scenario_description(data.spec, lang))
    else:
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
    cols = {**_factor_columns(data, lang), **_number_columns(keys, lang)}
    st.dataframe(_text_factors(summary[["point_id", *data.factors, "n", *keys]], data),
                 hide_index=True, width="stretch", column_config=cols)
    if data.factors and keys:
        c1, c2, c3 = st.columns(3)
        key = select(tr("sw_kpi", lang), keys, "sw_kpi", lang, where=c1,
                     index=keys.index(ON_TIME) if ON_TIME in keys else 0,
                     format_func=lambda k: kpi_view.label(k, lang))
        x = select(tr("sw_x", lang), data.factors, "sw_x", lang, where=c2,
                   format_func=lambda f: factor_label(f, lang))
        y = select(tr("sw_y", lang), [NONE, *[f for f in data.factors if f != x]], "sw_y", lang,
                   where=c3, format_func=lambda f: tr("sw_none_factor", lang) if f == NONE
                   else factor_label(f, lang))
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
            st.dataframe(_text_factors(df[df.on_frontier][["point_id", *data.factors, COST,
                                                            ON_TIME]], data),
                         hide_index=True, width="stretch",
                         column_config={**_factor_columns(data, lang),
                                        **_number_columns([COST, ON_TIME], lang)})
    st.subheader(tr("sw_failed", lang))
    if failed.empty:
        st.success(tr("sw_no_failed", lang))
    else:
        show = failed.merge(pts[["point_id", *data.factors]], on="point_id", how="left")
        show = show.assign(error=show["error"].map(lambda e: deploy.scrub(str(e or ""))),
                           seed=show["seed"].map(str))
        st.dataframe(_text_factors(show[["point_id", "replication", "seed", *data.factors,
                                         "error"]], data),
                     hide_index=True, width="stretch", column_config=_factor_columns(data, lang))


def _text_factors(df: pd.DataFrame, data: StoreData) -> pd.DataFrame:
    """Factor levels as formatted text (640,000 rather than 640000)."""
    return df.assign(**{f: df[f].map(fmt_value) for f in data.factors if f in df.columns})


EXPERIMENT_DIR = ROOT / "experiments"


def ready_experiments() -> list[Path]:
    """The ready sweeps (optimisations choose their own candidates: `gridsim optimize`)."""
    from sim.scenario import read_mapping

    out = []
    for p in sorted(EXPERIMENT_DIR.glob("*.yaml")):
        try:
            data = read_mapping(p)
        except ScenarioError:
            out.append(p)  # the launcher shows its problems
            continue
        design = data.get("design") if isinstance(data, dict) else None
        optimisation = isinstance(data, dict) and data.get("optimize") is not None or (
            isinstance(design, dict) and design.get("type") == "optimize")
        if not optimisation:
            out.append(p)
    return out


class ProgressReporter:
    """``sim.experiment.engine.Reporter`` drawing a Streamlit progress bar."""

    def __init__(self, bar: Any, lang: str):
        self.bar, self.lang = bar, lang
        self.total = self.done = self.failed = 0

    def start(self, total: int, label: str) -> None:
        self.total = total
        self._draw()

    def extend(self, more: int) -> None:
        self.total += more
        self._draw()

    def advance(self, outcome: Any) -> None:
        self.done += 1
        self.failed += outcome.status != "ok"
        self._draw()

    def stop(self) -> None:
        return None

    def _draw(self) -> None:
        frac = self.done / self.total if self.total else 1.0
        self.bar.progress(min(1.0, frac), text=tr("sw_progress", self.lang, i=self.done,
                                                   n=self.total, f=self.failed))


def sweep_plan(exp: Any, replications: int) -> tuple[int, float]:
    """Runs of the experiment at ``replications`` and its estimated grid-days (the base's)."""
    from sim.experiment import design_points

    runs = len(design_points(exp)) * replications
    return runs, runs * limits.grid_count(exp.base.city) * exp.base.run.days


def store_for(exp: Any, root: Path) -> Path:
    return root / "sweeps" / f"{exp.spec.name}.duckdb"


def done_runs(path: Path) -> int:
    if not path.is_file():
        return 0
    from sim.experiment.store import ResultsStore

    with ResultsStore(path, read_only=True) as s:
        return len(s.status())


def _launcher(lang: str) -> None:
    with st.expander(tr("sw_launch", lang), expanded=False):
        files = ready_experiments()
        if not files:
            st.info(tr("sw_no_experiments", lang))
            return
        c1, c2, c3 = st.columns([2, 1, 1])
        pick = select(tr("sw_experiment", lang), files, "sw_exp", lang, where=c1,
                      format_func=lambda p: _experiment_label(p, lang))
        try:
            exp = _load_experiment(str(pick), pick.stat().st_mtime)
        except ScenarioError as err:
            show_problems(tr("scenario_invalid", lang), deploy.scrub(str(err)).splitlines())
            return
        reps = int(c2.number_input(tr("replications", lang), min_value=1, max_value=100,
                                   value=int(exp.spec.replications), step=1,
                                   key=f"sw_reps:{pick.stem}", persist_state="session"))
        backend = select(tr("sw_backend", lang), ["processes", "serial"], "sw_backend", lang,
                         where=c3, format_func=lambda b: tr(f"sw_backend_{b}", lang))
        if exp.spec.description:
            st.caption(scenario_description(exp.spec, lang))
        runs, grid_days = sweep_plan(exp, reps)
        path = store_for(exp, deploy.results_root())
        st.caption(tr("sw_plan", lang, runs=runs, p=runs // reps,
                      factors=", ".join(factor_label(f, lang) for f in exp.factor_names),
                      store=deploy.shown(path)))
        problems = limits.check_sweep(runs, grid_days)
        if problems:
            show_problems(tr("too_many", lang), [p.text(lang) for p in problems] + [
                f"`gridsim sweep experiments/{pick.name}`"])
            return
        if st.button(tr("sw_go", lang), type="primary", key="sw_go"):
            st.session_state["sw_open"] = deploy.shown(_launch(exp, reps, backend, path, lang))


def _launch(exp: Any, reps: int, backend: str, path: Path, lang: str) -> Path:
    from sim.experiment import make_backend, sweep

    path.parent.mkdir(parents=True, exist_ok=True)
    bar = st.progress(0.0, text=tr("sw_progress", lang, i=0, n=0, f=0))
    try:
        from sim.experiment.design import design_points

        if done_runs(path) >= len(design_points(exp)) * reps:
            bar.progress(1.0, text=tr("sw_already", lang))
            return path
        summary = sweep(exp, make_backend(backend), path, replications=reps,
                        reporter=ProgressReporter(bar, lang), command="app")
    finally:
        bar.empty()
    st.success(tr("sw_done", lang, ok=summary.ok, failed=summary.failed,
                  s=summary.elapsed_s, store=deploy.shown(path)))
    return path


def _experiment_label(p: Path, lang: str) -> str:
    try:
        return scenario_label(_load_experiment(str(p), p.stat().st_mtime).spec, lang)
    except (ScenarioError, OSError):
        return p.stem


@st.cache_data(show_spinner=False, max_entries=16)
def _load_experiment(path: str, mtime: float) -> Any:
    from sim.experiment import load_experiment

    return load_experiment(path)
