"""gridsim optimize: the experiment file, determinism on every backend, kill and resume, the
commands, the report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from sim.experiment.backends import ProcessBackend, SerialBackend
from sim.experiment.optimize import lever_space, load_study, optimize
from sim.experiment.optstats import load_answer
from sim.experiment.spec import validate_experiment
from sim.experiment.store import ResultsStore
from sim.scenario import ScenarioError
from tests.conftest import ROOT, gridsim_inproc
from tests.test_optimize_mmc import CREWS, mmc_optimisation

SMALL = {"objectives": [{"kpi": "monthly_staff_cost"}],
         "constraints": ["mean_crew_wait_h <= 0.245"],
         "trials": 6, "batch": 2, "startup_trials": 2, "max_replications": 4}
VOLATILE_TRIAL_COLUMNS = ["finished_utc", "session_id"]


def small_exp(**kw):
    """A quick search (4-day runs): for the mechanics, not for the answer's accuracy."""
    return mmc_optimisation({**SMALL, **kw}, replications=2, days=4)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small search run once, serially, uninterrupted."""
    path = tmp_path_factory.mktemp("opt") / "reference.duckdb"
    optimize(small_exp(), SerialBackend(), path)
    return path


def trials_of(path) -> pd.DataFrame:
    with ResultsStore(path, read_only=True) as st:
        t = st.con.execute("SELECT * FROM trials ORDER BY trial").df()
        reps = st.con.execute("SELECT * FROM replications ORDER BY round, point_id").df()
        runs = st.con.execute("SELECT point_id, replication, seed, status FROM runs "
                              "ORDER BY 1, 2").df()
    return t.drop(columns=VOLATILE_TRIAL_COLUMNS), reps, runs


def assert_same_search(a, b) -> None:
    for x, y in zip(trials_of(a), trials_of(b)):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


# ------------------------------------------------------------------------------ the file
def test_errors_name_the_field():
    with pytest.raises(ScenarioError) as e:
        mmc_optimisation({"objectives": [{"kpi": "monthly_cost"}]})
    assert "optimize.objectives.0" in str(e.value) and "monthly_staff_cost" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        mmc_optimisation({"objectives": [{"kpi": "monthly_staff_cost"}],
                          "constraints": ["on_time_rate >= 0.95"]})
    assert "not among the kept kpis" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        mmc_optimisation({**SMALL}, replications=1)
    assert "replications" in str(e.value) and "at least 2" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        mmc_optimisation({**SMALL, "constraints": ["mean_crew_wait_h < 1"]})
    assert "KPI >= NUMBER" in str(e.value)


def test_levers_become_optuna_distributions():
    exp = small_exp()
    (name, d), = lever_space(exp).items()
    assert name == CREWS and (d.low, d.high, d.step) == (3, 8, 1)
    assert exp.spec.design.type == "optimize"
    assert exp.hash != small_exp(constraints=["mean_crew_wait_h <= 0.3"]).hash
    assert exp.hash == small_exp(trials=60).hash  # a larger budget resumes the same store


def test_sweep_refuses_an_optimisation_and_optimize_a_sweep(tmp_path):
    f = tmp_path / "opt.yaml"
    f.write_text(yaml.safe_dump(small_exp().stored_spec(), allow_unicode=True))
    r = gridsim_inproc("sweep", str(f), "--store", str(tmp_path / "x.duckdb"))
    assert r.returncode == 2 and "gridsim optimize" in r.stderr
    r = gridsim_inproc("optimize", str(ROOT / "experiments" / "smoke.yaml"), "--dry-run")
    assert r.returncode == 2 and "no optimize: section" in r.stderr


OPTIMISATIONS = sorted(p for p in (ROOT / "experiments").glob("*.yaml")
                       if "\noptimize:" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", OPTIMISATIONS, ids=lambda p: p.name)
def test_ready_optimisations_validate_and_their_corners_run_briefly(path):
    from sim.experiment.spec import lever_corners, load_experiment
    from sim.run import run_scenario
    from sim.scenario import scenario_with

    exp = load_experiment(path)
    assert exp.spec.optimize is not None and exp.spec.replications >= 2
    corners = lever_corners(exp)
    for p in corners[:2]:  # every lever low, every lever high
        sc = scenario_with(exp.scenario(p.values), {"run.days": 2, "run.warmup_days": 1})
        kpis = run_scenario(sc, 1, keep_cases=False).kpis
        assert set(exp.spec.optimize.kpis) <= set(kpis)


def test_cheapest_staffing_is_ready():
    assert "cheapest_staffing.yaml" in {p.name for p in OPTIMISATIONS}


# ----------------------------------------------------------------------- determinism
def test_same_trials_and_answer_on_processes_and_after_a_larger_budget(reference, tmp_path):
    optimize(small_exp(), ProcessBackend(2), tmp_path / "procs.duckdb")
    assert_same_search(reference, tmp_path / "procs.duckdb")
    with ResultsStore(reference, read_only=True) as st:
        ans = load_answer(st)
        assert ans.best is not None and len(ans.trials) == 1 + 3 * 2
        study = load_study(st)  # the Optuna study, rebuilt from the store, agrees
        assert study.best_trial.params == ans.values(ans.best)
    # a finished search run again runs nothing
    again = optimize(small_exp(), SerialBackend(), tmp_path / "procs.duckdb")
    assert again.executed == 0 and again.rounds_done == 0
    # a budget raised later continues exactly as if it had been larger from the start
    optimize(small_exp(trials=4), SerialBackend(), tmp_path / "grown.duckdb")
    optimize(small_exp(trials=6), SerialBackend(), tmp_path / "grown.duckdb")
    assert_same_search(reference, tmp_path / "grown.duckdb")


def test_sigkill_mid_search_then_resume_gives_the_same_answer(reference, tmp_path):
    exp = small_exp()
    f = tmp_path / "opt.yaml"
    f.write_text(yaml.safe_dump(exp.stored_spec(), allow_unicode=True))
    store = tmp_path / "killed.duckdb"
    cmd = [sys.executable, "-m", "sim.cli", "optimize", str(f), "--store", str(store),
           "--backend", "serial"]
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    for line in p.stderr:  # one line per finished round: kill in the second round's runs
        if line.startswith("[round 1/"):
            break
        assert time.time() - t0 < 120
    p.send_signal(signal.SIGKILL)
    p.wait()
    with ResultsStore(store, read_only=True) as st:
        done = st.con.execute("SELECT max(round) FROM trials").fetchone()[0]
    assert done is not None and done < 2, "killed too late to test a resume"
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Best feasible" in r.stdout
    assert_same_search(reference, store)


# ------------------------------------------------------------------------ CLI and report
def test_cli_optimize_then_report_and_discover(tmp_path):
    f = tmp_path / "opt.yaml"
    f.write_text(yaml.safe_dump(small_exp().stored_spec(), allow_unicode=True))
    store = tmp_path / "o.duckdb"
    r = gridsim_inproc("optimize", str(f), "--store", str(store), "--backend", "serial")
    assert r.returncode == 0, r.stderr
    assert "Best feasible" in r.stdout and "crews_per_street=" in r.stdout
    r = gridsim_inproc("report", str(store), "--html", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    assert "Optimisation" in r.stdout and "Constraints at the chosen policy" in r.stdout
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "trials over time" in html and "chosen vs baseline" in html
    r = gridsim_inproc("discover", str(store), "--kpi", "mean_crew_wait_h", "--above", "0.245")
    assert r.returncode == 0, r.stderr
    assert "box 1: where departments.dept.crews_per_street ≤" in r.stdout
    r = gridsim_inproc("optimize", str(f), "--trials", "0")
    assert r.returncode == 2 and "--trials" in r.stderr


def test_sweep_explorer_shows_the_answer_and_discovery(reference, monkeypatch):
    from app_pages.deploy import ENV_RESULTS
    from tests.apptest_util import assert_ok, open_app

    monkeypatch.setenv(ENV_RESULTS, str(reference.parent))  # the app opens stores only there
    at = open_app("sweeps")
    at.text_input(key="sw_path").set_value(str(reference)).run()
    assert_ok(at)
    assert "Optimisation" in [h.value for h in at.subheader]
    assert any("Best feasible policy" in s.value for s in at.success)
    at.toggle(key="disc_on").set_value(True).run()
    at.number_input(key="disc_value").set_value(0.245).run()
    at.radio(key="disc_side").set_value(">").run()
    assert_ok(at)
    # the rule in words: few crews is where the wait target fails
    assert any("crews per street is" in m.value and "or less" in m.value for m in at.markdown)


@pytest.mark.slow  # a Dask LocalCluster starts
def test_same_trials_and_answer_on_dask(reference, tmp_path):
    from sim.experiment.backends import DaskBackend

    optimize(small_exp(), DaskBackend(workers=2), tmp_path / "dask.duckdb")
    assert_same_search(reference, tmp_path / "dask.duckdb")


def test_two_objectives_give_a_pareto_front_by_nsga2(tmp_path):
    exp = mmc_optimisation({"objectives": [{"kpi": "monthly_staff_cost"},
                                           {"kpi": "mean_crew_wait_h"}],
                            "trials": 8, "batch": 4, "population": 4}, replications=2, days=4)
    optimize(exp, SerialBackend(), tmp_path / "mo.duckdb")
    with ResultsStore(tmp_path / "mo.duckdb", read_only=True) as st:
        ans = load_answer(st)
        attrs = st.con.execute("SELECT system_attrs_json FROM trials WHERE source = 'sampler'"
                               ).fetchall()
    assert all("NSGAIISampler:generation" in a for (a,) in attrs)
    front = [ans.stats[p] for p in ans.front]
    assert len(front) >= 3
    costs = [s.objectives[0][0] for s in front]
    waits = [s.objectives[1][0] for s in front]
    # more crews cost more and wait less: along the front, cost rises as the wait falls
    assert costs == sorted(costs) and waits == sorted(waits, reverse=True)
    crews = [ans.values(s.point_id)[CREWS] for s in front]
    assert crews == sorted(crews)
    others = [s for p, s in ans.stats.items() if p not in ans.front and s.ok]
    assert all(any(all(a <= b for a, b in zip([f.objectives[0][0], f.objectives[1][0]],
                                              [o.objectives[0][0], o.objectives[1][0]]))
                   for f in front) for o in others)
    # the answer prints the front and draws it
    import io

    from rich.console import Console

    from sim.experiment.optreport import answer_figures, print_answer

    out = io.StringIO()
    print_answer(ans, Console(file=out, width=160))
    assert "Pareto front" in out.getvalue()
    assert "Optimisation: front 前沿" in [t for t, _ in answer_figures(ans)]
