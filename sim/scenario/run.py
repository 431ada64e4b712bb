"""The run section: simulated days, warm-up, seed, records.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.scenario.base import _Model


class RunConfig(_Model):
    days: float = Field(default=30, gt=0, le=3650)
    warmup_days: float = Field(default=2, ge=0, le=365)
    seed: int = Field(default=20261127, ge=0, lt=2**63)
    timeseries_interval_h: float = Field(default=6, ge=0.1, le=24 * 30)

    @model_validator(mode="after")
    def _warmup(self) -> "RunConfig":
        if self.warmup_days >= self.days:
            raise ValueError(f"warmup_days ({self.warmup_days:g}) must be shorter than days "
                             f"({self.days:g})")
        return self


# ------------------------------------------------------------------------------------------ root
