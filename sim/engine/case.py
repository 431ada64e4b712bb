"""The case record: a problem in the city and, once reported, its case.

Every incident carries a row of uniform numbers drawn at birth (the ``U_*`` columns) that fixes its
intrinsic randomness, so common random numbers hold across policies; :class:`SubtypeInfo` is the
flattened taxonomy row (``category.subtype``) it belongs to. A leaf module: the engine and the
policy plug-ins both read it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.scenario import Deadline, Scenario

# Columns of the per-incident uniform draws.
(U_PATROL, U_RESIDENT, U_RES_CHANNEL, U_SENSOR, U_SENSOR_DELAY, U_VIDEO, U_VIDEO_DELAY,
 U_WORKER, U_ONSPOT, U_COMPLEX, U_UNSOLVABLE, U_MISROUTE, U_HANDLE, U_FIX, U_VERIFY,
 U_WRONG_DEPT, U_SCREEN, U_DISPATCH, U_COORD, U_FEEDBACK, U_VERIFY_TIME, U_RETURN_DELAY,
 U_ONSPOT_TIME, U_REPORT_TIME, U_AUTO) = range(25)
N_UNIFORMS = 25
_NAN = float("nan")


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
    partners: tuple[str, ...] = ()  # departments acting with the responsible one (S3.1)
    joint_mode: str = "together"  # partners' crews together or one after another


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
                partners=tuple(sub.partners), joint_mode=sub.joint_mode,
            ))
    return rows


class Incident:
    """A problem in the city and, once reported, its case. Lives until it is recorded."""

    __slots__ = ("id", "grid", "sub", "t_occur", "u", "channel", "t_report", "channel_times",
                 "worker", "on_spot", "complex", "t_filed", "t_dispatch", "t_due", "crew_wait_h",
                 "t_handled", "t_closed", "returns", "reworks", "escalation", "false_closure",
                 "state", "department", "extra", "t_crew_req", "t_parked", "misrouted_to",
                 "priority", "signal", "key", "park_due")

    def __init__(self, iid: int, grid: int, sub: int, t_occur: float, u: list[float],
                 key: int | None = None, channel_times: tuple[float, ...] = ()):
        nan = _NAN
        self.id = iid
        self.grid = grid
        self.sub = sub
        self.t_occur = t_occur
        self.u = u
        self.channel = ""
        self.t_report = nan
        self.channel_times = channel_times  # every report's time, sorted (the first one's too)
        self.worker = -1
        self.on_spot = False
        self.complex = False
        self.t_filed = nan
        self.t_dispatch = nan
        self.t_due = nan
        self.crew_wait_h = nan
        self.t_crew_req = nan
        self.t_handled = nan
        self.t_closed = nan
        self.t_parked = nan
        self.returns = 0
        self.reworks = 0
        self.escalation = 0
        self.false_closure = False
        self.state = "undiscovered"
        self.department = ""
        self.misrouted_to = ""
        self.priority = 0  # crew priority: lower goes first (−urgency, minus escalation boosts)
        self.signal: Any = None  # wakes a case waiting for a crew (boost, park)
        self.key = key  # case_uniform's key (None: made from ``u`` when first needed)
        self.park_due = False  # still unsolved after the last level: park at the next step
        self.extra: dict | None = None

    def wake(self) -> None:
        """Tell the case, if it waits for a crew, that its priority changed or that it must
        be parked (``sim.engine.workflow``)."""
        ev, self.signal = self.signal, None
        if ev is not None and not ev.triggered:
            ev.succeed()


# ------------------------------------------------------------------------ each case's own numbers
# A case's first pass draws from the uniforms its incident drew at birth (``U_*``). Every other
# draw of its life — the verifier, a verification miss, each rework's handling time and fix, the
# re-dispatch after a return, a wasted crew visit, a level team's review, the joint meeting's
# decision — is ``case_uniform(inc, purpose, k)``: a SplitMix64 hash of the birth uniforms, the
# purpose and the repetition ``k``. It depends on nothing drawn in event order, so two policies run
# at one seed give the same case the same number for the same purpose, whatever else happened.
_MASK = (1 << 64) - 1
_TWO53 = float(1 << 53)


def _mix(x: int) -> int:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijection with good avalanche."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def case_key(u: list[float]) -> int:
    """A 64-bit key from a case's birth uniforms."""
    k = 0x6A09E667F3BCC908
    for v in u:
        k = _mix(k ^ int(v * _TWO53))
    return k


_M1, _M2, _GOLDEN = (np.uint64(x) for x in (0xBF58476D1CE4E5B9, 0x94D049BB133111EB,
                                             0x9E3779B97F4A7C15))
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix_array(x: np.ndarray) -> np.ndarray:
    """``_mix`` on an array of uint64 (arithmetic modulo 2**64, as above)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def case_keys(u: np.ndarray) -> np.ndarray:
    """``case_key`` of each row of ``u`` (n × N_UNIFORMS) at once; the same numbers."""
    k = np.full(len(u), 0x6A09E667F3BCC908, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(u.shape[1]):
            k = _mix_array(k ^ (u[:, j] * _TWO53).astype(np.uint64))
    return k


_SALTS: dict[tuple[str, int], int] = {}


def _salt(purpose: str, k: int) -> int:
    """The mixed (purpose, repetition) salt, computed once per pair."""
    x = _SALTS[(purpose, k)] = _mix((zlib.crc32(purpose.encode()) << 20) + k)
    return x


def case_uniform(inc: Incident, purpose: str, k: int = 0) -> float:
    """Uniform in [0, 1) for ``purpose`` (repetition ``k``) of the case ``inc``."""
    key = inc.key
    if key is None:
        key = inc.key = case_key(inc.u)
    salt = _SALTS.get((purpose, k))
    if salt is None:
        salt = _salt(purpose, k)
    return (_mix(key ^ salt) >> 11) / _TWO53
