"""Every lever the workflow's schema sections offer changes at least one KPI (paired, one seed).

The test walks the fields of ``platform`` (escalation included), of one department, of the level
teams and of the joint meeting, perturbs each (numbers doubled or moved, probabilities shifted,
distributions' means tripled, switches flipped, options swapped, shifts made round-the-clock),
runs the same scenario at the same seed (common random numbers) and requires at least one KPI
to move. Prices may only move the cost KPI they price; every other field must move something
besides costs. The scenario is the baseline made busy enough for each lever to matter.
"""

from __future__ import annotations

import math
import typing

import pytest
from pydantic import BaseModel

from sim.run import run_scenario
from sim.scenario import EscalationConfig, Scenario, Window, scenario_with
from sim.scenario.distributions import Fixed

ROAD = "incidents.categories.infrastructure.subtypes.road_damage"
BASE = {"run.days": 21, "run.warmup_days": 1, "city.households": 8000,
        "platform.auto_dispatch_share": 0.5,
        "platform.handoff_delay": {"dist": "lognormal", "mean": 1.0, "cv": 1.0},
        "departments.public_works.crews_per_street": 1,
        "departments.public_works.shift": {"start_h": 8, "end_h": 12},
        f"{ROAD}.complex_prob": 0.8, f"{ROAD}.unsolvable_prob": 0.9,
        # enough parked cases for the joint meeting once patrols miss some problems
        "incidents.categories.infrastructure.rate_per_1000_households_per_day": 2.4,
        "joint_meeting.enabled": True, "joint_meeting.interval_days": 2,
        "joint_meeting.capacity_cases": 1, "joint_meeting.resolve_prob": 0.5,
        "joint_meeting.fix_success_prob": 0.7}
COSTS = {"monthly_staff_cost", "overtime_cost_monthly"}
PRICES = {"departments.public_works.cost_per_crew_month": "monthly_staff_cost",
          "departments.public_works.overtime_cost_per_h": "overtime_cost_monthly"}
LABELS = {"label_en", "label_zh"}
SPECIAL: dict[str, typing.Any] = {  # perturbations chosen by hand
    "staffing.level_teams.community": 0, "staffing.level_teams.street": 0,
    "staffing.level_teams.district": 0,
    "departments.public_works.shift": {"start_h": 0, "end_h": 24},
    "joint_meeting.fix_success_prob": 0.1,  # few meeting cases: make failures certain to occur
    "departments.public_works.crews_per_street": 3,
    "platform.acceptance_limit_h": 1.0,
    "platform.escalation.priority_boost": 0,
    "platform.max_reworks": 0,
}


def _perturb(value: typing.Any, ann: typing.Any) -> typing.Any:
    if isinstance(value, bool):
        return not value
    if typing.get_origin(ann) is typing.Literal:
        return next(a for a in typing.get_args(ann) if a != value)
    if isinstance(value, int):
        return value * 2 if value else 1
    if isinstance(value, float):
        return value * 2 if value > 1 else min(1.0, value + 0.4)
    if isinstance(value, Window):
        return {"start_h": 0, "end_h": 24}
    if isinstance(value, Fixed):
        return {"dist": "fixed", "value": value.value * 3 + 1}
    if hasattr(value, "mean") and hasattr(value, "model_dump"):
        d = value.model_dump(mode="json", by_alias=True)
        key = "mean" if "mean" in d else next(k for k in d if k != "dist")
        d[key] = d[key] * 3
        return d
    raise AssertionError(f"no perturbation for {value!r}")


def _levers() -> list[tuple[str, typing.Any]]:
    base = scenario_with(Scenario(), BASE)
    out = []
    roots: list[tuple[str, BaseModel]] = [
        ("platform", base.platform), ("departments.public_works", base.departments["public_works"]),
        ("staffing.level_teams", base.staffing.level_teams), ("joint_meeting", base.joint_meeting)]
    while roots:
        prefix, node = roots.pop(0)
        for name, f in type(node).model_fields.items():
            path = f"{prefix}.{name}"
            value = getattr(node, name)
            if name in LABELS or (prefix == "joint_meeting" and name == "enabled"):
                continue
            if isinstance(value, (EscalationConfig,)):
                roots.append((path, value))
                continue
            out.append((path, SPECIAL.get(path, _perturb(value, f.annotation))))
    return out


LEVERS = _levers()


@pytest.fixture(scope="module")
def base_kpis():
    return run_scenario(scenario_with(Scenario(), BASE), seed=2, keep_cases=False).kpis


def _moved(a: dict, b: dict) -> set[str]:
    return {k for k in a if not (a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k])
                                                   and math.isnan(b[k])))}


def test_the_walk_covers_the_sections():
    paths = {p for p, _ in LEVERS}
    assert {"platform.acceptance_limit_h", "platform.escalation.review_time",
            "departments.public_works.end_of_shift", "staffing.level_teams.street",
            "joint_meeting.resolve_prob"} <= paths
    assert len(paths) >= 30


@pytest.mark.parametrize("path, value", LEVERS, ids=[p for p, _ in LEVERS])
def test_every_lever_changes_a_kpi(path, value, base_kpis):
    k = run_scenario(scenario_with(Scenario(), {**BASE, path: value}), seed=2,
                     keep_cases=False).kpis
    moved = _moved(base_kpis, k)
    if path in PRICES:
        assert moved == {PRICES[path]}, moved
    else:
        assert moved - COSTS, f"{path} → {value!r} moved no KPI besides costs"
