from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def gridsim(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed ``gridsim`` command the way a user does."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=timeout)


@pytest.fixture
def run_cli():
    return gridsim


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def gridsim_inproc(*args: str) -> _Result:
    """The same command in this process (Typer's runner): fast, for the many input checks.

    An exception escaping the command is re-raised, so a traceback can never pass for an error
    message; one subprocess test per command family keeps the real exit path covered.
    """
    from typer.testing import CliRunner

    from sim.cli import app

    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return _Result(r.exit_code, r.stdout, r.stderr)


TINY_SWEEP = (
    "name: tiny\n"  # no base: the embedded baseline
    "overrides: {city.households: 2000, run.days: 3, run.warmup_days: 1}\n"
    "factors:\n  staffing.workers_per_grid: [1, 2, 3]\n  platform.misroute_prob: [0.0, 0.2]\n"
    "design: {type: full_factorial}\nreplications: 2\nseed: 5\n"
    "kpis: [incidents_total, on_time_rate, mean_time_to_close_h, monthly_staff_cost]\n")


def write_tiny_sweep_store(folder: Path) -> Path:
    """A tiny results store (6 design points × 2 replications) written by `gridsim sweep`."""
    exp = folder / "tiny.yaml"
    exp.write_text(TINY_SWEEP, encoding="utf-8")
    path = folder / "tiny.duckdb"
    done = gridsim("sweep", str(exp), "--store", str(path), "--backend", "serial")
    assert done.returncode == 0, done.stderr[-2000:]
    return path


# ----------------------------------------------------------------------------- property tests
# One Hypothesis profile for the suite: a few hundred examples per input boundary, no deadline
# (a shared machine is slow at times), and under CI the same examples on every run
# (derandomised, no example database), so a red build is reproducible.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "gridsim", max_examples=200, deadline=None, print_blob=True,
    derandomize=bool(os.environ.get("CI")),
    **({"database": None} if os.environ.get("CI") else {}),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large])
settings.load_profile("gridsim")
