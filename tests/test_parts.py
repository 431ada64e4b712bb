"""A city run in parts (sim.engine.parts): exact where nothing couples the parts, flagged where
the platform does, refused where a section acts across districts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.engine.parts import check_parts, coupling, plan_parts
from sim.run import run_scenario
from sim.scenario import ScenarioError, load_scenario

# ten districts of two streets of two communities; enough operators that nobody waits
CITY = {"city.households": 64000, "city.communities_per_street": 2,
        "city.streets_per_district": 2, "run.days": 10, "platform.operators": 40}


def _scenario(**extra):
    return load_scenario("scenarios/baseline.yaml", {**CITY, **extra})


def _sorted(df):
    return df.sort_values("incident_id").reset_index(drop=True)


def _assert_same_kpis(a: dict, b: dict, tol: float = 1e-12) -> None:
    assert a.keys() == b.keys()
    for k, x in a.items():
        y = b[k]
        assert (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=tol,
                                                                 abs_tol=tol), k


@pytest.fixture(scope="module")
def whole():
    return run_scenario(_scenario(), 5)


@pytest.mark.parametrize("parts", [2, 3])
def test_parts_reproduce_the_whole_city(whole, parts):
    r = run_scenario(_scenario(), 5, parts=parts)
    info = r.manifest["parts"]
    assert info["n"] == parts and info["exact"] and info["operator_waits"] == [0] * parts
    assert sum(info["operators"]) == 40
    # the same case log, row for row (parts write their rows part by part)
    assert _sorted(r.cases).equals(_sorted(whole.cases))
    assert whole.kpis["complaints"] > 0 and whole.kpis["filing_rate"] < 1
    _assert_same_kpis(r.kpis, whole.kpis)
    assert list(r.timeseries.columns) == list(whole.timeseries.columns)
    np.testing.assert_allclose(r.timeseries.to_numpy(float), whole.timeseries.to_numpy(float),
                               rtol=1e-12, atol=1e-12)
    assert r.grids.equals(whole.grids)
    assert r.manifest["incidents"] == whole.manifest["incidents"]


def test_beats_across_districts_keep_their_districts_together():
    # fewer workers than grids: beats of consecutive grids, some crossing a district boundary
    sc = _scenario(**{"staffing.workers_total": 45})
    plan = plan_parts(sc, 4)
    from sim.engine.model import GridModel

    m = GridModel(sc)
    beat = m.beats.beat_of_grid
    part_of_grid = np.argmax(np.vstack([p.own for p in plan]), axis=0)
    for b in np.unique(beat):
        assert len(set(part_of_grid[beat == b].tolist())) == 1
    a = run_scenario(sc, 2, keep_cases=True)
    r = run_scenario(sc, 2, parts=4)
    assert r.manifest["parts"]["exact"]
    assert _sorted(r.cases).equals(_sorted(a.cases))


def test_a_plan_shares_the_city_and_its_platform():
    sc = _scenario(**{"platform.operators": 7})
    plan = plan_parts(sc, 3)
    own = np.vstack([p.own for p in plan])
    assert (own.sum(axis=0) == 1).all()  # every grid in exactly one part
    assert sum(p.operators for p in plan) == 7 and min(p.operators for p in plan) >= 1
    edges = [p.invalid_share for p in plan]
    assert edges[0][0] == 0.0 and edges[-1][1] == 1.0
    assert all(edges[k][1] == edges[k + 1][0] for k in range(len(edges) - 1))
    from sim.engine.model import GridModel

    district = GridModel(sc).city.district
    for p in plan:  # whole districts only
        inside = set(district[p.own].tolist())
        assert not inside & set(district[~p.own].tolist())
    # more parts than districts: as many parts as districts (each needs an operator)
    assert len(plan_parts(_scenario(), 40)) == 10
    with pytest.raises(ScenarioError, match="need at least one operator each"):
        plan_parts(sc, 8)


def test_a_binding_platform_is_flagged_and_the_incidents_stay_the_same(whole):
    sc = _scenario(**{"platform.operators": 2})
    a = run_scenario(sc, 5)
    r = run_scenario(sc, 5, parts=2)
    info = r.manifest["parts"]
    assert not info["exact"] and sum(info["operator_waits"]) > 0
    assert "operators" in info["why"]
    # the same incidents occur (ids, cells, times), whatever the coupling did to their cases
    cols = ["incident_id", "cell", "subtype", "t_occur_h"]
    assert _sorted(r.cases)[cols].equals(_sorted(a.cases)[cols])
    assert _sorted(a.cases)[cols].equals(_sorted(whole.cases)[cols])


@pytest.mark.parametrize("name, field", [
    ("fire_drill", "emergency.enabled"),
    ("joint_meeting_weekly", "joint_meeting.enabled"),
    ("smart_hotspot_patrol", "smart_platform.hotspot_patrol.enabled"),
    ("incentives_quota", "appraisal.worker_scheme"),
    ("residents_campaigns", "residents.campaigns"),
])
def test_sections_that_act_across_districts_are_refused(name, field):
    sc = load_scenario(f"scenarios/{name}.yaml")
    assert field in coupling(sc)
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        check_parts(sc, 2)
    check_parts(sc, 1)  # one part is always allowed
    assert coupling(load_scenario("scenarios/city_large.yaml")) == []


def test_the_command_refuses_bad_parts_cleanly(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "scenarios/fire_drill.yaml", "--parts", "2",
                              "--out", str(out)])
    assert res.exit_code == 2 and "emergency.enabled" in res.output
    assert "Traceback" not in res.output and not out.exists()
    res = runner.invoke(app, ["run", "--parts", "0"])
    assert res.exit_code == 2 and "between 1 and 64" in res.output
    sets = [x for k, v in {**CITY, "platform.operators": 1}.items()
            for x in ("--set", f"{k}={v}")]
    res = runner.invoke(app, ["run", *sets, "--parts", "2", "--out", str(out)])
    assert res.exit_code == 2 and "at least one operator each" in res.output
    assert "Traceback" not in res.output and not out.exists()


def test_parts_are_deterministic_and_run_on_a_dask_client(whole):
    from distributed import Client, LocalCluster

    sc = _scenario()
    a = run_scenario(sc, 5, parts=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        b = run_scenario(sc, 5, parts=2, executor=client)
    assert a.cases.equals(b.cases)  # row for row, in the same order
    _assert_same_kpis(a.kpis, b.kpis, tol=0.0)
    assert _sorted(b.cases).equals(_sorted(whole.cases))


def test_a_failing_part_leaves_nothing_behind(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import sim.engine.parts as parts_mod

    real = parts_mod.run_part

    def flaky(sc, seed, part, cases_file, progress=None):
        if part.index == 1:
            raise RuntimeError("part 1 failed")
        return real(sc, seed, part, cases_file, progress)

    monkeypatch.setattr(parts_mod, "run_part", flaky)
    out = tmp_path / "out"
    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="part 1 failed"):
        run_scenario(_scenario(**{"run.days": 3}), 5, parts=2, out_dir=out, executor=pool)
    assert not any(out.rglob("*.parquet")) and not (out / "parts").exists()


def test_progress_follows_the_slowest_part():
    seen = []
    run_scenario(_scenario(**{"run.days": 4}), 5, parts=2,
                 progress=lambda now, horizon, events: seen.append((now, horizon, events)))
    assert seen and seen[-1][0] == seen[-1][1] == 96.0
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert [s[2] for s in seen] == sorted(s[2] for s in seen) and seen[-1][2] > 0
