"""The lever walk: does every field of the scenario schema move some KPI beyond its noise?

Every leaf of the pydantic schema is found by walking a scenario instance (fields added later
are walked with no change here): models are entered, dictionaries of models (departments,
incident categories and subtypes, zones, emergency kinds…) are entered key by key, and
dictionaries of numbers (``appraisal.indicator_weights``) give one leaf per key. The walk runs
on :data:`WALK_BASE`: the baseline at a reduced size with every section that is off by default
switched on (incentives and gaming, department lists, collusion, campaigns, disclosure,
training, attrition, the joint meeting, hotspot patrols, AI video, emergencies) and a public-works
bottleneck in one street so that the level teams have escalations to act on.

Each leaf is perturbed once (:func:`perturb`: a switch flipped, an option swapped, a number
multiplied or divided by 3–4 within its bounds, a probability or share moved to the far end, a
distribution's mean multiplied by 4, a window made round-the-clock, a name swapped for another
the scenario uses, a null given a value) and the perturbed scenario runs at the same seeds as the base
(common random numbers). For KPI k, with paired differences d_k over n seeds and σ_k the
seed-to-seed standard deviation of the base KPI over :data:`NOISE_SEEDS`,

    effect / noise = |mean d_k| / (σ_k · √(2 / n))

— the mean difference in units of the standard error it would have if the runs were independent,
so a change that only reshuffles random numbers scores like a standard normal. A field *moves* a
KPI when effect / noise ≥ :data:`THRESHOLD` (3: about 1 in 370 per KPI by chance); a KPI that
does not vary between seeds (σ_k = 0) moves when it changes at all. Verdicts: ``moves``, ``cost
only`` (only cost KPIs moved), ``below noise`` (some KPI changed, none beyond the threshold),
``dead`` (no KPI changed at all), ``invalid`` (no perturbation the schema accepts).
:data:`EXCEPTIONS` lists, with reasons, the fields that are not expected to move a KPI (labels,
colours, paths); :data:`WEAK` the fields reviewed as acting too rarely at the walk's size to
move a KPI beyond noise, with the reason.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

import annotated_types as at
import numpy as np
from pydantic import BaseModel, ValidationError

from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with
from sim.scenario.errors import ScenarioError

THRESHOLD = 3.0
NOISE_SEEDS = tuple(range(101, 109))  # the base's seed-to-seed noise
PAIR_SEEDS = NOISE_SEEDS[:3]  # perturbed runs, paired with the base at these seeds
COST_KPIS = frozenset(k for k, v in KPI_DEFINITIONS.items() if v[2] == "yuan"
                      and (k.endswith("_monthly") or k == "monthly_staff_cost"))
PW = "departments.public_works"
#: the baseline made small, with every section switched on (see the module docstring)
WALK_BASE: dict[str, Any] = {
    "run.days": 10, "run.warmup_days": 1, "city.households": 8000,
    "city.communities_per_street": 2,
    f"{PW}.crews_per_street": 1, f"{PW}.shift": {"start_h": 8, "end_h": 14},
    "incidents.categories.infrastructure.rate_per_1000_households_per_day": 2.0,
    "channels.sensor_coverage": 0.3, "channels.video_coverage": 0.3,
    "platform.auto_dispatch_share": 0.3,
    "platform.handoff_delay": {"dist": "lognormal", "mean": 0.5, "cv": 1.0},
    "staffing.workers_total": None,
    "appraisal.worker_scheme.pay_per_report_yuan": 20.0,
    "appraisal.worker_scheme.pay_per_closure_yuan": 5.0,
    "appraisal.worker_scheme.quota_reports_per_month": 30,
    "appraisal.worker_scheme.quota_penalty_yuan": 300.0,
    "appraisal.worker_scheme.satisfaction_bonus_yuan_per_point": 20.0,
    "appraisal.worker_scheme.overdue_penalty_yuan": 20.0,
    "appraisal.department_scheme.black_list_share": 0.3,
    "appraisal.department_scheme.red_list_share": 0.3,
    "appraisal.department_scheme.penalty_per_overdue_yuan": 200.0,
    "appraisal.department_scheme.penalty_per_case_yuan": 20.0,
    "appraisal.behaviour.collusion_side_payment_share": 0.3,
    "appraisal.behaviour.time_value_yuan_per_h": 30.0,
    "residents.campaigns.talks.events_per_grid_per_month": 1.0,
    "residents.campaigns.leaflets.events_per_grid_per_month": 2.0,
    "residents.campaigns.volunteers.events_per_grid_per_month": 1.0,
    "residents.satisfaction_elasticity": 1.0, "residents.trust_elasticity": 1.0,
    "residents.disclosure.enabled": True,
    "workforce.training.hours_per_month": 8.0,
    "workforce.attrition.quit_sensitivity": 1.0,
    "workforce.attrition.reference_cases_per_month": 15.0,
    "workforce.recruitment.vacancy_days": 1.0,
    "joint_meeting.enabled": True, "joint_meeting.interval_days": 3,
    "smart_platform.hotspot_patrol.enabled": True,
    "smart_platform.hotspot_patrol.relearn_interval_days": 3,
    "smart_platform.ai_video.enabled": True,
    "emergency.enabled": True,
    "emergency.incidents": [{"kind": "building_fire", "at_h": 34.5, "grid": 0},
                            {"kind": "gas_leak", "at_h": 58.0, "grid": 7},
                            {"kind": "public_order", "at_h": 83.0, "grid": 12},
                            {"kind": "flood", "at_h": 130.0}],
}

#: (glob on the dotted path, reason): fields not expected to move a KPI. Reviewed by hand.
EXCEPTIONS: tuple[tuple[str, str], ...] = (
    ("name", "label: the scenario's name"),
    ("description", "label: the scenario's description"),
    ("*label*", "label shown in the app and reports"),
    ("*description_zh", "label shown in the app and reports"),
    ("city.geometry", "the city's map (null: the synthetic city); a real map is another city, "
                      "not a lever: its own fields are checked by the real-map tests"),
    ("emergency.kinds.*.people", "off (null) in the built-in kinds: the drills that set people "
                                 "measure its rules (benchmarks/emergency_rules.py)"),
    ("emergency.kinds.*.hazard.cutoff_min", "off (null) in the built-in kinds: the drills with "
                                            "gas and power measure it (emergency_rules.py)"),
    ("*colour*", "colour of a map or chart"),
    ("*color*", "colour of a map or chart"),
    ("*.path", "file path of input data"),
    ("*_path", "file path of input data"),
    ("*.file", "file path of input data"),
    ("*.unit_code", "label: the prefix of unit ids in the event trace"),
    ("emergency.tick_min", "numerical step of the hazard model: results should not depend on "
                           "it beyond noise (a check of the solver, not a policy lever)"),
    ("run.seed", "the seed of a run made without one; the walk passes its seeds explicitly"),
    ("run.timeseries_interval_h", "sampling interval of the time series, not of any KPI"),
    ("*.measure_en", "label of an emergency's hazard measure"),
    ("*.measure_zh", "label of an emergency's hazard measure"),
    ("emergency.kinds.*.hazard.unit", "label: the unit of an emergency's hazard measure"),
    ("incidents.categories.*.subtypes.*.share", "one of a category's subtype shares, which must "
                                                "add up to 1: not perturbed alone"),
    ("emergency.kinds.*.plan.lead", "the plan's lead must be a responder its levels call: no "
                                    "single swap is valid"),
    ("city.zones.*.share", "one of the zones' household shares, which must add up to 1: not "
                           "perturbed alone"),
    ("emergency.kinds.*.hazard.model", "discriminator of the hazard type (growth or flood); "
                                       "every field of each hazard is walked"),
    ("emergency.trace_every_min", "sampling interval of the optional event trace (replay), "
                                  "not of any KPI"),
)


_SANCTIONED = ("with penalties per case and per overdue case on (as in the walk) every department "
               "is sanctioned every cycle: the lists add nothing, none relaxes, and the speed-up "
               "(0.15 a cycle) reaches no cap in the walk's one cycle; measured alone at the "
               "default length in tests/test_incentives.py")
_NO_SUPPRESSION = ("deters collusion (suppressed cases): no worker of the walk finds it worth "
                   "while (0 suppressed at every noise seed); measured in tests/test_incentives.py "
                   "(collusion keeps problems off the record, complaints catch some)")

#: (glob, reason): fields reviewed as real levers that act too rarely in the walk's 10 days to
#: move a KPI beyond noise (``below noise``, or ``dead`` where the walk never reaches them)
WEAK: tuple[tuple[str, str], ...] = (
    ("incidents.categories.*.subtypes.*", "one subtype's own cases: a few dozen or fewer in the "
                                          "walk, too few to move a city-wide KPI beyond noise"),
    ("incidents.categories.*", "one category's cases: a minority of the walk's cases"),
    ("departments.*", "one department's crews: most departments handle few of the walk's "
                      "cases (the public-works bottleneck is walked beyond noise)"),
    ("emergency.kinds.*", "one emergency kind: one scripted emergency of each kind in the walk; "
                          "higher response levels are not reached"),
    ("emergency.responders.*", "one responder: called only by the plans of the four scripted "
                               "emergencies, at the levels they reach"),
    ("emergency.rules.*", "joint-response rules: four emergencies in the walk"),
    ("city.zones.*", "one zone's settings: the walk's small city"),
    ("appraisal.indicator_weights", "reporting only (its description says so): re-weights "
                                    "composite_appraisal_score, by less than its seed spread"),
    ("appraisal.cycle_days", "a period's length acts from the second action on; the walk's 10 "
                             "days see only the first, partial one (day 7)"),
    ("residents.disclosure.interval_days", "as appraisal.cycle_days: only the first disclosure "
                                           "(day 7) falls in the walk"),
    ("city.persons_per_household", "acts on people, not cases: a flood's people affected and, on "
                                   "a real map, households from population; the walk's flood "
                                   "affects no one and its city is synthetic"),
    ("city.streets_per_district", "the walk's city has 3 streets: one district at every value "
                                  "tried (3 and more)"),
    ("platform.escalation.district_to_joint_meeting", "acts on cases escalated past the district "
                                                      "team: none in the walk's 10 days"),
    ("joint_meeting.capacity_cases", "binds only when more cases wait for a meeting than it "
                                     "takes: the walk parks a few (2–8)"),
    ("appraisal.department_scheme.black_list_share", _SANCTIONED),
    ("appraisal.department_scheme.speed_max", _SANCTIONED),
    ("appraisal.department_scheme.relax", _SANCTIONED),
    ("appraisal.behaviour.collusion_side_payment_share", _NO_SUPPRESSION),
    ("appraisal.supervision.field_inspection_prob", _NO_SUPPRESSION),
    ("residents.complaints.investigation_detect_prob", _NO_SUPPRESSION),
    ("appraisal.supervision.caught_risk_multiplier", "raises a caught worker's risk at the next "
                                                     "choice, a cycle after day 7: outside the "
                                                     "walk's 10 days"),
    ("appraisal.behaviour.padded_reports_max_per_month", "a cap the walk's workers stay far below "
                                                         "(about 5 % of reports padded)"),
)


def weak_reason(path: str) -> str | None:
    for pat, why in WEAK:
        if fnmatch.fnmatchcase(path, pat + ".*") or fnmatch.fnmatchcase(path, pat):
            return why
    return None


def exception_reason(path: str) -> str | None:
    for pat, why in EXCEPTIONS:
        if fnmatch.fnmatchcase(path, pat):
            return why
    return None


# ----------------------------------------------------------------------------------- the leaves
@dataclass(frozen=True)
class Leaf:
    path: str
    value: Any
    annotation: Any
    metadata: tuple = ()


def _is_value_model(v: BaseModel) -> bool:
    """Distributions and windows are values (perturbed whole), not sections."""
    names = set(type(v).model_fields)
    return "dist" in names or {"start_h", "end_h"} <= names


def leaves(sc: BaseModel, prefix: str = "") -> list[Leaf]:
    """Every leaf field of ``sc``, dictionaries of models entered key by key."""
    out: list[Leaf] = []
    for name, info in type(sc).model_fields.items():
        path = f"{prefix}{name}"
        value = getattr(sc, name)
        if isinstance(value, BaseModel) and not _is_value_model(value):
            out += leaves(value, f"{path}.")
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel)
                                                       for v in value.values()):
            for key, v in value.items():
                if _is_value_model(v):
                    out.append(Leaf(f"{path}.{key}", v, type(v)))
                else:
                    out += leaves(v, f"{path}.{key}.")
        elif isinstance(value, dict) and value and all(isinstance(v, (int, float))
                                                       and not isinstance(v, bool)
                                                       for v in value.values()):
            for key, v in value.items():
                out.append(Leaf(f"{path}.{key}", v, float, ()))
        else:
            out.append(Leaf(path, value, info.annotation, tuple(info.metadata)))
    return out


# ------------------------------------------------------------------------------- perturbations
def _bounds(meta: tuple) -> tuple[float, float, bool, bool]:
    lo, hi, lo_open, hi_open = -math.inf, math.inf, False, False
    for m in meta:
        if isinstance(m, at.Ge):
            lo = m.ge
        elif isinstance(m, at.Gt):
            lo, lo_open = m.gt, True
        elif isinstance(m, at.Le):
            hi = m.le
        elif isinstance(m, at.Lt):
            hi, hi_open = m.lt, True
    return lo, hi, lo_open, hi_open


def _inside(x: float, b: tuple[float, float, bool, bool]) -> bool:
    lo, hi, lo_open, hi_open = b
    return (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)


def _literal_options(ann: Any) -> tuple | None:
    if typing.get_origin(ann) is typing.Literal:
        return typing.get_args(ann)
    for a in typing.get_args(ann):
        opts = _literal_options(a)
        if opts:
            return opts
    return None


def _type_default(ann: Any, b: tuple[float, float, bool, bool]) -> list[Any]:
    """Values for a field that is null: a number inside its bounds."""
    args = set(typing.get_args(ann)) | {ann}
    if int in args:
        return [c for c in (10, 1, int(b[0]) + 1) if _inside(c, b)]
    if float in args:
        return [c for c in (1.0, 0.5, 24.0, b[0] * 2 + 1) if _inside(c, b)]
    return []


def perturb(leaf: Leaf, siblings: dict[str, list[Any]] | None = None) -> list[Any]:
    """Candidate perturbed values of a leaf, best first (the first the schema accepts is used).
    ``siblings``: the values fields of the same name take elsewhere in the scenario, tried for
    names (a department, a plan's lead) and for fields that are null (inherit)."""
    v, b = leaf.value, _bounds(leaf.metadata)
    name = leaf.path.rsplit(".", 1)[-1]
    others = [x for x in (siblings or {}).get(name, []) if x != v and x is not None]
    opts = _literal_options(leaf.annotation)
    if opts and v in opts:
        return [o for o in opts if o != v]
    if v is None:  # inherits: skip the value it inherits (a subtype's from its category)
        inherited = (siblings or {}).get("@" + leaf.path, [])
        others = [x for x in others if x not in inherited]
        return others[:4] + _type_default(leaf.annotation, b)
    if isinstance(v, str):
        return others[:8] + ([None] if type(None) in typing.get_args(leaf.annotation) else [])
    if name == "partners" and siblings:
        return [[d] for d in siblings.get("department", []) if isinstance(d, str)]
    if isinstance(v, tuple) and v and all(isinstance(x, (int, float)) for x in v):
        n = len(v)
        return [list(v[n // 2:] + v[:n // 2]), list(reversed(v))]
    if isinstance(v, bool):
        return [not v]
    if isinstance(v, int):
        cands = [v * 3 if v else 3, v * 2 if v else 1, v // 3, v // 2, v + 1, v - 1]
        return [c for c in cands if c != v and _inside(c, b)]
    if isinstance(v, float):
        if b[0] >= 0 and b[1] <= 1:  # a probability or share: to the far end
            cands = [1.0 if v <= 0.5 else 0.0, 0.99 if v <= 0.5 else 0.01,
                     v + 0.3 if v <= 0.5 else v - 0.3]
        else:
            cands = [v * 4 if v else 1.0, v / 4, v * 2, v / 2, v + 1.0]
        return [c for c in cands if c != v and _inside(c, b)]
    if isinstance(v, BaseModel) and {"start_h", "end_h"} <= set(type(v).model_fields):
        always = v.start_h == 0 and v.end_h == 24
        return [{"start_h": 8, "end_h": 18} if always else {"start_h": 0, "end_h": 24}]
    if isinstance(v, BaseModel) and "dist" in type(v).model_fields:
        d = v.model_dump(mode="json", by_alias=True)
        if "mean" in d:
            return [{**d, "mean": d["mean"] * 4}, {**d, "mean": d["mean"] / 4}]
        key = next(k for k in d if k != "dist")
        return [{**d, key: d[key] * 4 + 1}]
    if isinstance(v, (list, tuple)) and v:
        return [list(v)[:-1], list(v)[1:]]
    return []


# ------------------------------------------------------------------------------------ the runs
def walk_base() -> Scenario:
    return scenario_with(Scenario(), WALK_BASE)


def _kpis(sc: Scenario, seed: int) -> dict[str, float]:
    return run_scenario(sc, seed=seed, keep_cases=False).kpis


@dataclass
class Noise:
    """The base's KPIs at ``NOISE_SEEDS`` and their seed-to-seed standard deviations."""

    base: dict[int, dict[str, float]]
    sd: dict[str, float] = field(default_factory=dict)

    @classmethod
    def measure(cls, sc: Scenario, seeds: tuple[int, ...] = NOISE_SEEDS) -> "Noise":
        base = {s: _kpis(sc, s) for s in seeds}
        sd = {}
        for k in KPI_DEFINITIONS:
            x = np.array([base[s][k] for s in seeds], dtype=float)
            x = x[~np.isnan(x)]
            sd[k] = float(x.std(ddof=1)) if len(x) > 1 else 0.0
        return cls(base, sd)


@dataclass
class Result:
    path: str
    value: Any
    verdict: str
    kpi: str = ""
    ratio: float = 0.0
    moved: tuple[str, ...] = ()


def effect_ratios(noise: Noise, pert: dict[int, dict[str, float]]) -> dict[str, float]:
    """effect / noise of every KPI (see the module docstring)."""
    seeds = list(pert)
    out = {}
    for k in KPI_DEFINITIONS:
        a = np.array([noise.base[s][k] for s in seeds], dtype=float)
        b = np.array([pert[s][k] for s in seeds], dtype=float)
        na, nb = np.isnan(a), np.isnan(b)
        if (na != nb).any():  # a KPI appears or disappears
            out[k] = math.inf
            continue
        d = (b - a)[~na]
        if not len(d):
            out[k] = 0.0
            continue
        m = abs(float(d.mean()))
        sd = noise.sd.get(k, 0.0)
        scale = max(1.0, float(np.nanmax(np.abs(a)))) if len(a) else 1.0
        if sd <= 1e-12 * scale:
            out[k] = math.inf if m > 1e-9 * scale else 0.0
        else:
            out[k] = m / (sd * math.sqrt(2.0 / len(d)))
    return out


def verdict_of(ratios: dict[str, float]) -> tuple[str, str, float, tuple[str, ...]]:
    moved = tuple(k for k, r in ratios.items() if r >= THRESHOLD)
    real = [k for k in moved if k not in COST_KPIS]
    if real:
        top = max(real, key=lambda k: ratios[k])
        return "moves", top, ratios[top], moved
    if moved:
        top = max(moved, key=lambda k: ratios[k])
        return "cost only", top, ratios[top], moved
    top = max(ratios, key=lambda k: ratios[k]) if ratios else ""
    if not ratios or ratios[top] == 0.0:
        return "dead", "", 0.0, ()
    return "below noise", top, ratios[top], ()


def sibling_values(all_leaves: list[Leaf]) -> dict[str, list[Any]]:
    """Distinct values of the leaves of each field name, in walk order."""
    out: dict[str, list[Any]] = {}
    by_path = {lf.path: lf.value for lf in all_leaves}
    for lf in all_leaves:
        name = lf.path.rsplit(".", 1)[-1]
        vals = out.setdefault(name, [])
        try:
            if lf.value not in vals:
                vals.append(lf.value)
        except TypeError:
            pass
        parts = lf.path.split(".")
        if lf.value is None and "subtypes" in parts:  # a subtype's field that inherits
            k = parts.index("subtypes")
            parent = ".".join(parts[:k] + parts[k + 2:])
            if by_path.get(parent) is not None:
                out["@" + lf.path] = [by_path[parent]]
    return out


def _companions(base: Scenario, leaf: Leaf, siblings: dict[str, list[Any]]) -> dict[str, Any]:
    """Values for the null fields beside ``leaf`` (a choice such as ``unreported: vanish`` may
    require one, e.g. ``lifetime_h``): the first value other fields of that name take."""
    parent = leaf.path.rsplit(".", 1)[0]
    out = {}
    for lf in leaves(base):
        if lf.value is None and lf.path.rsplit(".", 1)[0] == parent and lf.path != leaf.path:
            vals = [v for v in siblings.get(lf.path.rsplit(".", 1)[-1], []) if v is not None]
            if vals:
                out[lf.path] = vals[0]
    return out


#: a field's value that a schema rule ties to a sibling's: field → {sibling: value it then needs}
#: (a responder sharing its department's routine crews is placed at the street depots)
COUPLED: dict[str, dict[str, Any]] = {
    "shares_routine_crews": {"placement": "street_depots"},
    "placement": {"shares_routine_crews": False},
}


def _coupled(leaf: Leaf) -> dict[str, Any]:
    parent, name = leaf.path.rsplit(".", 1)
    return {f"{parent}.{k}": v for k, v in COUPLED.get(name, {}).items()}


def _scenario(base: Scenario, leaf: Leaf, cand: Any, siblings: dict[str, list[Any]]
              ) -> Scenario | None:
    """``base`` with ``leaf`` set to ``cand``: alone, else with values for its null siblings
    (:func:`_companions`), else with those and the siblings a schema rule ties to it
    (:data:`COUPLED`); None when the schema accepts none of these."""
    def attempts():
        yield {}
        companions = _companions(base, leaf, siblings)   # walks every leaf: only when needed
        yield companions
        yield {**companions, **_coupled(leaf)}

    for extra in attempts():
        try:
            return scenario_with(base, {leaf.path: cand, **extra})
        except (ValidationError, ValueError, ScenarioError):
            continue
    return None


#: valid perturbations tried on a field before it is called dead (each costs PAIR_SEEDS runs)
MAX_TRIES = 3


def walk_one(base: Scenario, noise: Noise, leaf: Leaf, siblings: dict[str, list[Any]],
             seeds: tuple[int, ...] = PAIR_SEEDS) -> Result:
    """The field perturbed to its first candidate the schema (and the cut city) accepts; when
    that changes no KPI at all — a cap that never binds, a switch whose other side is equally
    idle — the next ones, up to :data:`MAX_TRIES`: a field is dead only if none of them acts."""
    first: Result | None = None
    tries = 0
    for cand in perturb(leaf, siblings):
        sc = _scenario(base, leaf, cand, siblings)
        if sc is None:
            continue
        try:
            pert = {s: _kpis(sc, s) for s in seeds}
        except ScenarioError:   # valid alone, refused once the city is cut (a grid it names)
            continue
        verdict, kpi, ratio, moved = verdict_of(effect_ratios(noise, pert))
        r = Result(leaf.path, cand, verdict, kpi, ratio, moved)
        if verdict != "dead":
            return r
        first = first or r
        tries += 1
        if tries >= MAX_TRIES:
            break
    return first or Result(leaf.path, None, "invalid")


def sample(paths: list[str], k: int, seed: int) -> list[str]:
    """``k`` of ``paths``, chosen deterministically by ``seed`` (all if k ≥ len)."""
    if k >= len(paths):
        return list(paths)
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(sorted(paths), size=k, replace=False).tolist())


def sample_seed_from(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def walk(paths: list[str] | None = None, progress: Callable[[Result], None] | None = None
         ) -> list[Result]:
    """Walk ``paths`` (all leaves by default) on :func:`walk_base`."""
    base = walk_base()
    noise = Noise.measure(base)
    all_leaves = leaves(base)
    by_path = {lf.path: lf for lf in all_leaves}
    sib = sibling_values(all_leaves)
    out = []
    for p in (paths if paths is not None else list(by_path)):
        why = exception_reason(p)
        r = Result(p, None, f"exception: {why}") if why \
            else walk_one(base, noise, by_path[p], sib)
        out.append(r)
        if progress:
            progress(r)
    return out


#: fields that only price something: moving only a cost KPI is their whole effect
PRICES = ("*cost*", "*.pay.*", "*_yuan*", "appraisal.worker_scheme.satisfaction_reference")


def is_price(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pat) for pat in PRICES)


def acceptable(r: Result) -> bool:
    """What the tests require of a walked field: a perturbation the schema accepts, and some
    KPI changed — unless the field is a reviewed exception or weak field. Whether it moved a
    KPI beyond noise (``moves``) is the walk's finding, reported in docs/levers.md: ``below
    noise`` and ``cost only`` (for a field that is not a price) pass here but are listed."""
    if r.verdict.startswith("exception"):
        return True
    if r.verdict == "invalid":
        return False
    return r.verdict != "dead" or weak_reason(r.path) is not None


def fmt_ratio(r: float) -> str:
    return "∞ (no seed noise)" if math.isinf(r) else f"{r:.1f}"


def lists_markdown() -> str:
    """The reviewed exceptions and weak fields, with their reasons."""
    out = ["Exceptions (not run):", ""]
    out += [f"- `{pat}` — {why}" for pat, why in EXCEPTIONS]
    out += ["", "Reviewed weak fields (below noise or dead tolerated at the walk's size):", ""]
    out += [f"- `{pat}.*` — {why}" for pat, why in WEAK]
    return "\n".join(out)


def markdown(results: list[Result]) -> str:
    lines = [lists_markdown(), "",
             "| field | perturbed to | KPI moved most | effect / noise | verdict |",
             "|---|---|---|---|---|"]
    for r in results:
        val = "" if r.value is None else str(r.value).replace("|", "\\|")
        ratio = fmt_ratio(r.ratio) if r.kpi else ""
        verdict = "exception" if r.verdict.startswith("exception") else r.verdict
        if verdict in ("below noise", "dead") and weak_reason(r.path):
            verdict += " (reviewed weak)"
        lines.append(f"| `{r.path}` | {val} | {r.kpi and f'`{r.kpi}`'} | {ratio} | {verdict} |")
    return "\n".join(lines)
