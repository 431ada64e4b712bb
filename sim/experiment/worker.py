"""What a worker does: run one (design point, replication) and return a small, picklable outcome.

Everything here is a top-level function or a plain dataclass, so it works under ``spawn`` (the
process backend) and on remote Dask workers. Workers never write to the store — the parent does,
one transaction per finished run — and never import streamlit. A run that raises is returned as
``status="failed"`` with its traceback; the sweep goes on.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.scenario import Scenario
from sim.version import __version__

_ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class RunTask:
    point_id: int
    replication: int
    seed: int
    scenario: Scenario
    kpis: tuple[str, ...]
    timeseries: tuple[str, ...] = ()


@dataclass
class RunOutcome:
    point_id: int
    replication: int
    seed: int
    scenario_hash: str
    status: str  # "ok" | "failed"
    kpis: dict[str, float | None] = field(default_factory=dict)
    timeseries: dict[str, list[float]] | None = None
    error: str | None = None
    wall_time_s: float = 0.0
    started_utc: str = ""
    finished_utc: str = ""
    host: str = ""
    pid: int = 0
    gridsim_version: str = ""
    git_revision: str | None = None


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The checkout's commit (``-dirty`` when it has changes), or None outside a git checkout."""
    if not (_ROOT / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(_ROOT), "describe", "--always", "--dirty",
                              "--abbrev=12"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def execute_run(task: RunTask) -> RunOutcome:
    """Run one task; exceptions become a failed outcome carrying the traceback."""
    from sim.run import run_scenario

    started, t0 = _utc(), time.perf_counter()
    out = RunOutcome(task.point_id, task.replication, task.seed, task.scenario.hash(), "ok",
                     started_utc=started, host=platform.node(), pid=os.getpid(),
                     gridsim_version=__version__, git_revision=git_revision())
    try:
        result = run_scenario(task.scenario, task.seed, keep_cases=False)
        out.kpis = {k: _num(result.kpis[k]) for k in task.kpis}
        if task.timeseries:
            ts = result.timeseries
            out.timeseries = {c: ts[c].astype(float).tolist() for c in ("t_h", *task.timeseries)}
    except Exception:  # noqa: BLE001 - failure isolation: record it, keep sweeping
        out.status = "failed"
        out.kpis, out.timeseries = {}, None
        out.error = traceback.format_exc(limit=-8)[-4000:]
    out.wall_time_s = time.perf_counter() - t0
    out.finished_utc = _utc()
    return out


def _num(v: Any) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


def warm_up(_: int = 0) -> int:
    """Import the model in a fresh worker (so the first real run is not charged for it)."""
    import sim.run  # noqa: F401

    return os.getpid()


def watch_parent(parent_pid: int) -> None:
    """Process-pool initializer: exit when the parent disappears (e.g. it was killed -9).

    Workers also ignore Ctrl-C (SIGINT goes to the whole terminal process group): the parent
    handles it, stops taking results and terminates them, so no run is recorded as failed.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def _watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=_watch, name="gridsim-parent-watch", daemon=True).start()
