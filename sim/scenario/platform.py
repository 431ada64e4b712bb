"""The reporting channels (S2.2) and the information platform (S2.3, S5.1).
"""

from __future__ import annotations

from pydantic import Field

from sim.scenario.base import _Model
from sim.scenario.distributions import Distribution, Exponential, Fixed, LogNormal


class ChannelConfig(_Model):
    """How incidents are reported besides patrols (S2.2)."""

    resident_reports_per_incident_per_day: float = Field(
        default=0.15, ge=0, description="hazard that some resident reports a visible incident"
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


class EscalationConfig(_Model):
    """Escalation of overdue cases (S2.3): at each missed deadline the case moves up one level
    (community → street → district); that level's team (``staffing.level_teams``, its size is
    the team's capacity) reviews it and raises its crew priority; a street team may reassign a
    case still waiting for a crew to another street's free crew, a district team may order
    mutual aid from a less loaded street or grant an extension (S1.2, S3.1; sim/agents/levels.py);
    a case still unsolved when the district's deadline passes is parked (挂账)."""

    review_time: Distribution = Field(default=LogNormal(mean=0.5, cv=0.5),
                                      description="a level-team member's time on one case")
    priority_boost: int = Field(default=1, ge=0, le=10,
                                description="crew-priority levels a review adds to the case")
    park_after_last_level: bool = Field(
        default=True, description="park a case still unsolved after the district's deadline")
    reassign: bool = Field(
        default=True, description="a street team moves a case waiting for a crew to the nearest "
                                  "other street of the district with spare capacity in that "
                                  "department (fewer crews out or claimed than it has)")
    mutual_aid: bool = Field(
        default=True, description="a district team orders the street with the fewest cases per "
                                  "crew of that department to take a case still waiting, if "
                                  "fewer than where it waits (跨区域联动)")
    extension: bool = Field(
        default=True, description="a district team that finds no less-loaded street grants an "
                                  "extension (延期): the case leaves the on-time rate's cases due "
                                  "and is parked one deadline period later")
    coordination_time: Distribution = Field(
        default=LogNormal(mean=1.0, cv=0.5),
        description="a team member's extra time on a case it reassigns, sends for mutual aid or "
                    "extends (calls, paperwork), h")
    district_to_joint_meeting: bool = Field(
        default=True, description="with the joint meeting on, the district team sends a complex "
                                  "case that reached it to the meeting (parked for its agenda)")


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
    acceptance_limit_h: float = Field(
        default=2.0, gt=0, le=24 * 30,
        description="the platform's own limit from first report to dispatch (受理时限), for the "
                    "timely-acceptance rate (12345 hotlines publish this KPI)")
    auto_dispatch_share: float = Field(default=0.0, ge=0, le=1)
    misroute_prob: float = Field(default=0.05, ge=0, le=1,
                                 description="a case classified by an operator goes to a wrong "
                                             "department this often")
    auto_misroute_prob: float = Field(
        default=0.05, ge=0, le=1,
        description="a case the platform classifies and dispatches automatically goes to a wrong "
                    "department this often")
    return_delay: Distribution = Field(
        default=LogNormal(mean=2.0, cv=0.5),
        description="time a wrong department takes to screen a misrouted case and send it back")
    misroute_visit_prob: float = Field(
        default=0.2, ge=0, le=1,
        description="a misrouted case costs the wrong department a wasted crew visit this often")
    misroute_visit_time: Distribution = Field(
        default=LogNormal(mean=0.5, cv=0.5),
        description="time on site of a wasted crew visit (travel out and back added)")
    manager_coordination_time: Distribution = LogNormal(mean=3.0, cv=0.8)
    feedback_delay: Distribution = Exponential(mean=0.25)
    verification_miss_prob: float = Field(
        default=0.1, ge=0, le=1, description="a worker at skill 0 passes a failed fix this often"
    )
    max_reworks: int = Field(default=3, ge=0, le=20, description="after that the case is parked")
    escalation: EscalationConfig = EscalationConfig()


# ------------------------------------------------------------------------------------------- run
