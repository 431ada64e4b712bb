"""Scenario discovery: PRIM and CART recover a known failing box from a synthetic store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.experiment.design import design_points, run_seed
from sim.experiment.discover import cart, discover, prim
from sim.experiment.spec import validate_experiment
from sim.experiment.store import ResultsStore
from tests.conftest import gridsim_inproc

EFFORT, MISROUTE, SKILL = "staffing.effort", "platform.misroute_prob", "staffing.skill_mean"


def in_box(effort, misroute):
    """The known failing box: low effort and many misroutes."""
    return (effort <= 1.0) & (misroute >= 0.15)


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    """A Latin-hypercube 'sweep' store of 300 points whose on_time_rate fails (w.p. 0.97)
    inside the box and passes (w.p. 0.98) outside it; one replication per point."""
    exp = validate_experiment({
        "name": "synthetic", "overrides": {"city.households": 2000},
        "factors": {EFFORT: {"low": 0.5, "high": 2.0}, MISROUTE: {"low": 0.0, "high": 0.3},
                    SKILL: {"low": 0.5, "high": 1.0}},
        "design": {"type": "latin_hypercube", "samples": 300}, "replications": 1,
        "kpis": ["on_time_rate"]}, "synthetic")
    pts = design_points(exp)
    rng = np.random.default_rng(5)
    fails = [rng.uniform() < (0.97 if in_box(p.values[EFFORT], p.values[MISROUTE]) else 0.02)
             for p in pts]
    path = tmp_path_factory.mktemp("disc") / "synthetic.duckdb"
    with ResultsStore(path) as st:
        st.attach(exp, pts)
        run_rows = pd.DataFrame({"point_id": [p.point_id for p in pts], "replication": 0,  # noqa: F841
                             "seed": [run_seed(exp.spec.seed, p.point_id, 0) for p in pts],
                             "status": "ok", "experiment_hash": exp.hash})
        kpi_rows = pd.DataFrame({"point_id": [p.point_id for p in pts], "replication": 0,  # noqa: F841
                           "kpi": "on_time_rate", "value": [0.90 if f else 0.97 for f in fails]})
        st.con.execute("INSERT INTO runs (point_id, replication, seed, status, experiment_hash) "
                       "SELECT * FROM run_rows")
        st.con.execute("INSERT INTO kpis SELECT * FROM kpi_rows")
    return path


def limits(box) -> dict:
    return {lim.lever: lim for lim in box.limits}


def test_prim_recovers_the_failing_box(synthetic_store):
    with ResultsStore(synthetic_store, read_only=True) as st:
        d = discover(st, "on_time_rate", "<", 0.95)
    box = d.boxes[0]
    lim = limits(box)
    assert set(lim) == {EFFORT, MISROUTE}, box.words()       # skill is not part of it
    assert (lim[EFFORT].low or 0.5) < 0.55 and lim[EFFORT].high == pytest.approx(1.0, abs=0.08)
    assert lim[MISROUTE].high is None and lim[MISROUTE].low == pytest.approx(0.15, abs=0.03)
    assert box.coverage >= 0.8 and box.density >= 0.85
    assert lim[MISROUTE].quasi_p < 1e-6 and lim[EFFORT].quasi_p < 1e-6
    # the trajectory trades coverage for density
    t = d.trajectory
    assert t.coverage.iloc[0] == 1 and t.density.iloc[-1] > t.density.iloc[0]
    assert "staffing.effort ≤ 1" in box.words("on_time_rate < 0.95")


def test_cart_recovers_the_failing_box(synthetic_store):
    with ResultsStore(synthetic_store, read_only=True) as st:
        d = discover(st, "on_time_rate", "<", 0.95, method="cart")
    lim = limits(d.boxes[0])
    assert lim[EFFORT].high == pytest.approx(1.0, abs=0.08)
    assert lim[MISROUTE].low == pytest.approx(0.15, abs=0.03)
    assert d.boxes[0].density >= 0.85


def test_prim_on_categorical_levers_and_no_failure():
    x = pd.DataFrame({"mode": ["a", "b", "c"] * 40, "n": np.arange(120) % 4})
    y = (x["mode"] == "b").to_numpy() & (x.n >= 2).to_numpy()
    boxes, _ = prim(x, y, mass_min=0.02)
    lim = limits(boxes[0])
    assert lim["mode"].values == ("b",) and lim["n"].low == 2 and boxes[0].density == 1
    assert cart(x, y, min_leaf=2)[0].density == 1
    boxes, _ = prim(x, np.zeros(120, dtype=bool))
    assert boxes == []


def test_discover_command(synthetic_store, tmp_path):
    r = gridsim_inproc("discover", str(synthetic_store), "--kpi", "on_time_rate",
                       "--below", "0.95")
    assert r.returncode == 0, r.stderr
    assert "box 1: where" in r.stdout and "staffing.effort ≤" in r.stdout
    r = gridsim_inproc("discover", str(synthetic_store), "--kpi", "on_time_rate")
    assert r.returncode == 2 and "--below" in r.stderr
    r = gridsim_inproc("discover", str(synthetic_store), "--kpi", "discovery_rate",
                       "--below", "0.9")
    assert r.returncode == 2 and "not in this store" in r.stderr
    r = gridsim_inproc("discover", str(tmp_path / "none.duckdb"), "--kpi", "on_time_rate",
                       "--below", "0.9")
    assert r.returncode == 2
