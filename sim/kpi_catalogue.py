"""The KPI catalogue: each KPI's label in English and 中文, its unit and its formula in words.
The formulas themselves are computed in ``sim.metrics`` (which re-exports this table);
``docs/kpis.md`` is written from both."""

from __future__ import annotations

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
    "department_penalties_monthly": ("Department penalties per month", "职能部门月罚款", "yuan",
                                     "penalties charged to departments (per case filed in their "
                                     "remit, per overdue case), per 30 days of W"),
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
    # What the joint response is for (kind.people; expected numbers, sim.emergency.people)
    "em_people_exposed": ("People exposed", "暴露人数", "people",
                          "Σ over E of the people in a danger zone (occupants_share of the "
                          "residents of every grid the hazard reached)"),
    "em_people_evacuated": ("People evacuated", "疏散人数", "people",
                            "Σ over E of the people who left a danger zone unhurt, led out by "
                            "police, grid workers … or by themselves"),
    "em_injured": ("People injured", "受伤人数", "people",
                   "Σ over E of the people injured in a danger zone (explosions included)"),
    "em_killed": ("People killed", "死亡人数", "people",
                  "Σ over E of the injured who died waiting for care"),
    "em_exposure_h": ("Exposure time", "暴露时长", "person-h",
                             "Σ over E of person-hours spent in a danger zone while the hazard "
                             "was live there"),
    "em_time_to_care_min": ("Time to care", "伤员救治等待时间", "min",
                            "Σ over E of the injured's person-minutes waiting for care / Σ "
                            "injured (mean wait of an injured person)"),
    "em_roads_closed_grid_h": ("Roads closed by water", "道路积水封闭时长", "grid-h",
                               "Σ over E of grid-hours with the water at or above the road "
                               "closure depth"),
}
