"""The sweep explorer's optimisation and discovery sections (``gridsim optimize`` stores and any
store), in words and in both languages: the problem as a sentence, the chosen policy by its
levers' labels with its KPIs against the baseline (each change in its own unit, as small
multiples), the constraints at the chosen policy, trials over time and the candidates (the same
figures as ``gridsim report``, drawn here with translated axes), and scenario discovery — the
boxes of lever space where a KPI target fails (PRIM or CART, ``sim.experiment.discover``) as
short rule cards."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app_pages import kpi_view, words
from app_pages.i18n import tr

TEXT = {
    "opt_head": ("Optimisation", "优化结果"),
    "opt_problem": ("Problem", "问题"),
    "opt_best": ("Best feasible policy", "满足约束的最优方案"),
    "opt_point": ("design point {p}", "设计点 {p}"),
    "opt_runs": ("{n} runs", "{n} 次运行"),
    "opt_none": ("No candidate meets every constraint with the required confidence.",
                 "没有方案在所要求的置信度下满足全部约束。"),
    "opt_kpis": ("Chosen policy against the baseline (paired, common random numbers)",
                 "所选方案与基准方案对比（配对，共同随机数）"),
    "opt_chosen": ("Chosen policy", "所选方案"),
    "opt_baseline": ("Baseline", "基准方案"),
    "opt_ci_hw": ("± 95% CI", "± 95% 置信区间"),
    "opt_diff": ("Chosen − baseline [95% CI]", "所选 − 基准 [95% 置信区间]"),
    "opt_diff_chart": ("Chosen − baseline, each KPI in its own unit (bar: mean; line: paired "
                       "95% CI; dotted: no change)",
                       "所选 − 基准，各指标按其自身单位（条形：均值；线段：配对 95% 置信区间；虚线：无变化）"),
    "opt_binding": ("Constraints at the chosen policy", "所选方案的约束情况"),
    "opt_constraint": ("Constraint", "约束"),
    "opt_mean": ("Mean", "均值"),
    "opt_bound": ("Confidence bound", "置信界"),
    "opt_slack": ("Room to the target", "距目标的余量"),
    "opt_rules_out": ("Better candidates it rules out", "排除的更优方案数"),
    "opt_rules_out_alone": ("… ruled out by it alone", "… 仅因此约束被排除"),
    "opt_binding_col": ("Binding", "起约束作用"),
    "opt_runner": ("Runner-ups (paired difference to the best)", "次优方案（与最优方案的配对差异）"),
    "opt_objective": ("Objective", "目标值"),
    "opt_difference": ("Difference to the best [95% CI]", "与最优方案之差 [95% 置信区间]"),
    "opt_pairs": ("Pairs", "配对数"),
    "opt_within": ("Within noise", "在随机波动之内"),
    "opt_levers": ("Levers", "杠杆"),
    "opt_trials": ("Trials over time", "优化过程：各次试验"),
    "opt_trial": ("Trial", "试验序号"),
    "opt_status": ("Status", "状态"),
    "opt_best_so_far": ("best feasible so far", "迄今最优可行方案"),
    "opt_feasible": ("feasible", "可行"),
    "opt_infeasible": ("infeasible", "不可行"),
    "opt_undecided": ("undecided", "尚未确定"),
    "opt_failed": ("failed", "运行失败"),
    "opt_front": ("Candidates: {x} against {y}", "候选方案：{x} 与 {y}"),
    "opt_front_line": ("front (feasible)", "前沿（可行）"),
    "opt_target_line": ("target", "目标"),
    "disc_head": ("Scenario discovery", "情景发现"),
    "disc_on": ("Find where a target fails", "查找目标未达成的区域"),
    "disc_kpi": ("KPI whose target may fail", "可能未达标的指标"),
    "disc_side": ("fails when the KPI is", "指标未达标的方向"),
    "disc_below": ("below", "低于"),
    "disc_above": ("above", "高于"),
    "disc_value": ("threshold", "阈值"),
    "disc_value_is": ("Threshold: {v}", "阈值：{v}"),
    "disc_method": ("method", "方法"),
    "disc_prim": ("PRIM (boxes peeled in turn)", "PRIM（逐步剥离）"),
    "disc_cart": ("CART (a decision tree)", "CART（决策树）"),
    "disc_none": ("The target fails nowhere in this store.", "该结果库中目标处处达成。"),
    "disc_found": ("{f} of {n} {cases} fail: {t}.", "{n} {cases}中有 {f} 个未达标：{t}。"),
    "disc_traj": ("PRIM: coverage against density as the box is peeled",
                  "PRIM：剥离过程中的覆盖率与密度"),
    "disc_coverage": ("Coverage (share of all failures in the box)", "覆盖率（框内未达标占全部未达标的比例）"),
    "disc_density": ("Density (share of the box that fails)", "密度（框内未达标的比例）"),
    "disc_restricted": ("Levers restricted", "受限杠杆数"),
}

#: colour-blind-safe (Okabe–Ito) colours of a candidate's status, the same in both languages
STATUS_COLOURS = {"feasible": "#009E73", "infeasible": "#999999", "undecided": "#E69F00",
                  "failed": "#D55E00"}
BEST_COLOUR = "#0072B2"
#: half the axis of a KPI that did not change at all, by unit (a share: ±1 pp)
NO_CHANGE_SPAN = {"share": 0.01, "yuan": 1000.0, "h": 1.0, "min": 1.0, "count": 1.0}


def _t(key: str, lang: str, **fmt: object) -> str:
    en, zh = TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def render(path: str, lang: str) -> None:
    """Show the optimisation answer (optimisation stores) and a discovery panel (any store)."""
    from sim.experiment.store import ResultsStore
    from sim.scenario import ScenarioError

    try:
        with ResultsStore(Path(path), read_only=True) as store:
            exp = store.experiment()
            if exp.spec.optimize is not None and store._has_table("trials"):
                from sim.experiment.optstats import load_answer

                _answer(load_answer(store), lang)
            _discovery(store, lang)
    except ScenarioError as err:  # e.g. a store written by another gridsim version
        st.error(str(err))


# ------------------------------------------------------------------------------- the answer
def versus_table(ans: Any, lang: str) -> pd.DataFrame:
    """Per KPI of the experiment: the chosen policy's mean ± CI, the baseline's, and the paired
    change with its CI — formatted in the KPI's unit, headers in ``lang``."""
    s, d = ans.summary, (ans.versus_baseline.set_index("kpi") if len(ans.versus_baseline)
                         else None)
    base_id = _baseline_id(ans)
    rows = []
    for key in ans.exp.spec.kpis:
        r = s[(s.point_id == ans.best) & (s.kpi == key)] if len(s) else s
        if r.empty:
            continue
        m, hw = float(r["mean"].iloc[0]), float(r.half_width.iloc[0])
        row = {tr("kpi", lang): kpi_view.label(key, lang),
               _t("opt_chosen", lang): words.kpi_value(key, m, lang),
               _t("opt_ci_hw", lang): "" if not math.isfinite(hw) else
               words.kpi_value(key, hw, lang)}
        b = s[(s.point_id == base_id) & (s.kpi == key)] if base_id is not None else s.iloc[0:0]
        if len(b):
            row[_t("opt_baseline", lang)] = words.kpi_value(key, float(b["mean"].iloc[0]), lang)
        if d is not None and key in d.index:
            row[_t("opt_diff", lang)] = (
                f"{words.kpi_delta(key, d.loc[key, 'mean_diff'], lang)} "
                f"[{words.kpi_delta(key, d.loc[key, 'ci_low'], lang)}, "
                f"{words.kpi_delta(key, d.loc[key, 'ci_high'], lang)}]")
        row["key"] = key
        rows.append(row)
    return pd.DataFrame(rows)


def binding_table(ans: Any, lang: str) -> pd.DataFrame:
    """The constraints at the chosen policy, in words and in their units."""
    best = ans.stats[ans.best]
    rows = []
    for cs, (_, b) in zip(best.constraints, ans.binding.iterrows()):
        c = cs.constraint
        rows.append({_t("opt_constraint", lang): words.constraint_words(c, lang),
                     _t("opt_mean", lang): words.kpi_value(c.kpi, cs.mean, lang),
                     _t("opt_bound", lang): words.kpi_value(c.kpi, cs.bound, lang),
                     _t("opt_slack", lang): words.kpi_delta(c.kpi, cs.slack, lang),
                     _t("opt_rules_out", lang): int(b["rules_out"]),
                     _t("opt_rules_out_alone", lang): int(b["rules_out_alone"]),
                     _t("opt_binding_col", lang): tr("yes" if b["binding"] else "no", lang)})
    return pd.DataFrame(rows)


def runner_up_table(ans: Any, lang: str) -> pd.DataFrame:
    o = ans.opt.objectives[0]
    key = o.kpi if o.kpi else ""
    rows = []
    for _, r in ans.runner_ups.iterrows():
        p = int(r.point_id)
        rows.append({tr("sw_point_col", lang): p,
                     _t("opt_levers", lang): words.levers_words(ans.values(p), lang),
                     _t("opt_objective", lang): words.kpi_value(key, float(r.objective), lang),
                     _t("opt_difference", lang):
                     f"{words.kpi_delta(key, float(r.difference), lang)} "
                     f"[{words.kpi_delta(key, float(r.ci_low), lang)}, "
                     f"{words.kpi_delta(key, float(r.ci_high), lang)}]",
                     _t("opt_pairs", lang): int(r.n_pairs),
                     _t("opt_within", lang): tr("yes" if r.within_noise else "no", lang)})
    return pd.DataFrame(rows)


def _baseline_id(ans: Any) -> int | None:
    t = ans.trials
    b = t[t.source == "baseline"] if len(t) else t
    return int(b.point_id.iloc[0]) if len(b) else None


def _answer(ans: Any, lang: str) -> None:
    st.subheader(_t("opt_head", lang))
    st.caption(f"{_t('opt_problem', lang)}: {words.problem_words(ans.opt, lang)}")
    if ans.best is None:
        st.warning(_t("opt_none", lang))
    else:
        b = ans.stats[ans.best]
        st.success(f"{_t('opt_best', lang)} ({_t('opt_point', lang, p=ans.best)}, "
                   f"{_t('opt_runs', lang, n=b.n)}): "
                   f"{words.levers_words(ans.values(ans.best), lang)}")
        table = versus_table(ans, lang)
        st.markdown(f"**{_t('opt_kpis', lang)}**")
        st.dataframe(table.drop(columns="key"), hide_index=True, width="stretch")
        if len(ans.versus_baseline):
            st.caption(_t("opt_diff_chart", lang))
            st.altair_chart(diff_chart(ans.versus_baseline, lang), width="content")
        if len(ans.binding):
            st.markdown(f"**{_t('opt_binding', lang)}**")
            st.dataframe(binding_table(ans, lang), hide_index=True, width="stretch")
        if len(ans.runner_ups):
            st.markdown(f"**{_t('opt_runner', lang)}**")
            st.dataframe(runner_up_table(ans, lang), hide_index=True, width="stretch")
    if len(ans.trials):
        st.markdown(f"**{_t('opt_trials', lang)}**")
        st.altair_chart(trials_chart(ans, lang), width="stretch")
    front = front_chart(ans, lang)
    if front is not None:
        st.altair_chart(front, width="stretch")


# ----------------------------------------------------------------------------------- charts
def diff_chart(d: pd.DataFrame, lang: str, width: int = 190) -> Any:
    """Chosen − baseline as small multiples: one panel per KPI on its own axis and unit, the
    mean as a bar from zero and the paired 95% CI as a line, so cost does not flatten the rest."""
    import altair as alt

    panels = []
    for _, r in d.iterrows():
        key = str(r.kpi)
        row = pd.DataFrame([{"y": 0, "mean": r.mean_diff, "lo": r.ci_low, "hi": r.ci_high,
                             "t_mean": words.kpi_delta(key, r.mean_diff, lang),
                             "t_ci": f"[{words.kpi_delta(key, r.ci_low, lang)}, "
                                     f"{words.kpi_delta(key, r.ci_high, lang)}]"}])
        vals = [v for v in (r.mean_diff, r.ci_low, r.ci_high, 0.0) if math.isfinite(v)]
        lo, hi = min(vals), max(vals)
        # no change at all: a symmetric axis of one "step" of the unit, not ±1e-10
        pad = (hi - lo) * 0.1 if hi > lo else NO_CHANGE_SPAN.get(kpi_view.unit(key), 1.0)
        expr = words.axis_label_expr(key)
        ticks = {"values": [-pad, 0.0, pad]} if hi <= lo else {"tickCount": 3}
        axis = alt.Axis(title=None, format=words.axis_format(key), grid=False, **ticks,
                        **({"labelExpr": expr} if expr else {}))
        scale = alt.Scale(domain=[lo - pad, hi + pad], nice=False)
        x = alt.X("mean:Q", axis=axis, scale=scale)
        tips = [alt.Tooltip("t_mean:N", title=_t("opt_diff", lang).split(" [")[0]),
                alt.Tooltip("t_ci:N", title="95% CI" if lang != "zh" else "95% 置信区间")]
        bar = alt.Chart(row).mark_bar(height=14, color=BEST_COLOUR, opacity=0.7).encode(
            x=x, x2=alt.datum(0), y=alt.Y("y:O", axis=None), tooltip=tips)
        ci = alt.Chart(row).mark_rule(strokeWidth=2, color="black").encode(
            x=alt.X("lo:Q", scale=scale), x2="hi:Q", y=alt.Y("y:O", axis=None), tooltip=tips)
        zero = alt.Chart(pd.DataFrame({"z": [0.0]})).mark_rule(strokeDash=[3, 3],
                                                                color="grey").encode(x="z:Q")
        panels.append((bar + ci + zero).properties(
            width=width, height=34, title=alt.TitleParams(words.axis_title(key, lang),
                                                          fontSize=11, anchor="start")))
    return alt.concat(*panels, columns=3).resolve_scale(x="independent")


def trials_frame(ans: Any, lang: str) -> pd.DataFrame:
    """One row per trial: its objective, status now and the best feasible objective so far."""
    o = ans.opt.objectives[0]
    t = ans.trials.copy()
    t["objective"] = [ans.stats[int(p)].objectives[0][0] for p in t.point_id]
    t["status_key"] = [ans.stats[int(p)].status for p in t.point_id]
    t["status"] = [_t(f"opt_{s}", lang) for s in t.status_key]
    t["levers"] = [words.levers_words(ans.values(int(p)), lang) for p in t.point_id]
    best, line = None, []
    for r in t.itertuples():
        s = ans.stats[int(r.point_id)]
        if s.feasible and (best is None or o.sign * s.objectives[0][0] < o.sign * best):
            best = s.objectives[0][0]
        line.append(best if best is not None else math.nan)
    t["best"] = line
    return t[["trial", "point_id", "objective", "status_key", "status", "levers", "best"]]


def _status_scale(lang: str) -> Any:
    import altair as alt

    keys = list(STATUS_COLOURS)
    return alt.Scale(domain=[_t(f"opt_{k}", lang) for k in keys],
                     range=[STATUS_COLOURS[k] for k in keys])


def trials_chart(ans: Any, lang: str) -> Any:
    import altair as alt

    o = ans.opt.objectives[0]
    key = o.kpi or ""
    t = trials_frame(ans, lang)
    n = int(t.trial.max()) + 1 if len(t) else 1
    x = alt.X("trial:Q", axis=alt.Axis(title=_t("opt_trial", lang), format="d",
                                      tickMinStep=1, tickCount=min(n, 10)))
    y_axis = words.kpi_axis(key, lang) if key else alt.Axis(title=o.label, tickCount=6)
    pts = alt.Chart(t).mark_circle(size=60, opacity=0.85).encode(
        x=x, y=alt.Y("objective:Q", axis=y_axis, scale=alt.Scale(zero=False)),
        color=alt.Color("status:N", title=_t("opt_status", lang), scale=_status_scale(lang)),
        tooltip=[alt.Tooltip("trial:Q", title=_t("opt_trial", lang)),
                 alt.Tooltip("point_id:Q", title=tr("sw_point_col", lang)),
                 alt.Tooltip("status:N", title=_t("opt_status", lang)),
                 alt.Tooltip("levers:N", title=_t("opt_levers", lang))])
    best = t.dropna(subset=["best"]).assign(what=_t("opt_best_so_far", lang))
    line = alt.Chart(best).mark_line(interpolate="step-after", color=BEST_COLOUR).encode(
        x="trial:Q", y="best:Q", strokeDash=alt.StrokeDash(
            "what:N", title=None, legend=alt.Legend(orient="bottom")))
    return (pts + line).properties(height=320)


def front_chart(ans: Any, lang: str) -> Any | None:
    """Candidates: the objective against the first constraint's KPI (or the second
    objective), feasible or not, with the target as a dotted rule."""
    import altair as alt

    o = ans.opt.objectives[0]
    if len(ans.opt.objectives) > 1:
        o2 = ans.opt.objectives[1]
        ykey, ylabel = (o2.kpi or ""), words.objective_name(o2, lang)
        ys = {p: s.objectives[1][0] for p, s in ans.stats.items()}
        bound = None
    elif ans.opt.constraints:
        c = ans.opt.constraints[0]
        ykey, ylabel, bound = c.kpi, words.kpi_name(c.kpi, lang), c.bound
        ys = {p: s.constraints[0].mean for p, s in ans.stats.items()}
    else:
        return None
    xkey = o.kpi or ""
    rows = [{"x": s.objectives[0][0], "y": ys[p], "status": _t(f"opt_{s.status}", lang),
             "point": p, "levers": words.levers_words(ans.values(p), lang)}
            for p, s in ans.stats.items() if math.isfinite(s.objectives[0][0])
            and math.isfinite(ys[p])]
    if not rows:
        return None
    df = pd.DataFrame(rows)
    x = alt.X("x:Q", axis=words.kpi_axis(xkey, lang) if xkey else alt.Axis(title=o.label),
              scale=alt.Scale(zero=False))
    y = alt.Y("y:Q", axis=words.kpi_axis(ykey, lang) if ykey else alt.Axis(title=ylabel),
              scale=alt.Scale(zero=False))
    pts = alt.Chart(df).mark_circle(size=60, opacity=0.85).encode(
        x=x, y=y, color=alt.Color("status:N", title=_t("opt_status", lang),
                                  scale=_status_scale(lang)),
        tooltip=[alt.Tooltip("point:Q", title=tr("sw_point_col", lang)),
                 alt.Tooltip("status:N", title=_t("opt_status", lang)),
                 alt.Tooltip("levers:N", title=_t("opt_levers", lang))])
    layers = [pts]
    if bound is not None:
        layers.append(alt.Chart(pd.DataFrame({"b": [bound]})).mark_rule(
            strokeDash=[4, 4], color="grey").encode(y="b:Q"))
    title = _t("opt_front", lang, x=words.objective_name(o, lang), y=ylabel)
    return alt.layer(*layers).properties(height=320, title=title)


# -------------------------------------------------------------------------------- discovery
def _discovery(store: Any, lang: str) -> None:
    from sim.experiment.discover import discover
    from sim.metrics import KPI_DEFINITIONS

    st.subheader(_t("disc_head", lang))
    if not st.toggle(_t("disc_on", lang), key="disc_on"):
        return
    kp = store.kpis()
    keys = [k for k in kp.columns if k in KPI_DEFINITIONS]
    if not keys:
        return
    c1, c2, c3, c4 = st.columns(4)
    kpi = c1.selectbox(_t("disc_kpi", lang), keys, key=f"disc_kpi@{lang}",
                       index=int(keys.index(st.session_state.get("disc_kpi", "on_time_rate")))
                       if st.session_state.get("disc_kpi", "on_time_rate") in keys else 0,
                       format_func=lambda k: kpi_view.label(k, lang))
    st.session_state["disc_kpi"] = kpi
    side = c2.radio(_t("disc_side", lang), ["<", ">"], key="disc_side", horizontal=True,
                    format_func=lambda s: _t("disc_below" if s == "<" else "disc_above", lang))
    default = float(kp[kpi].median()) if kp[kpi].notna().any() else 0.0
    if st.session_state.get("disc_value_of") != kpi:   # another KPI: start at its median
        st.session_state["disc_value"] = default
        st.session_state["disc_value_of"] = kpi
    value = c3.number_input(_t("disc_value", lang), key="disc_value", format="%.4g")
    c3.caption(_t("disc_value_is", lang, v=words.kpi_value(kpi, float(value), lang)))
    method = c4.radio(_t("disc_method", lang), ["prim", "cart"], key="disc_method",
                      horizontal=True, format_func=lambda m: _t(f"disc_{m}", lang))
    d = discover(store, kpi, side, float(value), method=method)
    if d.n_failing == 0:
        st.info(_t("disc_none", lang))
        return
    st.markdown(_t("disc_found", lang, f=d.n_failing, n=d.n_cases,
                   cases=words.cases_word(d.unit, lang),
                   t=words.target_words(d.kpi, d.op, d.threshold, lang)))
    st.markdown(rule_cards_html(d, lang), unsafe_allow_html=True)
    if len(d.trajectory):
        st.altair_chart(trajectory_chart(d, lang), width="stretch")


RULE_CSS = """<style>
.gs-rules{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.6rem;
margin-bottom:1.2rem}
.gs-rule{border:1px solid rgba(49,51,63,.25);border-left:4px solid #0072B2;border-radius:.4rem;
padding:.4rem .7rem;min-width:0;overflow-wrap:anywhere}
.gs-rule b{display:block;margin-bottom:.2rem}.gs-rule ul{margin:0 0 .2rem 1rem;padding:0}
.gs-rule .gs-share{font-size:.85rem;color:rgba(49,51,63,.7)}
</style>"""


def rule_cards_html(d: Any, lang: str) -> str:
    """The boxes of a discovery as rule cards: if (limits) then (the failure, how often)."""
    cards = []
    for i, box in enumerate(d.boxes, start=1):
        c = words.rule_card(i, box, d, lang)
        conds = "".join(f"<li>{html.escape(x)}</li>" for x in c["if"])
        tip = html.escape(words.box_sentence(box, d, lang))
        cards.append(f'<div class="gs-rule" title="{tip}">'
                     f'<b>{html.escape(c["title"])}</b>{"如果" if lang == "zh" else "If"}'
                     f'<ul>{conds}</ul>{html.escape(c["then"])}'
                     f'<div class="gs-share">{html.escape(c["share"])}</div></div>')
    return RULE_CSS + f'<div class="gs-rules">{"".join(cards)}</div>'


def trajectory_chart(d: Any, lang: str) -> Any:
    import altair as alt

    t = d.trajectory.copy()
    return alt.Chart(t).mark_line(point=True, color="#999999").encode(
        x=alt.X("coverage:Q", axis=alt.Axis(title=_t("disc_coverage", lang), format=".0%",
                                            tickCount=6)),
        y=alt.Y("density:Q", axis=alt.Axis(title=_t("disc_density", lang), format=".0%",
                                           tickCount=6)),
        color=alt.Color("restricted:Q", title=_t("disc_restricted", lang),
                        scale=alt.Scale(scheme="viridis"), legend=alt.Legend(format="d")),
        tooltip=[alt.Tooltip("coverage:Q", title=_t("disc_coverage", lang), format=".0%"),
                 alt.Tooltip("density:Q", title=_t("disc_density", lang), format=".0%"),
                 alt.Tooltip("restricted:Q", title=_t("disc_restricted", lang))],
    ).properties(height=300, title=_t("disc_traj", lang))
