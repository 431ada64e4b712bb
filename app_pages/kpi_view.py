"""How KPIs are shown: labels from ``sim.metrics.KPI_DEFINITIONS``, values formatted by unit,
and which direction counts as better (for the colour of a change and the comparison verdict)."""

from __future__ import annotations

from typing import Literal

from app_pages.i18n import kpi_formula
from sim.metrics import KPI_DEFINITIONS, format_kpi, format_kpi_delta

Direction = Literal["up", "down", "none"]

#: Better when higher / lower; KPIs not listed (counts of what happened, loads) are neutral.
_HIGHER_BETTER = frozenset({"discovery_rate", "filing_rate", "on_spot_share", "closure_rate",
                            "dispatched_closure_rate", "timely_acceptance_rate", "resolved_rate",
                            "on_time_rate", "satisfaction", "mean_satisfaction",
                            "em_lead_5min_share", "resident_satisfaction", "resident_trust",
                            "resident_awareness", "composite_appraisal_score", "em_people_evacuated",
                            "dispatched_closure_rate", "timely_acceptance_rate", "resolved_rate"})
_LOWER_BETTER = frozenset({"mean_discovery_latency_h", "duplicate_rate", "mean_time_to_close_h",
                           "p50_time_to_close_h", "p90_time_to_close_h", "cases_open_end",
                           "return_rate", "rework_rate", "escalated_cases", "parked_cases",
                           "mean_crew_wait_h", "monthly_staff_cost", "padded_report_share",
                           "complaints", "em_not_contained", "em_damage_yuan", "em_people_exposed",
                           "em_injured", "em_killed", "em_roads_closed_grid_h", "level_team_wait_h",
                           "em_people_affected", "em_max_level", "em_routine_cases_delayed",
                           "suppressed_incidents", "staged_verifications", "false_alarms",
                           "workers_quit", "p50_time_from_dispatch_to_close_h",
                           "false_closure_share", "crew_overtime_h", "overtime_cost_monthly",
                           "missed_share", "problem_hours_per_1000_households",
                           "mean_time_from_occurrence_to_close_h"})

#: The cards at the top of the lab, one per slot: the first KPI of a slot that
#: ``sim.metrics.KPI_DEFINITIONS`` defines is shown (newer KPIs first, older ones as fallback).
HEADLINE_SLOTS: tuple[tuple[str, ...], ...] = (
    ("incidents_total",), ("discovery_rate",), ("on_time_rate",),
    ("resolved_rate", "closure_rate"), ("problem_hours_per_1000_households", "cases_open_end"),
    ("mean_time_to_close_h",), ("resident_satisfaction",), ("monthly_staff_cost",))
#: The compare page's default targets, by the same rule.
TARGET_SLOTS: tuple[tuple[str, ...], ...] = (
    ("on_time_rate",), ("problem_hours_per_1000_households", "mean_time_to_close_h"),
    ("monthly_staff_cost",))


def _pick(slots: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return tuple(next(k for k in slot if k in KPI_DEFINITIONS) for slot in slots
                 if any(k in KPI_DEFINITIONS for k in slot))


HEADLINE: tuple[str, ...] = _pick(HEADLINE_SLOTS)


def targets() -> tuple[str, ...]:
    return _pick(TARGET_SLOTS)


def direction(key: str) -> Direction:
    if key in _HIGHER_BETTER:
        return "up"
    if key in _LOWER_BETTER or key.startswith("em_") and key.endswith(("_min", "_h")) \
            or key.endswith("_cost_monthly"):
        return "down"
    return "none"


def label(key: str, lang: str) -> str:
    en, zh, _, _ = KPI_DEFINITIONS.get(key, (key, key, "", ""))
    return zh if lang == "zh" else en


def unit(key: str) -> str:
    return KPI_DEFINITIONS.get(key, ("", "", "", ""))[2]


def definition(key: str, lang: str) -> str:
    """The KPI's formula in ``lang`` (中文 from the app's catalogue)."""
    return kpi_formula(key, KPI_DEFINITIONS.get(key, ("", "", "", ""))[3], lang)


#: Unit words of the catalogue's formats, in 中文.
_ZH_UNITS = ((" person-h", " 人·小时"), (" grid-h", " 网格·小时"), (" people", " 人"),
             (" min", " 分钟"), (" h", " 小时"), (" pp", " 个百分点"))


def localise(text: str, lang: str) -> str:
    """A formatted value with its unit word in ``lang`` (h → 小时, min → 分钟, pp → 个百分点)."""
    if lang != "zh":
        return text
    for en, zh in _ZH_UNITS:
        if text.endswith(en):
            return text[: -len(en)] + zh
    return text


def fmt(key: str, v: float | None, lang: str = "en") -> str:
    """A value formatted where the CLI and reports format it (one definition,
    ``sim.metrics.format_kpi``), its unit word in ``lang``."""
    return localise(format_kpi(key, v), lang)


def fmt_delta(key: str, d: float | None, lang: str = "en") -> str | None:
    """A change (``sim.metrics.format_kpi_delta``: percentage points for shares), money as
    +¥1,000 / −¥1,000 like the values, its unit word in ``lang``."""
    text = format_kpi_delta(key, d)
    if text is None:
        return None
    if unit(key) == "yuan" and d is not None:
        text = ("+" if d >= 0 else "-") + "¥" + f"{abs(d):,.0f}"
    return localise(text, lang)


def delta_color(key: str) -> str:
    """Streamlit's ``delta_color`` for this KPI: green is better."""
    return {"up": "normal", "down": "inverse", "none": "off"}[direction(key)]


def clip_ci(key: str, lo: float, hi: float) -> tuple[float, float]:
    """A mean's interval within the KPI's range: a share in [0, 1]; counts, money, hours and
    minutes never below zero (¥-55,840 is no lower end of a cost)."""
    u = unit(key)
    if u == "share":
        return max(0.0, lo), min(1.0, hi)
    if u in ("count", "yuan", "h", "min"):
        return max(0.0, lo), hi
    return lo, hi
