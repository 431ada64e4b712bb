"""Every page of the app driven headless with streamlit.testing: widgets set, run pressed, and
the numbers shown equal those of ``sim.run.run_scenario`` for the same scenario and seed."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages import kpi_view, limits
from app_pages.compare_page import replication_seeds
from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


def _open(page: str = "lab", lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    at.sidebar.radio(key="lang").set_value(lang).run()
    if page != "lab":
        at.sidebar.radio(key="page").set_value(page).run()
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _widget(at: AppTest, kind: str, path: str):
    found = [w for w in getattr(at, kind) if w.key and w.key.endswith(":" + path)]
    assert len(found) == 1, (path, [w.key for w in getattr(at, kind)])
    return found[0]


def _metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.proto.delta) for m in at.metric}


def test_lab_runs_the_baseline_and_shows_the_kpis_of_sim():
    at = _open()
    at.button(key="lab_run").click().run()
    _ok(at)
    want = run_scenario(Scenario()).kpis
    shown = _metrics(at)
    assert len(shown) == len(kpi_view.HEADLINE)
    for key in kpi_view.HEADLINE:
        value, delta = shown[KPI_DEFINITIONS[key][0]]
        assert value == kpi_view.fmt(key, want[key]), key
        assert not delta  # nothing changed: no change to show
    # the full table lists every KPI with the same values
    table = at.dataframe[0].value
    assert list(table["Value"]) == [kpi_view.fmt(k, want[k]) for k in KPI_DEFINITIONS]


def test_lab_lever_and_seed_change_the_run_and_show_the_change_against_the_loaded():
    at = _open()
    at.number_input(key=[w.key for w in at.number_input if w.key.startswith("lab_seed")][0]
                    ).set_value(11).run()
    at.selectbox(key="lab_group@en").set_value("staffing").run()
    w = _widget(at, "number_input", "staffing.workers_per_grid")
    assert (w.value, w.min, w.max) == (2, 1, 50)   # from the schema and the loaded scenario
    w.set_value(3).run()
    at.button(key="lab_run").click().run()
    _ok(at)
    base = run_scenario(Scenario(), 11).kpis
    edited = run_scenario(scenario_with(Scenario(), {"staffing.workers_per_grid": 3}), 11).kpis
    shown = _metrics(at)
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
    at = _open(lang="zh")
    at.selectbox(key="lab_source@zh").set_value("dense_commercial").run()
    at.button(key="lab_run").click().run()
    _ok(at)
    want = run_scenario(load_scenario(ROOT / "scenarios" / "dense_commercial.yaml")).kpis
    shown = _metrics(at)
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
    at = _open()
    at.selectbox(key="lab_source@en").set_value("__upload__").run()
    at.file_uploader(key="lab_upload").set_value(("bad.yaml", content, "application/x-yaml")).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert expect in errors
    assert "Traceback" not in errors


def test_lab_upload_of_a_good_file_runs_it():
    at = _open()
    at.selectbox(key="lab_source@en").set_value("__upload__").run()
    text = b"name: small\nrun: {days: 5, warmup_days: 1, seed: 3}\ncity: {households: 4000}\n"
    at.file_uploader(key="lab_upload").set_value(("small.yaml", text, "application/x-yaml")).run()
    at.button(key="lab_run").click().run()
    _ok(at)
    want = run_scenario(scenario_with(Scenario(), {"name": "small", "run.days": 5,
                                                   "run.warmup_days": 1, "run.seed": 3,
                                                   "city.households": 4000})).kpis
    assert _metrics(at)["On-time closure rate"][0] == kpi_view.fmt("on_time_rate",
                                                                   want["on_time_rate"])


def test_compare_runs_variants_at_common_seeds_and_judges_the_differences():
    at = _open("compare")
    at.number_input(key="cmp_reps").set_value(3).run()
    at.button(key="cmp_run").click().run()
    _ok(at)
    seeds = replication_seeds(Scenario().run.seed, 3)
    b = scenario_with(Scenario(), {"staffing.workers_per_grid": 3})
    ref = [run_scenario(Scenario(), s).kpis for s in seeds]
    var = [run_scenario(b, s).kpis for s in seeds]
    means = at.dataframe[0].value.set_index("KPI")
    for key in ("on_time_rate", "mean_time_to_close_h", "monthly_staff_cost"):
        label = KPI_DEFINITIONS[key][0]
        m_ref = float(np.mean([k[key] for k in ref]))
        m_var = float(np.mean([k[key] for k in var]))
        assert means.loc[label].iloc[0].startswith(kpi_view.fmt(key, m_ref))
        assert means.loc[label].iloc[1].startswith(kpi_view.fmt(key, m_var))
    # common random numbers: the same incidents occur under both policies at each seed
    assert [k["incidents_total"] for k in ref] == [k["incidents_total"] for k in var]
    verdict = " ".join(m.value for m in at.markdown)
    # the cost difference is deterministic, so it is significant; its sign is "worse"
    assert "Monthly staff cost is higher by 270,000" in verdict and "worse" in verdict
    paired = at.dataframe[1].value.set_index("KPI")
    assert paired.loc["Incidents"].iloc[0].startswith("+0")


def test_compare_refuses_too_many_runs():
    at = _open("compare")
    at.slider(key="cmp_n").set_value(4).run()
    at.number_input(key="cmp_reps").set_value(limits.MAX_RUNS // 4 + 1).run()
    assert "at most" in " ".join(e.value for e in at.error)
    assert "cmp_run" not in [b.key for b in at.button]   # refused before anything runs


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A tiny sweep written by `gridsim sweep`, with one run marked as failed."""
    d = tmp_path_factory.mktemp("sweep")
    exp = d / "tiny.yaml"
    exp.write_text(
        "name: tiny\n"  # no base: the embedded baseline
        "overrides: {city.households: 2000, run.days: 3, run.warmup_days: 1}\n"
        "factors:\n  staffing.workers_per_grid: [1, 2, 3]\n  platform.misroute_prob: [0.0, 0.2]\n"
        "design: {type: full_factorial}\nreplications: 2\nseed: 5\n"
        "kpis: [incidents_total, on_time_rate, mean_time_to_close_h, monthly_staff_cost]\n",
        encoding="utf-8")
    path = d / "tiny.duckdb"
    done = subprocess.run([sys.executable, "-m", "sim.cli", "sweep", str(exp), "--store",
                           str(path), "--backend", "serial"], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    con = duckdb.connect(str(path))
    con.execute("UPDATE runs SET status='failed', error='RuntimeError: crew table empty' "
                "WHERE point_id=1 AND replication=1")
    con.execute("DELETE FROM kpis WHERE point_id=1 AND replication=1")
    con.close()
    return path


def test_sweep_explorer_shows_points_frontier_and_failed_runs(store):
    at = _open("sweeps")
    at.text_input(key="sw_path").set_value(str(store)).run()
    _ok(at)
    captions = " ".join(c.value for c in at.caption)
    assert "12 runs of 6 design points shown (1 failed)" in captions
    summary = at.dataframe[0].value.set_index("point_id")
    con = duckdb.connect(str(store), read_only=True)
    want = con.execute("SELECT k.point_id, avg(k.value) FROM kpis k JOIN runs r USING "
                       "(point_id, replication) WHERE r.status='ok' AND k.kpi='on_time_rate' "
                       "GROUP BY 1").fetchall()
    con.close()
    for pid, mean in want:
        assert math.isclose(summary.loc[pid, "on_time_rate"], mean, rel_tol=1e-12)
    assert summary.loc[1, "n"] == 1
    failed = at.dataframe[-1].value
    assert list(failed["error"]) == ["RuntimeError: crew table empty"]
    # frontier: cheapest point first; no frontier point is beaten on both axes
    front = at.dataframe[-2].value
    assert front["monthly_staff_cost"].is_monotonic_increasing
    assert front["on_time_rate"].is_monotonic_increasing
    # heatmap over two factors and a filter
    at.selectbox(key="sw_y@en").set_value("platform.misroute_prob").run()
    at.multiselect(key="sw_f:staffing.workers_per_grid").set_value([1]).run()
    _ok(at)
    assert "4 runs of 2 design points shown (1 failed)" in " ".join(c.value for c in at.caption)


def test_sweep_explorer_reports_a_bad_store(tmp_path):
    bad = tmp_path / "x.duckdb"
    bad.write_bytes(b"not a database")
    at = _open("sweeps")
    at.text_input(key="sw_path").set_value(str(bad)).run()
    assert not at.exception
    assert "Cannot open the results store" in " ".join(e.value for e in at.error)


def test_model_page_lists_every_kpi_definition():
    at = _open("model")
    _ok(at)
    table = at.dataframe[0].value
    assert list(table["key"]) == list(KPI_DEFINITIONS)
    assert list(table["Definition"]) == [d[3] for d in KPI_DEFINITIONS.values()]
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert list(at.dataframe[0].value["指标"]) == [d[1] for d in KPI_DEFINITIONS.values()]


def _drill_at(rules: dict[str, str] | None = None) -> AppTest:
    at = _open("drill")
    at.selectbox(key="dr_scenario@en").set_value("fire_drill").run()
    for field, value in (rules or {}).items():
        at.selectbox(key=f"dr_rule_{field}:fire_drill@en").set_value(value).run()
    at.button(key="dr_start").click().run()
    _ok(at)
    return at


def test_drill_plays_to_the_end_and_shows_the_kpis_of_sim():
    from app_pages.drill_page import start_drill
    sc = load_scenario(ROOT / "scenarios" / "fire_drill.yaml")
    at = _drill_at()
    at.button(key="dr_step").click().run()
    assert "00:05:00" in " ".join(m.value for m in at.markdown)   # one 5-minute step
    at.button(key="dr_to_end").click().run()
    _ok(at)
    drill = start_drill(sc, sc.run.seed, {"dispatch": sc.emergency.rules.dispatch,
                                          "command": sc.emergency.rules.command})
    drill.step(5 / 60)
    drill.run()
    want = drill.kpis()
    shown = _metrics(at)
    for key in ("em_first_response_min", "em_full_joint_response_min", "em_containment_min",
                "em_units_sent", "em_damage_yuan"):
        assert shown[KPI_DEFINITIONS[key][0]][0] == kpi_view.fmt(key, want[key]), key
    log = at.code[0].value
    assert "接警" in log and "alarm received" in log          # the narrative in both languages
    assert log.splitlines() == drill.narrative()[-400:]


def test_drill_replay_with_sequential_dispatch_at_the_same_seed():
    at = _drill_at()
    at.button(key="dr_to_end").click().run()
    at.selectbox(key="dr_rule_dispatch:fire_drill@en").set_value("sequential").run()
    assert "settings changed" in " ".join(w.value for w in at.warning)
    at.button(key="dr_start").click().run()
    at.button(key="dr_to_end").click().run()
    _ok(at)
    hist = at.session_state["dr_history"]
    assert [h["dispatch"] for h in hist] == ["simultaneous", "sequential"]
    assert hist[0]["seed"] == hist[1]["seed"]
    # the same fire is reported at the same moment under both rules (common random numbers);
    # calling each responder only once the previous one is on site cannot get them all there
    # sooner than calling them all at once
    assert hist[1]["em_first_response_min"] == pytest.approx(hist[0]["em_first_response_min"])
    # (NaN: the full joint response was never reached before containment — later than any time)
    seq, sim_ = hist[1]["em_full_joint_response_min"], hist[0]["em_full_joint_response_min"]
    assert math.isnan(seq) or seq >= sim_


def test_drill_second_emergency_and_unit_out_of_service_mid_drill():
    at = _drill_at()
    at.button(key="dr_step").click().run()
    at.number_input(key="dr_inj_grid").set_value(5).run()
    at.button(key="dr_inject").click().run()
    unit = at.selectbox(key="dr_unit@en").value
    at.button(key="dr_out").click().run()
    _ok(at)
    drill = at.session_state["drill"]["drill"]
    assert len(drill.state()["emergencies"]) == 2
    assert {e["grid"] for e in drill.state()["emergencies"]} == {0, 5}
    assert any(ev["action"] == "out_of_service" and ev["actor"] == unit for ev in drill.events)
    assert unit not in at.selectbox(key="dr_unit@en").options
