"""Small, validated probability distributions for durations (hours unless a field says otherwise).

Each distribution is sampled by inverse transform from a uniform number ``u`` in [0, 1). The
model draws ``u`` once per incident and per step, so that two policies compared at the same seed
give the same incident the same intrinsic difficulty even when a lever changes the distribution's
parameters (common random numbers).
"""

from __future__ import annotations

import math
from functools import cached_property
from statistics import NormalDist
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.scenario.base import no_huge_number

_inv_norm = NormalDist().inv_cdf
_LO, _HI = 1e-12, 1 - 1e-12  # the quantile function's input is kept inside (0, 1)


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    _no_huge = field_validator("*")(classmethod(lambda cls, v: no_huge_number(v)))


class Fixed(_Dist):
    """Always the same value."""

    dist: Literal["fixed"] = "fixed"
    value: float = Field(ge=0)

    @property
    def mean(self) -> float:
        return self.value

    def ppf(self, u: float) -> float:
        return self.value

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        return np.full(len(u), self.value)


class Exponential(_Dist):
    """Memoryless duration with the given mean."""

    dist: Literal["exponential"] = "exponential"
    mean_value: float = Field(gt=0, alias="mean")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    @property
    def mean(self) -> float:
        return self.mean_value

    def ppf(self, u: float) -> float:
        return -self.mean_value * math.log1p(-u)

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        return -self.mean_value * np.log1p(-u)


class LogNormal(_Dist):
    """Right-skewed duration given by its mean and coefficient of variation (sd / mean)."""

    dist: Literal["lognormal"] = "lognormal"
    mean_value: float = Field(gt=0, alias="mean")
    cv: float = Field(gt=0, le=10)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    @property
    def mean(self) -> float:
        return self.mean_value

    @cached_property
    def _params(self) -> tuple[float, float]:
        s2 = math.log1p(self.cv * self.cv)
        return math.log(self.mean_value) - s2 / 2, math.sqrt(s2)

    def ppf(self, u: float) -> float:
        mu, sigma = self._params
        p = _LO if u < _LO else (_HI if u > _HI else u)  # min(max(u, _LO), _HI), without calls
        return math.exp(mu + sigma * _inv_norm(p))

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        from scipy.special import ndtri

        mu, sigma = self._params
        return np.exp(mu + sigma * ndtri(np.clip(u, _LO, _HI)))


class Uniform(_Dist):
    """Any value between low and high, equally likely."""

    dist: Literal["uniform"] = "uniform"
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def ppf(self, u: float) -> float:
        return self.low + (self.high - self.low) * u

    def ppf_array(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u)


Distribution = Annotated[
    Union[Fixed, Exponential, LogNormal, Uniform], Field(discriminator="dist")
]
