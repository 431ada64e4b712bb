"""The sweep engine on real parallel backends: SIGKILL and resume, identical results everywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from sim.experiment.backends import DaskBackend, ProcessBackend, SerialBackend
from sim.experiment.engine import sweep
from sim.experiment.store import ResultsStore
from tests.conftest import ROOT, gridsim
from tests.test_sweep import TINY, _exp, assert_same_store, tiny_experiment

pytestmark = pytest.mark.slow  # worker processes and Dask clusters start in every test


def test_identical_results_on_serial_processes_and_dask(tmp_path):
    exp = _exp(replications=2)
    serial, procs, dask = (tmp_path / f"{n}.duckdb" for n in ("serial", "procs", "dask"))
    sweep(exp, SerialBackend(), serial)
    sweep(exp, ProcessBackend(workers=2), procs)
    sweep(exp, DaskBackend(workers=2), dask)
    assert_same_store(serial, procs)
    assert_same_store(serial, dask)
    with ResultsStore(dask, read_only=True) as st:
        sessions = st.con.execute("SELECT backend, workers FROM sessions").fetchall()
    assert sessions == [("dask LocalCluster×2", 2)]


def test_sigkill_mid_sweep_then_resume_equals_an_uninterrupted_sweep(tmp_path):
    exp_file = tmp_path / "kill.yaml"
    data = tiny_experiment(name="kill", replications=4)
    exp_file.write_text(yaml.safe_dump(data))
    killed, whole = tmp_path / "killed.duckdb", tmp_path / "whole.duckdb"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(exp_file), "--store", str(killed),
           "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    done = 0
    deadline = time.monotonic() + 240
    while done < 3 and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        done += line.startswith("[")  # one progress line per committed run
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, with no chance to clean up
    proc.wait()
    assert done == 3, "the sweep should have committed runs before it was killed"
    with ResultsStore(killed, read_only=True) as st:
        n_before = len(st.runs())
    assert 3 <= n_before < 16, "killed mid-sweep: some but not all runs are in the store"
    r = gridsim("sweep", str(exp_file), "--store", str(killed), "--backend", "serial")
    assert r.returncode == 0, r.stderr
    assert f"{n_before} already in the store" in r.stdout
    r = gridsim("sweep", str(exp_file), "--store", str(whole), "--backend", "serial")
    assert r.returncode == 0, r.stderr
    assert_same_store(killed, whole)


def test_a_worker_killed_mid_sweep_is_recorded_and_the_sweep_goes_on(tmp_path):
    """A worker process dying (OOM killer, kill -9) fails only the runs in flight; the pool is
    restarted, the sweep finishes, and --retry-failed completes the store."""
    exp = _exp(replications=4, overrides={**TINY, "run.days": 30})  # runs long enough to
    # be still in flight when the first result comes back

    class KillOneWorker:
        killed = False

        def start(self, total, label): ...

        def extend(self, more): ...

        def advance(self, o):
            if not self.killed and o.pid:
                self.killed = True
                os.kill(o.pid, signal.SIGKILL)  # it has already taken its next run

        def stop(self): ...

    path = tmp_path / "k.duckdb"
    s = sweep(exp, ProcessBackend(workers=2), path, reporter=KillOneWorker())
    assert s.ok + s.failed == 16 and s.failed >= 1
    with ResultsStore(path, read_only=True) as st:
        runs = st.runs()
    assert len(runs) == 16
    assert runs[runs.status == "failed"].error.str.contains("worker").all()
    r = sweep(exp, ProcessBackend(workers=2), path, retry_failed=True)
    assert r.executed == s.failed and r.failed == 0
    serial = tmp_path / "serial.duckdb"
    sweep(exp, SerialBackend(), serial)
    with ResultsStore(path, read_only=True) as a, ResultsStore(serial, read_only=True) as b:
        assert a.kpis().equals(b.kpis())


def test_cli_sweep_on_a_running_dask_scheduler(tmp_path):
    """--scheduler tcp://host:port: the same results as a serial sweep."""
    from distributed import LocalCluster

    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(tiny_experiment(name="remote", replications=2)))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        r = gridsim("sweep", str(f), "--scheduler", cluster.scheduler_address,
                    "--store", str(tmp_path / "dask.duckdb"))
    assert r.returncode == 0, r.stderr
    r = gridsim("sweep", str(f), "--backend", "serial", "--store", str(tmp_path / "serial.duckdb"))
    assert r.returncode == 0, r.stderr
    assert_same_store(tmp_path / "dask.duckdb", tmp_path / "serial.duckdb")
    with ResultsStore(tmp_path / "dask.duckdb", read_only=True) as st:
        backend = st.con.execute("SELECT backend FROM sessions").fetchone()[0]
    assert backend.startswith("dask tcp://")
