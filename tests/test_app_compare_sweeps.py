"""Compare, sweep explorer and model pages driven headless with streamlit.testing."""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest

from app_pages import deploy, i18n, kpi_view, limits
from app_pages.compare_page import Comparison, replication_seeds, verdict
from app_pages.stats import fixed, paired_diff
from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with
from tests.apptest_util import ROOT, assert_ok, open_app
from tests.conftest import write_tiny_sweep_store


SHORT = b"name: short\nrun: {days: 6, warmup_days: 1}\n"   # the baseline, over 6 days


def _short_compare(reps: int = 3):
    at = open_app("compare")
    at.selectbox(key="cmp_source@en").set_value("__upload__").run()
    at.file_uploader(key="cmp_upload").set_value(("short.yaml", SHORT, "application/x-yaml")).run()
    at.number_input(key="cmp_reps").set_value(reps).run()
    return at


def test_compare_runs_variants_at_common_seeds_and_answers_the_targets():
    at = _short_compare()
    at.button(key="cmp_run").click().run()
    assert_ok(at)
    base = scenario_with(Scenario(), {"name": "short", "run.days": 6, "run.warmup_days": 1})
    seeds = replication_seeds(base.run.seed, 3)
    b = scenario_with(base, {"staffing.workers_per_grid": 3})
    ref = [run_scenario(base, s).kpis for s in seeds]
    var = [run_scenario(b, s).kpis for s in seeds]
    table = at.table[0].value
    for key in ("on_time_rate", "mean_time_to_close_h", "monthly_staff_cost"):
        label = KPI_DEFINITIONS[key][0]
        assert table.loc[label, "A (reference)"].startswith(
            kpi_view.fmt(key, float(np.mean([k[key] for k in ref]))))
        assert table.loc[label, "B"].startswith(kpi_view.fmt(key, float(np.mean([k[key] for k in var]))))
    # the targets lead the table, in the order chosen
    targets = [k for k in kpi_view.targets()]
    assert list(table.index[:len(targets)]) == [KPI_DEFINITIONS[k][0] for k in targets]
    # common random numbers: the same incidents occur under both policies at each seed
    assert [k["incidents_total"] for k in ref] == [k["incidents_total"] for k in var]
    text = " ".join(m.value for m in at.markdown)
    # the cost is an input set by the levers: stated, not tested
    cost = paired_diff([k["monthly_staff_cost"] for k in ref], [k["monthly_staff_cost"] for k in var])
    assert fixed(cost)
    assert f"Monthly staff cost {kpi_view.fmt_delta('monthly_staff_cost', cost.mean)} at every " \
           "seed — set by the levers, not tested" in text
    # on-time closure is answered either way, plainly
    d = paired_diff([k["on_time_rate"] for k in ref], [k["on_time_rate"] for k in var])
    if d.lo <= 0 <= d.hi:
        assert "On-time closure rate — no detectable difference" in text
    else:
        assert "On-time closure rate is " in text
    # Holm runs over the tested targets only (cost left out)
    assert "Holm correction over the 2 tested differences" in text
    assert KPI_DEFINITIONS["em_first_response_min"][0] not in table.index


def test_verdict_counts_only_tested_targets_in_the_correction():
    seeds = [1, 2, 3, 4]
    ref = [{"on_time_rate": 0.8 + 0.01 * i, "monthly_staff_cost": 100.0} for i in range(4)]
    var = [{"on_time_rate": 0.9 + 0.01 * i + 0.001 * (-1) ** i, "monthly_staff_cost": 150.0}
           for i in range(4)]
    cmp = Comparison(["A", "B"], seeds, [ref, var])
    lines = verdict(cmp, ["on_time_rate", "monthly_staff_cost"], "en")
    assert "over the 1 tested differences" in lines[0]
    assert any("On-time closure rate is higher by 10.0 pp" in ln and "better" in ln for ln in lines)
    assert any("set by the levers" in ln for ln in lines)


def test_compare_set_up_survives_navigation():
    at = _short_compare(reps=2)
    at.slider(key="cmp_n").set_value(3).run()
    name = [t for t in at.text_input if t.key.startswith("cmp_name2")][0]
    name.set_value("more operators").run()
    at.button(key="cmp_run").click().run()
    at.sidebar.radio(key="page").set_value("model").run()
    at.sidebar.radio(key="page").set_value("compare").run()
    assert_ok(at)
    assert at.slider(key="cmp_n").value == 3
    assert at.number_input(key="cmp_reps").value == 2
    assert [t for t in at.text_input if t.key.startswith("cmp_name2")][0].value == "more operators"
    assert not any("set-up changed" in w.value for w in at.warning)   # still this set-up
    assert "more operators" in at.table[0].value.columns


def test_compare_refuses_too_many_runs_as_a_run_limit():
    at = open_app("compare")
    at.slider(key="cmp_n").set_value(4).run()
    at.number_input(key="cmp_reps").set_value(limits.MAX_RUNS // 4 + 1).run()
    errors = " ".join(e.value for e in at.error)
    assert "more than the app runs at once" in errors and "too large" not in errors
    assert "cmp_run" not in [b.key for b in at.button]   # refused before anything runs


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A tiny sweep written by `gridsim sweep`, with one run marked as failed."""
    path = write_tiny_sweep_store(tmp_path_factory.mktemp("sweep"))
    con = duckdb.connect(str(path))
    con.execute("UPDATE runs SET status='failed', error='RuntimeError: crew table empty' "
                "WHERE point_id=1 AND replication=1")
    con.execute("DELETE FROM kpis WHERE point_id=1 AND replication=1")
    con.close()
    return path


def test_sweep_explorer_shows_points_frontier_and_failed_runs(store, monkeypatch):
    monkeypatch.setenv(deploy.ENV_RESULTS, str(store.parent))
    at = open_app("sweeps")
    at.text_input(key="sw_path").set_value(store.name).run()
    assert_ok(at)
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
    # factors by the schema's names, levels formatted
    assert at.selectbox(key="sw_x@en").options[0] == "Staffing · Workers per grid"
    assert at.multiselect(key="sw_f:staffing.workers_per_grid").label == \
        "Staffing · Workers per grid"
    # heatmap over two factors and a filter
    at.selectbox(key="sw_y@en").set_value("platform.misroute_prob").run()
    at.multiselect(key="sw_f:staffing.workers_per_grid").set_value([1]).run()
    assert_ok(at)
    assert "4 runs of 2 design points shown (1 failed)" in " ".join(c.value for c in at.caption)


def test_sweep_explorer_reports_a_bad_store(tmp_path, monkeypatch):
    monkeypatch.setenv(deploy.ENV_RESULTS, str(tmp_path))
    bad = tmp_path / "x.duckdb"
    bad.write_bytes(b"not a database")
    at = open_app("sweeps")
    at.text_input(key="sw_path").set_value("x.duckdb").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Cannot open the results store" in errors and str(tmp_path) not in errors


def test_a_sweep_launched_from_the_app_runs_into_the_results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(deploy.ENV_RESULTS, str(tmp_path))
    at = open_app("sweeps")
    at.selectbox(key="sw_exp@en").set_value(ROOT / "experiments" / "smoke.yaml").run()
    at.selectbox(key="sw_backend@en").set_value("serial").run()
    at.button(key="sw_go").click().run()
    assert_ok(at)
    store = tmp_path / "sweeps" / "smoke.duckdb"
    assert store.is_file()
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*) FROM runs WHERE status='ok'").fetchone()[0] == 8
    con.close()
    text = " ".join(x.value for x in [*at.success, *at.caption])
    assert "8 runs done, 0 failed" in text and "8 runs of 4 design points shown" in text
    assert at.selectbox(key="sw_store@en").value == "sweeps/smoke.duckdb"
    # launching it again finds every run in the store
    at.button(key="sw_go").click().run()
    assert_ok(at)


def test_model_page_lists_every_kpi_definition():
    at = open_app("model")
    assert_ok(at)
    table = at.table[0].value
    assert list(table.index) == list(KPI_DEFINITIONS)
    assert list(table["Definition"]) == [d[3] for d in KPI_DEFINITIONS.values()]
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert list(at.table[0].value["指标"]) == [d[1] for d in KPI_DEFINITIONS.values()]
    assert list(at.table[0].value["定义"]) == [i18n.KPI_FORMULA_ZH[k] for k in KPI_DEFINITIONS]
    # the model description is the project's own docs, rendered
    docs = sorted((ROOT / "docs").rglob("*.md"))
    if docs:
        shown = at.selectbox(key="model_doc@zh").value
        assert shown in docs
        assert shown.read_text(encoding="utf-8").strip()[:40] in " ".join(
            m.value for m in at.markdown)
        # links between documents name the document instead of opening a new session
        for doc in docs:
            at.selectbox(key="model_doc@zh").set_value(doc).run()
            body = " ".join(m.value for m in at.markdown)
            assert not re.search(r"\]\((?!https?://)[^)]*\)", body), doc


def test_compare_can_start_from_the_labs_edited_scenario():
    at = open_app()
    at.number_input(key="lab_reps").set_value(1).run()
    at.selectbox(key="lab_group@en").set_value("platform").run()
    w = [n for n in at.number_input if n.key.endswith(":platform.operators")][0]
    w.set_value(5).run()
    at.button(key="lab_run").click().run()
    at.sidebar.radio(key="page").set_value("compare").run()
    assert at.selectbox(key="cmp_source@en").value == "__lab__"
    # variant A is the lab's scenario: its operators lever starts from the lab's value
    at.multiselect(key=[m.key for m in at.multiselect if m.key.startswith("cmp_levers0")][0]
                   ).set_value(["platform.operators"]).run()
    assert_ok(at)
    ops = [n for n in at.number_input if n.key.startswith("cmp_val0") and
           n.key.endswith("platform.operators")][0]
    assert ops.value == 5
