"""``gridsim report``: tables on the console, CSV/Parquet exports and a self-contained HTML page.

The HTML report embeds plotly.js (no network needed to open it) and shows: the mean and 95% CI
of each KPI by design point (a line for one factor, a response surface over the first two
factors of a factorial, main-effect scatters for sampling designs); the cost versus on-time
trade-off with its Pareto frontier; paired differences under common random numbers; Sobol or
Morris indices; the provenance of the runs.
"""

from __future__ import annotations

import html
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiment.analysis import morris_indices, paired_differences, sobol_indices, summarize
from sim.experiment.design import design_seed
from sim.experiment.optreport import extra_figures, print_extras, report_extras
from sim.experiment.spec import ResolvedExperiment
from sim.experiment.store import ResultsStore
from sim.metrics import KPI_DEFINITIONS

COST, ON_TIME = "monthly_staff_cost", "on_time_rate"


@dataclass
class ReportData:
    exp: ResolvedExperiment
    store_path: Path
    points: pd.DataFrame
    kpis: pd.DataFrame
    keys: list[str]
    summary: pd.DataFrame
    differences: pd.DataFrame
    sobol: pd.DataFrame
    morris: pd.DataFrame
    runs: pd.DataFrame
    sessions: pd.DataFrame
    series: pd.DataFrame  # kept time series: mean over ok replications per point and time
    extras: dict = field(default_factory=dict)  # optimisation answer, discoveries (optreport)

    @property
    def factors(self) -> list[str]:
        return self.exp.factor_names


def label(key: str) -> str:
    en, zh, unit, _ = KPI_DEFINITIONS[key]
    return f"{en} {zh}" + ("" if unit in ("count", "share") else f" ({unit})")


def build_report(store: ResultsStore, keys: list[str] | None = None,
                 pairs: list[tuple[int, int]] | None = None, reference: int | None = None
                 ) -> ReportData:
    """Compute every table of the report from the store."""
    exp = store.experiment()
    points = store.points()
    kp = store.kpis()
    keys = [k for k in (keys or list(exp.spec.kpis)) if k in kp.columns]
    summary = summarize(kp, keys) if len(kp) else summarize(
        pd.DataFrame(columns=["point_id", "replication", *keys]), keys)
    ids = points.point_id.tolist()
    if pairs is None:
        ref = ids[0] if reference is None and ids else reference
        pairs = [(ref, p) for p in ids if p != ref] if ref is not None and \
            (reference is not None or len(ids) <= 12) else []
    diffs = paired_differences(kp, pairs, keys)
    d = exp.spec.design
    seed = design_seed(exp.spec.seed)
    complete = len(kp) and kp.point_id.nunique() == len(points)
    sob = sobol_indices(kp, exp.factor_names, len(points), keys, d.second_order, seed) \
        if d.type == "sobol" and complete else pd.DataFrame()
    mor = morris_indices(kp, np.asarray(points.attrs["x"]), exp.factor_names, keys, d.levels,
                         seed) if d.type == "morris" and complete else pd.DataFrame()
    sessions = store.con.execute("SELECT * FROM sessions ORDER BY session_id").df()
    series = store.con.execute(
        "SELECT t.point_id, t.series, t.t_h, avg(t.value) AS mean FROM timeseries t JOIN runs r "
        "USING (point_id, replication) WHERE r.status = 'ok' GROUP BY ALL ORDER BY ALL").df()
    return ReportData(exp, store.path, points, kp, keys, summary, diffs, sob, mor,
                      store.runs(), sessions, series, report_extras(store, exp))


def wide_summary(data: ReportData) -> pd.DataFrame:
    """One row per point: factor values, n and mean / CI half-width of each KPI."""
    out = data.points.drop(columns=["scenario_hash"]).set_index("point_id")
    cols = {}
    for k in data.keys:
        s = data.summary[data.summary.kpi == k].set_index("point_id")
        cols[f"{k}"] = s["mean"].reindex(out.index)
        cols[f"{k}_ci95"] = s["half_width"].reindex(out.index)
    out = pd.concat([out, pd.DataFrame(cols, index=out.index)], axis=1)
    n = data.kpis.groupby("point_id").size() if len(data.kpis) else pd.Series(dtype=int)
    out.insert(len(data.factors), "replications", n.reindex(out.index).fillna(0).astype(int))
    return out.reset_index()


def export_tables(data: ReportData, out_dir: str | Path, fmt: str) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"summary": wide_summary(data), "summary_long": data.summary,
              "differences": data.differences}
    if len(data.sobol):
        tables["sobol"] = data.sobol
        s2 = data.sobol.attrs.get("S2")
        if s2 is not None and len(s2):
            tables["sobol_second_order"] = s2
    if len(data.morris):
        tables["morris"] = data.morris
    written = []
    for name, df in tables.items():
        path = out / f"{name}.{fmt}"
        tmp = path.with_name(path.name + ".partial")
        df.to_parquet(tmp, index=False) if fmt == "parquet" else df.to_csv(tmp, index=False)
        tmp.replace(path)
        written.append(path)
    return written


# ------------------------------------------------------------------------------------ console
def fmt(v: float, key: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    unit = KPI_DEFINITIONS[key][2]
    if unit == "share":
        return f"{100 * v:.1f}%"
    if unit == "yuan":
        return f"¥{v:,.0f}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if unit == "count" else f"{v:.2f}"


def fmt_ci(m: float, hw: float, key: str) -> str:
    try:
        finite = math.isfinite(float(hw))
    except (TypeError, ValueError):
        finite = False
    if not finite:
        return fmt(m, key)
    return f"{fmt(m, key)} ± {fmt(hw, key).lstrip('¥')}"


def _point_label(data: ReportData, pid: int) -> str:
    row = data.points.set_index("point_id").loc[pid]
    return ", ".join(f"{_short(f)}={_val(row[f])}" for f in data.factors)


def _short(path: str) -> str:
    return path.split(".")[-1]


def _val(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def print_report(data: ReportData, console, max_points: int = 40) -> None:
    from sim.experiment.layout import Col, Grid, layout, summary_layout

    width = console.width
    counts = data.runs.status.value_counts().to_dict() if len(data.runs) else {}
    console.print(f"[bold]{data.exp.spec.name}[/] — {data.exp.spec.design.type}, "
                  f"{len(data.points)} points, {counts.get('ok', 0)} runs ok, "
                  f"{counts.get('failed', 0)} failed  ({data.store_path})", highlight=False,
                  soft_wrap=False)
    ws = wide_summary(data)
    shown = ws.head(max_points).to_dict("records")
    point_cols = [Col("point")] + [Col(_short(f)) for f in data.factors] + [Col("n")]
    points = [[str(int(r["point_id"])), *[_val(r[f]) for f in data.factors],
               str(int(r["replications"]))] for r in shown]
    values = [[fmt_ci(r[k], r[f"{k}_ci95"], k) for k in data.keys] for r in shown]
    labels = [f"{KPI_DEFINITIONS[k][0]} {KPI_DEFINITIONS[k][1]}" for k in data.keys]
    console.print(summary_layout("Mean ± 95% CI half-width by design point", point_cols, points,
                                 labels, values, width))
    if len(ws) > max_points:
        console.print(f"… {len(ws) - max_points} more points (export with --csv/--parquet or "
                      "see the HTML report)")
    failed = data.runs[data.runs.status == "failed"] if len(data.runs) else data.runs
    if len(failed):
        g = Grid(f"Failed runs ({len(failed)}; rerun with gridsim sweep … --retry-failed)",
                 [Col("point"), Col("replication"), Col("seed"),
                  Col("error (last line)", figure=False, right=False)])
        for r in failed.head(10).itertuples():
            last = (r.error or "").strip().splitlines()[-1:] or [""]
            g.rows.append([str(r.point_id), str(r.replication), str(r.seed), last[0]])
        console.print(layout(g, width, head=2))
    if len(data.differences):
        g = Grid("Paired differences B − A (common random numbers)",
                 [Col("A"), Col("B"), Col("KPI", figure=False, right=False), Col("n"),
                  Col("B − A"), Col("95% CI"), Col("p (paired t)"), Col("unpaired ±")])
        for _, r in data.differences.iterrows():
            g.rows.append([str(r.point_a), str(r.point_b), KPI_DEFINITIONS[r.kpi][0],
                           str(r.n_pairs), fmt(r.mean_diff, r.kpi),
                           f"[{fmt(r.ci_low, r.kpi)}, {fmt(r.ci_high, r.kpi)}]",
                           "–" if not math.isfinite(r.p_value) else f"{r.p_value:.3g}",
                           fmt(r.unpaired_half_width, r.kpi)])
        console.print(layout(g, width, head=3))
    for name, df, cols in (("Sobol indices (S1 first order, ST total)", data.sobol,
                            ["S1", "S1_conf", "ST", "ST_conf"]),
                           ("Morris screening (per unit of each factor's range)", data.morris,
                            ["mu", "mu_star", "sigma", "mu_star_conf"])):
        if len(df):
            g = Grid(name, [Col("KPI", figure=False, right=False),
                            Col("factor", figure=False, right=False)] + [Col(c) for c in cols])
            for _, r in df.iterrows():
                g.rows.append([KPI_DEFINITIONS[r.kpi][0], r.factor,
                               *[f"{r[c]:.3g}" for c in cols]])
            console.print(layout(g, width, head=2))
    print_extras(data.extras, console)  # optimisation answer, scenario discovery


# --------------------------------------------------------------------------------------- HTML
def _figures(data: ReportData) -> list[tuple[str, object]]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figs: list[tuple[str, object]] = []
    s = data.summary.merge(data.points, on="point_id")
    factors = data.factors
    numeric = [f for f in factors if pd.api.types.is_numeric_dtype(data.points[f])
               and not pd.api.types.is_bool_dtype(data.points[f])]
    factorial = data.exp.spec.design.type == "full_factorial"
    for k in data.keys:
        sk = s[s.kpi == k]
        if sk["mean"].notna().sum() == 0:
            continue
        if factorial and len(factors) >= 2:
            f1, f2 = factors[0], factors[1]
            grid = sk.groupby([f2, f1])["mean"].mean().unstack(f1).reindex(  # design order
                index=list(dict.fromkeys(data.points[f2])),
                columns=list(dict.fromkeys(data.points[f1])))
            fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=[_val(v) for v in grid.columns],
                                       y=[_val(v) for v in grid.index], colorscale="Viridis",
                                       colorbar={"title": KPI_DEFINITIONS[k][0]},
                                       texttemplate="%{z:.3g}"))
            fig.update_layout(title=f"{label(k)} — response surface"
                              + (" (mean over the other factors)" if len(factors) > 2 else ""),
                              xaxis_title=f1, yaxis_title=f2, xaxis_type="category",
                              yaxis_type="category")
        elif len(factors) == 1:
            f1 = factors[0]
            sk = sk.sort_values(f1)
            fig = go.Figure(go.Scatter(x=sk[f1], y=sk["mean"], mode="lines+markers",
                                       error_y={"type": "data", "array": sk["half_width"]},
                                       name="mean ± 95% CI"))
            fig.update_layout(title=label(k), xaxis_title=f1, yaxis_title=KPI_DEFINITIONS[k][0])
        else:
            cols = numeric or factors
            fig = make_subplots(rows=1, cols=len(cols), shared_yaxes=True,
                                subplot_titles=[_short(c) for c in cols])
            for j, c in enumerate(cols, start=1):
                fig.add_trace(go.Scatter(x=sk[c], y=sk["mean"], mode="markers",
                                         error_y={"type": "data", "array": sk["half_width"],
                                                  "thickness": 0.5},
                                         marker={"size": 5}, showlegend=False), row=1, col=j)
            fig.update_layout(title=f"{label(k)} — main effects (one dot per design point)")
        fig.update_layout(height=420, margin={"t": 60})
        figs.append((label(k), fig))
    if COST in data.keys and ON_TIME in data.keys:
        figs.append(("Cost versus on-time closure 成本与按期结案率", _frontier(data, s)))
    if len(data.differences):
        d = data.differences
        k0 = ON_TIME if ON_TIME in d.kpi.values else d.kpi.iloc[0]
        dk = d[d.kpi == k0]
        fig = go.Figure(go.Scatter(
            x=dk.mean_diff, y=[f"{b} − {a}" for a, b in zip(dk.point_a, dk.point_b)],
            mode="markers", error_x={"type": "data", "array": dk.half_width},
            name="paired (CRN)"))
        fig.add_trace(go.Scatter(x=dk.mean_diff, y=[f"{b} − {a}" for a, b in
                                                    zip(dk.point_a, dk.point_b)],
                                 mode="markers", marker={"opacity": 0},
                                 error_x={"type": "data", "array": dk.unpaired_half_width,
                                          "color": "lightgray"}, name="unpaired"))
        fig.add_vline(x=0, line_dash="dot")
        fig.update_layout(title=f"Paired differences of {label(k0)} (95% CI)",
                          xaxis_title="B − A", yaxis_title="points B − A",
                          height=max(300, 28 * len(dk) + 120))
        figs.append(("Paired differences 配对差异", fig))
    for name, g in data.series.groupby("series", sort=False):
        fig = go.Figure()
        for pid, gp in list(g.groupby("point_id"))[:12]:
            fig.add_trace(go.Scatter(x=gp.t_h / 24, y=gp["mean"], mode="lines",
                                     name=f"{pid}: {_point_label(data, int(pid))}"))
        fig.update_layout(title=f"{name} — mean over replications (first 12 points)",
                          xaxis_title="day", yaxis_title=name, height=420)
        figs.append((f"Time series: {name}", fig))
    if len(data.sobol):
        fig = make_subplots(rows=1, cols=1)
        for idx, color in (("S1", "#1f77b4"), ("ST", "#ff7f0e")):
            fig.add_trace(go.Bar(x=[f"{KPI_DEFINITIONS[k][0]} · {_short(f)}" for k, f in
                                    zip(data.sobol.kpi, data.sobol.factor)],
                                 y=data.sobol[idx], name=idx, marker_color=color,
                                 error_y={"type": "data", "array": data.sobol[f"{idx}_conf"]}))
        fig.update_layout(title="Sobol indices (first order S1, total ST) 敏感性指数",
                          barmode="group", height=460)
        figs.append(("Sobol indices", fig))
    if len(data.morris):
        fig = go.Figure()
        for k, g in data.morris.groupby("kpi", sort=False):
            fig.add_trace(go.Scatter(x=g.mu_star, y=g.sigma, mode="markers+text",
                                     text=[_short(f) for f in g.factor], textposition="top center",
                                     name=KPI_DEFINITIONS[k][0]))
        fig.update_layout(title="Morris screening: μ* (importance) vs σ (interactions / "
                                "non-linearity)", xaxis_title="μ*", yaxis_title="σ", height=460)
        figs.append(("Morris screening", fig))
    return figs + extra_figures(data.extras)


def pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (lower cost, higher value)."""
    order = np.lexsort((-value, cost))
    best, front = -np.inf, []
    for i in order:
        if np.isfinite(value[i]) and np.isfinite(cost[i]) and value[i] > best:
            front.append(i)
            best = value[i]
    return np.asarray(front, dtype=int)


def _frontier(data: ReportData, s: pd.DataFrame):
    import plotly.graph_objects as go

    c = s[s.kpi == COST].set_index("point_id")
    v = s[s.kpi == ON_TIME].set_index("point_id")
    ids = c.index.intersection(v.index)
    cost, val = c.loc[ids, "mean"].to_numpy(float), v.loc[ids, "mean"].to_numpy(float)
    text = [f"point {p}: {_point_label(data, p)}" for p in ids]
    fig = go.Figure(go.Scatter(x=cost, y=val, mode="markers", text=text, name="design points",
                               error_x={"type": "data", "array": c.loc[ids, "half_width"],
                                        "thickness": 0.5},
                               error_y={"type": "data", "array": v.loc[ids, "half_width"],
                                        "thickness": 0.5}))
    front = pareto_front(cost, val)
    if len(front):
        fig.add_trace(go.Scatter(x=cost[front], y=val[front], mode="lines+markers",
                                 line={"shape": "hv", "color": "crimson"},
                                 text=[text[i] for i in front], name="Pareto frontier"))
    fig.update_layout(title="Trade-off: monthly staff cost vs on-time closure rate",
                      xaxis_title=label(COST), yaxis_title=label(ON_TIME),
                      yaxis_tickformat=".0%", height=480)
    return fig


def write_html(data: ReportData, path: str | Path) -> Path:
    """A self-contained HTML report (plotly.js embedded once)."""
    figs = _figures(data)
    parts = []
    for i, (title, fig) in enumerate(figs):
        parts.append(f"<h2>{html.escape(title)}</h2>"
                     + fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    ws = wide_summary(data)
    for k in data.keys:
        ws[k] = [fmt_ci(m, h, k) for m, h in zip(ws[k], ws[f"{k}_ci95"])]
    ws = ws.drop(columns=[f"{k}_ci95" for k in data.keys]).rename(
        columns={k: f"{KPI_DEFINITIONS[k][0]} {KPI_DEFINITIONS[k][1]}" for k in data.keys})
    counts = data.runs.status.value_counts().to_dict() if len(data.runs) else {}
    prov = {
        "experiment": data.exp.spec.name, "experiment hash": data.exp.hash,
        "design": data.exp.spec.design.type, "points": len(data.points),
        "runs ok": counts.get("ok", 0), "runs failed": counts.get("failed", 0),
        "seed (SeedSequence root)": data.exp.spec.seed,
        "common random numbers": data.exp.spec.common_random_numbers,
        "gridsim versions": ", ".join(sorted(map(str, data.runs.gridsim_version.dropna().unique()))),
        "git revisions": ", ".join(sorted(map(str, data.runs.git_revision.dropna().unique()))),
        "hosts": ", ".join(sorted(map(str, data.runs.host.dropna().unique()))),
        "total run time (s)": f"{data.runs.wall_time_s.sum():.1f}" if len(data.runs) else "0",
        "store": str(data.store_path),
        "report written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    failed = data.runs[data.runs.status == "failed"] if len(data.runs) else data.runs
    fail_html = ""
    if len(failed):
        fail_html = "<h2>Failed runs 失败运行</h2>" + failed[
            ["point_id", "replication", "seed", "error"]].head(50).to_html(index=False)
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(data.exp.spec.name)} — gridsim experiment report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ddd;padding:3px 6px;
text-align:right}}th{{background:#f4f4f4}}h2{{margin-top:2em}}</style></head><body>
<h1>{html.escape(data.exp.spec.name)} <small>实验报告</small></h1>
<p>{html.escape(data.exp.spec.description)}</p>
<p>Means with 95% confidence intervals (Student t over replications). Paired differences use
common random numbers: replication r of every design point ran on the same seed.</p>
{''.join(parts)}
<h2>Summary by design point 各设计点汇总</h2>
{ws.to_html(index=False, na_rep="–")}
{fail_html}
<h2>Provenance 来源</h2>
<table>{''.join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                for k, v in prov.items())}</table>
<details><summary>Experiment specification (as stored)</summary>
<pre>{html.escape(json.dumps(data.exp.stored_spec(), indent=1, ensure_ascii=False)[:200000])}</pre>
</details>
</body></html>
"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(doc, encoding="utf-8")
    tmp.replace(out)
    return out
