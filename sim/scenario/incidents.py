"""The incident taxonomy (S2.1): categories, subtypes, deadlines and arrival profiles.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import Deadline, _Model
from sim.scenario.distributions import Distribution, Exponential, LogNormal


class Subtype(_Model):
    label_en: str
    label_zh: str
    share: float = Field(gt=0, le=1, description="share of the category's incidents")
    deadline: Deadline
    department: str | None = Field(default=None, description="overrides the category's")
    minor: bool = Field(default=False, description="a worker may fix it on the spot (S1.4)")
    complex_prob: float = Field(default=0.1, ge=0, le=1, description="goes to the grid manager")
    unsolvable_prob: float = Field(
        default=0.0, ge=0, le=1, description="a complex case the department cannot solve: parked"
    )
    urgency: int = Field(default=1, ge=0, le=3, description="0 routine … 3 urgent (crew priority)")
    unreported: Literal["persist", "vanish", "worsen"] = Field(
        default="persist",
        description="what the problem does while nobody has reported it: persist; vanish after "
                    "lifetime_h (a stall moves on, the routine sweep clears it); worsen after "
                    "lifetime_h (harm_yuan: a loose manhole cover becomes an injury)",
    )
    lifetime_h: Distribution | None = Field(
        default=None, description="time until an unreported problem vanishes or worsens")
    harm_yuan: float = Field(default=0.0, ge=0, description="cost when it worsens unreported")
    resident_report_prob: float | None = Field(
        default=None, ge=0, le=1, description="overrides the category's")

    @model_validator(mode="after")
    def _lifetime(self) -> "Subtype":
        if self.unreported != "persist" and self.lifetime_h is None:
            raise ValueError(f"lifetime_h is required when unreported is {self.unreported!r}")
        return self
    partners: tuple[str, ...] = Field(
        default=(), max_length=10,
        description="departments that must act with the responsible one (S3.1, e.g. street "
                    "vending with pollution: city_management + police + environment); such a case "
                    "is coordinated by the grid manager first")
    joint_mode: Literal["together", "sequential"] = Field(
        default="together", description="partners' crews act at the same time, or one after "
                                        "another in the order given")


class Category(_Model):
    label_en: str
    label_zh: str
    department: str
    rate_per_1000_households_per_day: float = Field(ge=0)
    patrol_visibility: float = Field(default=0.8, ge=0, le=1)
    resident_salience: float = Field(default=1.0, ge=0, le=10)
    resident_report_prob: float = Field(
        default=1.0, ge=0, le=1,
        description="chance residents would ever report a problem of this kind (the reporting "
                    "hazard then sets how soon); subtypes may override it",
    )
    sensor_detectable: bool = False
    video_detectable: bool = False
    subtypes: dict[str, Subtype] = Field(min_length=1)

    @field_validator("subtypes")
    @classmethod
    def _shares(cls, subtypes: dict[str, Subtype]) -> dict[str, Subtype]:
        total = sum(s.share for s in subtypes.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"subtype shares must add up to 1 (they add up to {total:.4g})")
        return subtypes


def _wh(v: float) -> Deadline:
    return Deadline(value=v, unit="working_hours")


def _wd(v: float) -> Deadline:
    return Deadline(value=v, unit="working_days")


def _default_categories() -> dict[str, Category]:
    S = Subtype
    return {
        "infrastructure": Category(
            label_en="Infrastructure", label_zh="基础设施", department="public_works",
            rate_per_1000_households_per_day=0.8, patrol_visibility=0.8, resident_salience=1.0,
            resident_report_prob=0.4, sensor_detectable=True,
            subtypes={
                "manhole_cover": S(label_en="Loose or missing manhole cover", label_zh="井盖缺失松动",
                                   share=0.2, deadline=Deadline(value=3, unit="hours"), minor=True,
                                   complex_prob=0.02, urgency=3,
                                   unreported="worsen", lifetime_h=Exponential(mean=72),
                                   harm_yuan=20000),
                "street_light": S(label_en="Broken street light", label_zh="路灯损坏", share=0.3,
                                  deadline=_wd(2), complex_prob=0.05),
                "road_damage": S(label_en="Damaged road or pavement", label_zh="道路破损",
                                 share=0.3, deadline=_wd(5), complex_prob=0.2,
                                 unsolvable_prob=0.05),
                "drain_blocked": S(label_en="Blocked drain", label_zh="排水不畅", share=0.2,
                                   deadline=_wd(1), complex_prob=0.1, urgency=2,
                                   unreported="worsen", lifetime_h=Exponential(mean=48),
                                   harm_yuan=3000),
            },
        ),
        "environment_sanitation": Category(
            label_en="Environment and sanitation", label_zh="环境卫生", department="sanitation",
            rate_per_1000_households_per_day=1.4, patrol_visibility=0.9, resident_salience=1.2,
            resident_report_prob=0.3, video_detectable=True,
            subtypes={
                "exposed_garbage": S(label_en="Exposed garbage", label_zh="暴露垃圾", share=0.45,
                                     deadline=_wd(1), minor=True, complex_prob=0.02,
                                     unreported="vanish", lifetime_h=LogNormal(mean=12, cv=0.8)),
                "muck": S(label_en="Accumulated muck or spoil", label_zh="积存渣土", share=0.15,
                          deadline=_wd(2), complex_prob=0.05),
                "dirty_road": S(label_en="Dirty road surface", label_zh="道路不洁", share=0.25,
                                deadline=_wh(5), complex_prob=0.02,
                                unreported="vanish", lifetime_h=LogNormal(mean=8, cv=0.8)),
                "green_space": S(label_en="Green-space upkeep", label_zh="绿地养护", share=0.1,
                                 deadline=_wd(5), department="public_works", complex_prob=0.05),
                "river_pollution": S(label_en="River pollution", label_zh="河道污染", share=0.05,
                                     deadline=_wd(3), department="environment", complex_prob=0.5,
                                     unsolvable_prob=0.1, urgency=2),
            },
        ),
        "public_safety": Category(
            label_en="Public safety", label_zh="公共安全", department="police",
            rate_per_1000_households_per_day=0.4, patrol_visibility=0.6, resident_salience=1.5,
            resident_report_prob=0.5, video_detectable=True,
            subtypes={
                "order_hazard": S(label_en="Public-order hazard", label_zh="治安隐患", share=0.6,
                                  deadline=_wh(4), complex_prob=0.15, urgency=2,
                                  unreported="vanish", lifetime_h=LogNormal(mean=6, cv=1.0)),
                "fire_equipment": S(label_en="Fire equipment or blocked exit",
                                    label_zh="消防设施隐患", share=0.4, deadline=_wd(1),
                                    department="fire", complex_prob=0.1, urgency=2,
                                    unreported="worsen", lifetime_h=Exponential(mean=720),
                                    harm_yuan=50000),
            },
        ),
        "market_order": Category(
            label_en="Market order", label_zh="市场秩序", department="city_management",
            rate_per_1000_households_per_day=0.9, patrol_visibility=0.9, resident_salience=0.8,
            resident_report_prob=0.2, video_detectable=True,
            subtypes={
                "small_ads": S(label_en="Illegal small ads", label_zh="非法小广告", share=0.35,
                               deadline=_wd(1), minor=True, complex_prob=0.0,
                               unreported="vanish", lifetime_h=LogNormal(mean=72, cv=1.0)),
                "street_vending": S(label_en="Unlicensed street vending", label_zh="无照游商",
                                    share=0.35, deadline=_wh(4), complex_prob=0.1,
                                    unreported="vanish", lifetime_h=LogNormal(mean=2, cv=0.8)),
                "road_occupation": S(label_en="Stall occupying the road", label_zh="占道经营",
                                     share=0.25, deadline=_wd(1), complex_prob=0.1,
                                     unreported="vanish", lifetime_h=LogNormal(mean=10, cv=0.6)),
                "illegal_construction": S(label_en="Illegal construction", label_zh="违法建设",
                                          share=0.05, deadline=_wd(15), complex_prob=0.6,
                                          unsolvable_prob=0.2),
            },
        ),
        "resident_needs": Category(
            label_en="Residents' needs", label_zh="居民诉求", department="civil_affairs",
            rate_per_1000_households_per_day=0.3, patrol_visibility=0.4, resident_salience=2.0,
            subtypes={
                "service_request": S(label_en="Service request", label_zh="民生服务诉求", share=0.8,
                                     deadline=_wd(3), complex_prob=0.2),
                "dispute": S(label_en="Neighbour dispute", label_zh="邻里纠纷", share=0.2,
                             deadline=_wd(5), complex_prob=0.5, unsolvable_prob=0.05,
                             unreported="vanish", lifetime_h=LogNormal(mean=48, cv=1.0)),
            },
        ),
        "waterlogging": Category(
            label_en="Standing water", label_zh="道路积水", department="water",
            rate_per_1000_households_per_day=0.1, patrol_visibility=0.9, resident_salience=1.5,
            resident_report_prob=0.5, sensor_detectable=True,
            subtypes={
                "standing_water": S(label_en="Standing water on road", label_zh="路面积水",
                                    share=1.0, deadline=_wh(4), complex_prob=0.1, urgency=2,
                                    unreported="vanish", lifetime_h=LogNormal(mean=6, cv=0.8)),
            },
        ),
    }


class IncidentConfig(_Model):
    """Incident taxonomy (S2.1) and arrival profiles. Rates scale with households, zone, hotspot."""

    categories: dict[str, Category] = Field(default_factory=_default_categories, min_length=1)
    hourly_profile: tuple[float, ...] = Field(
        default=(0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 1.0, 1.4, 1.6, 1.6, 1.5,
                 1.3, 1.4, 1.5, 1.5, 1.5, 1.4, 1.3, 1.2, 1.0, 0.8, 0.5, 0.3),
        min_length=24, max_length=24,
        description="relative arrival intensity by hour of day (normalised to mean 1)",
    )
    weekly_profile: tuple[float, ...] = Field(
        default=(1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.0), min_length=7, max_length=7,
        description="relative arrival intensity Monday … Sunday (normalised to mean 1)",
    )

    @field_validator("hourly_profile", "weekly_profile")
    @classmethod
    def _profile(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(x < 0 for x in v) or sum(v) <= 0:
            raise ValueError("profile values must be >= 0 and not all zero")
        if max(v) > 1e6:  # relative intensities: beyond this their sum loses the small hours
            raise ValueError("profile values are relative intensities; each must be at most 1e6")
        return v


# --------------------------------------------------------------------------------------- channels
