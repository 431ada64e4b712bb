"""The lever walk (sim.experiment.levers): every leaf field of the schema, found by walking it.

The cheap checks cover every field: the walk finds them all (fields added later included),
and each has a perturbation the walk can try or a reviewed exception. The paired runs cover a
sample of the fields on each test run — ``LEVER_FIELDS`` fields (default 12, about a minute on
one core), chosen deterministically by ``GRIDSIM_LEVER_SEED`` (default: the commit being tested,
so successive commits walk different fields; the seed is in each test id). A walked field must
take a perturbation the schema accepts and change some KPI (a dead field fails) unless it is a
reviewed exception or weak field; whether it moves a KPI beyond noise is the walk's verdict,
printed for the others and tabled for all fields by ``make validate`` (benchmarks/lever_walk.py,
docs/levers.md).
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel

from sim.experiment.levers import (
    COST_KPIS,
    EXCEPTIONS,
    THRESHOLD,
    WEAK,
    Leaf,
    acceptable,
    Noise,
    effect_ratios,
    exception_reason,
    leaves,
    perturb,
    sample,
    sample_seed_from,
    sibling_values,
    verdict_of,
    walk_base,
    walk_one,
    weak_reason,
)
from sim.metrics import KPI_DEFINITIONS

ROOT = Path(__file__).resolve().parent.parent
BASE = walk_base()
LEAVES = leaves(BASE)
SIB = sibling_values(LEAVES)
LEVER_FIELDS = int(os.environ.get("GRIDSIM_LEVER_FIELDS", "12"))


def _sample_seed() -> int:
    if "GRIDSIM_LEVER_SEED" in os.environ:
        return int(os.environ["GRIDSIM_LEVER_SEED"])
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    return sample_seed_from(head or "no-git")


SEED = _sample_seed()
RUN_PATHS = [p for p in sample([lf.path for lf in LEAVES if not exception_reason(lf.path)],
                               LEVER_FIELDS, SEED)]


def test_the_walk_finds_every_leaf_of_every_section():
    paths = {lf.path for lf in LEAVES}
    assert len(paths) == len(LEAVES) >= 900
    for p in ("platform.escalation.reassign", "platform.escalation.coordination_time",
              "staffing.level_teams.street", "appraisal.indicator_weights.timeliness",
              "departments.public_works.shift", "residents.disclosure.interval_days",
              "incidents.categories.infrastructure.subtypes.road_damage.deadline.unit",
              "emergency.kinds.flood.hazard.rain_peak_mm_per_h", "city.persons_per_household",
              "workforce.attrition.quit_sensitivity", "run.days"):
        assert p in paths, p
    sections = {p.split(".")[0] for p in paths}
    assert set(type(BASE).model_fields) == sections  # every top-level field is walked


def test_a_field_added_later_is_walked_without_changes_here():
    class Extra(BaseModel):
        lead_days: float = 2.0
        label_zh: str = "部门"

    class Dept(BaseModel):
        crews: int = 2
        scheduling: Extra = Extra()

    class Root(BaseModel):
        departments: dict[str, Dept] = {"a": Dept(), "b": Dept()}

    paths = [lf.path for lf in leaves(Root())]
    assert "departments.b.scheduling.lead_days" in paths
    assert exception_reason("departments.b.scheduling.label_zh")
    assert exception_reason("city.geometry.boundary_path") and exception_reason("x.description_zh")


def test_every_field_has_a_perturbation_the_schema_accepts_or_a_reviewed_exception():
    """Checked for every field on every run (validation only, no runs), so a field the sampled
    walk would find "invalid" fails here at once, whichever fields a commit samples."""
    from sim.experiment.levers import _scenario

    missing = [lf.path for lf in LEAVES if not exception_reason(lf.path)
               and not any(_scenario(BASE, lf, c, SIB) is not None for c in perturb(lf, SIB))]
    assert not missing, missing
    assert len(EXCEPTIONS) <= 24 and len(WEAK) <= 24  # short, reviewed lists


def test_perturbations_respect_the_bounds():
    from sim.scenario.platform import PlatformConfig
    from sim.scenario.staffing import LevelTeams
    team = tuple(LevelTeams.model_fields["community"].metadata)  # 0 … 100
    assert perturb(Leaf("x", 2, int, team))[:3] == [6, 4, 0]
    assert perturb(Leaf("x", 90, int, team))[0] == 30  # 270 and 180 are out of bounds
    prob = tuple(PlatformConfig.model_fields["misroute_prob"].metadata)
    assert perturb(Leaf("p", 0.9, float, prob))[0] == 0.0  # to the far end
    assert perturb(Leaf("p", 0.05, float, prob))[0] == 1.0
    assert perturb(Leaf("b", True, bool)) == [False]


def _noise(sd: dict[str, float], base: dict[str, float]) -> Noise:
    return Noise({1: base, 2: base, 3: base}, sd)


def test_effect_counts_only_beyond_seed_noise():
    keys = list(KPI_DEFINITIONS)
    base = {k: 10.0 for k in keys}
    sd = {k: 1.0 for k in keys}
    sd["monthly_staff_cost"] = 0.0
    n = _noise(sd, base)
    # a difference of 1 sd at 3 seeds: effect / noise = 1 / √(2/3) ≈ 1.22, below the threshold
    small = {s: {**base, "on_time_rate": 11.0} for s in (1, 2, 3)}
    r = effect_ratios(n, small)
    assert r["on_time_rate"] == pytest.approx(1 / math.sqrt(2 / 3))
    assert verdict_of(r)[0] == "below noise"
    big = {s: {**base, "on_time_rate": 14.0} for s in (1, 2, 3)}
    assert verdict_of(effect_ratios(n, big))[:2] == ("moves", "on_time_rate")
    # a cost with no seed noise moves when it changes at all; alone it is "cost only"
    cost = {s: {**base, "monthly_staff_cost": 10.5} for s in (1, 2, 3)}
    v = verdict_of(effect_ratios(n, cost))
    assert v[0] == "cost only" and math.isinf(v[2]) and "monthly_staff_cost" in COST_KPIS
    assert verdict_of(effect_ratios(n, {s: dict(base) for s in (1, 2, 3)}))[0] == "dead"
    # seed-to-seed scatter with no mean change (a reshuffle) is not an effect
    mixed = {1: {**base, "on_time_rate": 12.0}, 2: {**base, "on_time_rate": 8.0},
             3: {**base, "on_time_rate": 10.0}}
    assert effect_ratios(n, mixed)["on_time_rate"] == 0.0
    assert THRESHOLD >= 3


@pytest.fixture(scope="module")
def noise():
    return Noise.measure(BASE)


@pytest.mark.parametrize("path", RUN_PATHS, ids=[f"{p}@seed{SEED}" for p in RUN_PATHS])
def test_sampled_field_moves_a_kpi_beyond_noise(path, noise):
    leaf = next(lf for lf in LEAVES if lf.path == path)
    r = walk_one(BASE, noise, leaf, SIB)
    assert acceptable(r), (f"{path} → {r.value!r}: {r.verdict} (largest effect / noise "
                           f"{r.ratio:.2f} on {r.kpi}); make it act, give it a reviewed "
                           f"reason in sim.experiment.levers, or remove it")
    assert r.verdict != "cost only" or set(r.moved) <= COST_KPIS
    if r.verdict == "moves":
        assert r.ratio >= THRESHOLD and r.kpi not in COST_KPIS
    if r.verdict not in ("moves", "exception") and weak_reason(path) is None:
        print(f"finding: {path} is {r.verdict} at the walk's size "
              f"(effect / noise {r.ratio:.2f} on {r.kpi})")
