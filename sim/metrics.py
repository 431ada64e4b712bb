"""KPI definitions — the one place each KPI is defined. ``docs/kpis.md`` is written from this.

The case log has one row per incident (``sim.engine.records.CASE_COLUMNS``). The measurement window
is ``[warmup_h, end_h)``: an incident belongs to the window if it *occurred* in it (discovery
KPIs); a case belongs to it if it was *reported* in it (all case KPIs). Cases still open at the end
stay in every denominator they belong to — they are never dropped — and ``cases_open_end`` counts
them: a case open or parked at the end is not closed (closure rates), is late once its deadline has
passed whatever step it is at (on-time rate), is censored at the end in the Kaplan–Meier times to
close (so they rise when cases pile up), and counts with its wait so far if it is still waiting for
a crew. Crew utilisation counts only hours inside the crews' shifts (so it cannot pass 1); work
outside them is overtime, a KPI of its own.

Definitions (W = the window; "due" = its deadline falls before the end of the run):
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from sim.kpi_catalogue import KPI_DEFINITIONS
from sim.tally import Tally, mean_or_nan, share


_LEVELS = ("IV", "III", "II", "I")  # response-level ranks 1…4 (I is the highest)


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v)


#: unit -> (value format, change format); other units show three significant figures.
_FORMATS: dict[str, tuple[str, str]] = {
    "share": ("{:.1%}", "{:+.1%}"), "count": ("{:,.0f}", "{:+,.0f}"),
    "yuan": ("¥{:,.0f}", "{:+,.0f} ¥"), "h": ("{:,.2f} h", "{:+,.2f} h"),
    "min": ("{:,.1f} min", "{:+,.1f} min"), "level": ("", "{:+.0f}"),
    "people": ("{:,.1f}", "{:+,.1f}"), "person-h": ("{:,.1f} person-h", "{:+,.1f} person-h"),
    "grid-h": ("{:,.1f} grid-h", "{:+,.1f} grid-h"),
}


def _unit(key: str) -> str:
    return KPI_DEFINITIONS.get(key, ("", "", "", ""))[2]


def format_kpi(key: str, v: float | None) -> str:
    """A KPI value for people (CLI, app, reports): shares in %, counts whole, yuan with ¥."""
    if _missing(v):
        return "–"
    u = _unit(key)
    if u == "level":
        return _LEVELS[int(v) - 1] if 1 <= v <= len(_LEVELS) else "–"
    return _FORMATS.get(u, ("{:,.3g}", ""))[0].format(v)


def format_kpi_delta(key: str, d: float | None) -> str | None:
    """A change of a KPI (percentage points for shares); None when there is nothing to show."""
    if _missing(d):
        return None
    u = _unit(key)
    if u == "share":
        return f"{100 * d:+.1f} pp"
    return _FORMATS.get(u, ("", "{:+,.3g}"))[1].format(d)


@dataclass
class RunContext:
    """What the KPIs need besides the case log."""

    warmup_h: float
    end_h: float
    invalid_reports: int = 0
    worker_busy_h: float = 0.0
    worker_capacity_h: float = 0.0
    crew_busy_h: dict[str, float] = field(default_factory=dict)
    crew_capacity_h: dict[str, float] = field(default_factory=dict)
    crew_overtime_h: dict[str, float] = field(default_factory=dict)
    overtime_cost: float = 0.0  # yuan, overtime crew-hours in W × each department's rate
    acceptance_limit_h: float = float("inf")  # platform.acceptance_limit_h
    monthly_staff_cost: float = 0.0
    policy: dict[str, float] = field(default_factory=dict)  # sim.policies.Policies.context()
    indicator_weights: dict[str, float] = field(default_factory=dict)
    emergencies: pd.DataFrame | None = None  # sim.emergency.manager.EmergencyManager.table()
    households: float = 0.0  # the city's households (per-household KPIs)
    # per unit, for per-grid KPIs (empty when not recorded): worker busy hours of each grid,
    # the beat of each grid and each beat's patrol-hours; crews' busy and shift hours per street
    worker_busy_grid_h: np.ndarray = field(default_factory=lambda: np.zeros(0))
    worker_beat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    worker_capacity_beat_h: np.ndarray = field(default_factory=lambda: np.zeros(0))
    crew_busy_street_h: np.ndarray = field(default_factory=lambda: np.zeros(0))
    crew_capacity_street_h: np.ndarray = field(default_factory=lambda: np.zeros(0))


_share = share  # num / den, NaN where den is 0 (elementwise for arrays)


def _mean(x: pd.Series) -> float:
    return float(x.mean()) if len(x) else float("nan")


def kaplan_meier(duration: np.ndarray, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate of P(time to close > t): (event times, survival just after each).

    ``closed`` marks observed closures; the others are censored at their ``duration`` (still
    open at the end). At a tie, closures come before censorings (the usual convention).
    """
    d = np.asarray(duration, dtype=float)
    e = np.asarray(closed, dtype=bool)
    if not len(d):
        return np.empty(0), np.empty(0)
    times, inverse = np.unique(d, return_inverse=True)
    events = np.bincount(inverse, weights=e.astype(float), minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times)).astype(float)
    at_risk = len(d) - np.concatenate(([0.0], np.cumsum(leaving)[:-1]))
    has = events > 0
    surv = np.cumprod(1.0 - events[has] / at_risk[has])
    return times[has], surv


def km_quantile(duration: np.ndarray, closed: np.ndarray, q: float) -> float:
    """Smallest t with estimated P(closed by t) >= q; the longest follow-up if never reached."""
    if not len(duration):
        return float("nan")
    t, s = kaplan_meier(duration, closed)
    hit = np.nonzero(s <= 1.0 - q + 1e-12)[0]
    return float(t[hit[0]]) if len(hit) else float(np.max(duration))


def km_restricted_mean(duration: np.ndarray, closed: np.ndarray) -> float:
    """∫ S(t) dt from 0 to the longest follow-up τ: the mean time to close restricted to τ."""
    if not len(duration):
        return float("nan")
    tau = float(np.max(duration))
    t, s = kaplan_meier(duration, closed)
    keep = t < tau
    edges = np.concatenate(([0.0], t[keep], [tau]))
    levels = np.concatenate(([1.0], s[keep]))
    return float(np.sum(np.diff(edges) * levels))


#: the case KPIs from Kaplan–Meier estimates (per unit: one estimate per unit, the slow ones)
KM_KPIS = ("mean_time_to_close_h", "p50_time_to_close_h", "p90_time_to_close_h",
           "p50_time_from_dispatch_to_close_h")


def case_kpis(cases: pd.DataFrame, warmup_h: float, end_h: float,
              invalid_reports: Any = 0, acceptance_limit_h: float = float("inf"),
              by: np.ndarray | None = None, n: int = 1,
              km: tuple[str, ...] = KM_KPIS) -> dict[str, Any]:
    """The KPIs that depend on the case log only (used per run and per grid).

    With ``by`` (the unit 0 … ``n``-1 of each row, e.g. its grid) every KPI is an array over the
    units, by the same formulas (``invalid_reports`` then per unit too, or 0); ``km`` names the
    Kaplan–Meier KPIs to estimate (the others are NaN). Works on column arrays and boolean
    masks, never on filtered copies of the whole log, so a city-scale log of a million rows
    costs a few masks of memory.
    """
    def col(name: str) -> np.ndarray:
        return cases[name].to_numpy()

    u = Tally(by, n)
    t_occ, t_rep, t_closed = col("t_occur_h"), col("t_report_h"), col("t_closed_h")
    t_disp, t_due = col("t_dispatch_h"), col("t_due_h")
    state, on_spot = col("state"), col("on_spot").astype(bool)
    occurred = (t_occ >= warmup_h) & (t_occ < end_h)
    discovered = occurred & ~np.isnan(t_rep)
    c = (t_rep >= warmup_h) & (t_rep < end_h)  # NaN compares False: unreported are out
    is_closed = (state == "closed") & (t_closed <= end_h)
    closed = c & is_closed
    dispatched = c & ~np.isnan(t_disp)
    needs_dispatch = c & ~on_spot
    handled = c & ~np.isnan(col("t_handled_h"))
    first_reports = u.count(c)
    dup = np.clip(col("n_reports").astype(np.int64) - 1, 0, None)
    duplicates = u.total(dup, c) if by is not None else int(u.total(dup, c))
    # timely acceptance: dispatched within the platform's limit of the first report
    accepted_late_or_not = needs_dispatch & np.isnan(t_disp) & (t_rep + acceptance_limit_h <= end_h)
    accept_den = u.count(dispatched) + u.count(accepted_late_or_not)
    accept_ok = u.count(dispatched & (t_disp - t_rep <= acceptance_limit_h))
    # on time: decided cases (closed, parked, or past the deadline at the end), less deferred
    deferred = _flag(cases, "extension")
    decided = needs_dispatch & (is_closed | (state == "parked") | (t_due <= end_h)) & ~deferred
    on_time = decided & is_closed & (t_closed <= t_due)
    # time to close: open and parked cases are censored at the end
    end_or_closed = np.where(is_closed, t_closed, end_h)

    def km_kpi(key: str, fn: Any, t0: np.ndarray, mask: np.ndarray) -> Any:
        if key not in km:
            return u.f(np.full(n, np.nan) if by is not None else float("nan"))
        return u.each(fn, end_or_closed - t0, is_closed, mask)

    # crew wait: cases still waiting at the end count with (end − request)
    t_req, wait = col("t_crew_request_h"), col("crew_wait_h")
    asked = c & ~np.isnan(t_req)
    false_closed = closed & col("false_closure").astype(bool)
    n_closed, n_disp = u.count(closed), u.count(dispatched)
    return {
        "incidents_total": u.f(u.count(occurred)),
        "discovery_rate": _share(u.count(discovered), u.count(occurred)),
        "mean_discovery_latency_h": u.mean(t_rep - t_occ, discovered),
        "reports_total": u.f(first_reports + duplicates + invalid_reports),
        "duplicate_rate": _share(duplicates, first_reports + duplicates),
        "filing_rate": _share(first_reports, first_reports + invalid_reports),
        "cases_filed": u.f(first_reports),
        "on_spot_share": _share(u.count(c & on_spot), first_reports),
        "closure_rate": _share(n_closed, first_reports),
        "dispatched_closure_rate": _share(u.count(dispatched & is_closed), n_disp),
        "timely_acceptance_rate": _share(accept_ok, accept_den),
        "on_time_rate": _share(u.count(on_time), u.count(decided)),
        "mean_time_to_close_h": km_kpi("mean_time_to_close_h", km_restricted_mean, t_rep, c),
        "p50_time_to_close_h": km_kpi("p50_time_to_close_h", partial(km_quantile, q=0.5),
                                      t_rep, c),
        "p90_time_to_close_h": km_kpi("p90_time_to_close_h", partial(km_quantile, q=0.9),
                                      t_rep, c),
        "p50_time_from_dispatch_to_close_h": km_kpi("p50_time_from_dispatch_to_close_h",
                                                    partial(km_quantile, q=0.5), t_disp,
                                                    dispatched),
        "false_closure_share": _share(u.count(false_closed), n_closed),
        "resolved_rate": _share(n_closed - u.count(false_closed), first_reports),
        "cases_open_end": u.f(u.count(c & (state != "closed") & (state != "parked"))),
        "return_rate": _share(u.count(dispatched & (col("returns") > 0)), n_disp),
        "rework_rate": _share(u.count(handled & (col("reworks") > 0)), u.count(handled)),
        "escalated_cases": u.f(u.count(c & (col("escalation_level") > 0))),
        "escalations_received": u.f(u.total(col("escalation_level").astype(np.int64), c)),
        "reassigned_cases": u.f(u.count(c & _flag(cases, "reassigned"))),
        "mutual_aid_cases": u.f(u.count(c & _flag(cases, "mutual_aid"))),
        "extensions_granted": u.f(u.count(c & deferred)),
        "parked_cases": u.f(u.count(c & (state == "parked"))),
        "mean_crew_wait_h": u.mean(np.where(np.isnan(wait), end_h - t_req, wait), asked),
    }


_mean_arr = mean_or_nan


#: the case-log columns :func:`compute_kpis` reads (a run that does not keep its case log reads
#: only these back: on city_large's 30 days that is a third of the memory of the whole log)
KPI_CASE_COLUMNS = (
    "channel", "crew_wait_h", "escalation_level", "extension", "false_closure", "gaming_caught",
    "grid", "harm_yuan", "joint_meeting", "mutual_aid", "n_reports", "on_spot", "padded",
    "reassigned", "returns", "reworks", "staged_verification", "state", "suppressed", "t_closed_h",
    "t_crew_request_h", "t_dispatch_h", "t_due_h", "t_gone_h", "t_handled_h", "t_occur_h",
    "t_report_h")


def compute_kpis(cases: pd.DataFrame, ctx: RunContext) -> dict[str, float]:
    """All KPIs of one run, in the order of :data:`KPI_DEFINITIONS`."""
    k = case_kpis(cases, ctx.warmup_h, ctx.end_h, ctx.invalid_reports, ctx.acceptance_limit_h)
    k["worker_utilization"] = _share(ctx.worker_busy_h, ctx.worker_capacity_h)
    k["crew_utilization"] = _share(sum(ctx.crew_busy_h.values()),
                                   sum(ctx.crew_capacity_h.values()))
    k["crew_overtime_h"] = float(sum(ctx.crew_overtime_h.values()))
    months = (ctx.end_h - ctx.warmup_h) / (30 * 24.0)
    k["overtime_cost_monthly"] = float(ctx.overtime_cost) / months if months > 0 else float("nan")
    k["monthly_staff_cost"] = float(ctx.monthly_staff_cost)
    k["cases_reviewed"] = float(ctx.policy.get("cases_reviewed", 0.0))
    k["level_team_wait_h"] = _share(ctx.policy.get("level_team_wait_h", 0.0),
                                    ctx.policy.get("cases_reviewed", 0.0))
    k.update(policy_kpis(cases, ctx, k))
    k.update(problem_kpis(cases, ctx.warmup_h, ctx.end_h, ctx.households))
    k.update(emergency_kpis(ctx.emergencies, ctx.warmup_h, ctx.end_h))
    return {key: k[key] for key in KPI_DEFINITIONS}


def problem_kpis(cases: pd.DataFrame, warmup_h: float, end_h: float,
                 households: Any, by: np.ndarray | None = None, n: int = 1) -> dict[str, Any]:
    """KPIs of problems from occurrence on, reported or not (see KPI_DEFINITIONS); per unit
    with ``by`` (as :func:`case_kpis`; ``households`` then per unit)."""
    def col(name: str) -> np.ndarray:
        if name in cases:
            return cases[name].to_numpy(dtype=float)
        return np.full(len(cases), float("nan") if name == "t_gone_h" else 0.0)

    u = Tally(by, n)
    t_occ, t_rep, t_closed = col("t_occur_h"), col("t_report_h"), col("t_closed_h")
    t_gone, harm = col("t_gone_h"), col("harm_yuan")
    real = ~np.isnan(t_occ)  # padded reports are no problem in the city
    occurred = real & (t_occ >= warmup_h) & (t_occ < end_h)
    missed = occurred & np.isnan(t_rep)
    start = np.maximum(t_occ, warmup_h)
    end = np.minimum(np.where(np.isnan(t_gone), end_h, t_gone), end_h)
    hours = u.f(u.total(np.clip(end - start, 0.0, None), real))
    c = real & (t_rep >= warmup_h) & (t_rep < end_h) & ~np.isnan(t_closed)
    per_1000 = _share(hours, np.asarray(households, dtype=float) / 1000.0) if by is not None \
        else (hours / (households / 1000.0) if households else float("nan"))
    return {
        "missed_share": _share(u.count(missed), u.count(occurred)),
        "problem_hours_per_1000_households": per_1000,
        "mean_time_from_occurrence_to_close_h": u.mean(t_closed - t_occ, c),
        "unreported_harm_yuan": u.f(u.total(harm, occurred)),
    }


def emergency_kpis(table: pd.DataFrame | None, warmup_h: float = 0.0,
                   end_h: float = float("inf")) -> dict[str, float]:
    """The emergency KPIs from the one-row-per-emergency table (NaN/0 without emergencies)."""
    nan = float("nan")
    keys = [k for k in KPI_DEFINITIONS if k == "emergencies" or k.startswith("em_")]
    if table is None:
        return {k: nan for k in keys}
    e = table[(table.t_occur_h >= warmup_h) & (table.t_occur_h < end_h)]
    alarmed = e[e.t_alarm_h.notna()]
    lead_t = (alarmed.t_lead_arrived_h - alarmed.t_lead_notified_h) * 60.0
    return {
        "emergencies": float(len(e)),
        "em_first_response_min": _mean((alarmed.t_first_response_h - alarmed.t_alarm_h).dropna())
        * 60.0,
        "em_full_joint_response_min": _mean((alarmed.t_full_joint_h - alarmed.t_alarm_h).dropna())
        * 60.0,
        "em_containment_min": _mean((alarmed.t_contained_h - alarmed.t_alarm_h).dropna()) * 60.0,
        "em_not_contained": float(e.t_contained_h.isna().sum()),
        "em_damage_yuan": float(e.damage_yuan.sum()),
        "em_people_affected": float(e.people_affected.sum()),
        "em_max_level": float(e.max_level_rank.max()) if len(e) else 0.0,
        "em_units_sent": float(e.units_sent.sum()),
        "em_mutual_aid_units": float(e.mutual_aid_units.sum()),
        "em_routine_cases_delayed": float(e.routine_cases_delayed.sum()),
        "em_lead_5min_share": _share(int((lead_t <= 5.0 + 1e-9).sum()), len(alarmed)),
        "em_people_exposed": float(e.people_exposed.sum()),
        "em_people_evacuated": float(e.people_evacuated.sum()),
        "em_injured": float(e.injured.sum()),
        "em_killed": float(e.killed.sum()),
        "em_exposure_h": float(e.exposure_h.sum()),
        "em_time_to_care_min": float(e.care_wait_min.sum() / e.injured.sum())
        if e.injured.sum() > 0 else nan,
        "em_roads_closed_grid_h": float(e.roads_closed_grid_h.sum()),
    }


def _flag(cases: pd.DataFrame, col: str) -> np.ndarray:
    """A boolean case-log column; all False for a log written before it existed (NaN: False)."""
    if col not in cases:
        return np.zeros(len(cases), dtype=bool)
    a = cases[col].to_numpy()
    return a if a.dtype == bool else np.asarray(a == True, dtype=bool)  # noqa: E712


def policy_kpis(cases: pd.DataFrame, ctx: RunContext, k: dict[str, float]) -> dict[str, float]:
    """KPIs of residents, appraisal, workforce and the smart platform (see KPI_DEFINITIONS).

    Column arrays and masks only (no filtered copies of the log)."""
    p = ctx.policy
    w0, w1 = ctx.warmup_h, ctx.end_h
    t_rep, t_occ = cases["t_report_h"].to_numpy(), cases["t_occur_h"].to_numpy()
    c = (t_rep >= w0) & (t_rep < w1)  # cases of W
    occurred = (t_occ >= w0) & (t_occ < w1)
    ch = cases["channel"].to_numpy()
    closed = cases["state"].to_numpy() == "closed"
    padded = _flag(cases, "padded")
    out = {
        "reports_patrol": float((c & (ch == "patrol")).sum()),
        "reports_resident": float((c & (ch == "resident")).sum()),
        "reports_sensor_video": float((c & np.isin(ch, ["sensor", "video"])).sum()),
        "reports_handed_down": float((c & (ch == "handed_down")).sum()),
        "padded_report_share": _share(int((c & padded).sum()), int(c.sum())),
        "suppressed_incidents": float((occurred & _flag(cases, "suppressed")).sum()),
        "staged_verifications": float((c & _flag(cases, "staged_verification")).sum()),
        "gaming_caught": float(((c | occurred) & _flag(cases, "gaming_caught")).sum()),
        "parked_resolved": float((c & _flag(cases, "joint_meeting") & closed).sum()),
    }
    for key in ("complaints", "false_alarms", "workers_quit", "incentive_pay_monthly",
                "training_cost_monthly", "campaign_cost_monthly", "recruitment_cost_monthly",
                "department_penalties_monthly", "ai_video_cost_monthly"):
        out[key] = float(p.get(key, 0.0))
    out["resident_satisfaction"] = float(p.get("resident_satisfaction", float("nan")))
    out["mean_worker_effort"] = float(p.get("mean_worker_effort_end", float("nan")))
    out["mean_worker_skill"] = float(p.get("mean_worker_skill_end", float("nan")))
    out["worker_pay_monthly"] = float(p.get("worker_base_pay_monthly", 0.0)) \
        + out["incentive_pay_monthly"]
    out["composite_appraisal_score"] = composite_score(
        k["closure_rate"], k["on_time_rate"], k["rework_rate"], out["resident_satisfaction"],
        ctx.indicator_weights)
    return out


def composite_score(closure_rate: float, on_time_rate: float, rework_rate: float,
                    satisfaction: float, weights: dict[str, float]) -> float:
    """The S7.2 indicator system as one 0–100 score; missing indicators are left out."""
    w = weights or {"completion": 0.25, "timeliness": 0.3, "quality": 0.2, "satisfaction": 0.25}
    parts = {"completion": closure_rate, "timeliness": on_time_rate,
             "quality": 1.0 - rework_rate, "satisfaction": satisfaction / 100.0}
    num = den = 0.0
    for key, x in parts.items():
        if x == x and w.get(key, 0.0) > 0:
            num += w[key] * x
            den += w[key]
    return 100.0 * num / den if den else float("nan")


#: the per-grid KPIs of a run's grid layer (``grids.geojson``), those with a meaning per grid:
#: not reports_total or filing_rate (invalid reports are screened city-wide), costs, policy KPIs
GRID_KPIS = ("incidents_total", "discovery_rate", "mean_discovery_latency_h", "missed_share",
             "problem_hours_per_1000_households", "mean_time_from_occurrence_to_close_h",
             "unreported_harm_yuan", "cases_filed", "duplicate_rate", "on_spot_share",
             "closure_rate", "dispatched_closure_rate", "timely_acceptance_rate", "on_time_rate",
             "mean_time_to_close_h", "false_closure_share", "resolved_rate", "cases_open_end",
             "return_rate", "rework_rate", "escalated_cases", "parked_cases", "mean_crew_wait_h",
             "worker_utilization", "crew_utilization")


def per_grid_kpis(cases: pd.DataFrame, n_grids: int, warmup_h: float, end_h: float,
                  keys: tuple[str, ...] = ("incidents_total", "discovery_rate", "on_time_rate",
                                           "mean_time_to_close_h", "cases_open_end"),
                  ctx: RunContext | None = None, grids: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """The KPIs ``keys`` of each basic grid by the run's formulas (:func:`case_kpis`,
    :func:`problem_kpis`), counted per grid in one pass. With the run's ``ctx`` and grid table
    ``grids`` (``households``, ``street``): the per-household KPIs, the acceptance limit, and
    utilisation over the units that share the work — ``worker_utilization`` of a grid is its
    patrol beat's (the grid's own in one-grid beats), ``crew_utilization`` its street's (the
    crews at the street's depot serve its grids). NaN where that is not given."""
    by = cases["grid"].to_numpy().astype(np.int64)
    limit = ctx.acceptance_limit_h if ctx is not None else float("inf")
    k = case_kpis(cases, warmup_h, end_h, acceptance_limit_h=limit, by=by, n=n_grids,
                  km=tuple(x for x in keys if x in KM_KPIS))
    hh = grids["households"].to_numpy(dtype=float) if grids is not None else np.nan
    k.update(problem_kpis(cases, warmup_h, end_h, np.broadcast_to(hh, n_grids), by, n_grids))
    nan = np.full(n_grids, np.nan)
    k["worker_utilization"] = k["crew_utilization"] = nan
    if ctx is not None and len(ctx.worker_beat) == n_grids:
        beat = ctx.worker_beat
        busy = np.bincount(beat, weights=ctx.worker_busy_grid_h,
                           minlength=len(ctx.worker_capacity_beat_h))
        k["worker_utilization"] = _share(busy, ctx.worker_capacity_beat_h)[beat]
    if ctx is not None and grids is not None and len(ctx.crew_busy_street_h):
        k["crew_utilization"] = _share(ctx.crew_busy_street_h, ctx.crew_capacity_street_h)[
            grids["street"].to_numpy().astype(np.int64)]
    return pd.DataFrame({"grid": np.arange(n_grids), **{key: k[key] for key in keys}})
