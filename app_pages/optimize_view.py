"""The sweep explorer's optimisation and discovery sections (``gridsim optimize`` stores and any
store): the chosen policy with its CIs against the baseline, the binding constraints, trials
over time and the front (the same figures as ``gridsim report``), and scenario discovery — the
boxes of lever space where a KPI target fails (PRIM or CART, ``sim.experiment.discover``)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

TEXT = {
    "opt_head": ("Optimisation", "优化结果"),
    "opt_problem": ("Problem", "问题"),
    "opt_best": ("Best feasible policy", "满足约束的最优方案"),
    "opt_none": ("No candidate meets every constraint with the required confidence.",
                 "没有方案在所要求的置信度下满足全部约束。"),
    "opt_kpis": ("Chosen policy against the baseline (paired, common random numbers)",
                 "所选方案与基准方案对比（配对，共同随机数）"),
    "opt_binding": ("Constraints at the chosen policy", "所选方案的约束情况"),
    "opt_runner": ("Runner-ups (paired difference to the best)", "次优方案（与最优方案的配对差异）"),
    "disc_head": ("Scenario discovery", "情景发现"),
    "disc_on": ("Find where a target fails", "查找目标未达成的区域"),
    "disc_kpi": ("KPI", "指标"),
    "disc_side": ("fails when the KPI is", "指标未达标的方向"),
    "disc_below": ("below", "低于"),
    "disc_above": ("above", "高于"),
    "disc_value": ("threshold", "阈值"),
    "disc_method": ("method", "方法"),
    "disc_none": ("The target fails nowhere in this store.", "该结果库中目标处处达成。"),
}


def _t(key: str, lang: str) -> str:
    en, zh = TEXT[key]
    return zh if lang == "zh" else en


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


def _answer(ans, lang: str) -> None:  # noqa: ANN001 - sim.experiment.optstats.Answer
    from sim.experiment.optreport import answer_figures, describe_problem
    from sim.metrics import KPI_DEFINITIONS, format_kpi

    st.subheader(_t("opt_head", lang))
    st.caption(f"{_t('opt_problem', lang)}: {describe_problem(ans)}")
    if ans.best is None:
        st.warning(_t("opt_none", lang))
    else:
        b = ans.stats[ans.best]
        st.success(f"{_t('opt_best', lang)}: point {ans.best} — " + ", ".join(
            f"{k} = {v}" for k, v in ans.values(ans.best).items()) + f" (n = {b.n})")
        s = ans.summary
        d = ans.versus_baseline.set_index("kpi") if len(ans.versus_baseline) else None
        rows = []
        for key in ans.exp.spec.kpis:
            r = s[(s.point_id == ans.best) & (s.kpi == key)]
            if r.empty:
                continue
            m, hw = float(r["mean"].iloc[0]), float(r.half_width.iloc[0])
            row = {"KPI": f"{KPI_DEFINITIONS[key][0]} {KPI_DEFINITIONS[key][1]}",
                   "chosen": format_kpi(key, m),
                   "± 95% CI": "" if not math.isfinite(hw) else format_kpi(key, hw).lstrip("¥")}
            if d is not None and key in d.index:
                row["chosen − baseline [95% CI]"] = (
                    f"{d.loc[key, 'mean_diff']:+.4g} [{d.loc[key, 'ci_low']:+.4g}, "
                    f"{d.loc[key, 'ci_high']:+.4g}]")
            rows.append(row)
        st.markdown(f"**{_t('opt_kpis', lang)}**")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        if len(ans.binding):
            st.markdown(f"**{_t('opt_binding', lang)}**")
            st.dataframe(ans.binding, hide_index=True, width="stretch")
        if len(ans.runner_ups):
            st.markdown(f"**{_t('opt_runner', lang)}**")
            st.dataframe(ans.runner_ups, hide_index=True, width="stretch")
    for title, fig in answer_figures(ans):
        st.plotly_chart(fig, key=f"opt_fig_{title}")


def _discovery(store, lang: str) -> None:  # noqa: ANN001 - a ResultsStore
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
    kpi = c1.selectbox(_t("disc_kpi", lang), keys, key="disc_kpi",
                       index=keys.index("on_time_rate") if "on_time_rate" in keys else 0)
    side = c2.radio(_t("disc_side", lang), ["<", ">"], key="disc_side", horizontal=True,
                    format_func=lambda s: _t("disc_below" if s == "<" else "disc_above", lang))
    default = float(kp[kpi].median()) if kp[kpi].notna().any() else 0.0
    value = c3.number_input(_t("disc_value", lang), value=default, key="disc_value",
                            format="%.4g")
    method = c4.radio(_t("disc_method", lang), ["prim", "cart"], key="disc_method",
                      horizontal=True)
    d = discover(store, kpi, side, float(value), method=method)
    if d.n_failing == 0:
        st.info(_t("disc_none", lang))
        return
    for i, b in enumerate(d.boxes, start=1):
        st.markdown(f"**{i}.** {b.words(d.target)}")
    if len(d.trajectory):
        from sim.experiment.discover import trajectory_figure

        st.plotly_chart(trajectory_figure(d), key="disc_traj")
