"""Every ready scenario runs (briefly), so none of them can rot."""

from __future__ import annotations

import json

import pytest

from sim.run import run_scenario
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS, gridsim

# keep the big ones small here; their full size is exercised in benchmarks/
SHRINK = {"city_large.yaml": {"city.households": 200000, "platform.operators": 20}}


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_ready_scenario_runs(path):
    over = {"run.days": 3, "run.warmup_days": 1, **SHRINK.get(path.name, {})}
    sc = load_scenario(path, over)
    r = run_scenario(sc, seed=1, keep_cases=False)
    assert r.kpis["incidents_total"] > 0
    assert 0 <= r.kpis["discovery_rate"] <= 1


def test_cli_run_writes_results(tmp_path):
    out = tmp_path / "res"
    r = gridsim("run", "--days", "4", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "On-time closure rate" in r.stdout and "按期结案率" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "cases.parquet", "grids.geojson", "grids.parquet", "kpis.json", "manifest.json",
        "timeseries.parquet"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["days"] == 4
    assert len(manifest["scenario_hash"]) == 16
    kpis = json.loads((out / "kpis.json").read_text())
    import pandas as pd

    cases = pd.read_parquet(out / "cases.parquet")
    assert len(cases) == manifest["incidents"]
    assert kpis["incidents_total"] <= len(cases)


def test_cli_json_output_matches_library():
    r = gridsim("run", "--days", "3", "--seed", "2", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)["kpis"]
    from sim.scenario import Scenario, scenario_with

    want = run_scenario(scenario_with(Scenario(), {"run.days": 3}), seed=2).kpis
    for k, v in want.items():
        assert got[k] == pytest.approx(v, nan_ok=True) if v == v else got[k] is None
