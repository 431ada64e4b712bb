"""Experiment files: validation with field paths, designs, and the seeds of every run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.experiment.design import design_points, plan, run_seed
from sim.experiment.spec import load_experiment, validate_experiment
from sim.scenario import ScenarioError
from tests.conftest import ROOT, gridsim

EXPERIMENTS = sorted(p for p in (ROOT / "experiments").glob("*.yaml")  # optimisations: in
                     if "\noptimize:" not in p.read_text(encoding="utf-8"))  # test_optimize.py


def _exp(**kw):
    data = {"name": "t", "factors": {"staffing.workers_per_grid": [1, 2]},
            "overrides": {"run.days": 2, "run.warmup_days": 1, "city.households": 1000}}
    data.update(kw)
    return validate_experiment(data, "test.yaml", ROOT / "experiments")


def _problems(**kw) -> str:
    with pytest.raises(ScenarioError) as e:
        _exp(**kw)
    return str(e.value)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_every_ready_experiment_validates(path):
    exp = load_experiment(path)
    pts = design_points(exp)
    assert len(pts) >= 2 and exp.spec.replications >= 2
    assert len({exp.scenario(p.values).hash() for p in pts}) == len(pts), "points must differ"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_every_ready_experiment_runs_briefly(path):
    """The first and last design points of each ready experiment, shortened to two days."""
    from sim.run import run_scenario
    from sim.scenario import scenario_with

    exp = load_experiment(path)
    pts = design_points(exp)
    for p in (pts[0], pts[-1]):
        sc = scenario_with(exp.scenario(p.values), {"run.days": 2, "run.warmup_days": 1})
        kpis = run_scenario(sc, run_seed(exp.spec.seed, p.point_id, 0), keep_cases=False).kpis
        assert set(exp.spec.kpis) <= set(kpis)


def test_ready_experiments_exist():
    names = {p.stem for p in EXPERIMENTS}
    assert {"smoke", "staffing_grid_size", "joint_response_rules", "incentives"} <= names


def test_unknown_factor_path_names_the_factor_and_allowed_fields():
    msg = _problems(factors={"staffing.workerz_per_grid": [1, 2]})
    assert "factors.staffing.workerz_per_grid" in msg and "workers_per_grid" in msg


def test_factor_naming_a_section_is_rejected():
    msg = _problems(factors={"staffing.pay": [1, 2]})
    assert "factors.staffing.pay" in msg and "staffing.pay.grid_worker" in msg


def test_factor_value_outside_the_schema_names_the_design_point_and_field():
    msg = _problems(factors={"staffing.workers_per_grid": [1, 0]})
    assert "design point 1" in msg and "staffing.workers_per_grid" in msg
    assert "greater than or equal to 1" in msg


def test_unknown_top_level_field_lists_allowed_fields():
    msg = _problems(replicationz=3)
    assert "replicationz: unknown field" in msg and "replications" in msg


def test_unknown_kpi_and_timeseries_are_rejected():
    assert "unknown KPI 'on_time'" in _problems(kpis=["on_time"])
    assert "timeseries: unknown series 'backlog'" in _problems(timeseries=["backlog"])


def test_design_rules():
    assert "power of 2" in _problems(design={"type": "sobol", "samples": 10},
                                     factors={"platform.misroute_prob": {"low": 0, "high": 0.2}})
    assert "needs samples" in _problems(design={"type": "latin_hypercube"})
    msg = _problems(factors={"platform.misroute_prob": {"low": 0, "high": 0.2}})
    assert "factors.platform.misroute_prob" in msg and "num or step" in msg
    assert "high must be greater than low" in _problems(
        factors={"platform.misroute_prob": {"low": 0.3, "high": 0.2, "num": 3}})


def test_base_file_missing_and_bad_override_paths():
    assert "base: scenario file not found" in _problems(base="nope.yaml")
    assert "overrides.run.dayz" in _problems(overrides={"run.dayz": 3})


def test_ranges_expand_to_levels_and_integer_fields_get_integers():
    exp = _exp(factors={"staffing.workers_per_grid": {"low": 1, "high": 4, "step": 1},
                        "platform.misroute_prob": {"low": 0.0, "high": 0.2, "num": 3}})
    pts = design_points(exp)
    assert len(pts) == 12
    assert sorted({p.values["staffing.workers_per_grid"] for p in pts}) == [1, 2, 3, 4]
    assert all(isinstance(p.values["staffing.workers_per_grid"], int) for p in pts)
    assert sorted({p.values["platform.misroute_prob"] for p in pts}) == [0.0, 0.1, 0.2]


def test_latin_hypercube_stratifies_every_factor():
    n = 20
    exp = _exp(design={"type": "latin_hypercube", "samples": n},
               factors={"platform.misroute_prob": {"low": 0, "high": 0.2},
                        "staffing.effort": {"low": 0.5, "high": 1.5}})
    x = np.array([p.x for p in design_points(exp)])
    for j in range(2):  # one sample in each of the n equal strata of every coordinate
        assert sorted(np.floor(x[:, j] * n).astype(int)) == list(range(n))


def test_sampling_designs_have_salib_sizes():
    f = {"platform.misroute_prob": {"low": 0, "high": 0.2},
         "staffing.workers_per_grid": {"low": 1, "high": 4}, "staffing.effort": [0.8, 1.2]}
    sob = _exp(design={"type": "sobol", "samples": 8}, factors=f)
    assert len(design_points(sob)) == 8 * (3 + 2)
    mor = _exp(design={"type": "morris", "samples": 5, "levels": 4}, factors=f)
    pts = design_points(mor)
    assert len(pts) == 5 * (3 + 1)
    assert {p.values["staffing.workers_per_grid"] for p in pts} <= {1, 2, 3, 4}
    assert {p.values["staffing.effort"] for p in pts} <= {0.8, 1.2}


def test_common_random_numbers_share_seeds_across_points_only():
    seeds = {(p, r): run_seed(99, p, r, crn=True) for p in range(4) for r in range(3)}
    for r in range(3):
        assert len({seeds[p, r] for p in range(4)}) == 1
    assert len({seeds[0, r] for r in range(3)}) == 3
    independent = {run_seed(99, p, r, crn=False) for p in range(4) for r in range(3)}
    assert len(independent) == 12
    assert run_seed(99, 0, 0) != run_seed(100, 0, 0)
    assert all(0 <= s < 2**63 for s in seeds.values())


def test_plan_is_replication_major_and_stable():
    exp = _exp()
    pts = design_points(exp)
    assert list(plan(pts, 2)) == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert list(plan(pts, {0: 3, 1: 1})) == [(0, 0), (1, 0), (0, 1), (0, 2)]


def test_hash_ignores_replications_but_not_the_design():
    a, b = _exp(replications=2), _exp(replications=9)
    c = _exp(factors={"staffing.workers_per_grid": [1, 3]})
    assert a.hash == b.hash != c.hash


def test_stored_spec_is_self_contained_and_reproduces_the_hash():
    exp = load_experiment(ROOT / "experiments" / "smoke.yaml")
    again = validate_experiment(exp.stored_spec(), "stored")
    assert again.hash == exp.hash
    assert [p.values for p in design_points(again)] == [p.values for p in design_points(exp)]


def test_cli_reports_experiment_errors_with_exit_2(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nfactors:\n  staffing.workerz_per_grid: [1, 2]\n")
    r = gridsim("sweep", str(bad), "--backend", "serial", "--store", str(tmp_path / "s.duckdb"))
    assert r.returncode == 2, r.stderr
    assert "factors.staffing.workerz_per_grid" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "s.duckdb").exists(), "nothing half-written"
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nname: b\nfactors: {run.seed: [1, 2]}\n")
    r = gridsim("sweep", str(dup), "--dry-run")
    assert r.returncode == 2 and "duplicate key" in r.stderr
    r = gridsim("sweep", str(ROOT / "experiments" / "smoke.yaml"), "--backend", "gpu")
    assert r.returncode == 2 and "--backend" in r.stderr


def test_base_scenario_file_is_found_relative_to_the_experiment_file(tmp_path: Path):
    (tmp_path / "scen").mkdir()
    (tmp_path / "scen" / "small.yaml").write_text(
        "name: small\ncity: {households: 900}\nrun: {days: 2, warmup_days: 1}\n")
    (tmp_path / "exp").mkdir()
    f = tmp_path / "exp" / "e.yaml"
    f.write_text("name: e\nbase: ../scen/small.yaml\noverrides: {run.days: 3}\n"
                 "factors: {staffing.effort: [0.8, 1.2]}\n")
    exp = load_experiment(f)
    assert exp.base.name == "small" and exp.base.city.households == 900
    assert exp.base.run.days == 3
    assert [exp.scenario(p.values).staffing.effort for p in design_points(exp)] == [0.8, 1.2]
    (tmp_path / "scen" / "small.yaml").write_text("name: small\ncity: {households: -5}\n")
    with pytest.raises(ScenarioError, match="base: city.households"):
        load_experiment(f)
