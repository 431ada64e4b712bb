"""The scenario: everything a run needs, validated once at load (pydantic, frozen).

The defaults of every field form the *baseline* scenario (one sub-district of about forty basic
grids); figures come from ``facts.md`` where it has one, otherwise they are marked as assumptions
in ``docs/scenario-fields.md``. Load files with :func:`load_scenario`; override fields by dotted
path with :func:`apply_overrides`; every error is a :class:`ScenarioError` naming the field path
and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.distributions import Distribution, Exponential, Fixed, LogNormal
from sim.emergency_config import EmergencyConfig
from sim.policy_config import (AppraisalConfig, JointMeetingConfig, ResidentsConfig,
                               SmartPlatformConfig, WorkforceConfig)

Channel = Literal["patrol", "hotline", "app", "wechat", "sensor", "video", "handed_down"]
CHANNELS: tuple[str, ...] = ("patrol", "hotline", "app", "wechat", "sensor", "video", "handed_down")
ZoneType = Literal["residential", "commercial", "mixed", "industrial", "village"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------- calendar
class Window(_Model):
    """A daily time window, e.g. working hours 08:30–17:30 on Monday–Friday (0 = Monday)."""

    start_h: float = Field(ge=0, lt=24)
    end_h: float = Field(gt=0, le=24)
    days: tuple[int, ...] = Field(default=(0, 1, 2, 3, 4, 5, 6), min_length=1, max_length=7)

    @model_validator(mode="after")
    def _check(self) -> "Window":
        if self.end_h <= self.start_h:
            raise ValueError("end_h must be later than start_h (windows do not cross midnight)")
        if any(d < 0 or d > 6 for d in self.days) or len(set(self.days)) != len(self.days):
            raise ValueError("days must be distinct weekday numbers 0 (Monday) … 6 (Sunday)")
        return self

    @property
    def hours_per_day(self) -> float:
        return self.end_h - self.start_h

    @cached_property
    def always(self) -> bool:
        """Open around the clock, every day."""
        return self.start_h <= 0 and self.end_h >= 24 and len(self.days) == 7

    @cached_property
    def week_table(self) -> tuple[float, tuple[float, ...]]:
        """(open hours per week, open hours before each weekday 0…7): the calendar's lookup."""
        cum = [0.0]
        for d in range(7):
            cum.append(cum[-1] + (self.hours_per_day if d in self.days else 0.0))
        return cum[-1], tuple(cum)


ALWAYS = Window(start_h=0, end_h=24)


class CalendarConfig(_Model):
    """Working time (工作时/工作日) used by deadlines in working hours or working days."""

    working_hours: Window = Window(start_h=8.5, end_h=17.5, days=(0, 1, 2, 3, 4))


class Deadline(_Model):
    """Time allowed for a case (处置时限), counted from dispatch."""

    value: float = Field(gt=0)
    unit: Literal["working_hours", "working_days", "hours", "days"] = "working_hours"


# ------------------------------------------------------------------------------------------- city
class Zone(_Model):
    """One kind of area. ``difficulty`` > 1 shrinks grids there (S1.1) and slows patrols."""

    share: float = Field(gt=0, le=1, description="share of the city's households")
    households_per_km2: float = Field(gt=0)
    incident_multiplier: float = Field(default=1.0, ge=0)
    difficulty: float = Field(default=1.0, ge=0.2, le=5)


def _default_zones() -> dict[str, Zone]:
    return {
        "residential": Zone(share=0.7, households_per_km2=12000, incident_multiplier=1.0,
                            difficulty=1.0),
        "commercial": Zone(share=0.2, households_per_km2=6000, incident_multiplier=1.6,
                           difficulty=1.5),
        "mixed": Zone(share=0.1, households_per_km2=8000, incident_multiplier=1.2, difficulty=1.2),
    }


class CityConfig(_Model):
    """The city: its households, how they are cut into basic grids, and the grid hierarchy."""

    households: int = Field(default=16000, ge=10, le=20_000_000)
    persons_per_household: float = Field(default=2.6, gt=0, le=10)
    households_per_grid: float = Field(
        default=400, ge=10, le=20000, description="grid-size lever: target households per basic grid"
    )
    grids_per_community: int = Field(default=8, ge=1, le=200)
    communities_per_street: int = Field(default=5, ge=1, le=200)
    streets_per_district: int = Field(default=10, ge=1, le=200)
    zones: dict[ZoneType, Zone] = Field(default_factory=_default_zones, min_length=1)
    hotspot_share: float = Field(default=0.1, ge=0, le=1)
    hotspot_multiplier: float = Field(default=2.0, ge=1, le=20)
    resident_propensity_spread: float = Field(
        default=3.0, ge=1, le=10,
        description="max/min ratio of resident reporting propensity across grids (facts: up to 3x)",
    )

    @field_validator("zones")
    @classmethod
    def _shares(cls, zones: dict[str, Zone]) -> dict[str, Zone]:
        total = sum(z.share for z in zones.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"zone shares must add up to 1 (they add up to {total:.4g})")
        return zones


# --------------------------------------------------------------------------------------- staffing
class Pay(_Model):
    """Monthly cost per person or unit, in yuan (assumptions; set them to your city's)."""

    grid_worker: float = Field(default=6000, ge=0)
    grid_manager: float = Field(default=8000, ge=0)
    grid_assistant: float = Field(default=4000, ge=0)
    level_team_member: float = Field(default=9000, ge=0)
    platform_operator: float = Field(default=7000, ge=0)


class LevelTeams(_Model):
    """Management teams above the basic grids (S1.3): people per community / street / district."""

    community: int = Field(default=2, ge=0, le=100)
    street: int = Field(default=5, ge=0, le=500)
    district: int = Field(default=10, ge=0, le=5000)


class Staffing(_Model):
    """Staff per basic grid (S1.3) — the staffing levers — and their skills."""

    workers_per_grid: int = Field(default=2, ge=1, le=50)
    workers_total: int | None = Field(
        default=None, ge=1, le=2_000_000,
        description="head count of grid workers for the whole city, replacing workers_per_grid "
                    "(e.g. Dongcheng: 350 supervisors over 1,593 grids); fewer workers than grids "
                    "patrol beats of adjacent grids (sim/beats.py); null = workers_per_grid each",
    )
    managers_per_grid: int = Field(default=1, ge=0, le=10)
    assistants_per_grid: int = Field(default=1, ge=0, le=50)
    level_teams: LevelTeams = LevelTeams()
    skill_mean: float = Field(default=0.8, gt=0, le=1, description="mean worker skill, 0–1")
    skill_sd: float = Field(default=0.1, ge=0, le=0.5)
    effort: float = Field(default=1.0, gt=0, le=2, description="patrol effort multiplier")
    pay: Pay = Pay()


class PatrolConfig(_Model):
    """Daily patrols at fixed hours (S1.4); e.g. Chengdu 07:30–22:30 every day (facts)."""

    hours: Window = Window(start_h=8.0, end_h=18.0)
    coverage_km2_per_h: float = Field(
        default=0.06, gt=0, description="area one worker sweeps per hour at skill 1, effort 1"
    )
    assistant_coverage_factor: float = Field(default=0.3, ge=0, le=1)
    on_spot_fix_prob: float = Field(
        default=0.9, ge=0, le=1, description="chance a worker of skill 1 fixes a minor problem at once"
    )
    on_spot_fix_time: Distribution = LogNormal(mean=0.3, cv=0.5)
    report_time: Distribution = Fixed(value=0.1)
    verification_time: Distribution = LogNormal(mean=0.4, cv=0.5)


# -------------------------------------------------------------------------------------- incidents
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


class Category(_Model):
    label_en: str
    label_zh: str
    department: str
    rate_per_1000_households_per_day: float = Field(ge=0)
    patrol_visibility: float = Field(default=0.8, ge=0, le=1)
    resident_salience: float = Field(default=1.0, ge=0, le=10)
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
            sensor_detectable=True,
            subtypes={
                "manhole_cover": S(label_en="Loose or missing manhole cover", label_zh="井盖缺失松动",
                                   share=0.2, deadline=Deadline(value=3, unit="hours"), minor=True,
                                   complex_prob=0.02, urgency=3),
                "street_light": S(label_en="Broken street light", label_zh="路灯损坏", share=0.3,
                                  deadline=_wd(2), complex_prob=0.05),
                "road_damage": S(label_en="Damaged road or pavement", label_zh="道路破损",
                                 share=0.3, deadline=_wd(5), complex_prob=0.2,
                                 unsolvable_prob=0.05),
                "drain_blocked": S(label_en="Blocked drain", label_zh="排水不畅", share=0.2,
                                   deadline=_wd(1), complex_prob=0.1, urgency=2),
            },
        ),
        "environment_sanitation": Category(
            label_en="Environment and sanitation", label_zh="环境卫生", department="sanitation",
            rate_per_1000_households_per_day=1.4, patrol_visibility=0.9, resident_salience=1.2,
            video_detectable=True,
            subtypes={
                "exposed_garbage": S(label_en="Exposed garbage", label_zh="暴露垃圾", share=0.45,
                                     deadline=_wd(1), minor=True, complex_prob=0.02),
                "muck": S(label_en="Accumulated muck or spoil", label_zh="积存渣土", share=0.15,
                          deadline=_wd(2), complex_prob=0.05),
                "dirty_road": S(label_en="Dirty road surface", label_zh="道路不洁", share=0.25,
                                deadline=_wh(5), complex_prob=0.02),
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
            video_detectable=True,
            subtypes={
                "order_hazard": S(label_en="Public-order hazard", label_zh="治安隐患", share=0.6,
                                  deadline=_wh(4), complex_prob=0.15, urgency=2),
                "fire_equipment": S(label_en="Fire equipment or blocked exit",
                                    label_zh="消防设施隐患", share=0.4, deadline=_wd(1),
                                    department="fire", complex_prob=0.1, urgency=2),
            },
        ),
        "market_order": Category(
            label_en="Market order", label_zh="市场秩序", department="city_management",
            rate_per_1000_households_per_day=0.9, patrol_visibility=0.9, resident_salience=0.8,
            video_detectable=True,
            subtypes={
                "small_ads": S(label_en="Illegal small ads", label_zh="非法小广告", share=0.35,
                               deadline=_wd(1), minor=True, complex_prob=0.0),
                "street_vending": S(label_en="Unlicensed street vending", label_zh="无照游商",
                                    share=0.35, deadline=_wh(4), complex_prob=0.1),
                "road_occupation": S(label_en="Stall occupying the road", label_zh="占道经营",
                                     share=0.25, deadline=_wd(1), complex_prob=0.1),
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
                             deadline=_wd(5), complex_prob=0.5, unsolvable_prob=0.05),
            },
        ),
        "waterlogging": Category(
            label_en="Standing water", label_zh="道路积水", department="water",
            rate_per_1000_households_per_day=0.1, patrol_visibility=0.9, resident_salience=1.5,
            sensor_detectable=True,
            subtypes={
                "standing_water": S(label_en="Standing water on road", label_zh="路面积水",
                                    share=1.0, deadline=_wh(4), complex_prob=0.1, urgency=2),
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
        return v


# --------------------------------------------------------------------------------------- channels
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
class Department(_Model):
    """A functional department (职能部门) with crews in every street (S3)."""

    label_en: str
    label_zh: str
    crews_per_street: int = Field(default=2, ge=0, le=1000)
    shift: Window = Window(start_h=8.0, end_h=18.0)
    handling_time: Distribution = LogNormal(mean=2.0, cv=0.8)
    travel_speed_kmh: float = Field(default=20.0, gt=0, le=200)
    travel: bool = Field(default=True, description="crews travel from the street depot and back")
    fix_success_prob: float = Field(default=0.92, gt=0, le=1, description="quality of a fix")
    cost_per_crew_month: float = Field(default=20000, ge=0)


def _dept(en: str, zh: str, crews: int = 2, **kw: Any) -> Department:
    return Department(label_en=en, label_zh=zh, crews_per_street=crews, **kw)


def _default_departments() -> dict[str, Department]:
    return {
        "city_management": _dept("City management", "城管", 3),
        "public_works": _dept("Public works", "市政", 4, handling_time=LogNormal(mean=1.5, cv=0.8)),
        "sanitation": _dept("Sanitation", "环卫", 3, shift=Window(start_h=6, end_h=20),
                            handling_time=LogNormal(mean=1.0, cv=0.6)),
        "environment": _dept("Environmental protection", "环保", 1,
                             handling_time=LogNormal(mean=4.0, cv=0.8)),
        "police": _dept("Public security", "公安", 2, shift=Window(start_h=0, end_h=24),
                        handling_time=LogNormal(mean=1.0, cv=0.7), travel_speed_kmh=30),
        "fire": _dept("Fire and rescue", "消防", 1, shift=Window(start_h=0, end_h=24),
                      handling_time=LogNormal(mean=1.0, cv=0.6), travel_speed_kmh=35),
        "water": _dept("Water authority", "水利", 1, shift=Window(start_h=0, end_h=24),
                       handling_time=LogNormal(mean=2.0, cv=0.7)),
        "civil_affairs": _dept("Civil affairs", "民政", 2, handling_time=LogNormal(mean=1.5, cv=0.8),
                               travel=False),
    }


# --------------------------------------------------------------------------------------- platform
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
class RunConfig(_Model):
    days: float = Field(default=30, gt=0, le=3650)
    warmup_days: float = Field(default=2, ge=0, le=365)
    seed: int = Field(default=20261127, ge=0, lt=2**63)
    timeseries_interval_h: float = Field(default=6, gt=0, le=24 * 30)

    @model_validator(mode="after")
    def _warmup(self) -> "RunConfig":
        if self.warmup_days >= self.days:
            raise ValueError(f"warmup_days ({self.warmup_days:g}) must be shorter than days "
                             f"({self.days:g})")
        return self


# ------------------------------------------------------------------------------------------ root
class Scenario(_Model):
    """A whole scenario. ``Scenario()`` is the baseline; see ``scenarios/*.yaml``."""

    name: str = "baseline"
    description: str = "One sub-district of about forty basic grids, staffed at common levels."
    city: CityConfig = CityConfig()
    calendar: CalendarConfig = CalendarConfig()
    staffing: Staffing = Staffing()
    patrol: PatrolConfig = PatrolConfig()
    incidents: IncidentConfig = IncidentConfig()
    channels: ChannelConfig = ChannelConfig()
    departments: dict[str, Department] = Field(default_factory=_default_departments, min_length=1)
    platform: PlatformConfig = PlatformConfig()
    residents: ResidentsConfig = ResidentsConfig()
    appraisal: AppraisalConfig = AppraisalConfig()
    workforce: WorkforceConfig = WorkforceConfig()
    joint_meeting: JointMeetingConfig = JointMeetingConfig()
    smart_platform: SmartPlatformConfig = SmartPlatformConfig()
    emergency: EmergencyConfig = EmergencyConfig()
    run: RunConfig = RunConfig()

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        for cname, cat in self.incidents.categories.items():
            for sname, sub in cat.subtypes.items():
                dep = sub.department or cat.department
                where = (f"incidents.categories.{cname}.subtypes.{sname}.department"
                         if sub.department else f"incidents.categories.{cname}.department")
                if dep not in self.departments:
                    raise ScenarioRefError(where, f"unknown department {dep!r}; allowed: "
                                           + ", ".join(sorted(self.departments)))
                if self.departments[dep].crews_per_street < 1:
                    raise ScenarioRefError(
                        f"departments.{dep}.crews_per_street",
                        f"department {dep!r} handles {cname}.{sname} and needs at least 1 crew")
        for path, msg in self.emergency.reference_problems(self.departments):
            raise ScenarioRefError(path, msg)
        return self

    def hash(self) -> str:
        """Stable content hash of the scenario (provenance)."""
        blob = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return dump_yaml(self.model_dump(mode="json", by_alias=True))


class _Dumper(yaml.SafeDumper):
    """Lists of plain values on one line; everything else in block style."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(x, (int, float, str, bool)) or x is None for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# ----------------------------------------------------------------------------------------- errors
class ScenarioError(Exception):
    """Bad scenario input. ``str(err)`` is the message for the user, one problem per line."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(f"{prefix}{path or '<root>'}: {msg}" for path, msg in problems))


class ScenarioRefError(ValueError):
    """A cross-reference error raised inside validation, carrying its own field path."""

    def __init__(self, path: str, msg: str):
        self.path = path
        self.msg = msg
        super().__init__(f"{path}: {msg}")


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Walk ``loc`` through the schema and list the field names allowed at its parent."""
    node: Any = model
    for part in loc[:-1]:
        if isinstance(node, tuple) and node[0] == "dict":
            node = node[1]
        elif isinstance(node, type) and issubclass(node, BaseModel):
            f = node.model_fields.get(str(part))
            if f is None:
                return None
            node = _unwrap(f.annotation)
        else:
            return None
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or n for n, f in node.model_fields.items()]
    return None


def _unwrap(annotation: Any) -> Any:
    import typing

    origin = typing.get_origin(annotation)
    if origin is dict:
        return ("dict", _unwrap(typing.get_args(annotation)[1]))
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
        return None
    return annotation


def _format_validation(err: ValidationError, model: type[BaseModel]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for e in err.errors(include_url=False):
        ctx_err = (e.get("ctx") or {}).get("error")
        if isinstance(ctx_err, ScenarioRefError):
            problems.append((ctx_err.path, ctx_err.msg))
            continue
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p in _DIST_TAGS))
        path = ".".join(str(p) for p in loc)
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, loc)
            msg = "unknown field" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("model_type", "dict_type"):
            shown = repr(e["input"])
            if len(shown) <= 60:
                msg += f" (got {shown})"
        problems.append((path, msg))
    return problems


_DIST_TAGS = {"fixed", "exponential", "lognormal", "uniform"}


def validate_scenario(data: Any, source: str | None = None) -> Scenario:
    """Validate a plain mapping as a Scenario, or raise ScenarioError."""
    if not isinstance(data, dict):
        raise ScenarioError([("", f"a scenario must be a mapping of fields, got {type(data).__name__}")],
                            source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_validation(err, Scenario), source) from None


# ------------------------------------------------------------------------------------------- YAML
class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that also refuses explicit tags and duplicate keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, source: str | None = None) -> Any:
    """Parse YAML text safely: no tags, no duplicate keys. Errors become ScenarioError."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            tag = getattr(event, "tag", None)
            if tag is not None and tag != "!":
                line = event.start_mark.line + 1
                raise ScenarioError([("", f"YAML tags are not allowed (found {tag!r} on line {line})")],
                                    source)
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict safe loader
    except yaml.YAMLError as err:
        raise ScenarioError([("", f"malformed YAML: {_yaml_msg(err)}")], source) from None


def _yaml_msg(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def read_mapping(path: str | Path) -> dict:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([("", "file not found")], str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError([("", f"cannot read file: {err}")], str(path)) from None
    data = parse_yaml(text, str(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError([("", "the file must hold a mapping of fields at its top level")],
                            str(path))
    return data


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario file, applying dotted-path overrides first."""
    data = read_mapping(path)
    if overrides:
        data = set_paths(data, overrides, source=str(path))
    return validate_scenario(data, str(path))


# -------------------------------------------------------------------------------------- overrides
def parse_set_options(items: list[str]) -> dict[str, Any]:
    """``["a.b=3", "c=[1, 2]"]`` → ``{"a.b": 3, "c": [1, 2]}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError([(item, "an override must look like path.to.field=value")], "--set")
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key:
            raise ScenarioError([(item, "the field path before '=' is empty")], "--set")
        out[key] = parse_yaml(raw, f"--set {key}") if raw.strip() else ""
    return out


def set_paths(data: dict, overrides: dict[str, Any], source: str | None = "--set") -> dict:
    """Return a copy of ``data`` with each dotted path set. Paths must exist in the schema."""
    import copy

    base = copy.deepcopy(data)
    full = Scenario().model_dump(mode="json", by_alias=True)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node, ref = base, full
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            so_far = ".".join(parts[: i + 1])
            if isinstance(ref, dict) and ref and part not in ref and part not in node \
                    and not _is_dict_field(parts[:i]):
                allowed = ", ".join(ref.keys())
                raise ScenarioError([(so_far, f"unknown field; allowed: {allowed}")], source)
            if last:
                node[part] = value
                break
            if part not in node or not isinstance(node[part], dict):
                seed = ref.get(part) if isinstance(ref, dict) else None
                node[part] = copy.deepcopy(seed) if isinstance(seed, dict) else {}
            node = node[part]
            ref = ref.get(part, {}) if isinstance(ref, dict) else {}
    return base


def _is_dict_field(parts: list[str]) -> bool:
    """True where the path points into a user-keyed mapping (departments, categories, zones…)."""
    keyed = {("departments",), ("incidents", "categories"), ("city", "zones"),
             ("channels", "resident_channel_shares")}
    if tuple(parts) in keyed:
        return True
    if parts[:1] == ["emergency"] and parts[-1] in ("responders", "kinds", "levels", "units",
                                                    "control_per_unit_per_min", "pump_mm_per_h"):
        return True
    return len(parts) == 4 and parts[:2] == ["incidents", "categories"] and parts[3] == "subtypes"


def scenario_with(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A validated copy of ``scenario`` with dotted-path overrides applied."""
    data = scenario.model_dump(mode="json", by_alias=True)
    return validate_scenario(set_paths(data, overrides), scenario.name)


def json_schema() -> dict:
    return Scenario.model_json_schema(by_alias=True)
