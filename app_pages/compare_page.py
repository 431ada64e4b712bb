"""Page 2 — Compare: two to four policy variants at the same seeds (common random numbers),
KPIs side by side with paired confidence intervals and a plain-language verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app_pages import kpi_view, limits
from app_pages.common_ui import (
    lever_widget,
    multiselect,
    progress_reporter,
    run_with_progress,
    scenario_picker,
    select,
    show_problems,
)
from app_pages.i18n import field_label, section_label, tr
from app_pages.schema_widgets import all_specs, changed
from app_pages.stats import PairedDiff, holm, mean_ci, paired_diff
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import Scenario, ScenarioError, scenario_with

LETTERS = "ABCD"
ALPHA = 0.05
DEFAULT_LEVER = "staffing.workers_per_grid"
LAB = "__lab__"


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

    def adjusted_p(self) -> dict[tuple[int, str], float]:
        """Holm-adjusted p over every comparison that is not an exact tie."""
        d = self.diffs()
        keys = [k for k, x in d.items() if not x.identical and not math.isnan(x.p)]
        return dict(zip(keys, holm([d[k].p for k in keys])))


def replication_seeds(base_seed: int, n: int) -> list[int]:
    """Consecutive seeds from the scenario's seed: every variant runs at each of them."""
    return [int(base_seed) + i for i in range(n)]


def verdict(cmp: Comparison, lang: str) -> list[str]:
    """Plain-language lines: which differences from the reference are significant."""
    d, adj = cmp.diffs(), cmp.adjusted_p()
    m, n = len(adj), len(cmp.seeds)
    lines: list[str] = []
    for v in range(1, len(cmp.names)):
        if all(d[(v, k)].identical or d[(v, k)].n == 0 for k in KPI_DEFINITIONS):
            lines.append(tr("identical", lang, v=cmp.names[v]))
    sig = [(v, k) for (v, k), p in adj.items() if p < ALPHA]
    if n < 2:
        return lines + [tr("need_two", lang)]
    if not sig:
        return lines + [tr("no_sig", lang, m=m)]
    lines.append(tr("sig_intro", lang, n=n, m=m))
    for v, key in sig:
        x = d[(v, key)]
        up = x.mean > 0
        judge = ""
        if kpi_view.direction(key) != "none":
            good = up == (kpi_view.direction(key) == "up")
            judge = tr("judge", lang, w=tr("better" if good else "worse", lang))
        lines.append("- " + tr("sig_line", lang, v=cmp.names[v], kpi=kpi_view.label(key, lang),
                                dir=tr("higher" if up else "lower", lang),
                                d=kpi_view.fmt_delta(key, abs(x.mean)).lstrip("+"),
                                lo=kpi_view.fmt_delta(key, x.lo), hi=kpi_view.fmt_delta(key, x.hi),
                                judge=judge))
    return lines


def measured_kpis(cmp: Comparison) -> list[str]:
    """KPIs with a value in at least one run (emergency KPIs vanish where there is none)."""
    return [k for k in KPI_DEFINITIONS
            if any(not math.isnan(x) for v in range(len(cmp.names)) for x in cmp.values(v, k))]


def comparison_frame(cmp: Comparison, lang: str) -> pd.DataFrame:
    """One row per KPI: each variant's mean [95% CI], then each variant minus the reference,
    paired by seed [95% CI] with its Holm-adjusted p (``*`` when significant at 5%)."""
    d, adj = cmp.diffs(), cmp.adjusted_p()
    rows = []
    for key in measured_kpis(cmp):
        row: dict[str, Any] = {tr("kpi", lang): kpi_view.label(key, lang)}
        for v, name in enumerate(cmp.names):
            ci = mean_ci(cmp.values(v, key))
            cell = kpi_view.fmt(key, ci.mean)
            if not math.isnan(ci.lo):
                cell += f"  [{kpi_view.fmt(key, ci.lo)}, {kpi_view.fmt(key, ci.hi)}]"
            row[name] = cell
        for v in range(1, len(cmp.names)):
            x = d[(v, key)]
            cell = kpi_view.fmt_delta(key, x.mean) or "–"
            if not math.isnan(x.lo):
                cell += f"  [{kpi_view.fmt_delta(key, x.lo)}, {kpi_view.fmt_delta(key, x.hi)}]"
            p = adj.get((v, key))
            if p is not None:
                cell += f"  p={p:.3g}" + (" *" if p < ALPHA else "")
            row[f"Δ {cmp.names[v]} − {cmp.names[0]}"] = cell
        rows.append(row)
    return pd.DataFrame(rows)


def _lever_label(path: str, lang: str) -> str:
    parts = path.split(".")
    return f"{section_label(parts[0], lang)} · {field_label(parts[-1], lang)}  ({path})"


def _variant_editor(base: Scenario, v: int, lang: str, specs: dict) -> tuple[str, dict]:
    h = base.hash()
    ref = v == 0
    default_name = f"{LETTERS[v]} ({tr('reference', lang)})" if ref else LETTERS[v]
    name = st.text_input(tr("variant_name", lang), value=default_name, key=f"cmp_name{v}:{h}",
                         max_chars=40).strip() or default_name
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
    extra = {LAB: (tr("from_lab", lang, name=lab["scenario"].name), lab["scenario"])} if lab else {}
    with c1:
        base = scenario_picker(lang, "cmp", extra)
    if base is None:
        return
    n_var = c2.slider(tr("n_variants", lang), 2, 4, 2, key="cmp_n")
    reps = int(c3.number_input(tr("replications", lang), min_value=1, max_value=limits.MAX_RUNS,
                               value=5, step=1, key="cmp_reps"))
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
    problems = limits.check_batch(scenarios, reps)
    if problems:
        show_problems(tr("too_large", lang), [p.text(lang) for p in problems])
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
        st.warning(tr("stale", lang))
    _show(shown[1], lang)


def _run(scenarios: list[Scenario], names: list[str], seeds: list[int], lang: str) -> Comparison:
    total = len(scenarios) * len(seeds)
    for_run, bar = progress_reporter(lang, total)
    kpis: list[list[dict[str, float]]] = []
    i = 0
    for sc, name in zip(scenarios, names):
        row = []
        for seed in seeds:
            row.append(run_with_progress(sc, seed, for_run(i)).kpis)
            i += 1
            bar.progress(i / total, text=tr("compare_progress", lang, i=i, n=total, name=name,
                                            seed=seed))
        kpis.append(row)
    bar.empty()
    return Comparison(names=names, seeds=seeds, kpis=kpis)


def _table_height(rows: int) -> int:
    """Tall enough to show every row without an inner scroll bar."""
    return 38 + 35 * rows


def _show(cmp: Comparison, lang: str) -> None:
    st.subheader(tr("verdict", lang))
    st.markdown("\n".join(verdict(cmp, lang)))
    st.subheader(tr("cmp_table", lang))
    table = comparison_frame(cmp, lang)
    st.dataframe(table, hide_index=True, width="stretch", height=_table_height(len(table)))
    keys = measured_kpis(cmp)
    key = select(tr("kpi", lang), keys, "cmp_chart_kpi", lang,
                 index=keys.index("on_time_rate") if "on_time_rate" in keys else 0,
                 format_func=lambda k: kpi_view.label(k, lang))
    rows = [{"variant": name, "seed": str(seed), "value": cmp.kpis[v][i].get(key, math.nan)}
            for v, name in enumerate(cmp.names) for i, seed in enumerate(cmp.seeds)]
    df = pd.DataFrame(rows)
    label = kpi_view.label(key, lang)
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("variant:N", title=tr("variant", lang), sort=cmp.names),
        y=alt.Y("value:Q", title=label, scale=alt.Scale(zero=False)),
        color=alt.Color("seed:N", title=tr("seed", lang)), tooltip=["variant", "seed", "value"])
    st.altair_chart(lines.properties(height=300), width="stretch")
