"""Validation against published figures of real cities (facts.md): published vs simulated.

Each :class:`CityValidation` names a scenario file under ``scenarios/`` and the published
figures it should reproduce. :func:`validate_city` runs independent replications (seeds spawned
from one master seed), computes each metric's mean and 95% confidence interval (Student t), and
says whether the published figure and the simulation agree:

* ``approx`` — "about X": the interval overlaps the band X ± tolerance, where the tolerance says
  how loosely the source states the figure ("about a week" is looser than "6.5 h");
* ``min`` — "more than X": the whole interval lies above X;

A target marked ``calibrated`` was used to set a parameter of the scenario; its agreement shows
the calibration holds, not that the model predicts it. ``docs/validation.md`` reports the results
and what the model cannot reproduce. Reproduce with ``gridsim validation NAME``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from sim.scenario import Scenario, load_scenario, scenario_with

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI imports this module at start-up
    import numpy as np
    import pandas as pd

    from sim.run import RunResult

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def _window_days(r: RunResult) -> float:
    return (r.context.end_h - r.context.warmup_h) / 24.0


#: Metrics a target can name: a KPI key or one of these derived figures.
DERIVED: dict[str, tuple[str, Callable[[RunResult], float]]] = {
    "cases_per_month": ("cases filed per 30 days (cases_filed / window days × 30)",
                        lambda r: r.kpis["cases_filed"] / _window_days(r) * 30.0),
    "work_order_share": ("share of all reports (calls) that become cases (work orders): "
                         "cases_filed / reports_total",
                         lambda r: r.kpis["cases_filed"] / r.kpis["reports_total"]
                         if r.kpis["reports_total"] else float("nan")),
    "public_share": ("share of cases first reported by the public (hotline, app, WeChat): "
                     "reports_resident / cases_filed",
                     lambda r: r.kpis["reports_resident"] / r.kpis["cases_filed"]
                     if r.kpis["cases_filed"] else float("nan")),
}


def metric_value(result: RunResult, metric: str) -> float:
    if metric in DERIVED:
        return float(DERIVED[metric][1](result))
    return float(result.kpis[metric])


@dataclass(frozen=True)
class Target:
    """One published figure."""

    metric: str
    published: float
    kind: Literal["approx", "min", "max"]
    label: str
    source: str
    rel_tol: float = 0.0
    abs_tol: float = 0.0
    calibrated: bool = False
    #: what docs/validation.md reports at full size (the tests check it still holds)
    expected: bool = True

    def band(self) -> tuple[float, float]:
        if self.kind == "min":
            return self.published, math.inf
        if self.kind == "max":
            return -math.inf, self.published
        tol = max(self.rel_tol * abs(self.published), self.abs_tol)
        return self.published - tol, self.published + tol

    def agrees(self, lo: float, hi: float) -> bool:
        if any(math.isnan(x) for x in (lo, hi)):
            return False
        b_lo, b_hi = self.band()
        if self.kind == "min":
            return lo > self.published
        if self.kind == "max":
            return hi < self.published
        return hi >= b_lo and lo <= b_hi


@dataclass(frozen=True)
class CityValidation:
    name: str
    title: str
    scenario_file: str
    targets: tuple[Target, ...]
    notes: tuple[str, ...] = field(default=())

    def scenario(self) -> Scenario:
        return load_scenario(SCENARIO_DIR / self.scenario_file)


DONGCHENG = "facts.md, Dongcheng after five years"
VALIDATIONS: dict[str, CityValidation] = {
    "dongcheng_2009": CityValidation(
        name="dongcheng_2009", title="Beijing Dongcheng about 2009 (北京东城 网格化五年后)",
        scenario_file="dongcheng_2009.yaml",
        targets=(
            Target("closure_rate", 0.95, "min", "closure rate > 95%", DONGCHENG),
            Target("dispatched_closure_rate", 0.95, "min",
                   "closure rate > 95% as a county report counts it (closed ÷ dispatched)",
                   DONGCHENG + "; definition: facts.md, a county report"),
            Target("mean_time_to_close_h", 6.5, "approx", "mean time to close ≈ 6.5 h",
                   DONGCHENG, rel_tol=0.15),
            Target("cases_per_month", 3000, "approx", "≈ 3,000 cases a month", DONGCHENG,
                   rel_tol=0.15, calibrated=True),
            Target("discovery_rate", 0.90, "approx", "problem discovery rate ≈ 90% (launch)",
                   "facts.md, Dongcheng at launch Oct 2004 – Mar 2005 (Xinhua)", abs_tol=0.05),
            Target("public_share", 0.20, "max",
                   "cases from the public ≤ 20% (2015: ~7%)",
                   "facts.md, Dongcheng by end 2015 (derived: 140,800 / 1,928,900)"),
        )),
    "dongcheng_before": CityValidation(
        name="dongcheng_before", title="Beijing Dongcheng before 2004 (北京东城 网格化之前)",
        scenario_file="dongcheng_before.yaml",
        targets=(
            Target("mean_time_to_close_h", 168.0, "approx", "mean time to close ≈ one week",
                   DONGCHENG + " (\"fell from about one week\")", rel_tol=0.3, calibrated=True),
            Target("cases_per_month", 500.0, "approx",
                   "≈ 500 cases a month (after: ≈ 3,000, 'six times the earlier volume')",
                   DONGCHENG + " (derived: 3,000 / 6)", rel_tol=0.3, calibrated=True),
        )),
    "shanghai_12345_2016": CityValidation(
        name="shanghai_12345_2016", title="Shanghai 12345 hotline, 2016 (上海12345 2016年)",
        scenario_file="shanghai_12345_2016.yaml",
        targets=(
            Target("work_order_share", 1.2 / 2.7, "approx", "≈ 44% of calls become work orders",
                   "facts.md, Shanghai 12345 2016 (derived: 1.2 M / 2.7 M)", rel_tol=0.1,
                   calibrated=True),
            Target("on_time_rate", 0.995, "approx", "99.5% of work orders closed on time",
                   "facts.md, Shanghai 12345 2016", abs_tol=0.01, expected=False),
            Target("resolved_rate", 0.82, "approx", "82% of work orders resolved",
                   "facts.md, Shanghai 12345 2016", abs_tol=0.05, expected=False),
        )),
}


def replication_seeds(master: int, reps: int) -> list[int]:
    """Independent seeds for ``reps`` replications, derived from one recorded master seed."""
    import numpy as np

    state = np.random.SeedSequence(master).generate_state(reps, dtype=np.uint64)
    return [int(s >> 1) for s in state]


def mean_ci(values: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of independent replications (NaNs dropped)."""
    from sim.experiment.analysis import mean_ci as summary

    _, m, _, half = summary(values, level)
    return m, m - half, m + half


def reduced(scenario: Scenario, days: float | None) -> Scenario:
    """The scenario run for ``days`` (warm-up kept, or a fifth of the days if that is shorter)."""
    if days is None:
        return scenario
    warm = min(scenario.run.warmup_days, days / 5)
    return scenario_with(scenario, {"run.days": days, "run.warmup_days": warm})


def validate_city(v: CityValidation, reps: int = 10, days: float | None = None,
                  master_seed: int | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  scenario: Scenario | None = None) -> pd.DataFrame:
    """Run ``reps`` replications of ``v``'s scenario (or ``scenario``, a variant of it); one row
    per target with its verdict."""
    import pandas as pd

    from sim.run import run_scenario

    sc = reduced(scenario or v.scenario(), days)
    seeds = replication_seeds(sc.run.seed if master_seed is None else master_seed, reps)
    values: dict[str, list[float]] = {t.metric: [] for t in v.targets}
    for i, seed in enumerate(seeds):
        r = run_scenario(sc, seed=seed, keep_cases=False)
        for metric in values:
            values[metric].append(metric_value(r, metric))
        if progress:
            progress(i + 1, reps)
    rows = []
    for t in v.targets:
        m, lo, hi = mean_ci(values[t.metric])
        rows.append({
            "validation": v.name, "target": t.label, "metric": t.metric,
            "published": t.published, "kind": t.kind, "band_lo": t.band()[0],
            "band_hi": t.band()[1], "simulated": m, "ci_lo": lo, "ci_hi": hi,
            "agrees": t.agrees(lo, hi), "expected": t.expected, "calibrated": t.calibrated,
            "source": t.source,
            "reps": reps, "days": sc.run.days, "warmup_days": sc.run.warmup_days,
        })
    return pd.DataFrame(rows)


def format_row(row: pd.Series) -> str:
    """One line: published vs simulated with its CI and the verdict (for tests and scripts)."""
    f = _fmt(row["metric"])
    verdict = "agrees" if row["agrees"] else "DISAGREES"
    if row["calibrated"]:
        verdict += " (calibrated to this figure)"
    return (f"{row['validation']}: {row['target']}: published {f(row['published'])}, simulated "
            f"{f(row['simulated'])} [95% CI {f(row['ci_lo'])} – {f(row['ci_hi'])}], "
            f"{row['reps']} reps × {row['days']:g} days → {verdict}")


def _fmt(metric: str) -> Callable[[float], str]:
    if metric.endswith("_rate") or metric.endswith("_share"):
        return lambda v: "–" if v != v else f"{100 * v:.1f}%"
    if metric.endswith("_h"):
        return lambda v: "–" if v != v else f"{v:.1f} h"
    return lambda v: "–" if v != v else f"{v:,.0f}"


def _scaled(scenario: Scenario, fn: Callable[[str, object], dict]) -> dict:
    """Overrides built from each department: ``fn(code, department) -> {path: value}``."""
    out: dict = {}
    for code, dep in scenario.departments.items():
        out.update(fn(code, dep))
    return out


#: One-at-a-time variants of the assumed parameters: how much does each verdict depend on them?
SENSITIVITY: dict[str, list[tuple[str, Callable[[Scenario], dict]]]] = {
    "dongcheng_2009": [
        ("every department one crew fewer per sub-district (at least 1)", lambda sc: _scaled(
            sc, lambda c, d: {f"departments.{c}.crews_per_street": max(1, d.crews_per_street - 1)})),
        ("handling times × 1.5", lambda sc: _scaled(
            sc, lambda c, d: {f"departments.{c}.handling_time.mean": d.handling_time.mean * 1.5})),
        ("crew shifts 08:30–17:30 Mon–Fri (office hours)", lambda sc: _scaled(
            sc, lambda c, d: {f"departments.{c}.shift": {"start_h": 8.5, "end_h": 17.5,
                                                          "days": [0, 1, 2, 3, 4]}})),
        ("patrols 08:00–18:00 (not 07:30–22:30)",
         lambda sc: {"patrol.hours": {"start_h": 8.0, "end_h": 18.0}}),
        ("residents report 3× as readily", lambda sc: {
            "channels.resident_reports_per_incident_per_day":
                3 * sc.channels.resident_reports_per_incident_per_day}),
        ("misrouting 15% (not 5%)", lambda sc: {"platform.misroute_prob": 0.15}),
    ],
    "shanghai_12345_2016": [
        ("verification around the clock (patrol hours 00:00–24:00)",
         lambda sc: {"patrol.hours": {"start_h": 0.0, "end_h": 24.0}}),
        ("every department's crews on duty around the clock", lambda sc: _scaled(
            sc, lambda c, d: {f"departments.{c}.shift": {"start_h": 0.0, "end_h": 24.0}})),
        ("every deadline at least one working day", lambda sc: {
            f"incidents.categories.{c}.subtypes.{s}.deadline": {"value": 1,
                                                                 "unit": "working_days"}
            for c, cat in sc.incidents.categories.items() for s, sub in cat.subtypes.items()
            if _deadline_hours(sub.deadline) < 9}),
    ],
}


def _deadline_hours(d) -> float:
    """Rough length of a deadline in hours (a working day counted as 9 working hours)."""
    return {"working_hours": d.value, "working_days": 9 * d.value, "hours": d.value,
            "days": 24 * d.value}[d.unit]


def sensitivity(name: str, reps: int = 5, days: float | None = None) -> pd.DataFrame:
    """Each validation target under each one-at-a-time variant of :data:`SENSITIVITY`."""
    import dataclasses

    import pandas as pd

    v = VALIDATIONS[name]
    base = v.scenario()
    rows = [validate_city(v, reps=reps, days=days).assign(variant="as published (scenario file)")]
    for label, make in SENSITIVITY.get(name, []):
        varied = scenario_with(base, make(base))
        rows.append(validate_city(dataclasses.replace(v, scenario_file=""), reps=reps, days=days,
                                  scenario=varied).assign(variant=label))
    return pd.concat(rows, ignore_index=True)


def markdown_table(df: pd.DataFrame) -> str:
    """The results as a Markdown table (what docs/validation.md shows)."""
    lines = ["| scenario | published figure | published | simulated (95% CI) | verdict |",
             "|---|---|---|---|---|"]
    for _, r in df.iterrows():
        f = _fmt(r["metric"])
        verdict = "agrees" if r["agrees"] else "**disagrees**"
        if r["calibrated"]:
            verdict += " (calibrated)"
        lines.append(f"| {r['validation']} | {r['target']} | {f(r['published'])} | "
                     f"{f(r['simulated'])} ({f(r['ci_lo'])} – {f(r['ci_hi'])}) | {verdict} |")
    return "\n".join(lines)


def sensitivity_markdown(df: pd.DataFrame) -> str:
    """One row per variant, one column per published figure: simulated (95% CI), verdict."""
    targets = list(dict.fromkeys(df.target))
    lines = ["| variant | " + " | ".join(targets) + " |",
             "|---|" + "---|" * len(targets)]
    for variant, grp in df.groupby("variant", sort=False):
        cells = []
        for t in targets:
            r = grp[grp.target == t].iloc[0]
            f = _fmt(r["metric"])
            mark = "" if r["agrees"] else " ✗"
            cells.append(f"{f(r['simulated'])} ({f(r['ci_lo'])} – {f(r['ci_hi'])}){mark}")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
