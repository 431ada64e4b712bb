"""Measured tables of the docs, made by code so that they cannot go stale.

Each table is a :class:`DocTable`: the doc it lives in, its name (the markers around it in the
doc), the command that writes it, and a function ``make(size)`` returning the Markdown and the
*claims* it supports — (what, holds) pairs, such as "pay per report raises cases_filed". The
command writes the table at full size (``size="full"``); ``tests/test_docs.py`` makes every
table at ``size="reduced"`` (fewer seeds, shorter runs) and fails when a claim no longer holds: a
verdict or the direction of a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy import stats

from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with

ROOT = Path(__file__).resolve().parents[2]
Claims = list[tuple[str, bool]]


@dataclass(frozen=True)
class DocTable:
    doc: str  # file name in docs/
    name: str  # the markers' name
    command: str  # what writes it
    make: Callable[[str], tuple[str, Claims]]


def _ready(name: str, days: float) -> Scenario:
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml", {"run.days": days})


# ------------------------------------------------------------------------- incentives.md table
PPR = "appraisal.worker_scheme.pay_per_report_yuan"
#: (comparison, scenario, plain arm, policy arm, [(KPI, expected sign of policy − plain or 0)])
INCENTIVE_COMPARISONS: list[tuple[str, str, dict, dict, list[tuple[str, int]]]] = [
    ("pay per report 30 vs flat", "incentives_pay_per_report", {PPR: 0}, {},
     [("cases_filed", +1), ("padded_report_share", +1), ("discovery_rate", 0),
      ("mean_worker_effort", +1), ("composite_appraisal_score", 0),
      ("incentive_pay_monthly", +1)]),
    ("spot checks 10% vs 5% (pay 45)", "incentives_pay_per_report", {PPR: 45},
     {PPR: 45, "appraisal.supervision.spot_check_share": 0.1},
     [("padded_report_share", -1), ("gaming_caught", 0)]),
    ("quota 40/month vs none", "incentives_quota",
     {"appraisal.worker_scheme.quota_penalty_yuan": 0}, {},
     [("padded_report_share", +1), ("cases_filed", +1)]),
    ("side payments vs none", "incentives_collusion",
     {"appraisal.behaviour.collusion_side_payment_share": 0.0}, {},
     [("suppressed_incidents", +1), ("discovery_rate", -1), ("complaints", 0),
      ("gaming_caught", +1), ("resident_satisfaction", -1)]),
    ("campaigns vs none", "residents_campaigns",
     {"residents.campaigns.talks.events_per_grid_per_month": 0,
      "residents.campaigns.leaflets.events_per_grid_per_month": 0}, {},
     [("reports_resident", +1), ("discovery_rate", 0), ("campaign_cost_monthly", +1)]),
    ("poor vs adequate crews", "residents_poor_service",
     {"departments.city_management.crews_per_street": 3,
      "departments.public_works.crews_per_street": 4,
      "departments.sanitation.crews_per_street": 3}, {},
     [("on_time_rate", -1), ("resident_satisfaction", -1), ("reports_resident", -1),
      ("complaints", +1)]),
    ("training 16 h/month vs none", "workforce_training",
     {"workforce.training.hours_per_month": 0}, {},
     [("on_spot_share", +1), ("mean_worker_skill", +1), ("return_rate", 0),
      ("training_cost_monthly", +1)]),
    ("hotspot patrols vs rota", "smart_hotspot_patrol",
     {"smart_platform.hotspot_patrol.enabled": False}, {},
     [("discovery_rate", +1), ("mean_discovery_latency_h", -1)]),
    ("AI video vs none", "smart_ai_video", {"smart_platform.ai_video.enabled": False}, {},
     [("reports_sensor_video", +1), ("mean_discovery_latency_h", -1), ("false_alarms", +1)]),
    ("weekly joint meeting vs none", "joint_meeting_weekly", {"joint_meeting.enabled": False},
     {}, [("parked_cases", -1), ("parked_resolved", +1), ("closure_rate", 0)]),
]
#: (days, seeds); the reduced size keeps every claimed direction at these seeds (the ready
#: scenarios' warm-ups are up to 8 days)
SIZES = {"full": (30.0, tuple(range(1, 9))), "reduced": (20.0, (1, 2, 3, 4))}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _p(a: np.ndarray, b: np.ndarray) -> str:
    d = b - a
    if np.all(d == d[0]):
        return "exact" if d[0] != 0 else "–"
    return f"{stats.ttest_rel(b, a).pvalue:.2g}"


def incentives_table(size: str) -> tuple[str, Claims]:
    """Plain and policy arm of each comparison at common seeds: means, the mean paired
    difference and a two-sided paired t-test p-value; a claim per KPI with an expected sign."""
    days, seeds = SIZES[size]
    lines = [f"Ready scenarios, {days:g} days, seeds {seeds[0]}–{seeds[-1]} at common random "
             "numbers: means of the plain and the policy arm, the mean paired difference and a "
             "two-sided paired t-test p-value (\"exact\": the same difference at every seed).", "",
             "| comparison | KPI | plain | policy | difference | p | expected |",
             "|---|---|---|---|---|---|---|"]
    claims: Claims = []
    for label, scen, plain_over, policy_over, rows in INCENTIVE_COMPARISONS:
        sc = _ready(scen, days)
        plain, policy = scenario_with(sc, plain_over), scenario_with(sc, policy_over)
        ka = [run_scenario(plain, seed=s, keep_cases=False).kpis for s in seeds]
        kb = [run_scenario(policy, seed=s, keep_cases=False).kpis for s in seeds]
        for key, sign in rows:
            a = np.array([k[key] for k in ka], dtype=float)
            b = np.array([k[key] for k in kb], dtype=float)
            d = float((b - a).mean())
            exp = {1: "higher", -1: "lower", 0: "(not claimed)"}[sign]
            lines.append(f"| {label} | `{key}` | {_fmt(a.mean())} | {_fmt(b.mean())} | "
                         f"{d:+.4g} | {_p(a, b)} | {exp} |")
            if sign:
                claims.append((f"{label}: {key} {exp}", d * sign > 0))
    return "\n".join(lines), claims


# ------------------------------------------------------------------- validation.md: Dongcheng
DONGCHENG_PUBLISHED = {"grids": 1593, "communities": 137, "streets": 10, "area_km2": 25.38}


def dongcheng_structure(size: str = "full") -> tuple[str, Claims]:
    """What the city builder makes of scenarios/dongcheng_2009.yaml, beside the published
    structure (facts.md). Deterministic: the same at every size."""
    from sim.engine.seeding import Streams
    from sim.world.city import build_city

    sc = load_scenario(ROOT / "scenarios" / "dongcheng_2009.yaml")
    city = build_city(sc.city, Streams(sc.run.seed)["city"])  # the run's city, as a run builds it
    built = {"grids": city.n_grids, "communities": city.n_communities,
             "streets": city.n_streets, "area_km2": float(city.area_km2.sum())}
    lines = ["| unit | published (facts.md) | built by the model | difference |",
             "|---|---|---|---|"]
    claims: Claims = []
    for key, pub in DONGCHENG_PUBLISHED.items():
        b = built[key]
        fmt = (lambda x: f"{x:,.2f}") if key == "area_km2" else (lambda x: f"{x:,}")
        rel = (b - pub) / pub
        lines.append(f"| {key.replace('_km2', ' (km²)')} | {fmt(pub)} | {fmt(b)} | {rel:+.1%} |")
        claims.append((f"Dongcheng {key} within 2% of the published figure", abs(rel) <= 0.02))
    return "\n".join(lines), claims


TABLES: list[DocTable] = [
    DocTable("incentives.md", "incentives-measured",
             "`make validate` (benchmarks/validate.py)", incentives_table),
    DocTable("validation.md", "dongcheng-structure", "`make docs` (gridsim docs)",
             dongcheng_structure),
]


def table(name: str) -> DocTable:
    return next(t for t in TABLES if t.name == name)


def fast_tables() -> list[DocTable]:
    """Tables cheap enough for ``gridsim docs`` (and its staleness check)."""
    return [t for t in TABLES if "make docs" in t.command]


def make_all(size: str, tables: list[DocTable] | None = None) -> dict[str, Any]:
    return {t.name: t.make(size) for t in (tables or TABLES)}
