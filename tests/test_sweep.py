"""The sweep engine: store and provenance, resume, failure isolation, the CLI end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.experiment.backends import SerialBackend
from sim.experiment.design import run_seed
from sim.experiment.engine import sweep
from sim.experiment.spec import validate_experiment
from sim.experiment.store import ResultsStore, comparable_runs
from tests.conftest import ROOT, gridsim

TINY = {"run.days": 2, "run.warmup_days": 1, "city.households": 1200}


def tiny_experiment(**kw) -> dict:
    data = {"name": "tiny", "overrides": dict(TINY),
            "factors": {"staffing.workers_per_grid": [1, 3],
                        "platform.misroute_prob": [0.0, 0.3]},
            "replications": 3, "seed": 11,
            "kpis": ["incidents_total", "discovery_rate", "on_time_rate",
                     "mean_time_to_close_h", "monthly_staff_cost"],
            "timeseries": ["n_backlog"]}
    data.update(kw)
    return data


def _exp(**kw):
    return validate_experiment(tiny_experiment(**kw), "tiny", ROOT)


def store_tables(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with ResultsStore(path, read_only=True) as s:
        return s.kpis(), comparable_runs(s), s.timeseries()


def assert_same_store(a: Path, b: Path) -> None:
    for x, y in zip(store_tables(a), store_tables(b)):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


def test_serial_sweep_fills_the_store_with_provenance(tmp_path):
    exp = _exp()
    s = sweep(exp, SerialBackend(), tmp_path / "s.duckdb")
    assert (s.points, s.planned, s.ok, s.failed) == (4, 12, 12, 0)
    with ResultsStore(tmp_path / "s.duckdb", read_only=True) as st:
        runs, kp, pts = st.runs(), st.kpis(), st.points()
        assert st.meta()["experiment_hash"] == exp.hash
        ts = st.timeseries()
    assert len(kp) == 12 and list(kp.columns[2:]) == list(exp.spec.kpis)
    assert set(runs.status) == {"ok"} and runs.error.isna().all()
    assert (runs.experiment_hash == exp.hash).all()
    for col in ("scenario_hash", "gridsim_version", "host", "started_utc", "finished_utc"):
        assert runs[col].notna().all(), col
    assert (runs.wall_time_s > 0).all()
    # CRN: replication r has one seed at every point; seeds come from the experiment seed
    assert runs.groupby("replication").seed.nunique().eq(1).all()
    assert [int(x) for x in runs[runs.point_id == 0].seed] == [run_seed(11, 0, r) for r in range(3)]
    assert pts.scenario_hash.nunique() == 4
    assert set(ts.series) == {"n_backlog"} and len(ts) == 12 * ts.t_h.nunique()


def test_resume_skips_finished_runs_and_more_replications_extend(tmp_path):
    path = tmp_path / "s.duckdb"
    exp = _exp()
    sweep(exp, SerialBackend(), path, replications=1)
    again = sweep(exp, SerialBackend(), path, replications=1)
    assert (again.skipped, again.executed) == (4, 0)
    more = sweep(exp, SerialBackend(), path)
    assert (more.skipped, more.executed) == (4, 8)
    fresh = tmp_path / "fresh.duckdb"
    sweep(exp, SerialBackend(), fresh)
    assert_same_store(path, fresh)


def test_store_refuses_a_different_experiment_and_foreign_databases(tmp_path):
    import duckdb

    from sim.scenario import ScenarioError

    path = tmp_path / "s.duckdb"
    sweep(_exp(replications=1), SerialBackend(), path)
    with pytest.raises(ScenarioError, match="holds experiment"):
        sweep(_exp(seed=12, replications=1), SerialBackend(), path)
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE mine(a INTEGER)")
    with pytest.raises(ScenarioError, match="not a gridsim results store"):
        sweep(_exp(replications=1), SerialBackend(), other)
    with duckdb.connect(str(other)) as con:
        assert con.execute("SELECT table_name FROM information_schema.tables").fetchall() == [
            ("mine",)], "nothing added to somebody else's database"


def test_a_store_is_made_in_one_transaction_so_a_kill_leaves_no_half_made_store(
        tmp_path, monkeypatch):
    """Stand-in for a kill between two of the tables: the last statement fails."""
    import duckdb

    import sim.experiment.store as store_mod
    from sim.experiment.store import StoreWriteError

    path = tmp_path / "s.duckdb"
    monkeypatch.setattr(store_mod, "SCHEMA", store_mod.SCHEMA + "SELECT error('stop');")
    with pytest.raises(StoreWriteError):
        ResultsStore(path)
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone()[0] == 0
    r = gridsim("report", str(path))
    assert r.returncode == 2 and "no meta table" in r.stderr and "Traceback" not in r.stderr
    monkeypatch.undo()
    sweep(_exp(replications=1), SerialBackend(), path)  # a later sweep makes it whole
    with ResultsStore(path, read_only=True) as st:
        assert st.version == store_mod.SCHEMA_VERSION and len(st.runs()) > 0


def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    import sim.run

    real = sim.run.run_scenario
    bad_seed = run_seed(11, 0, 1)

    def flaky(scenario, seed=None, **kw):
        if seed == bad_seed and scenario.staffing.workers_per_grid == 3:
            raise RuntimeError("boom: injected failure")
        return real(scenario, seed, **kw)

    monkeypatch.setattr(sim.run, "run_scenario", flaky)
    path = tmp_path / "s.duckdb"
    s = sweep(_exp(), SerialBackend(), path)
    assert (s.ok, s.failed) == (10, 2)  # points 2 and 3 have 3 workers, replication 1 fails
    r = gridsim("report", str(path))
    assert r.returncode == 0 and "Failed runs (2" in r.stdout
    assert "RuntimeError: boom: injected failure" in r.stdout
    with ResultsStore(path, read_only=True) as st:
        runs = st.runs()
    bad = runs[runs.status == "failed"]
    assert sorted(zip(bad.point_id, bad.replication)) == [(2, 1), (3, 1)]
    assert bad.error.str.contains("boom: injected failure").all()
    assert bad.error.str.contains("Traceback").all()
    # a plain resume skips failed runs; --retry-failed reruns only those
    assert sweep(_exp(), SerialBackend(), path).executed == 0
    monkeypatch.setattr(sim.run, "run_scenario", real)
    r = sweep(_exp(), SerialBackend(), path, retry_failed=True)
    assert (r.executed, r.ok) == (2, 2)
    with ResultsStore(path, read_only=True) as st:
        runs = st.runs()
    assert set(runs.status) == {"ok"}
    assert runs.set_index(["point_id", "replication"]).loc[(2, 1), "attempt"] == 2
    fresh = tmp_path / "fresh.duckdb"
    sweep(_exp(), SerialBackend(), fresh)
    with ResultsStore(path, read_only=True) as a, ResultsStore(fresh, read_only=True) as b:
        pd.testing.assert_frame_equal(a.kpis(), b.kpis(), check_exact=True)


def test_cli_sweep_and_report_end_to_end(tmp_path):
    store = tmp_path / "smoke.duckdb"
    r = gridsim("sweep", str(ROOT / "experiments" / "smoke.yaml"), "--backend", "serial",
                "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert "8 ok, 0 failed" in r.stdout.replace("\n", " ")
    r = gridsim("report", str(store), "--compare", "0:2", "--csv", str(tmp_path / "csv"),
                "--parquet", str(tmp_path / "pq"), "--html", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    assert "Paired differences" in r.stdout
    summary = pd.read_csv(tmp_path / "csv" / "summary.csv")
    assert len(summary) == 4 and "on_time_rate_ci95" in summary.columns
    assert len(pd.read_parquet(tmp_path / "pq" / "kpis.parquet")) == 8
    page = (tmp_path / "r.html").read_text()
    assert "plotly" in page and "Pareto frontier" in page and "<script src=" not in page
    r = gridsim("report", str(tmp_path / "missing.duckdb"))
    assert r.returncode == 2 and "results store: no such file" in r.stderr
    r = gridsim("report", str(store), "--compare", "0:9")
    assert r.returncode == 2 and "no design point 9" in r.stderr


def test_workers_never_import_streamlit():
    code = ("import sys, sim.experiment.worker, sim.experiment.backends, sim.experiment.engine, "
            "sim.experiment.store, sim.experiment.analysis, sim.experiment.report, sim.cli; "
            "from sim.experiment.worker import execute_run; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'streamlit'], 'streamlit'")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_runs_leave_no_model_behind_so_long_sweeps_keep_flat_memory():
    """No model outlives its run (Mesa's own agent numbering would keep every model alive)."""
    import gc

    from sim.engine.model import GridModel
    from sim.run import run_scenario
    from sim.scenario import Scenario, scenario_with

    def live_models() -> int:
        gc.collect()
        return sum(isinstance(o, GridModel) for o in gc.get_objects())

    tiny = scenario_with(Scenario(), {"run.days": 1, "run.warmup_days": 0.5,
                                      "city.households": 300})
    before = live_models()
    for seed in range(5):
        run_scenario(tiny, seed, keep_cases=False)
    assert live_models() == before


def test_sigterm_stops_the_sweep_cleanly_and_it_resumes(tmp_path):
    """SIGTERM (or Ctrl-C) stops a sweep with exit code 130; the finished runs are kept."""
    import os
    import signal
    import time

    import yaml

    f = tmp_path / "term.yaml"
    f.write_text(yaml.safe_dump(tiny_experiment(name="term", replications=10)))
    store = tmp_path / "term.duckdb"
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(f), "--store",
                             str(store), "--backend", "serial"], cwd=ROOT,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    done, deadline = 0, time.monotonic() + 120
    while done < 2 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        done += line.startswith("[")
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    with ResultsStore(store, read_only=True) as st:
        n = len(st.runs())
        status = st.con.execute("SELECT status FROM sessions").fetchall()
    assert 2 <= n < 40 and status == [("interrupted",)]
    r = gridsim("sweep", str(f), "--store", str(store), "--backend", "serial")
    assert r.returncode == 0 and f"{n} already in the store" in r.stdout.replace("\n", " ")


def test_rich_progress_shows_runs_failed_rate_and_eta(tmp_path):
    import io

    from rich.console import Console

    from sim.experiment.engine import RichReporter

    buf = io.StringIO()
    rep = RichReporter(console=Console(file=buf, force_terminal=True, width=160))
    sweep(_exp(replications=1), SerialBackend(), tmp_path / "p.duckdb", reporter=rep)
    out = buf.getvalue()
    assert "4/4" in out and "0 failed" in out and "runs/s" in out and "ETA" in out


def test_pareto_front_keeps_only_undominated_points():
    import numpy as np

    from sim.experiment.report import pareto_front

    cost = np.array([1.0, 2.0, 3.0, 2.5, 4.0, np.nan])
    on_time = np.array([0.80, 0.90, 0.85, 0.95, 0.95, 0.99])
    assert pareto_front(cost, on_time).tolist() == [0, 1, 3]
