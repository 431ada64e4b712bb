"""Capacity for a calibrated city: platform operators, department crews and shifts sized from
the log's volume, and a short run that says whether the platform or a department saturates.

A base scenario's capacity fits the base city: a citywide log through a sub-district's three
operators and its crews leaves nearly every case open. Here each department gets, per street,

    crews = ceil(λ · S / (open · ρ))

where λ is the cases a street sends it per hour (the log's category rates × subtype shares ×
the department's part), S a visit's hours (mean handling time plus travel out and back), open
the share of the week its shift is open and ρ = :data:`TARGET_UTILISATION`. Operators are sized
the same way for the busiest hour of the profiles (screening and dispatch of every case and
invalid report). A department whose categories close a fifth or more of their requests outside
its shift gets a round-the-clock shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.scenario import Scenario, scenario_with

if TYPE_CHECKING:
    from sim.data.calibrate import Calibration

TARGET_UTILISATION = 0.7
#: a department is saturated in the check run above this crew utilisation
SATURATED = 0.95
#: share of closures outside the shift above which the shift becomes 0–24 h
OFF_SHIFT_CLOSURES = 0.2
#: the schema's bound on crews per street
MAX_CREWS = 1000


@dataclass
class Sizing:
    overrides: dict[str, Any]
    rows: list[dict[str, Any]]              # per department and the platform: load and capacity
    warnings: list[str] = field(default_factory=list)
    streets: int = 1


def department_load(cal: "Calibration", scenario: Scenario) -> dict[str, float]:
    """Cases per day each department receives, from the fitted category rates."""
    load: dict[str, float] = {}
    for c, f in cal.categories.items():
        cat = scenario.incidents.categories[c]
        for s, sub in cat.subtypes.items():
            share = (f.subtype_shares or {}).get(s, sub.share)
            dep = sub.department or cat.department
            load[dep] = load.get(dep, 0.0) + f.rate_per_day * share
    return load


def mean_travel_h(scenario: Scenario) -> dict[str, float]:
    """Mean one-way travel time (h) from the street depot to a grid, per department, measured
    on a one-street city of the same layout."""
    from sim.engine.model import GridModel

    small = scenario_with(scenario, {"city.households": int(min(scenario.city.households,
                                                                 households_per_street(scenario)))})
    m = GridModel(small)
    grids = range(m.city.n_grids)
    return {d: float(np.mean([m.travel_h(d, g) for g in grids])) for d in small.departments}


def households_per_street(scenario: Scenario) -> float:
    from sim.engine.seeding import Streams
    from sim.world.city import build_city

    city = build_city(scenario.city, Streams(scenario.run.seed)["city"])
    return float(city.households.sum()) / city.n_streets


def n_streets(scenario: Scenario) -> int:
    from sim.engine.seeding import Streams
    from sim.world.city import build_city

    return int(build_city(scenario.city, Streams(scenario.run.seed)["city"]).n_streets)


def crews_needed(cases_per_day: float, streets: int, visit_h: float, open_share: float,
                 rho: float = TARGET_UTILISATION) -> int:
    lam_h = cases_per_day / streets / 24.0
    return min(MAX_CREWS, max(1, math.ceil(lam_h * visit_h / (open_share * rho) - 1e-9)))


def _open_share(window: Any) -> float:
    return window.week_table[0] / 168.0


def _off_shift_share(cal: "Calibration", scenario: Scenario, dep: str) -> tuple[float, int]:
    cats = [c for c, cat in scenario.incidents.categories.items()
            if c in cal.categories and (cat.department == dep or any(
                (s.department or cat.department) == dep for s in cat.subtypes.values()))]
    f = cal.log.frame
    sel = f.category.isin(cats) & (f.status == "closed") & f.closed.notna()
    hours = f.closed[sel].dt.hour + f.closed[sel].dt.minute / 60.0
    if len(hours) == 0:
        return float("nan"), 0
    w = scenario.departments[dep].shift
    outside = (hours < w.start_h) | (hours >= w.end_h)
    return float(outside.mean()), int(len(hours))


def size_for_log(cal: "Calibration", scenario: Scenario,
                 handling_mean_h: dict[str, float] | None = None,
                 travel: dict[str, float] | None = None, streets: int | None = None) -> Sizing:
    """Operators, crews per street and shifts for the calibrated city's volume (``travel`` and
    ``streets`` may be given to save building the city again)."""
    streets = streets or n_streets(scenario)
    travel = travel if travel is not None else mean_travel_h(scenario)
    load = department_load(cal, scenario)
    over: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for dep, per_day in sorted(load.items()):
        cfg = scenario.departments[dep]
        shift = cfg.shift
        off, n_closed = _off_shift_share(cal, scenario, dep)
        if n_closed >= 30 and off > OFF_SHIFT_CLOSURES and not shift.always:
            over[f"departments.{dep}.shift"] = {"start_h": 0.0, "end_h": 24.0}
            shift_note = f"0–24 h ({100 * off:.0f}% of closures outside {shift.start_h:g}–" \
                         f"{shift.end_h:g} h)"
            open_share = 1.0
        else:
            shift_note = f"{shift.start_h:g}–{shift.end_h:g} h (kept)"
            open_share = _open_share(shift)
        mean_h = (handling_mean_h or {}).get(dep, cfg.handling_time.mean)
        visit = mean_h + 2 * travel.get(dep, 0.0)
        crews = crews_needed(per_day, streets, visit, open_share)
        over[f"departments.{dep}.crews_per_street"] = crews
        rows.append({"unit": dep, "cases_per_day": per_day, "visit_h": visit,
                     "shift": shift_note, "base": cfg.crews_per_street, "sized": crews,
                     "utilisation": per_day / streets / 24 * visit / (crews * open_share)})
    plat = scenario.platform
    peak = float(np.max(cal.profiles.hourly) * np.max(cal.profiles.weekly))
    cases = sum(load.values()) + scenario.channels.handed_down_per_day
    invalid = scenario.channels.invalid_reports_per_1000_households_per_day * \
        scenario.city.households / 1000.0
    work_h = (cases * (plat.screening_time.mean + plat.dispatch_time.mean)
              + invalid * plat.screening_time.mean) / 24.0 * peak
    ops = max(1, math.ceil(work_h / TARGET_UTILISATION - 1e-9))
    over["platform.operators"] = ops
    rows.append({"unit": "platform operators", "cases_per_day": cases + invalid,
                 "visit_h": plat.screening_time.mean + plat.dispatch_time.mean,
                 "shift": f"0–24 h, busiest hour ×{peak:.2f}", "base": plat.operators,
                 "sized": ops, "utilisation": work_h / ops})
    return Sizing(overrides=over, rows=rows, streets=streets)


def saturation_check(scenario: Scenario, days: float = 7.0, seed: int | None = None,
                     streets: int = 2) -> tuple[list[str], dict[str, float]]:
    """Run the scenario briefly on a city of ``streets`` streets at the same load per street;
    warnings for a department above :data:`SATURATED` crew utilisation, or for a platform whose
    operators (the whole city's, for the whole city's filings scaled up from the run) would be
    busier than that at the busiest hour; and the utilisations (``platform`` among them)."""
    from sim.run import run_scenario

    small = reduced_city(scenario, streets, days)
    r = run_scenario(small, seed=seed, keep_cases=False)
    ctx = r.context
    util = {d: ctx.crew_busy_h[d] / ctx.crew_capacity_h[d]
            for d in ctx.crew_busy_h if ctx.crew_capacity_h.get(d)}
    warn = [f"department {d} saturates in a {days:g}-day check run: crews busy "
            f"{100 * u:.0f}% of their shift (raise departments.{d}.crews_per_street)"
            for d, u in sorted(util.items()) if u > SATURATED]
    plat, inc = scenario.platform, scenario.incidents
    scale = scenario.city.households / small.city.households
    window_days = (ctx.end_h - ctx.warmup_h) / 24.0
    filed = r.kpis["cases_filed"] / window_days * scale
    invalid = scenario.channels.invalid_reports_per_1000_households_per_day * \
        scenario.city.households / 1000.0
    busy = (filed * (plat.screening_time.mean + plat.dispatch_time.mean)
            + invalid * plat.screening_time.mean) / 24.0
    peak = float(np.max(inc.hourly_profile) / np.mean(inc.hourly_profile)
                 * np.max(inc.weekly_profile) / np.mean(inc.weekly_profile))
    util["platform"] = busy * peak / plat.operators
    if util["platform"] > SATURATED:
        warn.append(f"the platform saturates: at the busiest hour its {plat.operators:,} "
                    f"operator(s) would need {100 * util['platform']:.0f}% of their time for "
                    f"{filed:,.0f} cases and {invalid:,.0f} invalid reports a day (raise "
                    f"platform.operators to at least {math.ceil(busy * peak / 0.7):,})")
    return warn, util


def reduced_city(scenario: Scenario, streets: int, days: float | None = None) -> Scenario:
    """The same city per street (households, crews per street, rates per household), cut to
    ``streets`` streets, with operators scaled down in proportion; optionally ``days`` long."""
    total = n_streets(scenario)
    over: dict[str, Any] = {}
    if total > streets:
        share = streets / total
        over["city.households"] = max(10, int(round(scenario.city.households * share)))
        over["platform.operators"] = max(1, math.ceil(scenario.platform.operators * share))
        over["channels.handed_down_per_day"] = scenario.channels.handed_down_per_day * share
    if days is not None:
        over["run.days"] = days
        over["run.warmup_days"] = min(scenario.run.warmup_days, days / 5)
    return scenario_with(scenario, over) if over else scenario
