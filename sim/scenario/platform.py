"""The reporting channels (S2.2) and the information platform (S2.3, S5.1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from sim.scenario.base import _Model
from sim.scenario.distributions import Distribution, Exponential, Fixed, LogNormal


class ChannelConfig(_Model):
    """How incidents are reported besides patrols (S2.2)."""

    resident_reports_per_incident_per_day: float = Field(
        default=0.15, ge=0, description="hazard that some resident reports a visible incident"
    )
    resident_channel_shares: dict[Literal["hotline", "app", "wechat"], float] = Field(
        default_factory=lambda: {"hotline": 0.5, "app": 0.2, "wechat": 0.3}
    )
    invalid_reports_per_1000_households_per_day: float = Field(
        default=0.3, ge=0, description="unfounded or out-of-scope reports, screened out"
    )
    sensor_coverage: float = Field(default=0.0, ge=0, le=1, description="share of grids with IoT")
    sensor_delay: Distribution = Exponential(mean=0.25)
    sensor_detect_prob: float = Field(default=0.9, ge=0, le=1)
    video_coverage: float = Field(default=0.0, ge=0, le=1, description="share of grids with video")
    video_delay: Distribution = Exponential(mean=0.5)
    video_detect_prob: float = Field(default=0.5, ge=0, le=1)
    handed_down_per_day: float = Field(
        default=0.5, ge=0, description="cases handed down from higher levels, city-wide"
    )

    @field_validator("resident_channel_shares")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x < 0 for x in v.values()) or abs(sum(v.values()) - 1) > 1e-6:
            raise ValueError("channel shares must be >= 0 and add up to 1")
        return v


# ------------------------------------------------------------------------------------ departments
class PlatformConfig(_Model):
    """The information platform (信息平台): filing, screening, dispatch, feedback (S2.3, S5.1)."""

    operators: int = Field(default=3, ge=1, le=10000, description="call takers and dispatchers, 24h")
    screening_time: Distribution = LogNormal(mean=0.08, cv=0.5)
    dispatch_time: Distribution = LogNormal(mean=0.08, cv=0.5)
    handoff_delay: Distribution = Field(
        default=Fixed(value=0.0),
        description="elapsed wait between filing and dispatch with nobody working on the case: "
                    "paper transfer between separate bodies where there is no shared platform "
                    "(0 on a shared platform)",
    )
    auto_dispatch_share: float = Field(default=0.0, ge=0, le=1)
    misroute_prob: float = Field(default=0.05, ge=0, le=1, description="sent to a wrong department")
    return_delay: Distribution = LogNormal(mean=2.0, cv=0.5)
    manager_coordination_time: Distribution = LogNormal(mean=3.0, cv=0.8)
    feedback_delay: Distribution = Exponential(mean=0.25)
    verification_miss_prob: float = Field(
        default=0.1, ge=0, le=1, description="a worker at skill 0 passes a failed fix this often"
    )
    max_reworks: int = Field(default=3, ge=0, le=20, description="after that the case is parked")


# ------------------------------------------------------------------------------------------- run
