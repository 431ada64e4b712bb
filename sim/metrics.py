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

import numpy as np
import pandas as pd

#: key -> (English label, 中文, unit, formula). The order is the order of the KPI table.
KPI_DEFINITIONS: dict[str, tuple[str, str, str, str]] = {
    "incidents_total": ("Incidents", "事件总数", "count", "incidents that occurred in W"),
    "discovery_rate": ("Discovery rate", "发现率", "share",
                       "incidents of W reported by the end / incidents of W"),
    "mean_discovery_latency_h": ("Mean discovery latency", "平均发现时长", "h",
                                 "mean of (first report − occurrence) over discovered incidents of W"),
    "missed_share": ("Problems missed", "漏发现率", "share",
                     "incidents of W that ended without being reported (vanished unreported, or "
                     "still unreported at the end) / incidents of W (the complement of "
                     "discovery_rate)"),
    "problem_hours_per_1000_households": (
        "Problem-hours per 1,000 households", "每千户问题存续时长", "h",
        "Σ over incidents of the hours of W the problem existed (from occurrence to its fix, "
        "its disappearance or the end of the run) / (households / 1,000)"),
    "mean_time_from_occurrence_to_close_h": (
        "Mean time from occurrence to close", "从发生到结案平均时长", "h",
        "mean of (closure − occurrence) over closed cases of W"),
    "unreported_harm_yuan": ("Harm from unreported problems", "未上报问题造成损失", "yuan",
                             "Σ harm of incidents of W that worsened before anyone reported "
                             "them (subtype harm_yuan)"),
    "reports_total": ("Reports", "上报总数", "count",
                      "first reports + duplicate reports + invalid reports received in W"),
    "duplicate_rate": ("Duplicate rate", "重复上报率", "share",
                       "duplicate reports / (first + duplicate reports), cases of W"),
    "filing_rate": ("Filing (valid) rate", "立案率", "share",
                    "cases filed / (cases filed + invalid reports rejected), in W"),
    "cases_filed": ("Cases filed", "立案数", "count",
                    "incidents first reported in W (on-the-spot fixes included)"),
    "on_spot_share": ("Fixed on the spot", "现场处置率", "share",
                      "cases of W fixed on the spot by a worker / cases filed"),
    "closure_rate": ("Closure rate", "结案率", "share",
                     "cases of W closed by the end / cases of W (every valid case taken in, "
                     "on-the-spot fixes included; cases open or parked at the end are not closed)"),
    "dispatched_closure_rate": ("Closure rate of dispatched cases", "派遣案件结案率", "share",
                                "dispatched cases of W closed by the end / dispatched cases of W "
                                "(the county-report definition: closed ÷ dispatched)"),
    "timely_acceptance_rate": ("Timely acceptance rate", "及时受理率", "share",
                               "cases of W dispatched within platform.acceptance_limit_h of their "
                               "first report / cases of W not fixed on the spot that were "
                               "dispatched or whose limit had passed by the end"),
    "on_time_rate": ("On-time closure rate", "按期结案率", "share",
                     "cases of W closed by their deadline / cases of W not fixed on the spot that "
                     "are closed, parked, or past their deadline at the end, less the deferred "
                     "ones (granted an extension; facts.md: closed on time ÷ (cases due − "
                     "deferred)) (deadline clock from dispatch; a case not dispatched by the end "
                     "is due as if dispatched at its first report): an open case past its "
                     "deadline is late, whatever its step"),
    "mean_time_to_close_h": ("Mean time to close", "平均结案时长", "h",
                             "Kaplan–Meier restricted mean of (closure − first report) over cases "
                             "of W; cases open or parked at the end are censored at the end; "
                             "restricted to the longest follow-up"),
    "p50_time_to_close_h": ("Median time to close", "结案时长中位数", "h",
                            "Kaplan–Meier median of (closure − first report), cases of W, open "
                            "and parked cases censored at the end; if fewer than half close "
                            "within the longest follow-up, that follow-up (a lower bound)"),
    "p90_time_to_close_h": ("90th pct time to close", "结案时长90分位", "h",
                            "Kaplan–Meier 90th percentile of (closure − first report), censored "
                            "as the median; not reached → the longest follow-up (a lower bound)"),
    "p50_time_from_dispatch_to_close_h": (
        "Median time from dispatch to close", "派遣至结案时长中位数", "h",
        "Kaplan–Meier median of (closure − dispatch) over dispatched cases of W, censored at the "
        "end as above: the departments' and verifiers' part of the time to close"),
    "false_closure_share": ("False-closure share", "虚假结案率", "share",
                            "closed cases of W whose problem was still there (a failed fix "
                            "passed at verification, or a staged check) / closed cases of W"),
    "resolved_rate": ("Resolved rate", "问题解决率", "share",
                      "cases of W closed with the problem really fixed / cases of W"),
    "cases_open_end": ("Cases open at end", "期末未结案数", "count",
                       "cases of W neither closed nor parked at the end"),
    "return_rate": ("Return rate", "回退率", "share",
                    "dispatched cases of W returned at least once / dispatched cases of W"),
    "rework_rate": ("Rework rate", "返工率", "share",
                    "handled cases of W sent back for rework at least once / handled cases of W"),
    "escalated_cases": ("Escalated cases", "升级案件数", "count",
                        "cases of W escalated at least one level for being overdue"),
    "parked_cases": ("Parked cases", "挂账案件数", "count",
                     "cases of W parked as unsolvable (挂账)"),
    # --- level teams (sim.agents.levels) ---
    "escalations_received": ("Escalations received by level teams", "上级团队接收督办数",
                             "count", "Σ over cases of W of the highest level reached (each "
                             "level a case reaches is one escalation a team receives)"),
    "cases_reviewed": ("Escalated cases reviewed", "上级团队审核案件数", "count",
                       "reviews of escalated cases that level-team members finished in W"),
    "level_team_wait_h": ("Mean wait for a level-team member", "督办等待审核时长", "h",
                          "mean over reviews finished in W of (member free − escalation)"),
    "reassigned_cases": ("Cases reassigned to another street", "改派他街道案件数", "count",
                         "cases of W a street team moved to another street's free crew"),
    "mutual_aid_cases": ("Cases sent for mutual aid", "跨街道增援案件数", "count",
                         "cases of W a district team ordered another street's crews to take"),
    "extensions_granted": ("Extensions granted", "延期案件数", "count",
                           "cases of W a district team granted an extension (延期; deferred, "
                           "left out of the on-time rate's cases due)"),
    "mean_crew_wait_h": ("Mean wait for a crew", "平均等待处置时长", "h",
                         "mean over cases of W that asked for a crew of (crew starts − first "
                         "crew request), waiting for the crews' shift included; a case still "
                         "waiting at the end counts with (end − request)"),
    "worker_utilization": ("Worker utilisation", "网格员工作负荷", "share",
                           "worker-hours on fixes and verifications in W / worker patrol-hours in W"),
    "crew_utilization": ("Crew utilisation", "处置队伍利用率", "share",
                         "crew-hours busy inside their shifts in W / crew shift-hours in W (all "
                         "departments); at most 1 by construction"),
    "crew_overtime_h": ("Crew overtime", "处置队伍加班时长", "h",
                        "crew-hours worked outside their shifts in W (departments whose "
                        "end_of_shift is overtime), all departments"),
    "overtime_cost_monthly": ("Overtime cost per month", "加班月成本", "yuan",
                              "Σ departments' overtime crew-hours × overtime_cost_per_h, per 30 "
                              "days of W"),
    "monthly_staff_cost": ("Monthly staff cost", "月人员成本", "yuan",
                           "30 days of pay: grid staff, level teams, operators, crews"),
    # --- residents, appraisal and incentives, workforce, smart platform (sim.policies) ---
    "reports_patrol": ("Cases reported by patrols", "巡查上报案件数", "count",
                       "cases of W whose first report came from a grid worker's patrol "
                       "(padded reports included)"),
    "reports_resident": ("Cases reported by residents", "群众上报案件数", "count",
                         "cases of W first reported by residents (hotline 12345, app, WeChat)"),
    "reports_sensor_video": ("Cases reported by sensors and video", "物联感知与视频上报案件数",
                             "count", "cases of W first reported by IoT sensors or video (incl. AI)"),
    "reports_handed_down": ("Cases handed down", "上级交办案件数", "count",
                            "cases of W handed down by higher levels or by inspectors"),
    "padded_report_share": ("Padded-report share", "虚报率", "share",
                            "padded (invented or trivial) cases of W / cases filed in W"),
    "suppressed_incidents": ("Problems kept off the record", "瞒报问题数", "count",
                             "incidents of W a patrol found and did not report (collusion)"),
    "staged_verifications": ("Staged verifications", "虚假核查数", "count",
                             "cases of W closed on a verification without a site visit"),
    "gaming_caught": ("Gaming caught", "查处造假数", "count",
                      "padded, suppressed or staged cases of W caught by spot checks, field "
                      "inspections or complaint investigations"),
    "complaints": ("Complaints", "投诉举报数", "count",
                   "residents' complaints about grid staff received in W"),
    "false_alarms": ("AI false alarms", "智能识别误报数", "count",
                     "AI-video false alarms screened out in W"),
    "parked_resolved": ("Parked cases resolved by the joint meeting", "联席会议解决挂账数",
                        "count", "cases of W closed after a joint meeting took them up"),
    "resident_satisfaction": ("Resident satisfaction", "群众满意度", "0-100",
                              "daily household-weighted mean of the grids' satisfaction over W"),
    "mean_worker_effort": ("Mean worker effort", "网格员平均投入", "multiplier",
                           "mean patrol effort of the workers in post at the end"),
    "mean_worker_skill": ("Mean worker skill", "网格员平均技能", "0-1",
                          "mean skill of the workers in post at the end"),
    "workers_quit": ("Workers who quit", "网格员流失人数", "count", "workers who quit in W"),
    "worker_pay_monthly": ("Grid-worker pay per month", "网格员月薪酬", "yuan",
                           "base pay of all worker posts + incentive pay, bonuses and penalties "
                           "(net) per 30 days of W"),
    "incentive_pay_monthly": ("Incentive pay per month", "绩效奖惩月额", "yuan",
                              "pay per report or closure, quota and satisfaction bonuses minus "
                              "penalties (overdue, caught gaming), per 30 days of W"),
    "training_cost_monthly": ("Training cost per month", "培训月成本", "yuan",
                              "worker training hours × cost per hour, per 30 days of W"),
    "campaign_cost_monthly": ("Campaign cost per month", "宣传活动月成本", "yuan",
                              "awareness campaign events × cost per event, per 30 days of W"),
    "recruitment_cost_monthly": ("Recruitment cost per month", "招聘月成本", "yuan",
                                 "hires and applicants screened × their costs, per 30 days of W"),
    "ai_video_cost_monthly": ("AI video cost per month", "智能视频月成本", "yuan",
                              "covered grids × cost per grid-month"),
    "composite_appraisal_score": (
        "Composite appraisal score", "综合考核得分", "0-100",
        "S7.2 indicator system: 100 × (w_completion·closure rate + w_timeliness·on-time rate "
        "+ w_quality·(1 − rework rate) + w_satisfaction·satisfaction/100) / Σw, weights "
        "appraisal.indicator_weights (default 0.25, 0.3, 0.2, 0.25); computed from the "
        "recorded cases, so padded reports inflate it as they would a real appraisal"),
    # Emergencies (S3.2; sim.emergency). E = emergencies that occurred in W; times from the alarm.
    "emergencies": ("Emergencies", "突发事件数", "count", "emergencies that occurred in W"),
    "em_first_response_min": ("Time to first response", "首批力量到场时间", "min",
                              "mean over alarmed E of (first responder on scene − alarm); grid "
                              "workers and micro fire stations count"),
    "em_full_joint_response_min": ("Time to full joint response", "联动力量全部到场时间", "min",
                                   "mean over E that reached it of (first time every responder "
                                   "the level in force requires has a unit on scene − alarm)"),
    "em_containment_min": ("Time to containment", "处置完毕时间", "min",
                           "mean over contained E of (containment − alarm); containment: hazard "
                           "gone (fire out, leak stopped, crowd dispersed) or water below level IV"),
    "em_not_contained": ("Emergencies not contained", "未处置完毕数", "count",
                         "E still not contained at the end of the run"),
    "em_damage_yuan": ("Emergency damage", "突发事件直接损失", "yuan",
                       "Σ over E of damage (growth: cumulative growth × yuan per unit; flood: "
                       "flooded household-hours × yuan per household-hour)"),
    "em_people_affected": ("People affected", "受影响人数", "count",
                           "Σ over E of people affected (growth: cumulative growth × people per "
                           "unit; flood: residents of grids whose water reached the affecting depth)"),
    "em_max_level": ("Highest response level", "最高响应等级", "level",
                     "highest response level declared over E: 1 = IV … 4 = I, 0 = none"),
    "em_units_sent": ("Emergency units sent", "出动力量数", "count",
                      "Σ over E of units dispatched (backups cancelled on grant excluded)"),
    "em_mutual_aid_units": ("Units from mutual aid", "跨区域增援力量数", "count",
                            "Σ over E of units sent from outside the home street or station "
                            "district"),
    "em_routine_cases_delayed": ("Routine cases delayed by emergencies", "受影响日常案件数",
                                 "count", "Σ over E of routine cases pre-empted, or waiting for a "
                                 "crew of a pool while E held one of its crews"),
    "em_lead_5min_share": ("Lead on scene within 5 min", "牵头力量5分钟到场率", "share",
                           "alarmed E whose lead responder's first unit arrived ≤ 5 min after "
                           "the lead was notified / alarmed E (fire norm: 5 min)"),
}


_LEVELS = ("IV", "III", "II", "I")  # response-level ranks 1…4 (I is the highest)


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v)


#: unit -> (value format, change format); other units show three significant figures.
_FORMATS: dict[str, tuple[str, str]] = {
    "share": ("{:.1%}", "{:+.1%}"), "count": ("{:,.0f}", "{:+,.0f}"),
    "yuan": ("¥{:,.0f}", "{:+,.0f} ¥"), "h": ("{:,.2f} h", "{:+,.2f} h"),
    "min": ("{:,.1f} min", "{:+,.1f} min"), "level": ("", "{:+.0f}"),
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


def _share(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


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


def case_kpis(cases: pd.DataFrame, warmup_h: float, end_h: float,
              invalid_reports: int = 0, acceptance_limit_h: float = float("inf")
              ) -> dict[str, float]:
    """The KPIs that depend on the case log only (used per run and per grid).

    Works on column arrays and boolean masks, never on filtered copies of the whole log, so a
    city-scale log of a million rows costs a few masks of memory.
    """
    def col(name: str) -> np.ndarray:
        return cases[name].to_numpy()

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
    first_reports = int(c.sum())
    duplicates = int(np.clip(col("n_reports")[c].astype(np.int64) - 1, 0, None).sum())
    # timely acceptance: dispatched within the platform's limit of the first report
    accepted_late_or_not = needs_dispatch & np.isnan(t_disp) & (t_rep + acceptance_limit_h <= end_h)
    accept_den = int(dispatched.sum() + accepted_late_or_not.sum())
    accept_ok = int((dispatched & (t_disp - t_rep <= acceptance_limit_h)).sum())
    # on time: decided cases (closed, parked, or past the deadline at the end), less deferred
    deferred = _flag_arr(cases, "extension")
    decided = needs_dispatch & (is_closed | (state == "parked") | (t_due <= end_h)) & ~deferred
    on_time = decided & is_closed & (t_closed <= t_due)
    # time to close: open and parked cases are censored at the end
    end_or_closed = np.where(is_closed, t_closed, end_h)
    ttc = (end_or_closed - t_rep)[c]
    ttc_disp = (end_or_closed - t_disp)[dispatched]
    # crew wait: cases still waiting at the end count with (end − request)
    t_req, wait = col("t_crew_request_h"), col("crew_wait_h")
    asked = c & ~np.isnan(t_req)
    waits = np.where(np.isnan(wait), end_h - t_req, wait)[asked]
    false_closed = closed & col("false_closure").astype(bool)
    return {
        "incidents_total": float(occurred.sum()),
        "discovery_rate": _share(int(discovered.sum()), int(occurred.sum())),
        "mean_discovery_latency_h": _mean_arr(t_rep[discovered] - t_occ[discovered]),
        "reports_total": float(first_reports + duplicates + invalid_reports),
        "duplicate_rate": _share(duplicates, first_reports + duplicates),
        "filing_rate": _share(first_reports, first_reports + invalid_reports),
        "cases_filed": float(first_reports),
        "on_spot_share": _share(int((c & on_spot).sum()), first_reports),
        "closure_rate": _share(int(closed.sum()), first_reports),
        "dispatched_closure_rate": _share(int((dispatched & is_closed).sum()),
                                          int(dispatched.sum())),
        "timely_acceptance_rate": _share(accept_ok, accept_den),
        "on_time_rate": _share(int(on_time.sum()), int(decided.sum())),
        "mean_time_to_close_h": km_restricted_mean(ttc, is_closed[c]),
        "p50_time_to_close_h": km_quantile(ttc, is_closed[c], 0.5),
        "p90_time_to_close_h": km_quantile(ttc, is_closed[c], 0.9),
        "p50_time_from_dispatch_to_close_h": km_quantile(ttc_disp, is_closed[dispatched], 0.5),
        "false_closure_share": _share(int(false_closed.sum()), int(closed.sum())),
        "resolved_rate": _share(int(closed.sum() - false_closed.sum()), first_reports),
        "cases_open_end": float((c & (state != "closed") & (state != "parked")).sum()),
        "return_rate": _share(int((dispatched & (col("returns") > 0)).sum()),
                              int(dispatched.sum())),
        "rework_rate": _share(int((handled & (col("reworks") > 0)).sum()), int(handled.sum())),
        "escalated_cases": float((c & (col("escalation_level") > 0)).sum()),
        "escalations_received": float(col("escalation_level")[c].astype(np.int64).sum()),
        "reassigned_cases": float((c & _flag_arr(cases, "reassigned")).sum()),
        "mutual_aid_cases": float((c & _flag_arr(cases, "mutual_aid")).sum()),
        "extensions_granted": float((c & deferred).sum()),
        "parked_cases": float((c & (state == "parked")).sum()),
        "mean_crew_wait_h": _mean_arr(waits),
    }


def _flag_arr(cases: pd.DataFrame, name: str) -> np.ndarray:
    """A boolean case-log column; all False for a log written before it existed."""
    if name not in cases:
        return np.zeros(len(cases), dtype=bool)
    a = cases[name].to_numpy()
    return a if a.dtype == bool else np.asarray(a == True, dtype=bool)  # noqa: E712 (NaN: no)


def _mean_arr(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else float("nan")


#: the case-log columns :func:`compute_kpis` reads (a run that does not keep its case log reads
#: only these back: on city_large's 30 days that is a third of the memory of the whole log)
KPI_CASE_COLUMNS = (
    "channel", "crew_wait_h", "escalation_level", "extension", "false_closure", "gaming_caught",
    "harm_yuan", "joint_meeting", "mutual_aid", "n_reports", "on_spot", "padded", "reassigned",
    "returns", "reworks", "staged_verification", "state", "suppressed", "t_closed_h",
    "t_crew_request_h", "t_dispatch_h", "t_due_h", "t_gone_h", "t_handled_h", "t_occur_h", "t_report_h")


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
                 households: float) -> dict[str, float]:
    """KPIs of problems from occurrence on, reported or not (see KPI_DEFINITIONS)."""
    def col(name: str) -> np.ndarray:
        if name in cases:
            return cases[name].to_numpy(dtype=float)
        return np.full(len(cases), float("nan") if name == "t_gone_h" else 0.0)

    t_occ, t_rep, t_closed = col("t_occur_h"), col("t_report_h"), col("t_closed_h")
    t_gone, harm = col("t_gone_h"), col("harm_yuan")
    real = ~np.isnan(t_occ)  # padded reports are no problem in the city
    occurred = real & (t_occ >= warmup_h) & (t_occ < end_h)
    missed = occurred & np.isnan(t_rep)
    start = np.maximum(t_occ[real], warmup_h)
    end = np.minimum(np.where(np.isnan(t_gone[real]), end_h, t_gone[real]), end_h)
    hours = float(np.clip(end - start, 0.0, None).sum())
    c = real & (t_rep >= warmup_h) & (t_rep < end_h) & ~np.isnan(t_closed)
    return {
        "missed_share": _share(int(missed.sum()), int(occurred.sum())),
        "problem_hours_per_1000_households": hours / (households / 1000.0) if households
        else float("nan"),
        "mean_time_from_occurrence_to_close_h": _mean_arr(t_closed[c] - t_occ[c]),
        "unreported_harm_yuan": float(harm[occurred].sum()),
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
    }


def _flag(cases: pd.DataFrame, col: str) -> np.ndarray:
    if col not in cases:
        return np.zeros(len(cases), dtype=bool)
    return cases[col].fillna(False).to_numpy(dtype=bool)


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
                "ai_video_cost_monthly"):
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


def per_grid_kpis(cases: pd.DataFrame, n_grids: int, warmup_h: float, end_h: float,
                  keys: tuple[str, ...] = ("incidents_total", "discovery_rate", "on_time_rate",
                                           "mean_time_to_close_h", "cases_open_end")
                  ) -> pd.DataFrame:
    """The case KPIs of each basic grid (same formulas as the run's), for maps."""
    rows = []
    groups = dict(tuple(cases.groupby("grid", sort=True)))
    empty = cases.iloc[0:0]
    for g in range(n_grids):
        k = case_kpis(groups.get(g, empty), warmup_h, end_h)
        rows.append({"grid": g, **{key: k[key] for key in keys}})
    return pd.DataFrame(rows)
