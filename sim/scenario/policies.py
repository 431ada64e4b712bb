"""Scenario sections for behaviour and policy levers (S3.1, S3.3, S4, S5.2, S6, S7).

Every section defaults to "off" — flat pay, no campaigns, no training, no joint meeting, plain
rotas, no AI video — so that ``Scenario()`` (the baseline) behaves exactly as the core model.
The mechanisms that read these fields live in ``sim.policies.incentives`` (appraisal and gaming),
``sim.agents.residents`` (awareness, satisfaction, trust, complaints), ``sim.policies.workforce``
(training, recruitment, attrition), ``sim.policies.joint_meeting`` and ``sim.policies.smart_platform``; the
formulas are in ``docs/incentives.md``.
"""

from __future__ import annotations

import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.scenario.base import no_huge_number
from sim.scenario.distributions import Distribution, Exponential, LogNormal


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    _no_huge = field_validator("*")(classmethod(lambda cls, v: no_huge_number(v)))


# -------------------------------------------------------------------------------------- residents
class Campaign(_Model):
    """One kind of awareness campaign (宣传活动, S4.1), run in every basic grid."""

    events_per_grid_per_month: float = Field(default=0.0, ge=0, le=100,
                                             description="events in every grid a month (0 = none)")
    awareness_gain: float = Field(
        default=0.1, ge=0, le=1, description="share of the gap to awareness_max one event closes")
    cost_per_event_yuan: float = Field(default=500.0, ge=0, description="cost of one event")


class Campaigns(_Model):
    """Awareness campaigns by kind (S4.1): community talks, leaflets, volunteer activities."""

    talks: Campaign = Campaign(awareness_gain=0.15, cost_per_event_yuan=800)
    leaflets: Campaign = Campaign(awareness_gain=0.05, cost_per_event_yuan=200)
    volunteers: Campaign = Campaign(awareness_gain=0.10, cost_per_event_yuan=500)


class Complaints(_Model):
    """Resident oversight (S4.3, S7.1): complaint hotline and mailbox (投诉举报)."""

    prob_per_bad_experience: float = Field(
        default=0.15, ge=0, le=1,
        description="chance residents complain after a false closure, a parked case or a "
                    "missed deadline, at trust 0.5 (scales with trust / 0.5, capped at 1)")
    investigation_delay_days: float = Field(default=5.0, ge=0, le=365,
                                            description="from complaint to investigation")
    investigation_detect_prob: float = Field(
        default=0.7, ge=0, le=1, description="chance an investigation uncovers gaming behind it")
    feedback_trust_gain: float = Field(
        default=0.02, ge=0, le=1, description="share of the gap to trust 1 closed when the "
                                              "outcome of an investigation is fed back")


class Disclosure(_Model):
    """Regular public disclosure of each grid's performance (S4.2, S4.3)."""

    enabled: bool = Field(default=False, description="publish grid performance regularly")
    interval_days: float = Field(default=30.0, ge=1, le=365, description="between disclosures")
    good_on_time_rate: float = Field(
        default=0.9, ge=0, le=1, description="on-time closure rate residents read as good")
    trust_gain: float = Field(default=0.2, ge=0, le=1,
                              description="share of the gap to 1 closed by a good report")
    trust_loss: float = Field(default=0.2, ge=0, le=1,
                              description="share of trust lost by a bad report")


class ResidentsConfig(_Model):
    """Resident groups (居民, S4): awareness, satisfaction, trust, complaints.

    Reporting multiplier of a grid = propensity · awareness
    · exp(satisfaction_elasticity · (satisfaction − initial_satisfaction) / 100)
    · exp(trust_elasticity · (trust − initial_trust)).
    The elasticities default to 0: satisfaction and trust are tracked but do not feed back.
    """

    campaigns: Campaigns = Campaigns()
    awareness_max: float = Field(default=2.0, ge=1, le=10,
                                 description="ceiling of the awareness multiplier (1 = baseline)")
    awareness_half_life_days: float = Field(
        default=60.0, gt=0, le=3650, description="campaign effects fade back to 1 at this pace")
    initial_satisfaction: float = Field(
        default=70.0, ge=0, le=100, description="satisfaction at the start, and the reference "
                                                "of satisfaction_elasticity")
    satisfaction_learning_rate: float = Field(
        default=0.05, ge=0, le=1, description="weight of one handled case of the grid")
    own_report_weight: float = Field(
        default=2.0, ge=0, le=20, description="weight of cases the residents reported themselves")
    lateness_scale_h: float = Field(
        default=24.0, gt=0, description="score of a closure: 100 · exp(−hours late / this)")
    false_closure_score: float = Field(default=0.0, ge=0, le=100,
                                      description="score of a case closed but not fixed")
    parked_score: float = Field(default=20.0, ge=0, le=100, description="score of a parked case")
    overdue_score: float = Field(default=20.0, ge=0, le=100,
                                 description="signal when a case misses its deadline")
    satisfaction_elasticity: float = Field(
        default=0.0, ge=0, le=20, description="how strongly satisfaction drives reporting")
    initial_trust: float = Field(default=0.5, ge=0, le=1,
                                 description="trust in the grid system at the start (0–1)")
    trust_elasticity: float = Field(default=0.0, ge=0, le=20,
                                    description="how strongly trust drives reporting")
    complaints: Complaints = Complaints()
    disclosure: Disclosure = Disclosure()


# -------------------------------------------------------------------------------------- appraisal
class WorkerScheme(_Model):
    """How a grid worker's monthly appraisal turns into pay (绩效考核 → 激励机制, S6.2).

    All amounts default to 0: flat pay (the staffing pay table only)."""

    pay_per_report_yuan: float = Field(default=0.0, ge=0, le=10000,
                                       description="per patrol report credited to the worker")
    pay_per_closure_yuan: float = Field(
        default=0.0, ge=0, le=10000, description="per closed case the worker reported or verified")
    satisfaction_bonus_yuan_per_point: float = Field(
        default=0.0, ge=0, le=10000,
        description="per point of the grid's satisfaction above satisfaction_reference")
    satisfaction_reference: float = Field(default=70.0, ge=0, le=100,
                                          description="no bonus at this satisfaction")
    quota_reports_per_month: int = Field(default=0, ge=0, le=1000,
                                         description="0 = no quota")
    quota_penalty_yuan: float = Field(default=0.0, ge=0, le=100000,
                                      description="deducted when the quota is missed")
    overdue_penalty_yuan: float = Field(default=0.0, ge=0, le=10000,
                                        description="per overdue case of the worker's grid")
    caught_penalty_yuan: float = Field(default=500.0, ge=0, le=1_000_000,
                                       description="per gaming act caught")


class DepartmentScheme(_Model):
    """Assessment of departments (S3.3): lists and penalties per appraisal cycle.

    A department ranked in the bottom ``black_list_share`` by on-time closure rate is held to
    account and answers with speed; the top ``red_list_share`` is praised, and the others answer
    with care (fix quality). Penalties are what the assessed unit loses; with collusion they are
    also what it is ready to pay a worker to keep a problem off the record."""

    black_list_share: float = Field(default=0.0, ge=0, le=1,
                                    description="share of departments named on the black list")
    red_list_share: float = Field(default=0.0, ge=0, le=1,
                                  description="share of departments praised on the red list")
    penalty_per_overdue_yuan: float = Field(default=0.0, ge=0, le=100000,
                                            description="charged per overdue case in its remit")
    penalty_per_case_yuan: float = Field(
        default=0.0, ge=0, le=100000, description="charged per case filed in its remit "
                                                  "(assessing units by problem counts)")
    speed_step: float = Field(default=0.15, ge=0, le=1,
                              description="speed-up (handling time ÷ (1+speed)) per sanction")
    speed_max: float = Field(default=0.6, ge=0, le=3, description="largest speed-up")
    rush_quality_loss: float = Field(
        default=0.15, ge=0, le=1, description="fix-success loss per unit of speed-up")
    care_step: float = Field(
        default=0.15, ge=0, le=1,
        description="share of failed fixes avoided, per cycle off the red list")
    care_max: float = Field(default=0.6, ge=0, le=1, description="largest care")
    care_time_cost: float = Field(default=0.3, ge=0, le=5,
                                  description="extra handling time per unit of care")
    relax: float = Field(default=0.5, ge=0, le=1,
                         description="share of speed and care dropped in a cycle without pressure")


class Supervision(_Model):
    """Internal supervision (S7.1): upper-level spot checks (抽查) and field inspections."""

    spot_check_share: float = Field(default=0.05, ge=0, le=1,
                                    description="share of reports and closures re-checked")
    spot_check_detect_prob: float = Field(default=0.8, ge=0, le=1,
                                          description="chance a spot check uncovers gaming")
    field_inspection_prob: float = Field(
        default=0.05, ge=0, le=1, description="chance inspectors find a given unreported problem")
    caught_risk_multiplier: float = Field(
        default=2.0, ge=1, le=20, description="perceived risk after being caught (fades by half "
                                              "each cycle)")


class WorkerBehaviour(_Model):
    """How workers answer the scheme: expected-utility choices (docs/incentives.md)."""

    effort_cost_yuan: float = Field(
        default=3000.0, gt=0, description="κ: monthly cost of effort κ·(effort − base effort)²")
    effort_min: float = Field(default=0.5, gt=0, le=2, description="lowest effort a worker chooses")
    effort_max: float = Field(default=2.0, gt=0, le=4,
                              description="highest effort a worker chooses")
    honesty_cost_yuan: Distribution = Field(
        default=LogNormal(mean=10.0, cv=1.5),
        description="a worker's personal cost of one gaming act (drawn once per worker post)")
    padding_cost_yuan: float = Field(
        default=1.0, gt=0, description="c: the n-th padded report of a month costs c·n more")
    padded_reports_max_per_month: int = Field(default=300, ge=0, le=10000,
                                              description="most padded reports one worker makes")
    time_value_yuan_per_h: float = Field(
        default=0.0, ge=0, description="what an hour saved by a staged verification is worth")
    collusion_side_payment_share: float = Field(
        default=0.0, ge=0, le=1,
        description="share of its expected penalty an assessed unit pays to keep a case off "
                    "the record (0 = no collusion)")

    @model_validator(mode="after")
    def _range(self) -> "WorkerBehaviour":
        if self.effort_min > self.effort_max:
            raise ValueError("effort_min must not exceed effort_max")
        return self


class AppraisalConfig(_Model):
    """Appraisal cycles, schemes, supervision and behaviour (S3.3, S6.2, S7.1, S7.2)."""

    cycle_days: float = Field(default=30.0, ge=1, le=365,
                              description="appraisal cycle (first decisions after 7 days)")
    worker_scheme: WorkerScheme = WorkerScheme()
    department_scheme: DepartmentScheme = DepartmentScheme()
    supervision: Supervision = Supervision()
    behaviour: WorkerBehaviour = WorkerBehaviour()
    indicator_weights: dict[Literal["completion", "timeliness", "quality", "satisfaction"],
                            float] = Field(
        default_factory=lambda: {"completion": 0.25, "timeliness": 0.3, "quality": 0.2,
                                 "satisfaction": 0.25},
        description="weights of the composite appraisal score (S7.2); normalised to sum 1. "
                    "Reporting only: they weight the composite_appraisal_score KPI; no pay, "
                    "effort or gaming depends on them (the worker_scheme fields do)")

    @field_validator("indicator_weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x < 0 for x in v.values()) or sum(v.values()) <= 0:
            raise ValueError("weights must be >= 0 and not all zero")
        return v


# -------------------------------------------------------------------------------------- workforce
class Training(_Model):
    """Regular training (S6.1): raises skill, costs staff time and money."""

    hours_per_month: float = Field(default=0.0, ge=0, le=160,
                                   description="training hours per worker a month (0 = none)")
    skill_gain_per_hour: float = Field(
        default=0.02, ge=0, le=1, description="share of the gap to skill 1 closed per hour")
    cost_per_hour_yuan: float = Field(default=60.0, ge=0,
                                      description="cost per worker-hour of training")


class Recruitment(_Model):
    """Open recruitment (S6.3): replacements are the best of ``applicants_per_hire`` draws."""

    applicants_per_hire: int = Field(default=1, ge=1, le=50,
                                     description="selection standard: 1 = hire the first")
    applicant_skill_mean: float = Field(default=0.7, gt=0, le=1,
                                        description="mean skill of the applicant pool")
    applicant_skill_sd: float = Field(default=0.15, ge=0, le=0.5,
                                      description="spread of applicants' skill")
    cost_per_applicant_yuan: float = Field(default=300.0, ge=0,
                                           description="screening cost per applicant")
    cost_per_hire_yuan: float = Field(default=3000.0, ge=0, description="cost of one hire")
    vacancy_days: float = Field(default=30.0, ge=0, le=365,
                                description="a post stays empty this long after a quit")
    applies_to_initial: bool = Field(
        default=False, description="the workforce at the start was also recruited this way "
                                   "(instead of staffing.skill_mean / skill_sd)")


class Attrition(_Model):
    """Workers quit when pay is low for the workload (S6.2)."""

    quit_sensitivity: float = Field(
        default=0.0, ge=0, le=1,
        description="monthly quit chance per unit of pay shortfall (0 = nobody quits)")
    reference_cases_per_month: float = Field(
        default=40.0, gt=0, description="workload (reports + verifications) the base pay covers")
    max_quit_prob: float = Field(default=0.3, ge=0, le=1,
                                 description="highest monthly quit chance")


class WorkforceConfig(_Model):
    """Training, recruitment and attrition of grid workers (S6)."""

    training: Training = Training()
    recruitment: Recruitment = Recruitment()
    attrition: Attrition = Attrition()


# ---------------------------------------------------------------------------------- joint meeting
class JointMeetingConfig(_Model):
    """Joint meeting of departments (联席会议, S3.1) on parked (挂账) multi-department cases."""

    enabled: bool = Field(default=False, description="parked cases wait for the joint meeting")
    interval_days: float = Field(default=7.0, ge=1, le=365, description="between meetings")
    hour: float = Field(default=9.0, ge=0, lt=24, description="hour of day the meeting sits")
    capacity_cases: int = Field(default=20, ge=0, le=100000, description="cases per meeting")
    resolve_prob: float = Field(default=0.8, ge=0, le=1,
                                description="chance the meeting agrees a joint solution")
    handling_time_factor: float = Field(default=1.5, gt=0, le=20,
                                        description="joint handling time ÷ one department's")
    fix_success_prob: float = Field(default=0.95, gt=0, le=1,
                                    description="chance a jointly agreed fix holds")


# --------------------------------------------------------------------------------- smart platform
class HotspotPatrol(_Model):
    """Patrol allocation learned from past cases (S5.2) instead of fixed rotas."""

    enabled: bool = Field(default=False, description="allocate patrols from past cases")
    weight: float = Field(default=0.5, ge=0, le=1,
                          description="share of patrol strength allocated by prediction")
    scope: Literal["community", "street"] = Field(
        default="community", description="patrol strength moves within this unit")
    learning_half_life_days: float = Field(default=14.0, gt=0, le=365,
                                           description="memory of the learned case counts")
    relearn_interval_days: float = Field(default=7.0, ge=1, le=365,
                                         description="how often patrols are re-allocated")


class AIVideo(_Model):
    """Automatic recognition on video (S5.2): coverage, accuracy and false alarms."""

    enabled: bool = Field(default=False, description="AI recognition on video")
    coverage: float = Field(default=0.5, ge=0, le=1, description="share of grids covered")
    accuracy: float = Field(default=0.8, ge=0, le=1,
                            description="chance it recognises a visible incident")
    false_alarms_per_grid_per_day: float = Field(
        default=0.5, ge=0, le=1000, description="false alarms per covered grid, screened out")
    delay: Distribution = Field(default=Exponential(mean=0.1),
                                description="from occurrence to recognition, h")
    cost_per_grid_month_yuan: float = Field(default=1500.0, ge=0,
                                            description="cost per covered grid a month")


class SmartPlatformConfig(_Model):
    """Platform intelligence (S5.2): learned patrol allocation and AI video recognition."""

    hotspot_patrol: HotspotPatrol = HotspotPatrol()
    ai_video: AIVideo = AIVideo()


# ------------------------------------------------------------------------------ periodic policies
LEARNING_WEEK_DAYS = 7.0  # first worker decisions, first (partial) appraisal and disclosure


def _first_action_days(interval_days: float) -> float:
    """Day of a periodic policy's first action (``sim.policies.registry.period_ends``)."""
    return min(interval_days, LEARNING_WEEK_DAYS)


def _appraisal_acts(sc: typing.Any) -> bool:
    """True if an appraisal cycle changes anything: pay or penalties for workers, lists or
    penalties for departments, or quitting."""
    ws, ds = sc.appraisal.worker_scheme, sc.appraisal.department_scheme
    return bool(ws.pay_per_report_yuan or ws.pay_per_closure_yuan or ws.quota_penalty_yuan
                or ws.satisfaction_bonus_yuan_per_point or ws.overdue_penalty_yuan
                or ds.black_list_share or ds.red_list_share or ds.penalty_per_overdue_yuan
                or ds.penalty_per_case_yuan or sc.workforce.attrition.quit_sensitivity)


def periodic_warnings(sc: typing.Any) -> list[tuple[str, str]]:
    """(field, message) for every periodic policy switched on that the run's length lets act
    never: its first action falls at or after the end of ``run.days``. The app shows these
    beside the run length; ``gridsim run`` prints them."""
    days = sc.run.days
    out: list[tuple[str, str]] = []

    def check(on: bool, field: str, first: float, what: str) -> None:
        if on and first >= days:
            out.append((field, f"{what} first acts on day {first:g}, but the run lasts "
                               f"{days:g} days (run.days): it never acts; make the run longer "
                               f"than {first:g} days or {field} shorter"))

    cyc = sc.appraisal.cycle_days
    check(_appraisal_acts(sc), "appraisal.cycle_days", _first_action_days(cyc),
          "the appraisal cycle (pay, department red/black lists, quitting)")
    d = sc.residents.disclosure
    check(d.enabled, "residents.disclosure.interval_days", _first_action_days(d.interval_days),
          "public disclosure")
    jm = sc.joint_meeting
    check(jm.enabled, "joint_meeting.interval_days", jm.interval_days + jm.hour / 24.0,
          "the joint meeting")
    hp = sc.smart_platform.hotspot_patrol
    check(hp.enabled, "smart_platform.hotspot_patrol.relearn_interval_days",
          hp.relearn_interval_days, "hotspot patrol allocation")
    return out
