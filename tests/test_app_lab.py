"""Scenario lab driven headless with streamlit.testing: widgets set, Run pressed, and the KPIs
shown equal those of ``sim.run.run_scenario`` for the same scenario and seed; uploads' problems
are shown as messages."""

from __future__ import annotations

import pytest

from app_pages import kpi_view, limits
from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with
from tests.apptest_util import ROOT, assert_ok, metrics, open_app, widget


def test_lab_runs_the_baseline_and_shows_the_kpis_of_sim():
    at = open_app()
    at.button(key="lab_run").click().run()
    assert_ok(at)
    want = run_scenario(Scenario()).kpis
    shown = metrics(at)
    assert len(shown) == len(kpi_view.HEADLINE)
    for key in kpi_view.HEADLINE:
        value, delta = shown[KPI_DEFINITIONS[key][0]]
        assert value == kpi_view.fmt(key, want[key]), key
        assert not delta  # nothing changed: no change to show
    # the full table lists every KPI with the same values
    table = at.dataframe[0].value
    defined = [k for k in KPI_DEFINITIONS if want[k] == want[k]]
    assert list(table["Value"]) == [kpi_view.fmt(k, want[k]) for k in defined]


def test_lab_lever_and_seed_change_the_run_and_show_the_change_against_the_loaded():
    at = open_app()
    at.number_input(key=[w.key for w in at.number_input if w.key.startswith("lab_seed")][0]
                    ).set_value(11).run()
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
        assert delta == kpi_view.fmt_delta(key, edited[key] - base[key]), key
    # one more worker per grid costs exactly its pay in every grid
    n_grids = limits.grid_count(Scenario().city)
    assert edited["monthly_staff_cost"] - base["monthly_staff_cost"] == \
        n_grids * Scenario().staffing.pay.grid_worker
    # the edits of a group not on screen are kept, and the download holds the edited scenario
    at.selectbox(key="lab_group@en").set_value("platform").run()
    assert "staffing.workers_per_grid" in " ".join(c.value for c in at.caption)


def test_lab_ready_scenario_and_chinese_labels():
    at = open_app(lang="zh")
    at.selectbox(key="lab_source@zh").set_value("dense_commercial").run()
    at.button(key="lab_run").click().run()
    assert_ok(at)
    want = run_scenario(load_scenario(ROOT / "scenarios" / "dense_commercial.yaml")).kpis
    shown = metrics(at)
    for key in kpi_view.HEADLINE:
        assert shown[KPI_DEFINITIONS[key][1]][0] == kpi_view.fmt(key, want[key])
    assert at.button(key="lab_run").label == "运行"
    # a language switch keeps the choices and relabels them
    at.selectbox(key="lab_group@zh").set_value("staffing").run()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert at.selectbox(key="lab_source@en").value == "dense_commercial"
    assert at.selectbox(key="lab_group@en").value == "staffing"
    assert at.button(key="lab_run").label == "Run"


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
    at.button(key="lab_run").click().run()
    assert_ok(at)
    want = run_scenario(scenario_with(Scenario(), {"name": "small", "run.days": 5,
                                                   "run.warmup_days": 1, "run.seed": 3,
                                                   "city.households": 4000})).kpis
    assert metrics(at)["On-time closure rate"][0] == kpi_view.fmt("on_time_rate",
                                                                   want["on_time_rate"])
