"""Compare, sweep explorer and model pages driven headless with streamlit.testing."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest

from app_pages import kpi_view, limits
from app_pages.compare_page import replication_seeds
from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with
from tests.apptest_util import ROOT, assert_ok, open_app
from tests.conftest import write_tiny_sweep_store

SHORT = b"name: short\nrun: {days: 6, warmup_days: 1}\n"   # the baseline, over 6 days


def test_compare_runs_variants_at_common_seeds_and_judges_the_differences():
    at = open_app("compare")
    at.selectbox(key="cmp_source@en").set_value("__upload__").run()
    at.file_uploader(key="cmp_upload").set_value(("short.yaml", SHORT, "application/x-yaml")).run()
    at.number_input(key="cmp_reps").set_value(3).run()
    at.button(key="cmp_run").click().run()
    assert_ok(at)
    base = scenario_with(Scenario(), {"name": "short", "run.days": 6, "run.warmup_days": 1})
    seeds = replication_seeds(base.run.seed, 3)
    b = scenario_with(base, {"staffing.workers_per_grid": 3})
    ref = [run_scenario(base, s).kpis for s in seeds]
    var = [run_scenario(b, s).kpis for s in seeds]
    table = at.dataframe[0].value.set_index("KPI")
    means = table[["A (reference)", "B"]]
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
    assert table.loc["Incidents", "Δ B − A (reference)"].startswith("+0")
    # emergency KPIs are left out: this scenario has no emergencies
    assert KPI_DEFINITIONS["em_first_response_min"][0] not in table.index


def test_compare_refuses_too_many_runs():
    at = open_app("compare")
    at.slider(key="cmp_n").set_value(4).run()
    at.number_input(key="cmp_reps").set_value(limits.MAX_RUNS // 4 + 1).run()
    assert "at most" in " ".join(e.value for e in at.error)
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


def test_sweep_explorer_shows_points_frontier_and_failed_runs(store):
    at = open_app("sweeps")
    at.text_input(key="sw_path").set_value(str(store)).run()
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
    # heatmap over two factors and a filter
    at.selectbox(key="sw_y@en").set_value("platform.misroute_prob").run()
    at.multiselect(key="sw_f:staffing.workers_per_grid").set_value([1]).run()
    assert_ok(at)
    assert "4 runs of 2 design points shown (1 failed)" in " ".join(c.value for c in at.caption)


def test_sweep_explorer_reports_a_bad_store(tmp_path):
    bad = tmp_path / "x.duckdb"
    bad.write_bytes(b"not a database")
    at = open_app("sweeps")
    at.text_input(key="sw_path").set_value(str(bad)).run()
    assert not at.exception
    assert "Cannot open the results store" in " ".join(e.value for e in at.error)


def test_model_page_lists_every_kpi_definition():
    at = open_app("model")
    assert_ok(at)
    table = at.table[0].value
    assert list(table.index) == list(KPI_DEFINITIONS)
    assert list(table["Definition"]) == [d[3] for d in KPI_DEFINITIONS.values()]
    at.sidebar.radio(key="lang").set_value("zh").run()
    assert list(at.table[0].value["指标"]) == [d[1] for d in KPI_DEFINITIONS.values()]
    # the model description is the project's own docs, rendered
    docs = sorted((ROOT / "docs").rglob("*.md"))
    if docs:
        shown = at.selectbox(key="model_doc@zh").value
        assert shown in docs
        assert shown.read_text(encoding="utf-8").strip()[:40] in " ".join(
            m.value for m in at.markdown)


def test_compare_can_start_from_the_labs_edited_scenario():
    at = open_app()
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
