"""Page 2 — Compare: two to four policy variants at the same seeds (common random numbers).

The user picks the target KPIs (default: the headline ones); the verdict leads with them and
says as plainly when a difference is not detectable as when it is. KPIs the levers fix (a cost
that is the same at every seed) are inputs: reported, not tested, and left out of the Holm
correction. The set-up (variants, names, levers, values) is kept for the session, across pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app_pages import kpi_view, limits, words
from app_pages.common_ui import (lever_widget, multiselect, progress_reporter, run_many,
                                 scenario_label, scenario_picker, select, show_problems,
                                 warn_never_acts)
from app_pages.i18n import field_label, section_label, tr
from app_pages.schema_widgets import all_specs, changed
from app_pages.stats import Finding, PairedDiff, judge, mean_ci, paired_diff
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import Scenario, ScenarioError, scenario_with

LETTERS = "ABCD"
ALPHA = 0.05
DEFAULT_LEVER = "staffing.workers_per_grid"
LAB = "__lab__"
KEEP = "session"   # widgets keep their values across pages (Streamlit's persist_state)


@dataclass
class Comparison:
    """KPIs of each variant at each seed: ``kpis[v][i]`` is variant v at ``seeds[i]``."""

    names: list[str]
    seeds: list[int]
    kpis: list[list[dict[str, float]]]

    def values(self, v: int, key: str) -> list[float]:
        return [k.get(key, math.nan) for k in self.kpis[v]]

    def diffs(self) -> dict[tuple[int, str], PairedDiff]:
        return {(v, key): paired_diff(self.values(0, key), self.values(v, key))
                for v in range(1, len(self.names)) for key in KPI_DEFINITIONS}

    def findings(self, keys: list[str]) -> list[Finding]:
        return judge(self.diffs(), keys, list(range(1, len(self.names))), ALPHA)


def replication_seeds(base_seed: int, n: int) -> list[int]:
    """Consecutive seeds from the scenario's seed: every variant runs at each of them."""
    return [int(base_seed) + i for i in range(n)]


def measured_kpis(cmp: Comparison) -> list[str]:
    """KPIs with a value in at least one run (emergency KPIs vanish where there is none)."""
    return [k for k in KPI_DEFINITIONS
            if any(not math.isnan(x) for v in range(len(cmp.names)) for x in cmp.values(v, k))]


def _line(cmp: Comparison, f: Finding, lang: str) -> str:
    key, x = f.key, f.diff
    kpi, v = kpi_view.label(key, lang), cmp.names[f.variant]
    d = kpi_view.fmt_delta(key, x.mean, lang) or "0"
    if f.kind == "identical":
        return "- " + tr("cmp_line_same", lang, v=v, kpi=kpi)
    if f.kind == "fixed":
        return "- " + tr("cmp_line_fixed", lang, v=v, kpi=kpi, d=d)
    if f.kind == "single":
        return "- " + tr("cmp_line_single", lang, v=v, kpi=kpi, d=d)
    lo, hi = kpi_view.fmt_delta(key, x.lo, lang), kpi_view.fmt_delta(key, x.hi, lang)
    if f.kind == "none":
        return "- " + tr("cmp_line_none", lang, v=v, kpi=kpi, d=d, lo=lo, hi=hi)
    up = x.mean > 0
    judge_ = ""
    if kpi_view.direction(key) != "none":
        good = up == (kpi_view.direction(key) == "up")
        judge_ = tr("judge", lang, w=tr("better" if good else "worse", lang))
    return "- " + tr("sig_line", lang, v=v, kpi=kpi, dir=tr("higher" if up else "lower", lang),
                     d=kpi_view.fmt_delta(key, abs(x.mean), lang).lstrip("+"), lo=lo, hi=hi,
                     p=f"{f.p_adj:.2g}", judge=judge_)


def verdict(cmp: Comparison, targets: list[str], lang: str) -> list[str]:
    """Plain-language lines about the target KPIs, one per variant and target."""
    if len(cmp.seeds) < 2:
        return [tr("need_two", lang)]
    found = [f for f in cmp.findings(targets)]
    m = sum(1 for f in found if f.kind in ("significant", "none"))
    lines = [tr("verdict_intro", lang, n=len(cmp.seeds), m=m)]
    lines += [_line(cmp, f, lang) for f in found]
    return lines


def comparison_frame(cmp: Comparison, targets: list[str], lang: str) -> pd.DataFrame:
    """One row per KPI, the targets first, then by the strength of the difference: each
    variant's mean [95% CI], each variant minus the reference paired by seed [95% CI] and p
    (Holm-adjusted over the targets; unadjusted, for exploring, elsewhere)."""
    keys = measured_kpis(cmp)
    variants = list(range(1, len(cmp.names)))
    tgt = [k for k in targets if k in keys]
    found = {(f.variant, f.key): f for f in cmp.findings(tgt)}
    diffs = cmp.diffs()

    def strength(key: str) -> float:
        best = 0.0
        for v in variants:
            x = diffs[(v, key)]
            half = (x.hi - x.lo) / 2 if not math.isnan(x.lo) else math.nan
            if half and not math.isnan(half) and half > 0:
                best = max(best, abs(x.mean) / half)
        return best

    others = sorted((k for k in keys if k not in tgt), key=strength, reverse=True)
    rows = []
    for key in tgt + others:
        row: dict[str, Any] = {tr("kpi", lang): kpi_view.label(key, lang),
                               tr("cmp_target", lang): "●" if key in tgt else ""}
        for v, name in enumerate(cmp.names):
            ci = mean_ci(cmp.values(v, key))
            cell = kpi_view.fmt(key, ci.mean, lang)
            if not math.isnan(ci.lo):
                lo, hi = kpi_view.clip_ci(key, ci.lo, ci.hi)
                cell += f" [{kpi_view.fmt(key, lo, lang)}, {kpi_view.fmt(key, hi, lang)}]"
            row[name] = cell
        for v in variants:
            x = diffs[(v, key)]
            cell = kpi_view.fmt_delta(key, x.mean, lang) or "–"
            if not math.isnan(x.lo) and x.lo != x.hi:
                cell += (f" [{kpi_view.fmt_delta(key, x.lo, lang)}, "
                         f"{kpi_view.fmt_delta(key, x.hi, lang)}]")
            f = found.get((v, key))
            if f is not None and f.kind == "fixed":
                cell += " " + tr("cmp_fixed_tag", lang)
            elif f is not None and not math.isnan(f.p_adj):
                cell += f" p={f.p_adj:.2g}" + (" *" if f.kind == "significant" else "")
            elif key not in tgt and not math.isnan(x.p) and x.lo != x.hi:
                cell += f" p={x.p:.2g}†"
            row[f"Δ {cmp.names[v]} − {cmp.names[0]}"] = cell
        rows.append(row)
    return pd.DataFrame(rows)


def _lever_label(path: str, lang: str) -> str:
    parts = path.split(".")
    return f"{section_label(parts[0], lang)} · {field_label(parts[-1], lang)}"


def _variant_editor(base: Scenario, v: int, lang: str, specs: dict) -> tuple[str, dict]:
    h = base.hash()
    ref = v == 0
    default_name = f"{LETTERS[v]} ({tr('reference', lang)})" if ref else LETTERS[v]
    key = f"cmp_name{v}:{h}"
    other = "en" if lang == "zh" else "zh"
    if key not in st.session_state or (
            ref and st.session_state[key] == f"{LETTERS[v]} ({tr('reference', other)})"):
        st.session_state[key] = default_name   # the default name follows the language switch
    name = st.text_input(tr("variant_name", lang), key=key,
                         max_chars=40, persist_state=KEEP).strip() or default_name
    default = [DEFAULT_LEVER] if v == 1 and DEFAULT_LEVER in specs else []
    chosen = multiselect(tr("levers_changed", lang), list(specs), f"cmp_levers{v}:{h}", lang,
                         format_func=lambda p: _lever_label(p, lang), default=default,
                         placeholder=tr("choose", lang))
    edits: dict[str, Any] = {}
    for path in chosen:
        spec = specs[path]
        start = spec.value
        if v == 1 and path == DEFAULT_LEVER:
            lo, hi = spec.widget_bounds()
            start = min(spec.value + 1, hi) if hi is not None else spec.value + 1
        val = lever_widget(spec, _lever_label(path, lang), f"cmp_val{v}:{h}:{path}", start)
        if changed(spec, val):
            edits[path] = val
    return name, edits


def render(lang: str) -> None:
    st.header(tr("page_compare", lang))
    st.caption(tr("cmp_intro", lang))
    c1, c2, c3 = st.columns(3)
    lab = st.session_state.get("lab_result")
    extra = {LAB: (tr("from_lab", lang, name=scenario_label(lab["scenario"], lang)),
                   lab["scenario"])} if lab else {}
    with c1:
        base = scenario_picker(lang, "cmp", extra)
    if base is None:
        return
    n_var = c2.slider(tr("n_variants", lang), 2, 4, 2, key="cmp_n", persist_state=KEEP)
    reps = int(c3.number_input(tr("replications", lang), min_value=1, max_value=limits.MAX_RUNS,
                               value=5, step=1, key="cmp_reps", persist_state=KEEP))
    specs = all_specs(base)
    cols = st.columns(n_var)
    variants: list[tuple[str, dict]] = []
    for v in range(n_var):
        with cols[v]:
            st.markdown(f"**{tr('variant', lang)} {LETTERS[v]}**")
            variants.append(_variant_editor(base, v, lang, specs))
    scenarios: list[Scenario] = []
    for name, edits in variants:
        try:
            scenarios.append(scenario_with(base, edits) if edits else base)
        except ScenarioError as err:
            show_problems(f"{name}: " + tr("scenario_invalid", lang), str(err).splitlines())
            return
    hashes = [s.hash() for s in scenarios]
    for i in range(n_var):
        for j in range(i + 1, n_var):
            if hashes[i] == hashes[j]:
                st.warning(tr("same_variants", lang, a=variants[i][0], b=variants[j][0]))
    warn_never_acts([(name, sc) for (name, _), sc in zip(variants, scenarios)], lang)
    problems = limits.check_batch(scenarios, reps)
    if problems:
        show_problems(tr("too_many" if any(p.batch for p in problems) else "too_large", lang),
                      [p.text(lang) for p in problems])
        return
    seeds = replication_seeds(base.run.seed, reps)
    signature = (tuple(hashes), tuple(seeds), tuple(n for n, _ in variants))
    if st.button(tr("compare_run", lang), type="primary", key="cmp_run"):
        st.session_state["cmp_result"] = (signature, _run(scenarios, [n for n, _ in variants],
                                                          seeds, lang))
    shown = st.session_state.get("cmp_result")
    if not shown:
        st.info(tr("run_first", lang))
        return
    if shown[0] != signature:
        st.warning(tr("cmp_stale", lang, names=", ".join(shown[1].names)))
    _show(shown[1], lang)


def _run(scenarios: list[Scenario], names: list[str], seeds: list[int], lang: str) -> Comparison:
    pairs = [(sc, seed) for sc in scenarios for seed in seeds]
    results = run_many(pairs, lang)
    from app_pages.map_ui import keep_compare_values
    keep_compare_values(scenarios, seeds, results)
    n = len(seeds)
    kpis = [[r.kpis for r in results[i * n:(i + 1) * n]] for i in range(len(scenarios))]
    return Comparison(names=names, seeds=seeds, kpis=kpis)


def _relabel(cmp: Comparison, lang: str) -> Comparison:
    """The comparison with the reference's default name in ``lang`` (it was run in either)."""
    names = list(cmp.names)
    for other in ("en", "zh"):
        if names[0] == f"{LETTERS[0]} ({tr('reference', other)})":
            names[0] = f"{LETTERS[0]} ({tr('reference', lang)})"
    return Comparison(names=names, seeds=cmp.seeds, kpis=cmp.kpis)


def _show(cmp: Comparison, lang: str) -> None:
    cmp = _relabel(cmp, lang)
    keys = measured_kpis(cmp)
    targets = multiselect(tr("cmp_targets", lang), keys, "cmp_targets", lang,
                          format_func=lambda k: kpi_view.label(k, lang),
                          default=[k for k in kpi_view.targets() if k in keys],
                          placeholder=tr("choose", lang))
    st.subheader(tr("verdict", lang))
    st.markdown("\n".join(verdict(cmp, targets, lang)))
    st.subheader(tr("cmp_table", lang))
    st.caption(tr("cmp_table_note", lang))
    st.table(comparison_frame(cmp, targets, lang).set_index(tr("kpi", lang)))
    key = select(tr("kpi", lang), keys, "cmp_chart_kpi", lang,
                 index=keys.index(targets[0]) if targets else 0,
                 format_func=lambda k: kpi_view.label(k, lang))
    st.altair_chart(means_chart(cmp, key, lang), width="stretch")
    from app_pages.map_ui import compare_map
    compare_map(cmp.names, lang)


def means_frame(cmp: Comparison, key: str, lang: str = "en") -> pd.DataFrame:
    rows = []
    for v, name in enumerate(cmp.names):
        ci = mean_ci(cmp.values(v, key))
        lo, hi = kpi_view.clip_ci(key, ci.lo, ci.hi)
        rows.append({"variant": name, "mean": ci.mean, "lo": lo, "hi": hi, "n": ci.n,
                     "shown": kpi_view.fmt(key, ci.mean, lang),
                     "ci": f"{kpi_view.fmt(key, lo, lang)} – {kpi_view.fmt(key, hi, lang)}"
                     if not math.isnan(ci.lo) else "–"})
    return pd.DataFrame(rows)


def means_chart(cmp: Comparison, key: str, lang: str) -> alt.Chart:
    """Each variant's mean with its 95% CI (points and error bars: the variants are
    categories, not a series)."""
    df = means_frame(cmp, key, lang)
    label = kpi_view.label(key, lang)
    x = alt.X("variant:N", title=tr("variant", lang), sort=cmp.names,
              axis=alt.Axis(labelAngle=0, labelLimit=200))
    y = alt.Y("mean:Q", scale=alt.Scale(zero=False), axis=words.kpi_axis(key, lang))
    tips = [alt.Tooltip("variant:N", title=tr("variant", lang)),
            alt.Tooltip("shown:N", title=label), alt.Tooltip("ci:N", title=tr("ci_col", lang)),
            alt.Tooltip("n:Q", title=tr("replications", lang))]
    bars = alt.Chart(df).mark_errorbar(ticks=True, thickness=2).encode(
        x=x, y=alt.Y("lo:Q", title=words.axis_title(key, lang)), y2="hi:Q", tooltip=tips)
    pts = alt.Chart(df).mark_point(filled=True, size=120).encode(x=x, y=y, tooltip=tips)
    return (bars + pts).properties(height=320)
