"""The commands as users try them outside the happy path: reruns, empty files, narrow
terminals, pipes, oversized scenarios. Each ends in a result or one clear message (exit 2),
never a traceback."""

from __future__ import annotations

from pathlib import Path

from sim.experiment.store import ResultsStore

from tests.conftest import TINY_SWEEP, gridsim
from tests.test_sweep import store_tables


def test_rerunning_a_finished_sweep_reports_it_complete_and_changes_nothing(tmp_path):
    exp = tmp_path / "tiny.yaml"
    exp.write_text(TINY_SWEEP, encoding="utf-8")
    store = tmp_path / "tiny.duckdb"
    first = gridsim("sweep", str(exp), "--store", str(store), "--backend", "serial")
    assert first.returncode == 0, first.stderr
    before = store_tables(store)
    again = gridsim("sweep", str(exp), "--store", str(store))  # default: worker processes
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "12 runs planned, 12 already in the store, 0 ok, 0 failed" in again.stdout
    for a, b in zip(before, store_tables(store)):
        assert a.equals(b)
    with ResultsStore(store, read_only=True) as st:
        sessions = st.con.execute("SELECT status, runs_ok FROM sessions ORDER BY session_id").fetchall()
    assert sessions == [("finished", 12), ("finished", 0)]
