"""Shared building blocks of the schema: the strict frozen base model, time windows, the
working calendar and deadlines, channel and zone names.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: the channel of a case's first report; ``resident`` is any resident's report (hotline 12345,
#: app, WeChat: the model treats them alike, so it does not tell them apart)
Channel = Literal["patrol", "resident", "sensor", "video", "handed_down"]
CHANNELS: tuple[str, ...] = ("patrol", "resident", "sensor", "video", "handed_down")
ZoneType = Literal["residential", "commercial", "mixed", "industrial", "village"]


#: no number in a scenario is larger (NaN and infinity are refused outright): a cost, rate or
#: time beyond this overflows the KPIs computed from it
MAX_MAGNITUDE = 1e15


def no_huge_number(v: object) -> object:
    """A field validator for every number: finite (pydantic) and at most MAX_MAGNITUDE."""
    if isinstance(v, float) and abs(v) > MAX_MAGNITUDE:
        raise ValueError(f"must be at most {MAX_MAGNITUDE:g} in size")
    return v


def chinese_text(v: str) -> str:
    """A field validator for text in 中文 (``label_zh``, ``description_zh``): empty (the English
    is shown) or written with Chinese characters."""
    if v.strip() and not any("\u3400" <= c <= "\u9fff" for c in v):
        raise ValueError("must be written in 中文 (Chinese characters), or left empty")
    return v.strip()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    _no_huge = field_validator("*")(classmethod(lambda cls, v: no_huge_number(v)))


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

    @cached_property
    def open_days(self) -> tuple[bool, ...]:
        """Whether the window opens on each weekday 0…6."""
        return tuple(d in self.days for d in range(7))


ALWAYS = Window(start_h=0, end_h=24)


class CalendarConfig(_Model):
    """Working time (工作时/工作日) used by deadlines in working hours or working days."""

    working_hours: Window = Window(start_h=8.5, end_h=17.5, days=(0, 1, 2, 3, 4))


class Deadline(_Model):
    """Time allowed for a case (处置时限), counted from dispatch."""

    value: float = Field(gt=0)
    unit: Literal["working_hours", "working_days", "hours", "days"] = "working_hours"


