"""Scenario section ``emergency``: contingency plans and joint-response rules (S3.2, S2.2).

The section defaults to "off" (``enabled: false``), so the baseline behaves exactly as the core
model. When on, the mechanics in :mod:`sim.emergency` read it:

- ``responders`` — who turns out: a department's routine crews at the street depots
  (``shares_routine_crews: true``: emergencies compete with routine cases for the same crews), or
  dedicated units at stations placed in the city (fire brigade, gas company, 120 medical), or the
  "1-3-5" micro fire-station tiers (微型消防站 per community, joint team per street).
- ``kinds`` — the emergency types (building fire, flood/waterlogging, gas leak, public-order
  incident …), each with its hazard model and its contingency plan (应急预案): the lead, the units
  each responder sends at response level IV, III, II and I, and the trigger of each level.
- ``rules`` — the joint-response levers: simultaneous or sequential dispatch, unified command at
  the platform or the lead calling the others, mutual aid (跨区域联动), pre-emption of routine
  work, grid workers as first responders.
- ``incidents`` — scripted emergencies (a drill), besides the random ``rate_per_day`` of each kind.

Figures are assumptions unless ``facts.md`` gives one (station district ≤ 7 km², the 5-minute
norm, "1-3-5", warning colours, levels IV–I); set them to your city's.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.scenario.base import no_huge_number
from sim.scenario.distributions import Distribution, Exponential, Fixed, LogNormal

LEVELS: tuple[str, ...] = ("IV", "III", "II", "I")  # lowest first; I is the highest
LEVEL_LABELS_ZH = {"IV": "Ⅳ级", "III": "Ⅲ级", "II": "Ⅱ级", "I": "Ⅰ级"}
WARNING_COLOURS = {"IV": ("blue", "蓝色"), "III": ("yellow", "黄色"), "II": ("orange", "橙色"),
                   "I": ("red", "红色")}
GRID_WORKER = "grid_worker"  # pseudo-responder code for grid workers acting as first responders


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    _no_huge = field_validator("*")(classmethod(lambda cls, v: no_huge_number(v)))


# ------------------------------------------------------------------------------------ responders
class Responder(_Model):
    """Units of one responding body (出动单位) and where they are based.

    ``placement``: ``street_depots`` — one station per street at its depot (with
    ``shares_routine_crews`` the units *are* the department's routine crews there);
    ``district_km2`` — dedicated stations placed so each covers about ``station_district_km2``
    (or exactly ``station_count`` stations) by deterministic k-means over the grid centres;
    ``communities`` / ``streets`` — one station per community / street centre (micro tiers).
    """

    label_en: str = Field(description="English name, in the narrative and the app")
    label_zh: str = Field(description="中文名称, in the narrative and the app")
    unit_code: str = Field(min_length=1, max_length=3, description="unit ids are CODE1, CODE2 …")
    department: str | None = Field(default=None, description="department in `departments`")
    shares_routine_crews: bool = Field(
        default=False, description="units are the department's routine crews (street depots)")
    placement: Literal["street_depots", "district_km2", "communities", "streets"] = Field(
        default="street_depots", description="where the stations are (see the section text)")
    station_district_km2: float = Field(
        default=7.0, gt=0, le=10000,
        description="placement district_km2: area each station covers; stations = ⌈area / it⌉")
    station_count: int | None = Field(default=None, ge=1, le=10000,
                                      description="placement district_km2: exactly this many")
    units_per_station: int = Field(default=2, ge=1, le=100, description=(
        "dedicated stations; shared ones have the department's crews_per_street"))
    turnout_min: float = Field(default=1.0, ge=0, le=120, description="dispatch to wheels rolling")
    speed_kmh: float | None = Field(default=None, gt=0, le=200,
                                    description="travel speed; the department's when null")
    serves_own_area_only: bool = Field(
        default=False, description="micro tiers: turn out only inside their community/street")
    mop_up_min: float = Field(default=10.0, ge=0, le=1440, description="on site after containment")

    @model_validator(mode="after")
    def _check(self) -> "Responder":
        if self.shares_routine_crews and (self.department is None
                                          or self.placement != "street_depots"):
            raise ValueError("shares_routine_crews needs a department and placement street_depots")
        return self


def _default_responders() -> dict[str, Responder]:
    R = Responder
    return {
        "fire": R(label_en="Fire and rescue", label_zh="消防", unit_code="F", department="fire",
                  placement="district_km2", station_district_km2=7.0, units_per_station=2,
                  turnout_min=1.0, speed_kmh=35, mop_up_min=20),
        "police": R(label_en="Public security", label_zh="公安", unit_code="P",
                    department="police", shares_routine_crews=True, turnout_min=1.0,
                    speed_kmh=35),
        "water": R(label_en="Water authority", label_zh="水利", unit_code="W", department="water",
                   shares_routine_crews=True, turnout_min=5.0, speed_kmh=25),
        "public_works": R(label_en="Public works", label_zh="市政", unit_code="D",
                          department="public_works", shares_routine_crews=True, turnout_min=5.0,
                          speed_kmh=25),
        "city_management": R(label_en="City management", label_zh="城管", unit_code="C",
                             department="city_management", shares_routine_crews=True,
                             turnout_min=3.0, speed_kmh=25),
        "micro_fire": R(label_en="Micro fire station", label_zh="微型消防站", unit_code="M",
                        placement="communities", units_per_station=1, turnout_min=0.5,
                        speed_kmh=20, serves_own_area_only=True, mop_up_min=0),
        "joint_team": R(label_en="Area joint fire team", label_zh="区域联防队", unit_code="J",
                        placement="streets", units_per_station=1, turnout_min=1.0, speed_kmh=20,
                        serves_own_area_only=True, mop_up_min=0),
        "gas": R(label_en="Gas company", label_zh="燃气", unit_code="G", placement="district_km2",
                 station_district_km2=20.0, units_per_station=1, turnout_min=3.0, speed_kmh=30),
        "medical": R(label_en="Emergency medical (120)", label_zh="120急救", unit_code="A",
                     placement="district_km2", station_district_km2=10.0, units_per_station=2,
                     turnout_min=1.0, speed_kmh=35),
        "power": R(label_en="Power supply company", label_zh="供电", unit_code="E",
                   placement="district_km2", station_district_km2=20.0, units_per_station=1,
                   turnout_min=3.0, speed_kmh=30),
    }


class MicroFireStations(_Model):
    """The "1-3-5" tiers (facts): own micro station in 1 min, area joint team in 3 min, brigade
    in 5 min. The first two are responders in ``responders`` (placement communities/streets);
    this lever switches them on for fires."""

    enabled: bool = Field(default=False, description="micro stations turn out to fires")
    tiers: tuple[str, ...] = Field(default=("micro_fire", "joint_team"),
                                   description="responders that are the tiers, nearest first")


# ------------------------------------------------------------------------------------------ plans
class ResponseLevel(_Model):
    """One response level (响应等级): declared when the severity reaches ``trigger`` or the
    hazard covers ``trigger_grids`` grids; ``units`` is the total each responder must send."""

    trigger: float = Field(ge=0, description="severity (hazard's unit) that declares this level")
    trigger_grids: int | None = Field(default=None, ge=1,
                                      description="or: this many grids affected (spread)")
    units: dict[str, int] = Field(min_length=1, description="responder → units in total")
    mutual_aid: bool = Field(default=True, description="neighbours may be called at this level")


class ContingencyPlan(_Model):
    """应急预案: the lead responder and levels IV (lowest) … I (highest)."""

    lead: str = Field(description="the responder that leads (牵头单位); notified first")
    levels: dict[Literal["IV", "III", "II", "I"], ResponseLevel] = Field(
        min_length=1, description="IV is required; triggers must not fall as levels rise")

    @model_validator(mode="after")
    def _check(self) -> "ContingencyPlan":
        if "IV" not in self.levels:
            raise ValueError("a plan must define level IV (the lowest)")
        prev = -1.0
        for lv in LEVELS:
            if lv in self.levels:
                if self.levels[lv].trigger < prev:
                    raise ValueError(f"level {lv}'s trigger is below a lower level's trigger")
                prev = self.levels[lv].trigger
        if self.lead not in self.levels["IV"].units:
            raise ValueError(f"the lead {self.lead!r} must send units at level IV")
        return self


# ---------------------------------------------------------------------------------------- hazards
class GrowthHazard(_Model):
    """A hazard that grows while it waits and is controlled by units on site (fire, gas leak,
    public-order incident). Per affected grid g, with u_r units of responder r on site::

        dS/dt = (r·(1 − B_g/K) − λ·B_g/K)·S − Σ_r control_per_unit_per_min[r] · u_r

    (r = ``growth_per_min``, K = ``capacity_per_grid``, λ = ``burnout_per_min``), solved exactly
    over each tick with B_g/K held at its start; control is shared among the affected grids in
    proportion to their S. ``S`` is the severity (m² burning, %LEL, persons gathered); B_g = S0 +
    ∫ r·(1 − B_g/K)·S dt is what has grown in the grid (area burned: growth slows as the fuel is
    used, then the fire burns out) and B = Σ B_g is the damage base: damage = B ·
    ``damage_yuan_per_unit``, people affected = B · ``people_per_unit``. When a grid's S reaches
    ``spread_at``, each neighbouring grid catches with ``spread_prob_per_min`` per minute (a cordon
    by grid workers or police multiplies it by ``cordon_spread_factor``). Contained when S is 0
    everywhere.
    """

    model: Literal["growth"] = Field(default="growth", description="selects this hazard model")
    measure_en: str = Field(description="what S measures, e.g. area burning")
    measure_zh: str = Field(description="S 的中文名, e.g. 燃烧面积")
    unit: str = Field(description="S's unit, e.g. m², %LEL, persons")
    initial: float = Field(gt=0, description="S0, when it occurs")
    growth_per_min: float = Field(ge=0, le=10, description="r: relative growth per minute")
    capacity_per_grid: float = Field(gt=0, description="K: the most that can grow in one grid")
    burnout_per_min: float = Field(default=0.0, ge=0, le=10, description="λ, once K is used up")
    control_per_unit_per_min: dict[str, float] = Field(
        min_length=1, description="responder (or grid_worker) → S removed per minute per unit")
    spread_at: float | None = Field(default=None, gt=0,
                                    description="S from which a grid can spread (null: never)")
    spread_prob_per_min: float = Field(default=0.0, ge=0, le=1,
                                       description="per neighbouring grid, per minute")
    cordon_spread_factor: float = Field(default=0.5, ge=0, le=1,
                                        description="spread × this once a cordon is up")
    cordon_by: tuple[str, ...] = Field(
        default=("police",), description="responders (or grid_worker) whose units on scene "
                                         "hold the cordon")
    cutoff_min: dict[str, float] = Field(
        default_factory=dict, description=(
            "responder → minutes on scene its first unit needs to cut its supply (gas, power)"))
    cut_growth_factor: float = Field(
        default=1.0, ge=0, le=1,
        description="growth × this once every supply in cutoff_min is cut (gas leak: 0)")
    reignite_prob_per_min: float = Field(
        default=0.0, ge=0, le=1,
        description="per minute, while put out but a supply is still on: it flares up again")
    damage_yuan_per_unit: float = Field(default=0.0, ge=0, description="yuan per unit of B")
    people_per_unit: float = Field(default=0.0, ge=0, description="people affected per unit of B")
    report_delay_min: Distribution = Field(default=Exponential(mean=3.0),
                                           description="occurrence → alarm at the platform")
    ignites: str | None = Field(default=None, description=(
        "kind that breaks out in a grid whose S reaches ignite_at (gas explosion → fire)"))
    ignite_at: float | None = Field(default=None, gt=0, description="S that can ignite")
    ignite_prob_per_min: float = Field(default=0.0, ge=0, le=1,
                                       description="per minute while S ≥ ignite_at (once)")


class FloodHazard(_Model):
    """Waterlogging (内涝) driven by a rain event. Per grid, water stored (mm) changes as
    ``rain · runoff − drainage − Σ pumping of units in that grid``; depth_cm = stored_mm ·
    ponding / 10, with ponding = ``low_lying_factor`` in the low-lying grids (a share drawn once
    per seed) and 1 elsewhere. Water-level sensors (``channels.sensor_coverage``) read the depth
    every tick and raise the warning colour of the highest level whose trigger (cm) is reached:
    blue IV, yellow III, orange II, red I; a grid without a sensor is reported
    ``unsensed_report_delay_min`` later. Contained when every grid is back below level IV's
    trigger. Damage = flooded household-hours (depth ≥ ``affecting_depth_cm``) ·
    ``damage_yuan_per_household_h``; people affected = residents of grids that reached it."""

    model: Literal["flood"] = Field(default="flood", description="selects this hazard model")
    measure_en: str = Field(default="water depth", description="what the severity measures")
    measure_zh: str = Field(default="积水深度", description="严重程度的中文名")
    unit: str = Field(default="cm", description="the severity's unit (trigger unit)")
    rain_peak_mm_per_h: float = Field(default=60.0, ge=0, le=500,
                                      description="rain intensity at its peak (0: no rain)")
    rain_duration_h: float = Field(default=2.0, gt=0, le=72, description="length of the rain")
    rain_profile: Literal["block", "triangle"] = Field(
        default="triangle", description="constant at the peak, or rising to it and falling")
    runoff_coefficient: float = Field(default=0.8, ge=0, le=1,
                                      description="share of the rain that runs off")
    drainage_mm_per_h: float = Field(default=30.0, ge=0, description="drains' capacity per grid")
    low_lying_share: float = Field(default=0.15, ge=0, le=1,
                                   description="share of grids that are low-lying (drawn per seed)")
    low_lying_factor: float = Field(default=4.0, ge=1, le=50,
                                    description="ponding: depth multiplier in low-lying grids")
    pump_mm_per_h: dict[str, float] = Field(
        min_length=1, description="responder → extra drainage per unit on scene in its grid")
    affecting_depth_cm: float = Field(default=15.0, ge=0,
                                      description="depth from which households are affected")
    damage_yuan_per_household_h: float = Field(default=50.0, ge=0,
                                               description="per affected household-hour")
    unsensed_report_delay_min: float = Field(
        default=20.0, ge=0, description="a grid without a sensor is reported this much later")
    road_closure_cm: float = Field(default=30.0, gt=0,
                                   description="depth from which a grid's roads are closed")


Hazard = Annotated[Union[GrowthHazard, FloodHazard], Field(discriminator="model")]


class PeopleAtRisk(_Model):
    """The people an emergency puts at risk, and what the responders do for them
    (``sim.emergency.people``). In every affected grid (growth: a grid it has caught; flood: a
    grid whose depth reaches ``affecting_depth_cm``) ``occupants_share`` of the residents are in
    the danger zone. While the hazard is live there, each is injured at ``injury_per_min`` ×
    min(1, severity / ``harm_at``) per minute; people leave the zone by themselves
    (``self_evacuation_per_min``) and are led out by the evacuators on scene
    (``evacuate_per_unit_per_min``). The injured wait for care: medical units on scene take
    ``care_per_unit_per_min`` each into care, a few get there by themselves
    (``self_care_per_min``), and the waiting die at ``untreated_death_per_min`` — the time to
    care decides the outcome. Expected numbers (fractions of people), not draws."""

    occupants_share: float = Field(ge=0, le=1, description=(
        "share of an affected grid's residents in the danger zone"))
    harm_at: float = Field(gt=0, description="severity (hazard's unit) of the full injury rate")
    injury_per_min: float = Field(default=0.002, ge=0, le=1,
                                  description="injury rate per person in the zone, per minute")
    self_evacuation_per_min: float = Field(default=0.02, ge=0, le=1,
                                           description="share leaving the zone unaided, per min")
    evacuate_per_unit_per_min: dict[str, float] = Field(
        default_factory=lambda: {"police": 8.0, GRID_WORKER: 3.0},
        description="responder (or grid_worker) → people led out per minute per unit on scene")
    care_per_unit_per_min: dict[str, float] = Field(
        default_factory=lambda: {"medical": 0.5},
        description="responder → injured taken into care per minute per unit on scene")
    self_care_per_min: float = Field(default=0.01, ge=0, le=1,
                                     description="share of the waiting injured reaching care unaided")
    untreated_death_per_min: float = Field(default=0.01, ge=0, le=1,
                                           description="death rate of an injured person waiting")
    explosion_injured_share: float = Field(
        default=0.0, ge=0, le=1, description="share of the zone injured at once by an explosion")


class EmergencyKind(_Model):
    """One emergency type (突发事件类型) with its hazard model and contingency plan."""

    label_en: str = Field(description="English name")
    label_zh: str = Field(description="中文名称")
    hazard: Hazard = Field(description="hazard model: growth (fire, gas, crowd) or flood")
    plan: ContingencyPlan = Field(description="contingency plan (应急预案)")
    rate_per_day: float = Field(default=0.0, ge=0, le=100,
                                description="random ones per day, city-wide (0: scripted only)")
    uses_micro_fire_stations: bool = Field(
        default=False, description="the micro fire-station tiers turn out (when switched on)")
    people: PeopleAtRisk | None = Field(
        default=None, description="people at risk, evacuation, injuries and care (null: none)")
    access_delay_min: float = Field(default=0.0, ge=0, le=120, description=(
        "a unit reaching the scene while no police unit holds traffic control is held this "
        "long at the perimeter (floods: only into a grid whose roads are closed)"))


def _default_kinds() -> dict[str, EmergencyKind]:
    L = ResponseLevel
    return {
        "building_fire": EmergencyKind(
            label_en="Building fire", label_zh="建筑火灾", uses_micro_fire_stations=True,
            hazard=GrowthHazard(
                measure_en="area burning", measure_zh="燃烧面积", unit="m²", initial=10.0,
                growth_per_min=0.18, capacity_per_grid=5000.0, burnout_per_min=0.1,
                control_per_unit_per_min={"fire": 25.0, "micro_fire": 4.0, "joint_team": 8.0,
                                           GRID_WORKER: 1.0},
                spread_at=600.0, spread_prob_per_min=0.03, damage_yuan_per_unit=3000.0,
                people_per_unit=0.05, report_delay_min=Exponential(mean=5.0)),
            plan=ContingencyPlan(lead="fire", levels={
                "IV": L(trigger=0, units={"fire": 2, "police": 1, "medical": 1}),
                "III": L(trigger=200, trigger_grids=2, units={"fire": 4, "police": 2,
                                                               "medical": 2}),
                "II": L(trigger=800, trigger_grids=3, units={"fire": 6, "police": 3,
                                                              "medical": 3, "gas": 1}),
                "I": L(trigger=2000, trigger_grids=5, units={"fire": 10, "police": 4,
                                                              "medical": 4, "gas": 1,
                                                              "city_management": 2}),
            })),
        "flood": EmergencyKind(
            label_en="Flood and waterlogging", label_zh="城市内涝",
            hazard=FloodHazard(pump_mm_per_h={"water": 40.0, "public_works": 25.0,
                                              "fire": 20.0}),
            plan=ContingencyPlan(lead="water", levels={
                "IV": L(trigger=10, units={"water": 1, "public_works": 1}),
                "III": L(trigger=20, units={"water": 2, "public_works": 2, "police": 1}),
                "II": L(trigger=35, units={"water": 3, "public_works": 3, "police": 2,
                                           "fire": 1, "city_management": 2}),
                "I": L(trigger=50, units={"water": 4, "public_works": 4, "police": 3, "fire": 2,
                                          "city_management": 3, "medical": 1}),
            })),
        "gas_leak": EmergencyKind(
            label_en="Gas leak", label_zh="燃气泄漏",
            hazard=GrowthHazard(
                measure_en="gas concentration", measure_zh="燃气浓度", unit="%LEL", initial=5.0,
                growth_per_min=0.05, capacity_per_grid=200.0,
                control_per_unit_per_min={"gas": 4.0, "fire": 1.0},
                damage_yuan_per_unit=2000.0, people_per_unit=2.0,
                report_delay_min=Exponential(mean=5.0), ignites="building_fire",
                ignite_at=100.0, ignite_prob_per_min=0.1),
            plan=ContingencyPlan(lead="gas", levels={
                "IV": L(trigger=0, units={"gas": 1, "police": 1, "fire": 1}),
                "III": L(trigger=20, units={"gas": 2, "police": 2, "fire": 2}),
                "II": L(trigger=50, units={"gas": 2, "police": 3, "fire": 3, "medical": 1}),
                "I": L(trigger=80, units={"gas": 3, "police": 4, "fire": 4, "medical": 2}),
            })),
        "public_order": EmergencyKind(
            label_en="Public-order incident", label_zh="治安突发事件",
            hazard=GrowthHazard(
                measure_en="people gathered", measure_zh="聚集人数", unit="persons", initial=10.0,
                growth_per_min=0.04, capacity_per_grid=2000.0,
                control_per_unit_per_min={"police": 3.0, "city_management": 1.0,
                                          GRID_WORKER: 0.5},
                spread_at=300.0, spread_prob_per_min=0.02, damage_yuan_per_unit=100.0,
                people_per_unit=1.0, report_delay_min=Exponential(mean=5.0)),
            plan=ContingencyPlan(lead="police", levels={
                "IV": L(trigger=0, units={"police": 2}),
                "III": L(trigger=50, units={"police": 4, "city_management": 2}),
                "II": L(trigger=150, units={"police": 8, "city_management": 4, "medical": 1}),
                "I": L(trigger=400, units={"police": 12, "city_management": 6, "medical": 2}),
            })),
    }


# ------------------------------------------------------------------------------------------ rules
class MutualAid(_Model):
    """Cross-grid linkage (跨区域联动): units from other streets / station districts."""

    enabled: bool = Field(default=True,
                          description="units may come from other streets / station districts")
    max_distance_km: float | None = Field(default=None, gt=0,
                                          description="only stations this close (null: any)")


class FirstResponders(_Model):
    """Grid workers on the spot before the departments: evacuation and cordon (S3.2)."""

    enabled: bool = Field(default=False, description="grid workers turn out at the alarm")
    arrive_min: Distribution = Field(default=LogNormal(mean=4.0, cv=0.5),
                                     description="alarm → grid workers on scene (patrol hours)")
    off_duty_extra_min: float = Field(default=10.0, ge=0, description="outside patrol hours")
    workers: int = Field(default=2, ge=1, le=20, description="grid workers who turn out")


class HarmLevels(_Model):
    """Levels by harm (State Council Decree 493, 2007, facts.md): a level is declared once its
    deaths, injured or direct loss is reached, whatever the severity. Thresholds for III, II, I
    (IV is below them); the injured stand in for the decree's "seriously injured"."""

    enabled: bool = Field(default=True, description="levels also rise by deaths, injured, loss")
    deaths: tuple[float, float, float] = Field(default=(3, 10, 30),
                                               description="deaths for III, II, I (facts)")
    injured: tuple[float, float, float] = Field(default=(10, 50, 100),
                                                description="injured for III, II, I (facts)")
    loss_yuan: tuple[float, float, float] = Field(
        default=(1e7, 5e7, 1e8), description="direct loss (yuan) for III, II, I (facts)")


class JointResponseRules(_Model):
    """The levers of a joint response (联动处置)."""

    dispatch: Literal["simultaneous", "sequential"] = Field(
        default="simultaneous",
        description="all plan responders at once, or each once the previous one is on site")
    command: Literal["platform", "lead"] = Field(
        default="platform",
        description="platform: the command centre notifies every responder and declares levels; "
                    "lead: the platform notifies the lead, which relays to the others")
    platform_dispatch_min: Distribution = Field(
        default=Fixed(value=1.0), description="alarm → decision and first notifications")
    relay_min: float = Field(default=3.0, ge=0, le=120, description="lead command: per relay")
    decision_min: float = Field(default=5.0, ge=0, le=240,
                                description="lead command: delay to declare a higher level")
    assessment_min: float = Field(default=2.0, ge=0, le=120,
                                  description="sequential: on-site look before the next is called")
    routine_work: Literal["wait", "preempt"] = Field(
        default="wait", description="a shared crew busy on a routine case: finish it, or drop it")
    escalation_factor: float = Field(default=1.0, gt=0, le=100,
                                     description="multiplies every level trigger (a sweep lever)")
    harm_levels: HarmLevels = HarmLevels()
    mutual_aid: MutualAid = MutualAid()
    first_responders: FirstResponders = FirstResponders()
    micro_fire_stations: MicroFireStations = MicroFireStations()


class ScriptedEmergency(_Model):
    """One emergency of a drill: ``kind`` at ``at_h`` (model hours) in ``grid`` (floods: city)."""

    kind: str = Field(description="a key of emergency.kinds")
    at_h: float = Field(ge=0, description="model hour it occurs (0 = Monday 00:00)")
    grid: int | None = Field(default=None, ge=0, description="basic grid (floods: null, city-wide)")


class EmergencyConfig(_Model):
    """Emergencies and joint response (S3.2). Off by default: the baseline has none."""

    enabled: bool = Field(default=False, description="emergencies on (off: the baseline has none)")
    responders: dict[str, Responder] = Field(default_factory=_default_responders,
                                             description="who turns out, and from where")
    kinds: dict[str, EmergencyKind] = Field(default_factory=_default_kinds,
                                            description="emergency types with hazard and plan")
    rules: JointResponseRules = JointResponseRules()
    incidents: tuple[ScriptedEmergency, ...] = ()
    tick_min: float = Field(default=0.5, ge=0.05, le=30, description="hazard update and sensor read")
    trace_every_min: float = Field(default=5.0, ge=0.05, le=240, description="hazard rows in trace")

    def reference_problems(self, departments: dict, n_grids: int | None = None
                           ) -> list[tuple[str, str]]:
        """Cross-references into the rest of the scenario (checked by ``Scenario`` when on)."""
        out: list[tuple[str, str]] = []
        if not self.enabled:
            return out
        allowed = ", ".join(sorted(self.responders))
        codes = set(self.responders) | {GRID_WORKER}
        for kname, kind in self.kinds.items():
            where = f"emergency.kinds.{kname}"
            if kind.plan.lead not in self.responders:
                out.append((f"{where}.plan.lead",
                            f"unknown responder {kind.plan.lead!r}; allowed: {allowed}"))
            for lv, level in kind.plan.levels.items():
                for r in level.units:
                    if r not in self.responders:
                        out.append((f"{where}.plan.levels.{lv}.units.{r}",
                                    f"unknown responder {r!r}; allowed: {allowed}"))
            h = kind.hazard
            if isinstance(h, GrowthHazard) and h.ignites is not None:
                target = self.kinds.get(h.ignites)
                if target is None or not isinstance(target.hazard, GrowthHazard):
                    out.append((f"{where}.hazard.ignites", "must name a fire-like (growth) kind; "
                                "allowed: " + ", ".join(k for k, v in self.kinds.items()
                                                       if isinstance(v.hazard, GrowthHazard))))
                elif h.ignite_at is None:
                    out.append((f"{where}.hazard.ignite_at", "required when ignites is set"))
            if isinstance(h, GrowthHazard):
                for r in h.cutoff_min:
                    if r not in kind.plan.levels["IV"].units:
                        out.append((f"{where}.hazard.cutoff_min.{r}", "a supply is cut by a "
                                    "responder the plan sends at level IV; allowed: "
                                    + ", ".join(sorted(kind.plan.levels["IV"].units))))
                for r in h.cordon_by:
                    if r not in codes:
                        out.append((f"{where}.hazard.cordon_by", f"unknown responder {r!r}; "
                                    f"allowed: {', '.join(sorted(codes))}"))
            if kind.people is not None:
                for fname in ("evacuate_per_unit_per_min", "care_per_unit_per_min"):
                    for r in getattr(kind.people, fname):
                        if r not in codes:
                            out.append((f"{where}.people.{fname}.{r}", f"unknown responder "
                                        f"{r!r}; allowed: {', '.join(sorted(codes))}"))
            effects = h.control_per_unit_per_min if isinstance(h, GrowthHazard) else h.pump_mm_per_h
            for r in effects:
                if r not in codes:
                    field = ("control_per_unit_per_min" if isinstance(h, GrowthHazard)
                             else "pump_mm_per_h")
                    out.append((f"{where}.hazard.{field}.{r}",
                                f"unknown responder {r!r}; allowed: {', '.join(sorted(codes))}"))
        if self.rules.micro_fire_stations.enabled:
            for t in self.rules.micro_fire_stations.tiers:
                if t not in self.responders:
                    out.append(("emergency.rules.micro_fire_stations.tiers",
                                f"unknown responder {t!r}; allowed: {allowed}"))
        for i, inc in enumerate(self.incidents):
            if inc.kind not in self.kinds:
                out.append((f"emergency.incidents.{i}.kind", f"unknown kind {inc.kind!r}; "
                            f"allowed: {', '.join(sorted(self.kinds))}"))
            elif inc.grid is not None and n_grids is not None and inc.grid >= n_grids:
                out.append((f"emergency.incidents.{i}.grid",
                            f"must be between 0 and {n_grids - 1} (the city has {n_grids} grids)"))
        unit_codes = [r.unit_code for r in self.responders.values()]
        if len(set(unit_codes)) != len(unit_codes):
            out.append(("emergency.responders", "every unit_code must be distinct"))
        for code, r in self.responders.items():
            if r.department is not None and r.department not in departments:
                out.append((f"emergency.responders.{code}.department",
                            f"unknown department {r.department!r}; allowed: "
                            + ", ".join(sorted(departments))))
            elif r.shares_routine_crews and departments[r.department].crews_per_street < 1:
                out.append((f"emergency.responders.{code}.department",
                            f"department {r.department!r} has no crews to share"))
        return out
