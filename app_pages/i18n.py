"""Every label of the app in English and 中文 (names from the project glossary).

``tr(key, lang)`` looks a UI string up; KPI labels come from ``sim.metrics.KPI_DEFINITIONS`` and
scenario field labels from the schema (:func:`field_label`), so neither is copied here.
"""

from __future__ import annotations

LANGS: tuple[str, ...] = ("zh", "en")
LANG_NAMES: dict[str, str] = {"zh": "中文", "en": "English"}

TEXT: dict[str, tuple[str, str]] = {
    # shell
    "app_title": ("gridsim — urban grid governance lab", "gridsim — 城市网格化管理仿真实验室"),
    "language": ("Language", "语言"),
    "page": ("Page", "页面"),
    "page_lab": ("Scenario lab", "情景实验室"),
    "page_compare": ("Compare policies", "政策比较"),
    "page_sweeps": ("Sweep explorer", "批量实验浏览"),
    "page_drill": ("Emergency drill", "应急演练"),
    "page_model": ("Model and KPIs", "模型与指标"),
    "error_unexpected": ("Something went wrong on this page: {err}",
                         "本页出错：{err}"),
    # scenario source
    "source": ("Scenario", "情景"),
    "source_upload": ("Upload a YAML file…", "上传 YAML 文件…"),
    "upload": ("Scenario file (YAML, at most {kb} KB)", "情景文件（YAML，不超过 {kb} KB）"),
    "upload_hint": ("Choose a file to upload, or pick a ready scenario.",
                    "请上传文件，或选择一个现成情景。"),
    "upload_too_big": ("The file is {kb:.0f} KB; the app accepts at most {limit} KB.",
                       "文件大小 {kb:.0f} KB，超过上限 {limit} KB。"),
    "upload_not_utf8": ("The file is not UTF-8 text.", "文件不是 UTF-8 文本。"),
    "scenario_invalid": ("The scenario is not valid:", "情景有误："),
    "too_large": ("This scenario is too large for the app (use `gridsim run` or a sweep):",
                  "该情景超出本应用的规模上限（请用 `gridsim run` 或批量实验）："),
    "seed": ("Seed", "随机种子"),
    "levers": ("Policy levers", "政策杠杆"),
    "section": ("Section", "类别"),
    "edits": ("{n} change(s) from the scenario as loaded", "相对原情景修改了 {n} 项"),
    "reset": ("Reset changes", "撤销修改"),
    "run": ("Run", "运行"),
    "running": ("Simulating day {d:.0f} of {n:.0f}…", "正在模拟第 {d:.0f}/{n:.0f} 天…"),
    "run_first": ("Press Run to simulate the scenario.", "按“运行”开始模拟。"),
    "stale": ("The levers changed since this result; press Run to update it.",
              "杠杆已修改，按“运行”更新结果。"),
    "kpis": ("Key indicators", "关键指标"),
    "delta_note": ("Changes are against the scenario as loaded, at the same seed.",
                   "变化量相对于原情景（相同随机种子）。"),
    "all_kpis": ("All indicators", "全部指标"),
    "kpi": ("KPI", "指标"),
    "value": ("Value", "数值"),
    "loaded": ("As loaded", "原情景"),
    "change": ("Change", "变化"),
    "unit": ("Unit", "单位"),
    "timeseries": ("Over time", "随时间变化"),
    "day": ("Day", "天"),
    "series": ("Series", "序列"),
    "count": ("Count", "数量"),
    "ts_backlog": ("Open cases (backlog)", "未结案件（积压）"),
    "ts_discoveries": ("Reports per interval (discoveries)", "每时段上报数（发现）"),
    "ts_closures": ("Closures per interval", "每时段结案数"),
    "per_day": ("Per day", "按天汇总"),
    "ts_note": ("Open cases at the end of each interval; reports and closures during it. The "
                "dashed line ends the warm-up.", "未结案件为各时段末的数量；上报与结案为时段内的数量。"
                "虚线为预热期结束。"),
    "map": ("Map of the basic grids", "基础网格地图"),
    "map_note": ("Each cell is a basic grid, laid out so that neighbouring grids touch; "
                 "outlined cells are hotspots. Per-grid KPIs use the run's formulas on that "
                 "grid's cases.", "每个方格是一个基础网格，相邻网格彼此相接；黑框为热点网格。"
                 "各网格指标与全局指标公式相同，仅按该网格的案件计算。"),
    "colour_by": ("Colour the grids by", "网格着色依据"),
    "utilisation": ("Department and staff utilisation", "部门与人员负荷"),
    "department": ("Department", "职能部门"),
    "utilisation_share": ("Utilisation", "利用率"),
    "grid_workers": ("Grid workers", "网格员"),
    "downloads": ("Downloads", "下载"),
    "dl_scenario": ("Scenario (YAML)", "情景（YAML）"),
    "dl_results": ("Results (ZIP: KPIs, time series, cases, grids, manifest)",
                   "结果（ZIP：指标、时间序列、案卷、网格、运行记录）"),
    "run_info": ("{grids} grids, {days:g} days ({warm:g} warm-up), seed {seed}, {inc:,} incidents, "
                 "{wall:.2f} s", "{grids} 个网格，{days:g} 天（预热 {warm:g} 天），种子 {seed}，"
                 "{inc:,} 起事件，用时 {wall:.2f} 秒"),
    # compare
    "cmp_intro": ("Run two to four policy variants at the same seeds (common random numbers) and "
                  "see which differences are larger than chance.",
                  "在相同随机种子（共同随机数）下运行 2–4 个政策方案，判断哪些差异超出随机波动。"),
    "from_lab": ("The scenario lab's last run ({name}, with its changes)",
                 "情景实验室最近一次运行（{name}，含修改）"),
    "n_variants": ("Variants", "方案数"),
    "replications": ("Replications (seeds)", "重复次数（种子数）"),
    "variant": ("Variant", "方案"),
    "variant_name": ("Name", "名称"),
    "reference": ("reference", "参照"),
    "levers_changed": ("Levers to change", "要修改的杠杆"),
    "compare_run": ("Run the comparison", "运行比较"),
    "compare_progress": ("Run {i} of {n}: {name}, seed {seed}", "第 {i}/{n} 次运行：{name}，种子 {seed}"),
    "cmp_table": ("Means over the seeds [95% CI], and differences from the reference paired by "
                  "seed [95% CI], Holm-adjusted p (* significant at 5%)",
                  "各种子的均值 [95% 置信区间]，以及按种子配对的相对参照方案差异 [95% 置信区间]、"
                  "Holm 校正 p 值（* 表示 5% 水平显著）"),
    "choose": ("Choose levers", "选择杠杆"),
    "verdict": ("Verdict", "结论"),
    "no_sig": ("No difference from the reference is significant at the 5% level (Holm-adjusted "
               "over {m} comparisons).", "与参照方案相比，没有差异在 5% 水平上显著（Holm 校正，共 {m} 项比较）。"),
    "sig_intro": ("Significant at the 5% level (paired t-test over {n} seeds, Holm-adjusted over "
                  "{m} comparisons):", "在 5% 水平上显著（{n} 个种子的配对 t 检验，Holm 校正，共 {m} 项比较）："),
    "better": ("better", "更好"),
    "worse": ("worse", "更差"),
    "higher": ("higher", "更高"),
    "lower": ("lower", "更低"),
    "sig_line": ("**{v}**: {kpi} is {dir} by {d} (95% CI {lo} to {hi}){judge}.",
                 "**{v}**：{kpi}{dir} {d}（95% 置信区间 {lo} 至 {hi}）{judge}。"),
    "judge": (" — {w}", "，{w}"),
    "identical": ("**{v}** gives exactly the same KPIs as the reference at every seed.",
                  "**{v}** 在每个种子下的指标都与参照方案完全相同。"),
    "need_two": ("Paired confidence intervals need at least two replications.",
                 "配对置信区间至少需要两次重复。"),
    "same_variants": ("Variants {a} and {b} are the same scenario.", "方案 {a} 与 {b} 是同一情景。"),
    # sweeps
    "sw_intro": ("Open a results store written by `gridsim sweep` and explore it.",
                 "打开 `gridsim sweep` 写出的结果库并浏览。"),
    "sw_store": ("Results store", "结果库"),
    "sw_path": ("Path of a results store on the server", "服务器上结果库的路径"),
    "sw_none": ("No results store found. Run a sweep first, e.g. `gridsim sweep "
                "experiments/<name>.yaml`, or type the path of a store.",
                "未找到结果库。请先运行批量实验（例如 `gridsim sweep experiments/<name>.yaml`），或输入结果库路径。"),
    "sw_cannot_open": ("Cannot open the results store: {err}", "无法打开结果库：{err}"),
    "sw_filter": ("Filter design points", "筛选设计点"),
    "sw_points": ("{n} runs of {p} design points shown ({f} failed)",
                  "显示 {p} 个设计点的 {n} 次运行（失败 {f} 次）"),
    "sw_x": ("Factor on the x axis", "横轴因素"),
    "sw_y": ("Second factor (heatmap)", "第二个因素（热力图）"),
    "sw_none_factor": ("— none —", "— 无 —"),
    "sw_kpi": ("KPI", "指标"),
    "sw_frontier": ("Cost versus on-time closure: the trade-off frontier",
                    "成本与按期结案率：权衡前沿"),
    "sw_frontier_note": ("Design points on the frontier: no other point has lower cost and a higher "
                         "on-time closure rate.", "前沿上的设计点：没有其他设计点成本更低且按期结案率更高。"),
    "sw_failed": ("Runs that failed", "失败的运行"),
    "sw_no_failed": ("No run failed.", "没有失败的运行。"),
    "sw_on_frontier": ("on the frontier", "位于前沿"),
    "sw_design_point": ("design point", "设计点"),
    "sw_no_factors": ("This store has no varied factors.", "该结果库没有变化的因素。"),
    "sw_empty": ("No run matches the filter.", "没有符合筛选条件的运行。"),
    # drill
    "dr_intro": ("Train on a fire or flood: play the drill, switch the joint-response rule and "
                 "replay it at the same seed, or disturb it mid-way.",
                 "火灾或洪涝演练：播放演练，切换联动处置规则并在相同种子下重演，或在中途加入扰动。"),
    "dr_unavailable": ("No drill scenario found: scenarios/ has no file with emergencies enabled.",
                       "未找到演练情景：scenarios/ 中没有启用应急模块的情景文件。"),
    "dr_kind": ("Drill", "演练类型"),
    "dr_fire": ("Fire", "火灾"),
    "dr_flood": ("Flood", "洪涝"),
    "dr_rule": ("Joint-response rule", "联动处置规则"),
    "dr_start": ("Start / replay", "开始 / 重演"),
    "dr_step": ("Step", "单步"),
    "dr_step_h": ("Step length (minutes)", "步长（分钟）"),
    "dr_play": ("Play", "播放"),
    "dr_pause": ("Pause", "暂停"),
    "dr_to_end": ("Run to the end", "运行至结束"),
    "dr_clock": ("Drill clock", "演练时钟"),
    "dr_inject": ("Inject a second incident", "加入第二起事件"),
    "dr_inject_grid": ("Grid", "网格"),
    "dr_out": ("Take a unit out of service", "使一个出动单位停用"),
    "dr_unit": ("Unit", "出动单位"),
    "dr_map": ("Hazard, units and grids", "险情、出动单位与网格"),
    "dr_gantt": ("Timeline of departments", "部门处置时间线"),
    "dr_log": ("Narrative log", "演练记录"),
    "dr_kpis": ("Drill indicators", "演练指标"),
    "dr_hazard": ("Hazard", "险情"),
    "dr_status": ("Unit status", "单位状态"),
    "dr_stations": ("Stations", "驻地"),
    "dr_minutes": ("Minutes since the emergency began", "自突发事件发生起的分钟数"),
    "dr_phase": ("Phase", "阶段"),
    "dr_changed": ("The settings changed since this drill started; press Start / replay to "
                   "run them.", "设置已修改，按“开始 / 重演”以新设置运行。"),
    "dr_level": ("Response level", "响应等级"),
    "dr_units_on_scene": ("Units on scene", "到场单位"),
    "dr_contained": ("Contained", "处置完毕"),
    "dr_disturb": ("Disturb the drill: a second emergency, a unit out of service",
                   "扰动演练：第二起突发事件、出动单位停用"),
    "dr_inject_go": ("Inject now", "立即加入"),
    "dr_injected": ("A second emergency has started.", "第二起突发事件已发生。"),
    "dr_history": ("Drills played (replay at the same seed with another rule to compare)",
                   "已完成的演练（相同种子、不同规则重演以比较）"),
    "dr_not_started": ("Choose a drill and press Start.", "选择演练类型并按“开始”。"),
    "dr_done": ("The drill has ended.", "演练已结束。"),
    # model
    "md_kpis": ("KPI definitions", "指标定义"),
    "md_formula": ("Definition", "定义"),
    "md_docs": ("Model description", "模型说明"),
    "md_doc_pick": ("Document", "文档"),
    "md_no_docs": ("The model description has not been written yet (docs/ is empty).",
                   "模型说明尚未编写（docs/ 为空）。"),
    "md_limits": ("Limits of the app", "本应用的规模上限"),
}

#: Chinese labels of scenario fields, by field name (English labels come from the schema).
FIELD_ZH: dict[str, str] = {
    "households": "户数", "persons_per_household": "户均人口", "households_per_grid": "每格目标户数",
    "households_per_community": "每社区户数", "cell_m2": "单元网格面积(平方米)", "communities_per_street": "每街道社区数",
    "streets_per_district": "每区县街道数", "hotspot_share": "热点网格比例",
    "hotspot_multiplier": "热点事件倍数", "resident_propensity_spread": "居民上报倾向差异",
    "workers_per_grid": "每格网格员数", "managers_per_grid": "每格网格管理员数",
    "assistants_per_grid": "每格网格协管员数", "community": "社区", "street": "街道",
    "district": "区县", "skill_mean": "平均技能", "skill_sd": "技能标准差", "effort": "巡查努力度",
    "grid_worker": "网格员", "grid_manager": "网格管理员", "grid_assistant": "网格协管员",
    "level_team_member": "上级团队成员", "platform_operator": "平台操作员",
    "coverage_km2_per_h": "每小时巡查面积", "assistant_coverage_factor": "协管员巡查系数",
    "on_spot_fix_prob": "现场处置概率", "start_h": "开始时刻", "end_h": "结束时刻",
    "crews_per_street": "每街道处置队伍数", "travel_speed_kmh": "行驶速度", "travel": "需出行",
    "fix_success_prob": "处置成功率", "cost_per_crew_month": "每队月成本",
    "operators": "平台操作员数", "auto_dispatch_share": "自动派遣比例", "misroute_prob": "误派概率",
    "verification_miss_prob": "核查漏检概率", "max_reworks": "最多返工次数",
    "invalid_reports_per_1000_households_per_day": "每千户每日无效上报",
    "sensor_coverage": "物联网传感器覆盖率", "sensor_detect_prob": "传感器发现概率",
    "video_coverage": "智能视频覆盖率", "video_detect_prob": "视频发现概率",
    "handed_down_per_day": "每日上级交办数", "days": "模拟天数", "warmup_days": "预热天数",
    "seed": "随机种子", "timeseries_interval_h": "时间序列间隔", "value": "时限",
    "unit": "时限单位", "minor": "可现场处置", "complex_prob": "复杂案件概率",
    "unsolvable_prob": "无法解决概率", "urgency": "紧急程度", "share": "占比",
    "rate_per_1000_households_per_day": "每千户每日事件数", "patrol_visibility": "巡查可见度",
    "resident_salience": "居民关注度", "sensor_detectable": "传感器可发现",
    "video_detectable": "视频可发现", "households_per_km2": "每平方公里户数",
    "incident_multiplier": "事件倍数", "difficulty": "难度", "deadline": "处置时限",
    "shift": "班次", "hours": "巡查时段", "working_hours": "工作时间", "zones": "区域类型",
    "residential": "居住区", "commercial": "商业区", "mixed": "混合区", "industrial": "工业区",
    "village": "城中村", "level_teams": "上级网格管理团队", "pay": "月薪",
    "enabled": "启用", "rules": "规则", "responders": "出动力量",
    "dispatch": "派遣方式", "command": "指挥方式",
    "resident_satisfaction": "居民满意度", "resident_awareness": "居民知晓度",
    "resident_trust": "居民信任度", "resident_reports": "居民上报数", "complaints": "投诉举报数",
    "campaign_events": "宣传活动次数", "mean_worker_effort": "网格员平均努力度",
    "mean_worker_skill": "网格员平均技能", "population": "人口", "area_km2": "面积",
    "resident_propensity": "居民上报倾向",
}

#: Chinese names of option values of Literal fields (English shows the value itself).
OPTION_ZH: dict[str, str] = {
    "simultaneous": "同时派遣", "sequential": "依次派遣", "platform": "平台统一指挥",
    "lead": "牵头部门指挥", "working_hours": "工作小时", "working_days": "工作日",
    "hours": "小时", "days": "天", "wait": "等待完成", "preempt": "中断日常",
}


def option_label(value: object, lang: str) -> str:
    """Label of an option of a ``Literal`` field (e.g. a rule or a deadline unit)."""
    text = str(value)
    return OPTION_ZH.get(text, text) if lang == "zh" else text.replace("_", " ")

#: Chinese names of scenario sections (top-level fields) and groups shown in the lab.
SECTION_ZH: dict[str, str] = {
    "city": "城市与网格", "staffing": "人员配置", "patrol": "巡查", "departments": "职能部门",
    "deadlines": "处置时限", "incidents": "事件", "platform": "信息平台与规则",
    "channels": "上报渠道", "run": "运行设置", "incentives": "激励机制", "emergency": "应急",
    "residents": "居民", "appraisal": "绩效考核", "calendar": "日历",
}


def tr(key: str, lang: str, **fmt: object) -> str:
    """The UI string ``key`` in ``lang`` ("en" or "zh"), formatted with ``fmt``."""
    en, zh = TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


_UNIT_SUFFIXES = (("_km2_per_h", "km²/h"), ("_kmh", "km/h"), ("_km2", "km²"), ("_h", "h"))


def humanise(name: str) -> str:
    """``workers_per_grid`` → ``Workers per grid``."""
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)] + f" ({unit})"
            break
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def field_label(name: str, lang: str) -> str:
    """Label of a scenario field: the glossary's 中文 where known, else the field name."""
    if lang == "zh" and name in FIELD_ZH:
        return FIELD_ZH[name]
    return humanise(name)


def section_label(name: str, lang: str) -> str:
    if lang == "zh" and name in SECTION_ZH:
        return SECTION_ZH[name]
    return humanise(name)
