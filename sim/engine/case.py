"""The case record: a problem in the city and, once reported, its case.

Every incident carries a row of uniform numbers drawn at birth (the ``U_*`` columns) that fixes its
intrinsic randomness, so common random numbers hold across policies; :class:`SubtypeInfo` is the
flattened taxonomy row (``category.subtype``) it belongs to. A leaf module: the engine and the
policy plug-ins both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.scenario import Deadline, Scenario

# Columns of the per-incident uniform draws.
(U_PATROL, U_RESIDENT, U_RES_CHANNEL, U_SENSOR, U_SENSOR_DELAY, U_VIDEO, U_VIDEO_DELAY,
 U_WORKER, U_ONSPOT, U_COMPLEX, U_UNSOLVABLE, U_MISROUTE, U_HANDLE, U_FIX, U_VERIFY,
 U_WRONG_DEPT, U_SCREEN, U_DISPATCH, U_COORD, U_FEEDBACK, U_VERIFY_TIME, U_RETURN_DELAY,
 U_ONSPOT_TIME, U_REPORT_TIME, U_AUTO) = range(25)
N_UNIFORMS = 25


@dataclass(frozen=True)
class SubtypeInfo:
    code: str  # "category.subtype"
    category: str
    subtype: str
    label_en: str
    label_zh: str
    department: str
    deadline: Deadline
    minor: bool
    complex_prob: float
    unsolvable_prob: float
    urgency: int
    patrol_visibility: float
    resident_salience: float
    sensor_detectable: bool
    video_detectable: bool
    rate_per_1000_households_per_day: float  # this subtype's share of the category rate
    unreported: str = "persist"  # persist | vanish | worsen
    lifetime_h: Any = None  # Distribution of the lifetime while unreported
    harm_yuan: float = 0.0
    resident_report_prob: float = 1.0


def taxonomy(scenario: Scenario) -> list[SubtypeInfo]:
    rows = []
    for cname, cat in scenario.incidents.categories.items():
        for sname, sub in cat.subtypes.items():
            rows.append(SubtypeInfo(
                code=f"{cname}.{sname}", category=cname, subtype=sname, label_en=sub.label_en,
                label_zh=sub.label_zh, department=sub.department or cat.department,
                deadline=sub.deadline, minor=sub.minor, complex_prob=sub.complex_prob,
                unsolvable_prob=sub.unsolvable_prob, urgency=sub.urgency,
                patrol_visibility=cat.patrol_visibility, resident_salience=cat.resident_salience,
                sensor_detectable=cat.sensor_detectable, video_detectable=cat.video_detectable,
                rate_per_1000_households_per_day=cat.rate_per_1000_households_per_day * sub.share,
                unreported=sub.unreported, lifetime_h=sub.lifetime_h, harm_yuan=sub.harm_yuan,
                resident_report_prob=(cat.resident_report_prob if sub.resident_report_prob is None
                                      else sub.resident_report_prob),
            ))
    return rows


class Incident:
    """A problem in the city and, once reported, its case. Lives until it is recorded."""

    __slots__ = ("id", "grid", "sub", "t_occur", "u", "channel", "t_report", "channel_times",
                 "worker", "on_spot", "complex", "t_filed", "t_dispatch", "t_due", "crew_wait_h",
                 "t_handled", "t_closed", "returns", "reworks", "escalation", "false_closure",
                 "state", "department", "extra")

    def __init__(self, iid: int, grid: int, sub: int, t_occur: float, u: list[float]):
        self.id = iid
        self.grid = grid
        self.sub = sub
        self.t_occur = t_occur
        self.u = u
        self.channel = ""
        self.t_report = float("nan")
        self.channel_times: tuple[float, ...] = ()
        self.worker = -1
        self.on_spot = False
        self.complex = False
        self.t_filed = float("nan")
        self.t_dispatch = float("nan")
        self.t_due = float("nan")
        self.crew_wait_h = float("nan")
        self.t_handled = float("nan")
        self.t_closed = float("nan")
        self.returns = 0
        self.reworks = 0
        self.escalation = 0
        self.false_closure = False
        self.state = "undiscovered"
        self.department = ""
        self.extra: dict | None = None
