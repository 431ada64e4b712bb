"""How KPIs are shown: labels from ``sim.metrics.KPI_DEFINITIONS``, values formatted by unit,
and which direction counts as better (for the colour of a change and the comparison verdict)."""

from __future__ import annotations

import math
from typing import Literal

from sim.metrics import KPI_DEFINITIONS

Direction = Literal["up", "down", "none"]
_LEVELS = ("IV", "III", "II", "I")  # response levels, lowest first (glossary: I is the highest)

#: Better when higher / lower; KPIs not listed (counts of what happened, loads) are neutral.
_HIGHER_BETTER = frozenset({"discovery_rate", "filing_rate", "on_spot_share", "closure_rate",
                            "on_time_rate", "satisfaction", "mean_satisfaction",
                            "em_lead_5min_share", "resident_satisfaction", "resident_trust",
                            "resident_awareness", "composite_appraisal_score"})
_LOWER_BETTER = frozenset({"mean_discovery_latency_h", "duplicate_rate", "mean_time_to_close_h",
                           "p50_time_to_close_h", "p90_time_to_close_h", "cases_open_end",
                           "return_rate", "rework_rate", "escalated_cases", "parked_cases",
                           "mean_crew_wait_h", "monthly_staff_cost", "padded_report_share",
                           "complaints", "em_not_contained", "em_damage_yuan",
                           "em_people_affected", "em_max_level", "em_routine_cases_delayed",
                           "suppressed_incidents", "staged_verifications", "false_alarms",
                           "workers_quit"})

#: The KPIs shown as cards at the top of the lab (the rest are in the full table).
HEADLINE: tuple[str, ...] = ("incidents_total", "discovery_rate", "on_time_rate", "closure_rate",
                             "mean_time_to_close_h", "cases_open_end", "resident_satisfaction",
                             "monthly_staff_cost")


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


def _nan(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt(key: str, v: float | None) -> str:
    """A KPI value as shown in the app (shares in %, counts whole, yuan with ¥, hours 2 dp)."""
    if _nan(v):
        return "–"
    u = unit(key)
    if u == "share":
        return f"{100 * v:.1f}%"
    if u == "count":
        return f"{v:,.0f}"
    if u == "yuan":
        return f"¥{v:,.0f}"
    if u == "h":
        return f"{v:,.2f} h"
    if u == "min":
        return f"{v:,.1f} min"
    if u == "level":  # response level rank 1..4 = IV..I (I is the highest); 0 = none declared
        return _LEVELS[int(v) - 1] if 1 <= v <= len(_LEVELS) else "–"
    return f"{v:,.3g}"


def fmt_delta(key: str, d: float | None) -> str | None:
    """A change of a KPI (percentage points for shares); None when there is nothing to show."""
    if _nan(d):
        return None
    u = unit(key)
    if u == "share":
        return f"{100 * d:+.1f} pp"
    if u == "count":
        return f"{d:+,.0f}"
    if u == "yuan":
        return f"{d:+,.0f} ¥"
    if u == "h":
        return f"{d:+,.2f} h"
    if u == "min":
        return f"{d:+,.1f} min"
    if u == "level":
        return f"{d:+.0f}"
    return f"{d:+,.3g}"


def delta_color(key: str) -> str:
    """Streamlit's ``delta_color`` for this KPI: green is better."""
    return {"up": "normal", "down": "inverse", "none": "off"}[direction(key)]
