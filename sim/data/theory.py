"""Queueing theory the engine is checked against, and the scenario that reduces to it.

``mmc_scenario`` builds a city of one grid whose only department has ``c`` crews, incidents
arriving as a Poisson process that a sensor reports at once, an automatic platform taking no
time, exponential handling and no travel: the crews are then exactly an M/M/c queue, and the mean
wait for a crew must match :func:`erlang_c_wait`.
"""

from __future__ import annotations

import math

from sim.scenario import Scenario, validate_scenario


def erlang_c(c: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (offered load a = λ/μ < c)."""
    if offered_load >= c:
        return 1.0
    term = 1.0
    total = 1.0
    for k in range(1, c):
        term *= offered_load / k
        total += term
    last = term * offered_load / c * c / (c - offered_load)
    return last / (total + last)


def erlang_c_wait(arrival_rate: float, service_rate: float, c: int) -> float:
    """Mean wait in queue W_q of an M/M/c queue = C(c, a) / (cμ − λ)."""
    a = arrival_rate / service_rate
    if a >= c:
        return math.inf
    return erlang_c(c, a) / (c * service_rate - arrival_rate)


def mmc_scenario(arrival_rate_per_h: float, mean_service_h: float, crews: int,
                 days: float = 60, warmup_days: float = 5, seed: int = 1) -> Scenario:
    households = 10000
    rate = arrival_rate_per_h * 24 * 1000 / households
    flat = {"start_h": 0, "end_h": 24}
    data = {
        "name": f"mmc_c{crews}_rho{arrival_rate_per_h * mean_service_h / crews:.2f}",
        "description": "One department, Poisson arrivals, exponential handling: an M/M/c queue.",
        "city": {"households": households, "households_per_grid": households,
                 "households_per_community": households, "communities_per_street": 1, "streets_per_district": 1,
                 "zones": {"residential": {"share": 1, "households_per_km2": 10000}},
                 "hotspot_share": 0, "resident_propensity_spread": 1},
        "staffing": {"workers_per_grid": 50, "managers_per_grid": 1, "assistants_per_grid": 0},
        "patrol": {"hours": flat, "verification_time": {"dist": "fixed", "value": 0},
                   "report_time": {"dist": "fixed", "value": 0}},
        "incidents": {
            "hourly_profile": [1] * 24, "weekly_profile": [1] * 7,
            "categories": {"queue": {
                "label_en": "Queue test", "label_zh": "排队检验", "department": "dept",
                "rate_per_1000_households_per_day": rate, "patrol_visibility": 0,
                "resident_salience": 0, "sensor_detectable": True,
                "subtypes": {"job": {"label_en": "Job", "label_zh": "任务", "share": 1,
                                     "deadline": {"value": 1000, "unit": "hours"},
                                     "complex_prob": 0}}}}},
        "channels": {"resident_reports_per_incident_per_day": 0,
                     "invalid_reports_per_1000_households_per_day": 0, "handed_down_per_day": 0,
                     "sensor_coverage": 1, "sensor_detect_prob": 1,
                     "sensor_delay": {"dist": "fixed", "value": 0}},
        "departments": {"dept": {"label_en": "Department", "label_zh": "部门",
                                 "crews_per_street": crews, "shift": flat,
                                 "handling_time": {"dist": "exponential", "mean": mean_service_h},
                                 "travel": False, "fix_success_prob": 1}},
        "platform": {"operators": 1000, "screening_time": {"dist": "fixed", "value": 0},
                     "auto_dispatch_share": 1, "misroute_prob": 0,
                     "feedback_delay": {"dist": "fixed", "value": 0}},
        "run": {"days": days, "warmup_days": warmup_days, "seed": seed,
                "timeseries_interval_h": 24},
    }
    return validate_scenario(data, "mmc")
