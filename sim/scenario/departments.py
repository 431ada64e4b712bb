"""Functional departments (职能部门) and their crews (S3).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sim.scenario.base import Window, _Model
from sim.scenario.distributions import Distribution, Fixed, LogNormal


class Department(_Model):
    """A functional department (职能部门) with crews in every street (S3)."""

    label_en: str
    label_zh: str
    crews_per_street: int = Field(default=2, ge=0, le=1000)
    shift: Window = Window(start_h=8.0, end_h=18.0)
    handling_time: Distribution = LogNormal(mean=2.0, cv=0.8)
    scheduling_lead: Distribution = Field(
        default=Fixed(value=0.0),
        description="hours from dispatch until the crew goes (an appointment: bulky items, tree "
                    "trimming, inspections); 0 dispatches the crew at once")
    travel_speed_kmh: float = Field(default=20.0, gt=0, le=200)
    travel: bool = Field(default=True, description="crews travel from the street depot and back")
    fix_success_prob: float = Field(default=0.92, gt=0, le=1, description="quality of a fix")
    cost_per_crew_month: float = Field(default=20000, ge=0)
    end_of_shift: Literal["overtime", "resume_next_shift"] = Field(
        default="overtime",
        description="work in progress when the shift ends: finished as paid overtime, or stopped "
                    "and resumed when the next shift opens (the case keeps its crew)")
    overtime_cost_per_h: float = Field(default=150.0, ge=0, description="yuan per crew-hour "
                                       "worked outside the shift")


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
