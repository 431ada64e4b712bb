"""Faults a long sweep meets: its process or a worker killed at random moments, the disk
filling up, a store written by an older gridsim, two sweeps and a report at once.

After each, resuming gives exactly the results of an uninterrupted sweep: the same runs, KPIs
and series, none lost and none recorded twice.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from sim.experiment.backends import ProcessBackend, SerialBackend
from sim.experiment.engine import sweep
from sim.experiment.spec import load_experiment, validate_experiment
from sim.experiment.store import ResultsStore
from sim.scenario import ScenarioError

from tests.conftest import ROOT, gridsim
from tests.test_sweep import assert_same_store

pytestmark = pytest.mark.slow

SMALL = {"city.households": 600, "run.days": 1.5, "run.warmup_days": 0.5}


def experiment(replications: int, **kw) -> dict:
    data = {"name": "faults", "overrides": dict(SMALL),
            "factors": {"staffing.workers_per_grid": [1, 2, 3, 4],
                        "platform.misroute_prob": [0.0, 0.1, 0.2, 0.3]},
            "replications": replications, "seed": 23,
            "kpis": ["incidents_total", "on_time_rate", "mean_time_to_close_h",
                     "monthly_staff_cost"],
            "timeseries": ["n_backlog"]}
    data.update(kw)
    return data


def resolved(replications: int, **kw):
    return validate_experiment(experiment(replications, **kw), "faults", ROOT)


def assert_complete(path: Path, runs: int) -> None:
    """Every planned run exactly once, with all its KPIs and series rows."""
    with ResultsStore(path, read_only=True) as st:
        con = st.con
        n, distinct = con.execute("SELECT count(*), count(DISTINCT (point_id, replication)) "
                                  "FROM runs").fetchone()
        bad_kpis = con.execute("SELECT count(*) FROM (SELECT point_id, replication, kpi, "
                               "count(*) c FROM kpis GROUP BY ALL HAVING c > 1)").fetchone()[0]
        orphan = con.execute("SELECT count(*) FROM kpis k ANTI JOIN runs r "
                             "USING (point_id, replication)").fetchone()[0]
        status = dict(con.execute("SELECT status, count(*) FROM runs GROUP BY 1").fetchall())
    assert (n, distinct) == (runs, runs)
    assert bad_kpis == 0 and orphan == 0
    assert status == {"ok": runs}


def _sweep_in_child(exp_data: dict, path: str) -> None:
    exp = validate_experiment(exp_data, "faults", ROOT)
    sweep(exp, SerialBackend(), path)
    os._exit(0)


def _runs_after_kill(path: Path) -> int:
    """Runs committed to the store a killed sweep left; 0 if it died before making the store."""
    if not path.exists():
        return 0
    try:
        with ResultsStore(path, read_only=True) as st:
            return len(st.runs())
    except ScenarioError as err:  # killed between creating the file and committing its tables
        assert "no meta table" in str(err), str(err)
        return 0


def test_sweep_process_killed_at_random_moments_then_resumed_equals_an_uninterrupted_sweep(
        tmp_path, capsys):
    """A loop of SIGKILLs of the sweeping process (forked, so each start costs no imports) at
    random moments: opening the store, between and during runs, while committing; then one
    uninterrupted resume. Nothing lost, nothing doubled, identical to a sweep never killed.

    The kill moments are drawn on the scale of this machine's own uninterrupted sweep, so they
    land while the sweep runs however fast the model is; should a child still finish before
    its kill, the bookkeeping below counts that and the comparison is the same."""
    data = experiment(replications=6)
    whole = tmp_path / "whole.duckdb"
    t0 = time.perf_counter()
    sweep(resolved(6), SerialBackend(), whole)
    span = time.perf_counter() - t0
    killed = tmp_path / "killed.duckdb"
    rng = random.Random(16)
    ctx = mp.get_context("fork")
    kills, counts, finished_alone = 0, [], 0
    while kills < 12:
        child = ctx.Process(target=_sweep_in_child, args=(data, str(killed)))
        child.start()
        time.sleep(rng.uniform(0.0, span / 8))
        if not child.is_alive():  # finished before this kill: the sweep is complete
            child.join()
            assert child.exitcode == 0, f"the sweep failed by itself (exit {child.exitcode})"
            finished_alone = 1
            break
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        kills += 1
        counts.append(_runs_after_kill(killed))
    assert kills >= 1, "the kills should land while the sweep runs"
    assert counts == sorted(counts), "a kill never loses a committed run"
    committed = _runs_after_kill(killed)
    assert committed >= (counts[-1] if counts else 0)
    assert committed == 96 or not finished_alone
    s = sweep(resolved(6), SerialBackend(), killed)
    assert (s.skipped, s.executed, s.failed) == (committed, 96 - committed, 0)
    assert_complete(killed, 96)
    assert_same_store(killed, whole)
    with ResultsStore(killed, read_only=True) as st:
        status = st.con.execute("SELECT status, count(*) FROM sessions GROUP BY 1").fetchall()
    status = dict(status)  # a kill before the session began leaves no session behind
    assert status.get("finished") == 1 + finished_alone and set(status) <= {"finished", "killed"}
    assert status.get("killed", 0) <= kills
    with capsys.disabled():
        print(f"\nparent SIGKILL loop: {kills} kills ({status.get('killed', 0)} after the "
              f"session began), runs in the store after each: {counts}"
              f"{'; then it finished by itself' if finished_alone else ''}; "
              f"resume ran {s.executed}; 96 runs compared, 0 lost, 0 doubled")


def test_workers_killed_at_random_moments_then_retry_equals_an_uninterrupted_sweep(
        tmp_path, capsys):
    """SIGKILLs of worker processes at random moments, also while the pool restarts: the runs
    in flight are recorded as failed, the sweep goes on; --retry-failed completes the store.

    As in the loop above, the moments are drawn on the scale of this machine's own serial
    sweep, so the kills land while the pool runs however fast the model is."""
    exp = resolved(2, overrides={**SMALL, "run.days": 6})  # runs long enough to be in flight
    whole = tmp_path / "whole.duckdb"
    t0 = time.perf_counter()
    sweep(exp, SerialBackend(), whole)
    span = time.perf_counter() - t0
    path = tmp_path / "k.duckdb"
    rng = random.Random(1616)
    stop = threading.Event()
    kills: list[int] = []

    backend = ProcessBackend(workers=2)

    def killer() -> None:
        while not stop.is_set() and len(kills) < 4:
            time.sleep(rng.uniform(0.1, span / 4))
            pool = backend._pool
            procs = list((getattr(pool, "_processes", None) or {}).values()) if pool else []
            if procs:
                victim = rng.choice(procs)
                try:
                    os.kill(victim.pid, signal.SIGKILL)
                    kills.append(victim.pid)
                except (ProcessLookupError, TypeError):
                    pass

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        s = sweep(exp, backend, path)
    finally:
        stop.set()
        t.join()
    assert s.ok + s.failed == 32
    assert kills, "the kills should land while the pool runs"
    r = sweep(exp, SerialBackend(), path, retry_failed=True)
    assert r.executed == s.failed and r.failed == 0
    assert_complete(path, 32)
    assert_same_store(path, whole)
    with capsys.disabled():
        print(f"\nworker SIGKILL loop: {len(kills)} kills, {s.failed} runs in flight failed, "
              f"{r.executed} retried; 32 runs compared, 0 lost, 0 doubled")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs mounted for the test (root, or a user namespace allowing mounts)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_stops_the_sweep_with_a_message_and_resume_completes_it(tmp_path,
                                                                         small_disk):
    exp_file = tmp_path / "full.yaml"
    data = experiment(replications=12, timeseries=["n_backlog", "cum_incidents", "cum_reported",
                                                   "cum_closed", "n_undiscovered"])
    exp_file.write_text(yaml.safe_dump(data))
    ballast = small_disk / "ballast"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    ballast.write_bytes(b"\0" * (free - 150 * 1024))  # leave room for a few dozen runs
    store = small_disk / "s.duckdb"
    r = gridsim("sweep", str(exp_file), "--store", str(store), "--backend", "serial")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert "cannot write: no space left on the device" in r.stderr
    assert "run the same command again to resume" in r.stderr
    out = small_disk / "run_out"
    r = gridsim("run", "--days", "3", "--set", "city.households=600", "--out", str(out))
    assert r.returncode == 2 and "No space left" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not list(small_disk.glob(".run_out.partial*"))
    ballast.unlink()
    r = gridsim("sweep", str(exp_file), "--store", str(store), "--backend", "serial")
    assert r.returncode == 0, r.stderr[-2000:]
    whole = tmp_path / "whole.duckdb"
    sweep(load_experiment(exp_file), SerialBackend(), whole)  # the file's factor order
    assert_complete(store, 192)
    assert_same_store(store, whole)


V1_KPIS = ("CREATE TABLE kpis_v1(point_id INTEGER, replication INTEGER, kpi VARCHAR, "
           "value DOUBLE)")


def test_a_store_of_the_older_schema_is_read_as_it_is_and_upgraded_when_resumed(tmp_path):
    """Schema 1 (every store before the version stamp) had KPIs without a key."""
    import duckdb

    old = tmp_path / "old.duckdb"
    sweep(resolved(1), SerialBackend(), old)  # half the runs, then make it a schema-1 file
    con = duckdb.connect(str(old))
    con.execute(V1_KPIS)
    con.execute("INSERT INTO kpis_v1 SELECT * FROM kpis")
    con.execute("DROP TABLE kpis")
    con.execute("ALTER TABLE kpis_v1 RENAME TO kpis")
    con.execute("DELETE FROM meta WHERE key = 'schema_version'")
    con.close()
    with ResultsStore(old, read_only=True) as st:
        assert st.version == 1 and len(st.kpis()) == 16
    r = gridsim("report", str(old), "--format", "json")
    assert r.returncode == 0, r.stderr
    s = sweep(resolved(2), SerialBackend(), old)
    assert (s.skipped, s.executed) == (16, 16)
    whole = tmp_path / "whole.duckdb"
    sweep(resolved(2), SerialBackend(), whole)
    assert_complete(old, 32)
    assert_same_store(old, whole)
    with ResultsStore(old, read_only=True) as st:
        assert st.version == 2 and st.meta()["schema_version"] == "2"
        pk = st.con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = "
                            "'kpis' AND constraint_type = 'PRIMARY KEY'").fetchone()[0]
    assert pk == 1
    con = duckdb.connect(str(old))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    r = gridsim("report", str(old))
    assert r.returncode == 2 and "written by a newer gridsim" in r.stderr


def test_two_sweeps_and_a_report_on_one_store_at_once(tmp_path):
    exp_file = tmp_path / "two.yaml"
    exp_file.write_text(yaml.safe_dump(experiment(replications=4,
                                                  overrides={**SMALL, "run.days": 10})))
    store = tmp_path / "two.duckdb"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(exp_file), "--store", str(store),
           "--backend", "serial"]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    while not store.exists() and first.poll() is None:
        time.sleep(0.1)
    others = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
              for c in (cmd, [sys.executable, "-m", "sim.cli", "report", str(store)])]
    results = []
    for p in others:
        o, e = p.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, o, e))
    second, report = results
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    for r in (second, report):
        if r.returncode != 0:  # the first sweep still had the store: refused, clearly
            assert r.returncode == 2 and "in use by another process" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert second.returncode == 2 or report.returncode == 2, "they ran while the first did"
    whole = tmp_path / "whole.duckdb"
    sweep(load_experiment(exp_file), SerialBackend(), whole)
    assert_complete(store, 64)
    assert_same_store(store, whole)
