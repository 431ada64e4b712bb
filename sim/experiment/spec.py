"""Experiment files: a base scenario, factors, a design, replications, what to keep.

An experiment is checked once, at load, with the same rules as scenarios (strict YAML, pydantic,
``extra="forbid"``): every error is a :class:`~sim.scenario.ScenarioError` naming the field path
(``factors.staffing.workers_per_grid.values``…) and what is allowed. Factor paths are checked
against the scenario schema, and every design point is validated as a full scenario before the
first run starts, so a sweep never fails half-way on a value the schema forbids.

A factor is either a list of ``values`` (any YAML values, e.g. numbers, booleans, names) or a
range ``low``/``high`` (with ``num`` or ``step`` for a full factorial; sampling designs draw
inside the range). Integer scenario fields get integer levels.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.experiment.optspec import Optimize
from sim.metrics import KPI_DEFINITIONS
from sim.scenario.model import DISPLAY_FIELDS
from sim.scenario import (
    Scenario,
    ScenarioError,
    _format_validation,
    chinese_text,
    read_mapping,
    set_paths,
    validate_scenario,
)

DesignType = Literal["full_factorial", "latin_hypercube", "sobol", "morris", "optimize"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Factor(_Model):
    """One scenario field varied by the design: a list of values, or a range."""

    values: tuple[Any, ...] | None = Field(default=None, min_length=1,
                                           description="the levels, any YAML values")
    low: float | None = Field(default=None, description="lower end of the range")
    high: float | None = Field(default=None, description="upper end of the range")
    num: int | None = Field(default=None, ge=2, le=10_000,
                            description="full factorial: this many evenly spaced levels")
    step: float | None = Field(default=None, gt=0, description="full factorial: levels low, low+step…")
    log: bool = Field(default=False, description="spread levels / samples on a log scale")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"values": data} if isinstance(data, (list, tuple)) else data

    @model_validator(mode="after")
    def _check(self) -> "Factor":
        if self.values is not None:
            if any(v is not None for v in (self.low, self.high, self.num, self.step)) or self.log:
                raise ValueError("give either values or a range (low/high), not both")
            if len({json.dumps(v, sort_keys=True) for v in self.values}) != len(self.values):
                raise ValueError("values must be distinct")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give values: [...] or a range with both low and high")
        if not self.high > self.low:
            raise ValueError(f"high must be greater than low (got low={self.low}, high={self.high})")
        if self.num is not None and self.step is not None:
            raise ValueError("give num or step, not both")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range needs low > 0")
        if self.step is not None and (self.high - self.low) / self.step > 10_000:
            raise ValueError("step gives more than 10000 levels")
        return self

    @property
    def is_range(self) -> bool:
        return self.values is None

    def levels(self, integer: bool) -> list[Any]:
        """The levels of a full factorial."""
        if self.values is not None:
            return list(self.values)
        assert self.low is not None and self.high is not None
        if self.step is not None:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            raw = [self.low + i * self.step for i in range(n)]
        elif self.num is not None:
            raw = [self.from_unit(i / (self.num - 1), False) for i in range(self.num)]
        else:
            raise ValueError("a range in a full factorial needs num or step")
        if integer:
            out: list[Any] = []
            for v in raw:
                iv = int(round(v))
                if iv not in out:
                    out.append(iv)
            return out
        return [round(v, 12) for v in raw]

    def from_unit(self, u: float, integer: bool) -> Any:
        """Map u in [0, 1] to a level: uniform over values, or over the range (log if asked)."""
        if self.values is not None:
            k = len(self.values)
            return self.values[min(int(math.floor(u * k)), k - 1)]
        lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
        if integer:
            ilo, ihi = math.ceil(lo), math.floor(hi)
            n = ihi - ilo + 1
            return int(ilo + min(int(math.floor(u * n)), n - 1))
        if self.log:
            return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
        return float(lo + u * (hi - lo))


class Design(_Model):
    """How design points are chosen from the factors."""

    type: DesignType = "full_factorial"
    samples: int | None = Field(
        default=None, ge=1, le=1_000_000,
        description="latin_hypercube: points; sobol: base sample N (a power of 2); "
                    "morris: trajectories")
    second_order: bool = Field(default=False, description="sobol: also second-order indices")
    levels: int = Field(default=4, ge=2, le=20, description="morris: grid levels")

    @model_validator(mode="after")
    def _check(self) -> "Design":
        if self.type == "optimize" and self.samples is not None:
            raise ValueError("an optimisation chooses its own candidates: no samples")
        if self.type not in ("full_factorial", "optimize") and self.samples is None:
            raise ValueError(f"design type {self.type} needs samples")
        if self.type == "full_factorial" and self.samples is not None:
            raise ValueError("a full factorial takes no samples (its levels come from the factors)")
        if self.type == "sobol" and self.samples & (self.samples - 1):  # type: ignore[operator]
            raise ValueError(f"sobol samples must be a power of 2 (got {self.samples})")
        return self


class Precision(_Model):
    """Add replications until the 95% CI half-width of ``kpi`` is at most ``half_width``."""

    kpi: str
    half_width: float = Field(gt=0)
    relative: bool = Field(default=False, description="half_width is a share of the mean")
    max_replications: int = Field(default=100, ge=2, le=100_000)

    @field_validator("kpi")
    @classmethod
    def _kpi(cls, v: str) -> str:
        if v not in KPI_DEFINITIONS:
            raise ValueError(f"unknown KPI {v!r}; allowed: {', '.join(KPI_DEFINITIONS)}")
        return v


class Experiment(_Model):
    """An experiment file (``experiments/*.yaml``)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    label: str = Field(default="", max_length=80,
                       description="the experiment's name for people, in the app (empty: name)")
    label_zh: str = Field(default="", max_length=80, description="its name in 中文, in the app")
    description: str = ""
    description_zh: str = Field(default="", max_length=1000,
                                description="the description in 中文, in the app")
    base: str | dict[str, Any] | None = Field(
        default=None, description="scenario file (relative to the experiment file), an inline "
                                  "scenario mapping, or omitted for the baseline")
    overrides: dict[str, Any] = Field(default_factory=dict,
                                      description="dotted-path settings applied to the base first")
    factors: dict[str, Factor] = Field(min_length=1)
    design: Design = Design()
    replications: int = Field(default=5, ge=1, le=100_000)
    seed: int = Field(default=20261127, ge=0, lt=2**63,
                      description="root of the experiment's SeedSequence")
    common_random_numbers: bool = Field(
        default=True, description="replication r uses the same seed at every design point")
    kpis: tuple[str, ...] = Field(default=tuple(KPI_DEFINITIONS), min_length=1)
    timeseries: tuple[str, ...] = Field(default=(), description="time-series columns to keep")
    precision: Precision | None = None
    optimize: Optimize | None = Field(
        default=None, description="objectives, constraints and budget of gridsim optimize "
                                  "(sim/experiment/optspec.py); factors are then the levers")

    @model_validator(mode="before")
    @classmethod
    def _optimize_design(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("optimize") is not None:
            design = data.get("design")
            if design is None:
                return {**data, "design": {"type": "optimize"}}
            if not isinstance(design, dict) or design.get("type") != "optimize":
                raise _PathError("design", "an optimisation chooses its own candidates: leave "
                                           "design out (or write design: {type: optimize})")
        return data

    _chinese = field_validator("label_zh", "description_zh")(
        classmethod(lambda cls, v: chinese_text(v)))

    @field_validator("kpis")
    @classmethod
    def _kpis(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in v if k not in KPI_DEFINITIONS]
        if bad:
            raise ValueError(f"unknown KPI {', '.join(map(repr, bad))}; allowed: "
                             + ", ".join(KPI_DEFINITIONS))
        if len(set(v)) != len(v):
            raise ValueError("KPIs must be distinct")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Experiment":
        if self.design.type == "full_factorial":
            for path, f in self.factors.items():
                if f.is_range and f.num is None and f.step is None:
                    raise _PathError(f"factors.{path}",
                                     "a range in a full factorial needs num or step")
        if self.design.type == "optimize" or self.optimize is not None:
            _check_optimize(self)
        if self.precision and self.precision.kpi not in self.kpis:
            raise _PathError("precision.kpi", f"{self.precision.kpi!r} is not among the kept kpis")
        return self


def _check_optimize(e: "Experiment") -> None:
    opt = e.optimize
    if opt is None:
        raise _PathError("optimize", "design type optimize needs an optimize: section")
    if e.precision is not None:
        raise _PathError("precision", "an optimisation adds replications itself "
                                      "(optimize.max_replications); drop precision")
    for i, o in enumerate(opt.objectives):
        for k in o.keys:
            if k not in e.kpis:
                raise _PathError(f"optimize.objectives.{i}", f"{k!r} is not among the kept kpis")
    for i, c in enumerate(opt.constraints):
        if c.kpi not in e.kpis:
            raise _PathError(f"optimize.constraints.{i}.kpi", f"{c.kpi!r} is not among the kept "
                                                              "kpis")
    if opt.constraints and e.replications < 2:
        raise _PathError("replications", "a confidence bound needs at least 2 replications per "
                                         f"candidate (got {e.replications})")
    if opt.max_replications < e.replications:
        raise _PathError("optimize.max_replications", f"must be at least replications "
                                                      f"({e.replications})")
    for path, f in e.factors.items():
        if f.log and (f.step is not None or f.num is not None):
            raise _PathError(f"factors.{path}", "a log-scale lever cannot also be stepped")
        bad = [v for v in (f.values or ()) if v is not None
               and not isinstance(v, (bool, int, float, str))]
        if bad:
            raise _PathError(f"factors.{path}", "choices of an optimisation lever must be "
                                                f"numbers, booleans or names (got {bad[0]!r})")


class _PathError(ValueError):
    def __init__(self, path: str, msg: str):
        self.path, self.msg = path, msg
        super().__init__(f"{path}: {msg}")


# ----------------------------------------------------------------------------- resolved form
class ResolvedExperiment:
    """An experiment with its base scenario loaded and its factor paths checked.

    ``spec.base`` is the base scenario inline (a mapping), so the stored spec is self-contained:
    ``gridsim report --precision`` can run more replications from the store alone.
    """

    def __init__(self, spec: Experiment, base: Scenario, source: str):
        self.spec = spec
        self.base = base
        self.source = source
        self._base_data = base.model_dump(mode="json", by_alias=True)
        self.factor_names = list(spec.factors)
        self.integer = {p: _is_int(_safe_lookup(self._base_data, p)) for p in self.factor_names}

    @property
    def hash(self) -> str:
        """What makes runs comparable: base, factors, design, seeds, kept outputs.

        Name, description, replications and precision are left out, so adding replications to a
        finished sweep resumes it instead of starting a new store; so are the base's names for
        people (``label``, ``label_zh``, ``description_zh``).
        """
        # a base on a real map counts by its scenario hash: the content of its files, not where
        # they lie (a synthetic base keeps the hash its stores already carry)
        base = {k: v for k, v in self._base_data.items() if k not in DISPLAY_FIELDS} \
            if self.base.city.geometry is None else self.base.hash()
        blob = json.dumps({"base": base, "factors": {
            k: f.model_dump(mode="json") for k, f in self.spec.factors.items()},
            "design": self.spec.design.model_dump(mode="json"), "seed": self.spec.seed,
            "crn": self.spec.common_random_numbers, "kpis": list(self.spec.kpis),
            "timeseries": list(self.spec.timeseries),
            **({"optimize": self.spec.optimize.hash_part(),
                "replications": self.spec.replications} if self.spec.optimize else {})},
            sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def stored_spec(self) -> dict[str, Any]:
        """The spec with the base inline and overrides already applied (self-contained)."""
        d = self.spec.model_dump(mode="json")
        d["base"] = self._base_data
        d["overrides"] = {}
        return d

    def scenario(self, values: dict[str, Any]) -> Scenario:
        """The scenario of one design point (paths were checked at load)."""
        data = copy.deepcopy(self._base_data)
        for path, v in values.items():
            _assign(data, path, v)
        return Scenario.model_validate(data)

    def check_point(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        data = copy.deepcopy(self._base_data)
        for path, v in values.items():
            _assign(data, path, v)
        try:
            Scenario.model_validate(data)
        except ValidationError as err:
            return _format_validation(err, Scenario)
        return []


def _lookup(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        node = node[part]
    return node


def _safe_lookup(data: Any, path: str) -> Any:
    try:
        return _lookup(data, path)
    except (KeyError, TypeError):
        return None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _assign(data: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for e in err.errors(include_url=False):
        ctx_err = (e.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _PathError):
            out.append((ctx_err.path, ctx_err.msg))
            continue
        loc = [str(p) for p in e["loc"]]
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            fields = _EXPERIMENT_FIELDS.get(tuple(loc[:1]) if len(loc) > 1 else ())
            msg = "unknown field" + (f"; allowed: {', '.join(fields)}" if fields else "")
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and not isinstance(e["input"], (dict, list)):
            shown = repr(e["input"])
            if len(shown) <= 60:
                msg += f" (got {shown})"
        out.append((".".join(loc), msg))
    return out


_EXPERIMENT_FIELDS: dict[tuple[str, ...], list[str]] = {
    (): list(Experiment.model_fields),
    ("design",): list(Design.model_fields),
    ("precision",): list(Precision.model_fields),
    ("factors",): list(Factor.model_fields),
    ("optimize",): list(Optimize.model_fields),
}


def validate_experiment(data: Any, source: str, base_dir: Path | None = None
                        ) -> ResolvedExperiment:
    """Validate a mapping as an experiment, load its base, check factor paths and all points."""
    if not isinstance(data, dict):
        raise ScenarioError([("", "an experiment must be a mapping of fields")], source)
    try:
        spec = Experiment.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_problems(err), source) from None
    base = _load_base(spec, source, base_dir)
    resolved = ResolvedExperiment(spec, base, source)
    _check_factor_paths(resolved, source)
    _check_timeseries(resolved, source)
    from sim.experiment.design import design_points

    problems: list[tuple[str, str]] = []
    points = lever_corners(resolved) if spec.optimize else design_points(resolved)
    for pt in points:
        for path, msg in resolved.check_point(pt.values):
            label = ", ".join(f"{k}={v!r}" for k, v in pt.values.items())
            problems.append((f"design point {pt.point_id} ({label})", f"{path}: {msg}"))
            if len(problems) >= 20:
                break
        if len(problems) >= 20:
            problems.append(("", "(further problems not shown)"))
            break
    if problems:
        raise ScenarioError(problems, source)
    return resolved


def lever_corners(r: ResolvedExperiment) -> list[Any]:
    """Points checked at load for an optimisation: every lever at each end (or each choice)
    with the others at their base values, and all levers low, and all high together."""
    from sim.experiment.design import DesignPoint

    base = {n: _safe_lookup(r._base_data, n) for n in r.factor_names}
    ends = {}
    for n, f in r.spec.factors.items():
        if f.values is not None:
            ends[n] = list(f.values)
        else:
            lo, hi = (math.ceil(f.low), math.floor(f.high)) if r.integer[n] else (f.low, f.high)
            ends[n] = [lo, hi]
    pts = [{n: v[0] for n, v in ends.items()}, {n: v[-1] for n, v in ends.items()}]
    pts += [{**base, n: v} for n, vs in ends.items() for v in vs]
    return [DesignPoint(i, p, ()) for i, p in enumerate(pts)]


def _load_base(spec: Experiment, source: str, base_dir: Path | None) -> Scenario:
    if isinstance(spec.base, str):
        path = Path(spec.base)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.exists():
            raise ScenarioError([("base", f"scenario file not found: {path}")], source)
        data = read_mapping(path)
        where = str(path)
    elif isinstance(spec.base, dict):
        data, where = copy.deepcopy(spec.base), f"{source}: base"
    else:
        data, where = Scenario().model_dump(mode="json", by_alias=True), f"{source}: base"
    if spec.overrides:
        try:
            data = set_paths(data, spec.overrides, source=f"{source}: overrides")
        except ScenarioError as e:
            raise ScenarioError([(f"overrides.{p}", m) for p, m in e.problems], source) from None
    from sim.scenario.mapfiles import resolve_paths

    # a map's files are relative to the scenario file that names them (or to the experiment)
    here = path.parent if isinstance(spec.base, str) else base_dir
    if here is not None:
        data = resolve_paths(data, Path(here).resolve())
    try:
        return validate_scenario(data, where)
    except ScenarioError as e:
        prefix = "base" if spec.base is not None else "overrides"
        raise ScenarioError([(f"{prefix}: {p}", m) for p, m in e.problems], source) from None


def _check_factor_paths(r: ResolvedExperiment, source: str) -> None:
    problems: list[tuple[str, str]] = []
    for path, factor in r.spec.factors.items():
        try:
            set_paths(r._base_data, {path: 0}, source=None)
            value = _lookup(r._base_data, path)
        except ScenarioError as e:
            problems += [(f"factors.{path}", f"not a scenario field ({p}: {m})")
                         for p, m in e.problems]
            continue
        except (KeyError, TypeError):
            problems.append((f"factors.{path}", "not a field of the base scenario"))
            continue
        if isinstance(value, (dict, list)):
            problems.append((f"factors.{path}", "names a whole section; a factor must be one "
                                                "field, e.g. " + _example_leaf(path, value)))
            continue
        if factor.is_range and (isinstance(value, (bool, str)) or value is None):
            problems.append((f"factors.{path}", f"is not numeric ({value!r} in the base); "
                                                "give values: [...]"))
        elif factor.is_range and r.integer[path] and \
                math.floor(factor.high) < math.ceil(factor.low):  # type: ignore[arg-type]
            problems.append((f"factors.{path}", "is an integer field and the range holds no "
                                                "integer"))
    if problems:
        raise ScenarioError(problems, source)


def _example_leaf(path: str, value: Any) -> str:
    if isinstance(value, dict) and value:
        k = next(iter(value))
        return f"{path}.{k}"
    return f"{path}.<field>"


def _check_timeseries(r: ResolvedExperiment, source: str) -> None:
    if not r.spec.timeseries:
        return
    from sim.engine.model import GridModel

    small = r.base.model_copy(update={"run": r.base.run.model_copy(
        update={"days": 1.0, "warmup_days": 0.0})})
    model = GridModel(small)
    cols = [c for c in model.datacollector.model_reporters if c != "t_h"]
    bad = [c for c in r.spec.timeseries if c not in cols]
    if bad:
        raise ScenarioError([("timeseries", f"unknown series {', '.join(map(repr, bad))}; "
                                            f"allowed: {', '.join(cols)}")], source)


def load_experiment(path: str | Path) -> ResolvedExperiment:
    """Load and check an experiment file; errors are ScenarioError naming the field path."""
    p = Path(path)
    data = read_mapping(p)
    return validate_experiment(data, str(path), p.resolve().parent)
