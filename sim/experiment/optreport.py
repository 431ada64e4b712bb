"""The optimisation and discovery sections of ``gridsim report`` (console and HTML).

``report_extras`` is called by ``sim.experiment.report.build_report``: for an optimisation
store it loads the answer (:func:`sim.experiment.optstats.load_answer`) and runs scenario
discovery for every constraint (where it fails); for any store it re-runs the discoveries saved
with ``gridsim discover --save``. ``print_extras`` and ``extra_figures`` show them.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from sim.experiment.discover import Discovery, discover, print_discovery, trajectory_figure
from sim.experiment.optstats import Answer, lever_text, load_answer
from sim.metrics import KPI_DEFINITIONS, format_kpi

SAVED_KEY = "discover_json"


def report_extras(store, exp) -> dict[str, Any]:  # noqa: ANN001
    out: dict[str, Any] = {}
    if getattr(exp.spec, "optimize", None) is not None and store._has_table("trials"):
        ans = load_answer(store)
        out["optimization"] = ans
        out["discoveries"] = [discover(store, c.kpi, "<" if c.op == ">=" else ">", c.bound)
                              for c in ans.opt.constraints]
    for q in json.loads(store.meta().get(SAVED_KEY, "[]")):
        out.setdefault("discoveries", []).append(discover(store, **q))
    return out


def _ci(m: float, hw: float, key: str | None) -> str:
    f = (lambda v: format_kpi(key, v)) if key in KPI_DEFINITIONS else (lambda v: f"{v:,.4g}")
    if not math.isfinite(m):
        return "–"
    if not math.isfinite(hw) or hw == 0:
        return f(m)
    return f"{f(m)} ± {f(hw).lstrip('¥')}"


def _levers(ans: Answer, pid: int) -> str:
    return lever_text(ans.values(pid))


def describe_problem(ans: Answer) -> str:
    o = ans.opt
    objs = "; ".join(f"{x.direction} {x.label}" for x in o.objectives)
    cons = ", ".join(c.label for c in o.constraints) or "no constraints"
    return (f"{objs} subject to {cons} (each at the {100 * o.confidence:g}% one-sided bound "
            f"of the mean over replications)")


def print_answer(ans: Answer, console) -> None:  # noqa: ANN001
    from rich.table import Table

    t = ans.trials
    runs = int(sum(s.n for s in ans.stats.values()))
    console.print(f"[bold]Optimisation[/]: {describe_problem(ans)}", highlight=False,
                  soft_wrap=True)
    console.print(f"{len(t)} trials in {int(t['round'].max()) + 1 if len(t) else 0} rounds, "
                  f"{len(ans.stats)} distinct candidates, {runs} runs used "
                  f"({sum(s.feasible for s in ans.stats.values())} feasible, "
                  f"{sum(s.undecided for s in ans.stats.values())} undecided)", highlight=False)
    if ans.best is None:
        console.print("[red]No candidate meets every constraint with the required "
                      "confidence.[/] Loosen a target, widen the levers or raise "
                      "max_replications.", highlight=False)
        return
    b = ans.stats[ans.best]
    console.print(f"[bold green]Best feasible[/]: point {ans.best} — {_levers(ans, ans.best)} "
                  f"(n={b.n} replications)", highlight=False, soft_wrap=True)
    base = _baseline(ans)
    k = Table(title="Chosen policy" + (" against the baseline (paired, common random numbers)"
                                       if base is not None else ""), title_justify="left")
    for c in ("KPI", "chosen (mean ± 95% CI)", *(["baseline", "chosen − baseline [95% CI]"]
                                                  if base is not None else [])):
        k.add_column(c, justify="left" if c == "KPI" else "right")
    s = ans.summary
    diffs = ans.versus_baseline.set_index("kpi") if len(ans.versus_baseline) else None
    for key in ans.exp.spec.kpis:
        row = s[(s.point_id == ans.best) & (s.kpi == key)]
        if row.empty:
            continue
        cells = [f"{KPI_DEFINITIONS[key][0]} {KPI_DEFINITIONS[key][1]}",
                 _ci(float(row["mean"].iloc[0]), float(row.half_width.iloc[0]), key)]
        if base is not None:
            rb = s[(s.point_id == base) & (s.kpi == key)]
            cells.append(_ci(float(rb["mean"].iloc[0]), float(rb.half_width.iloc[0]), key)
                         if len(rb) else "–")
            if diffs is not None and key in diffs.index:
                d = diffs.loc[key]
                cells.append(f"{_delta(d.mean_diff, key)} [{_delta(d.ci_low, key)}, "
                             f"{_delta(d.ci_high, key)}]")
            else:
                cells.append("–")
        k.add_row(*cells)
    console.print(k)
    if len(ans.binding):
        c = Table(title="Constraints at the chosen policy", title_justify="left")
        for col in ("constraint", "mean", "confidence bound", "slack", "better candidates it "
                    "rules out (alone)", "binding"):
            c.add_column(col, justify="left" if col == "constraint" else "right")
        for r in ans.binding.itertuples():
            key = r.constraint.split()[0]
            c.add_row(r.constraint, format_kpi(key, r.mean), format_kpi(key, r.bound),
                      f"{r.slack:+.4g}", f"{r.rules_out} ({r.rules_out_alone})",
                      "yes" if r.binding else "no")
        console.print(c)
    o = ans.opt.objectives[0]
    if len(ans.runner_ups):
        ru = Table(title=f"Runner-ups (next feasible by {o.label}; paired difference to the "
                         "best)", title_justify="left")
        for col in ("point", "levers", o.label, "difference [95% CI]", "within noise"):
            ru.add_column(col, justify="left" if col == "levers" else "right")
        for r in ans.runner_ups.itertuples():
            ru.add_row(str(r.point_id), _levers(ans, r.point_id), _ci(r.objective, 0, o.kpi),
                       f"{r.difference:+,.4g} [{r.ci_low:+,.4g}, {r.ci_high:+,.4g}]",
                       "yes" if r.within_noise else "no")
        console.print(ru)
    if ans.undecided_better:
        console.print(f"Better candidates whose feasibility is not settled at "
                      f"max_replications={ans.opt.max_replications}: points "
                      + ", ".join(map(str, ans.undecided_better)), highlight=False)
    if len(ans.opt.objectives) > 1 and ans.front:
        f = Table(title="Pareto front (feasible, non-dominated)", title_justify="left")
        f.add_column("point", justify="right")
        f.add_column("levers")
        for x in ans.opt.objectives:
            f.add_column(x.label, justify="right")
        for pid in ans.front:
            st = ans.stats[pid]
            f.add_row(str(pid), _levers(ans, pid), *[_ci(m, hw, x.kpi) for x, (m, hw) in
                                                     zip(ans.opt.objectives, st.objectives)])
        console.print(f)


def _delta(v: float, key: str) -> str:
    from sim.metrics import format_kpi_delta

    return format_kpi_delta(key, v) or "–"


def _baseline(ans: Answer) -> int | None:
    t = ans.trials
    b = t[t.source == "baseline"] if len(t) else t
    return int(b.point_id.iloc[0]) if len(b) else None


def print_extras(extras: dict[str, Any], console) -> None:  # noqa: ANN001
    if "optimization" in extras:
        print_answer(extras["optimization"], console)
    for d in extras.get("discoveries", []):
        print_discovery(d, console)


# ---------------------------------------------------------------------------------- figures
def answer_figures(ans: Answer) -> list[tuple[str, object]]:
    import plotly.graph_objects as go

    figs: list[tuple[str, object]] = []
    o = ans.opt.objectives[0]
    t = ans.trials.copy()
    if len(t):
        t["objective"] = [ans.stats[int(p)].objectives[0][0] for p in t.point_id]
        t["status_now"] = [ans.stats[int(p)].status for p in t.point_id]
        fig = go.Figure()
        for status, color in (("feasible", "seagreen"), ("infeasible", "lightgray"),
                              ("undecided", "orange"), ("failed", "crimson")):
            g = t[t.status_now == status]
            if len(g):
                fig.add_trace(go.Scatter(x=g.trial, y=g.objective, mode="markers",
                                         name=status, marker={"color": color},
                                         text=[_levers(ans, int(p)) for p in g.point_id]))
        best, line = None, []
        for r in t.itertuples():
            s = ans.stats[int(r.point_id)]
            if s.feasible and (best is None or o.sign * s.objectives[0][0] < o.sign * best):
                best = s.objectives[0][0]
            line.append(best)
        fig.add_trace(go.Scatter(x=t.trial, y=line, mode="lines", line={"shape": "hv"},
                                 name="best feasible so far"))
        fig.update_layout(title=f"Trials over time: {o.label}", xaxis_title="trial",
                          yaxis_title=o.label, height=420)
        figs.append(("Optimisation: trials over time 优化过程", fig))
    y_key = ans.opt.objectives[1].label if len(ans.opt.objectives) > 1 else (
        ans.opt.constraints[0].kpi if ans.opt.constraints else None)
    if y_key is not None:
        pts = list(ans.stats.values())
        if len(ans.opt.objectives) > 1:
            ys = [s.objectives[1][0] for s in pts]
        else:
            ys = [s.constraints[0].mean for s in pts]
        fig = go.Figure(go.Scatter(x=[s.objectives[0][0] for s in pts], y=ys, mode="markers",
                                   text=[f"point {s.point_id}: {_levers(ans, s.point_id)} "
                                         f"({s.status})" for s in pts],
                                   marker={"color": ["seagreen" if s.feasible else "lightgray"
                                                     for s in pts]}, name="candidates"))
        front = ans.front if len(ans.opt.objectives) > 1 else [
            s.point_id for s in _cost_front(pts, ans)]
        if front:
            fig.add_trace(go.Scatter(x=[ans.stats[p].objectives[0][0] for p in front],
                                     y=[ys[[s.point_id for s in pts].index(p)] for p in front],
                                     mode="lines+markers", line={"shape": "hv",
                                                                  "color": "crimson"},
                                     name="front (feasible)"))
        if len(ans.opt.objectives) == 1:
            fig.add_hline(y=ans.opt.constraints[0].bound, line_dash="dot",
                          annotation_text=ans.opt.constraints[0].label)
        fig.update_layout(title=f"Candidates: {o.label} vs {y_key}", xaxis_title=o.label,
                          yaxis_title=y_key, height=440)
        figs.append(("Optimisation: front 前沿", fig))
    if len(ans.versus_baseline):
        d = ans.versus_baseline
        fig = go.Figure(go.Scatter(x=d.mean_diff, y=d.kpi, mode="markers",
                                   error_x={"type": "data", "array": d.half_width}))
        fig.add_vline(x=0, line_dash="dot")
        fig.update_layout(title="Chosen policy − baseline, paired 95% CI (common random numbers)",
                          height=max(300, 26 * len(d) + 120))
        figs.append(("Optimisation: chosen vs baseline 方案对比", fig))
    return figs


def _cost_front(pts: list, ans: Answer) -> list:
    """Feasible candidates, each better on the first constraint's KPI than every cheaper one."""
    o, c = ans.opt.objectives[0], ans.opt.constraints[0]
    sign_c = 1.0 if c.op == ">=" else -1.0
    out, best = [], -math.inf
    for s in sorted((s for s in pts if s.feasible), key=lambda s: o.sign * s.objectives[0][0]):
        if sign_c * s.constraints[0].mean > best:
            out.append(s)
            best = sign_c * s.constraints[0].mean
    return out


def extra_figures(extras: dict[str, Any]) -> list[tuple[str, object]]:
    figs: list[tuple[str, object]] = []
    if "optimization" in extras:
        figs += answer_figures(extras["optimization"])
    for d in extras.get("discoveries", []):
        if len(d.trajectory):
            figs.append((f"Scenario discovery: where {d.target} 情景发现",
                         trajectory_figure(d)))
    return figs


def discovery_table(d: Discovery) -> pd.DataFrame:
    return pd.DataFrame([{"box": i, "limits": " and ".join(lim.words() for lim in b.limits),
                          "coverage": b.coverage, "density": b.density, "mass": b.mass}
                         for i, b in enumerate(d.boxes, start=1)])
