"""The ``optimize:`` section of an experiment file: objectives, constraints, the search budget.

An optimisation experiment is an ordinary experiment file (``sim.experiment.spec``) whose
``factors`` are the decision levers — a range (``low``/``high``; integer scenario fields give
integers, ``step`` or ``num`` make the range stepped, ``log: true`` log-scaled) or a list of
``values`` (choices) — and whose ``replications`` is what every candidate starts with; this
section says what to optimise::

    optimize:
      objectives:                                   # one: seeded TPE; several: NSGA-II
        - {kpi: monthly_staff_cost, direction: minimize}
      constraints:                                  # met when the one-sided bound meets it
        - {kpi: on_time_rate, op: ">=", bound: 0.95}
      confidence: 0.95
      trials: 48

An objective is one KPI or a weighted sum of KPIs (``terms: {monthly_staff_cost: 1,
mean_crew_wait_h: 84000}``, computed per run, then averaged). A constraint ``kpi >= bound`` is
met when the lower one-sided ``confidence`` bound of the KPI's mean over the replications is at
least ``bound`` (``<=``: the upper bound at most ``bound``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.metrics import KPI_DEFINITIONS


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_kpi(v: str) -> str:
    if v not in KPI_DEFINITIONS:
        raise ValueError(f"unknown KPI {v!r}; allowed: {', '.join(KPI_DEFINITIONS)}")
    return v


class Objective(_Model):
    """One KPI to minimise or maximise, or a weighted sum of KPIs (``terms``)."""

    kpi: str | None = Field(default=None, description="the KPI to optimise")
    terms: dict[str, float] | None = Field(
        default=None, description="a weighted sum of KPIs, e.g. {monthly_staff_cost: 1, "
                                  "mean_crew_wait_h: 84000} (per run, then averaged)")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]+$",
                             description="label of a weighted sum (default: objective)")
    direction: Literal["minimize", "maximize"] = "minimize"

    @model_validator(mode="after")
    def _check(self) -> "Objective":
        if (self.kpi is None) == (self.terms is None):
            raise ValueError("give kpi: or terms: (a weighted sum of KPIs), one of the two")
        if self.kpi is not None:
            _check_kpi(self.kpi)
        else:
            if not self.terms:
                raise ValueError("terms must name at least one KPI")
            for k, w in self.terms.items():
                _check_kpi(k)
                if not math.isfinite(w) or w == 0:
                    raise ValueError(f"terms.{k}: the weight must be a non-zero number")
        return self

    @property
    def label(self) -> str:
        return self.kpi or self.name or "objective"

    @property
    def keys(self) -> list[str]:
        return [self.kpi] if self.kpi else list(self.terms or {})

    @property
    def sign(self) -> float:
        """+1 to minimise, −1 to maximise (smaller sign·value is better)."""
        return 1.0 if self.direction == "minimize" else -1.0

    def per_run(self, kpis: pd.DataFrame) -> np.ndarray:
        """The objective of every run (row) of a wide KPI table."""
        if self.kpi is not None:
            return kpis[self.kpi].to_numpy(dtype=float)
        total = np.zeros(len(kpis))
        for k, w in (self.terms or {}).items():
            total = total + w * kpis[k].to_numpy(dtype=float)
        return total


class Constraint(_Model):
    """A target on one KPI, met with ``confidence`` (one-sided bound of the mean)."""

    kpi: str
    op: Literal[">=", "<="]
    bound: float

    _kpi = field_validator("kpi")(classmethod(lambda cls, v: _check_kpi(v)))

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # "on_time_rate >= 0.95" as a string
        if isinstance(data, str):
            for op in (">=", "<="):
                if op in data:
                    k, _, b = data.partition(op)
                    try:
                        return {"kpi": k.strip(), "op": op, "bound": float(b)}
                    except ValueError:
                        raise ValueError(f"write KPI >= NUMBER or KPI <= NUMBER (got {data!r})") \
                            from None
            raise ValueError(f"write KPI >= NUMBER or KPI <= NUMBER (got {data!r})")
        return data

    @field_validator("bound")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("bound must be a finite number")
        return v

    @property
    def label(self) -> str:
        return f"{self.kpi} {self.op} {self.bound:g}"


Sampler = Literal["auto", "tpe", "nsga2", "random"]


class Optimize(_Model):
    """What to optimise, under which constraints, with which budget."""

    objectives: tuple[Objective, ...] = Field(min_length=1, max_length=4)
    constraints: tuple[Constraint, ...] = ()
    confidence: float = Field(default=0.95, ge=0.5, lt=1,
                              description="one-sided confidence of each constraint's bound")
    trials: int = Field(default=40, ge=1, le=100_000,
                        description="sampled candidates, rounded up to whole batches")
    batch: int = Field(default=4, ge=1, le=1000,
                       description="candidates asked per round and evaluated in parallel")
    max_replications: int = Field(default=20, ge=1, le=100_000,
                                  description="cap of the adaptive replications per candidate")
    sampler: Sampler = Field(default="auto", description="auto: TPE for one objective, NSGA-II "
                                                         "for several")
    startup_trials: int = Field(default=8, ge=0, le=100_000,
                                description="TPE: random candidates before the model is used")
    population: int = Field(default=16, ge=2, le=100_000, description="NSGA-II population")
    baseline: bool = Field(default=True, description="also evaluate the base scenario (point 0) "
                                                     "as the reference for paired comparisons")

    @model_validator(mode="after")
    def _check(self) -> "Optimize":
        labels = [o.label for o in self.objectives]
        if len(set(labels)) != len(labels):
            raise ValueError("objectives must be distinct (name weighted sums)")
        if self.sampler == "tpe" and len(self.objectives) > 1:
            raise ValueError("sampler tpe optimises one objective; use nsga2 (or auto) for "
                             "several")
        return self

    @property
    def kpis(self) -> list[str]:
        """Every KPI the objectives and constraints read."""
        keys = [k for o in self.objectives for k in o.keys] + [c.kpi for c in self.constraints]
        return list(dict.fromkeys(keys))

    @property
    def rounds(self) -> int:
        return math.ceil(self.trials / self.batch)

    def hash_part(self) -> dict[str, Any]:
        """What shapes the search (the trial budget is left out: raising it resumes)."""
        d = self.model_dump(mode="json")
        d.pop("trials")
        return d
