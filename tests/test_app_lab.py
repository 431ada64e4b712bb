"""Scenario lab driven headless with streamlit.testing: widgets set, Run pressed, and the KPIs
shown equal those of ``sim.run.run_scenario`` for the same scenario and seeds — their means and
95% intervals over the seeds, and changes as differences paired by seed; uploads' problems are
shown as messages."""

from __future__ import annotations

import pytest

from app_pages import kpi_view, limits
from app_pages.i18n import tr
from app_pages.lab_page import clip_ci
from app_pages.stats import excludes_zero, fixed, mean_ci, paired_diff
from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with
from tests.apptest_util import ROOT, assert_ok, metrics, open_app, widget

SHORT = {"run.days": 8, "run.warmup_days": 2}


def _seeds(at, n: int) -> None:
    at.number_input(key="lab_reps").set_value(n).run()


def _seed_box(at):
    return at.number_input(key=[w.key for w in at.number_input if w.key.startswith("lab_seed")][0])


def test_lab_runs_the_baseline_at_a_few_seeds_and_shows_means_with_intervals():
    at = open_app()
    assert at.number_input(key="lab_reps").value == 3          # a few seeds by default
    at.button(key="lab_run").click().run()
    assert_ok(at)
    seed = Scenario().run.seed
    runs = [run_scenario(Scenario(), seed + i).kpis for i in range(3)]
    shown = metrics(at)
    assert len(shown) == len(kpi_view.HEADLINE)
    captions = " ".join(c.value for c in at.caption)
    for key in kpi_view.HEADLINE:
        ci = mean_ci([r[key] for r in runs])
        value, delta = shown[KPI_DEFINITIONS[key][0]]
        assert value == kpi_view.fmt(key, ci.mean), key
        assert not delta  # nothing changed: no change to show
        if ci.hi > ci.lo:
            lo, hi = clip_ci(key, ci.lo, ci.hi)   # a count's interval never below zero
            assert tr("ci", "en", lo=kpi_view.fmt(key, lo), hi=kpi_view.fmt(key, hi)) \
                in captions, key
    assert f"Means over 3 seeds ({seed}–{seed + 2})" in captions
    # the caption explains the incidents the KPIs count (after the warm-up)
    inc_w = round(sum(r["incidents_total"] for r in runs) / 3)
    assert f"{inc_w:,} after the warm-up" in captions
    # the full table lists every KPI with the same means
    table = at.dataframe[0].value
    defined = [k for k in KPI_DEFINITIONS if any(r[k] == r[k] for r in runs)]
    assert list(table["Value"]) == [kpi_view.fmt(k, mean_ci([r[k] for r in runs]).mean)
                                    for k in defined]


def test_a_change_is_shown_as_a_paired_difference_or_as_no_detectable_change():
    at = open_app()
    at.selectbox(key="lab_source@en").set_value("__upload__").run()
    text = b"name: short\nrun: {days: 8, warmup_days: 2}\n"
    at.file_uploader(key="lab_upload").set_value(("short.yaml", text, "application/x-yaml")).run()
    at.selectbox(key="lab_group@en").set_value("staffing").run()
    widget(at, "number_input", "staffing.workers_per_grid").set_value(3).run()
    at.button(key="lab_run").click().run()
    assert_ok(at)
    base = scenario_with(Scenario(), {"name": "short", **SHORT})
    more = scenario_with(base, {"staffing.workers_per_grid": 3})
    seeds = [base.run.seed + i for i in range(3)]
    b = [run_scenario(base, s).kpis for s in seeds]
    v = [run_scenario(more, s).kpis for s in seeds]
    shown = metrics(at)
    seen = {"fixed": 0, "detectable": 0, "none": 0}
    for key in kpi_view.HEADLINE:
        d = paired_diff([x[key] for x in b], [x[key] for x in v])
        _, delta = shown[KPI_DEFINITIONS[key][0]]
        if d.identical:
            assert not delta, key
        elif fixed(d) or excludes_zero(d):
            assert delta == kpi_view.fmt_delta(key, d.mean), key
            seen["fixed" if fixed(d) else "detectable"] += 1
        else:
            assert delta == "no detectable change", key
            seen["none"] += 1
    # the staff cost is fixed by the lever: one more worker's pay in every grid, at every seed
    assert seen["fixed"] >= 1
    cost = paired_diff([x["monthly_staff_cost"] for x in b], [x["monthly_staff_cost"] for x in v])
    assert fixed(cost) and cost.mean == limits.grid_count(base.city) * base.staffing.pay.grid_worker


def test_single_seed_mode_says_so_and_shows_the_kpis_of_sim():
    at = open_app()
    _seeds(at, 1)
    _seed_box(at).set_value(11).run()
    at.selectbox(key="lab_group@en").set_value("staffing").run()
    w = widget(at, "number_input", "staffing.workers_per_grid")
    assert (w.value, w.min, w.max) == (2, 1, 50)   # from the schema and the loaded scenario
    w.set_value(3).run()
    at.button(key="lab_run").click().run()
    assert_ok(at)
    base = run_scenario(Scenario(), 11).kpis
    edited = run_scenario(scenario_with(Scenario(), {"staffing.workers_per_grid": 3}), 11).kpis
    shown = metrics(at)
    for key in kpi_view.HEADLINE:
        value, delta = shown[KPI_DEFINITIONS[key][0]]
        assert value == kpi_view.fmt(key, edited[key]), key
        assert (delta or None) == kpi_view.fmt_delta(key, edited[key] - base[key]), key
    assert "Single-seed mode" in " ".join(c.value for c in at.caption)
    # the edits of a group not on screen are kept
    at.selectbox(key="lab_group@en").set_value("platform").run()
    assert "staffing.workers_per_grid" in " ".join(c.value for c in at.caption)


def test_lab_ready_scenario_and_chinese_labels():
    at = open_app(lang="zh")
    at.number_input(key="lab_reps").set_value(1).run()
    at.selectbox(key="lab_source@zh").set_value("dense_commercial").run()
    at.button(key="lab_run").click().run()
    assert_ok(at)
    want = run_scenario(load_scenario(ROOT / "scenarios" / "dense_commercial.yaml")).kpis
    shown = metrics(at)
    for key in kpi_view.HEADLINE:
        assert shown[KPI_DEFINITIONS[key][1]][0] == kpi_view.fmt(key, want[key], "zh")
    hours = shown[KPI_DEFINITIONS["mean_time_to_close_h"][1]][0]
    assert hours.endswith(" 小时") and not hours.endswith(" h")     # units in 中文 too
    assert at.button(key="lab_run").label == "运行"
    # the scenario is named by its label and described in 中文
    sc = load_scenario(ROOT / "scenarios" / "dense_commercial.yaml")
    assert at.selectbox(key="lab_source@zh").format_func("dense_commercial") == sc.label_zh
    assert sc.description_zh in [c.value for c in at.caption]
    # a language switch keeps the choices and relabels them
    at.selectbox(key="lab_group@zh").set_value("staffing").run()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert at.selectbox(key="lab_source@en").value == "dense_commercial"
    assert at.selectbox(key="lab_group@en").value == "staffing"
    assert at.button(key="lab_run").label == "Run"


def test_too_large_ready_scenarios_say_why_and_give_the_command():
    at = open_app()
    source = at.selectbox(key="lab_source@en")
    assert "Large city (scale test) (too large for the app)" in source.options   # by its label
    source.set_value("city_large").run()
    errors = " ".join(e.value for e in at.error)
    assert "basic grids" in errors and "gridsim run scenarios/city_large.yaml" in errors
    assert "lab_run" not in [b.key for b in at.button]


@pytest.mark.parametrize("content, expect", [
    (b"city: {households: [1, 2", "malformed YAML"),
    (b"staffing:\n  workers_per_grid: 0\n", "staffing.workers_per_grid"),
    (b"stafing: {}\n", "unknown field"),
    (b"!!python/object:os.system {}\n", "YAML tags are not allowed"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (b"city:\n  households: 9000000\n", "basic grids"),
    (b"# " + b"x" * (limits.MAX_UPLOAD_KB * 1024) + b"\n", "at most"),
])
def test_lab_upload_shows_each_problem_as_a_message(content, expect):
    at = open_app()
    at.selectbox(key="lab_source@en").set_value("__upload__").run()
    at.file_uploader(key="lab_upload").set_value(("bad.yaml", content, "application/x-yaml")).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert expect in errors
    assert "Traceback" not in errors


def test_lab_upload_of_a_good_file_runs_it():
    at = open_app()
    at.selectbox(key="lab_source@en").set_value("__upload__").run()
    text = b"name: small\nrun: {days: 5, warmup_days: 1, seed: 3}\ncity: {households: 4000}\n"
    at.file_uploader(key="lab_upload").set_value(("small.yaml", text, "application/x-yaml")).run()
    at.number_input(key="lab_reps").set_value(1).run()
    at.button(key="lab_run").click().run()
    assert_ok(at)
    want = run_scenario(scenario_with(Scenario(), {"name": "small", "run.days": 5,
                                                   "run.warmup_days": 1, "run.seed": 3,
                                                   "city.households": 4000})).kpis
    assert metrics(at)["On-time closure rate"][0] == kpi_view.fmt("on_time_rate",
                                                                   want["on_time_rate"])


@pytest.mark.parametrize("lang, expect", [("en", "never acts"), ("zh", "本次运行中不会生效")])
def test_a_periodic_policy_the_run_is_too_short_for_is_flagged(lang, expect):
    """A joint meeting every 14 days in an 8-day run never acts: the lab says so, by the run
    length, before anyone reads its KPIs as the policy's effect."""
    at = open_app(lang=lang)
    at.selectbox(key=f"lab_source@{lang}").set_value("__upload__").run()
    text = (b"name: short_meeting\nrun: {days: 8, warmup_days: 1}\n"
            b"joint_meeting: {enabled: true, interval_days: 14}\n")
    at.file_uploader(key="lab_upload").set_value(("m.yaml", text, "application/x-yaml")).run()
    warned = " ".join(w.value for w in at.warning)
    assert expect in warned, warned
    assert "lab_run" in [b.key for b in at.button]           # a warning, not a refusal
    at.file_uploader(key="lab_upload").set_value(
        ("m.yaml", text.replace(b"days: 8,", b"days: 20,"), "application/x-yaml")).run()
    assert expect not in " ".join(w.value for w in at.warning)


def test_the_compare_page_flags_a_variant_whose_periodic_policy_never_acts():
    at = open_app(page="compare")
    at.selectbox(key="cmp_source@en").set_value("__upload__").run()
    text = (b"name: short_meeting\nrun: {days: 8, warmup_days: 1}\n"
            b"joint_meeting: {enabled: true, interval_days: 14}\n")
    at.file_uploader(key="cmp_upload").set_value(("m.yaml", text, "application/x-yaml")).run()
    warned = [w.value for w in at.warning if "never acts" in w.value]
    assert len(warned) == 1 and warned[0].startswith("A (reference), B: "), warned   # once
