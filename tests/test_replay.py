"""Replay (sim/data/replay.py, sim/data/replaystats.py, ``gridsim replay``): a log's own requests
fed into a scenario as residents' reports and followed to closure; the same requests under two
policies give paired differences that move only where the lever binds."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from sim.data.replay import read_requests, replay, replay_once
from sim.data.replaystats import paired, summarise
from sim.scenario import Scenario, scenario_with
from tests.test_calibrate_cohort import nyc_export, T0

#: sanitation (dirty roads) busy all day with one crew a street; public works with spare crews
TIGHT = {"departments.sanitation.crews_per_street": 1,
         "departments.sanitation.handling_time": {"dist": "lognormal", "mean": 1.2, "cv": 0.5},
         "departments.public_works.crews_per_street": 4}


def _two_types(tmp_path):
    """Ten days of an export: dirty roads (sanitation) and street conditions (public works)."""
    a = nyc_export(tmp_path / "a.csv", "Dirty Condition", 220, 240.0, 300.0,
                   lambda rng, n: rng.exponential(10.0, n), seed=1)
    b = nyc_export(tmp_path / "b.csv", "Street Condition", 60, 240.0, 300.0,
                   lambda rng, n: rng.exponential(10.0, n), seed=2, agency="DOT")
    df = pd.concat([pd.read_csv(a, dtype=str), pd.read_csv(b, dtype=str)])
    df["Unique Key"] = np.arange(len(df))
    path = tmp_path / "log.csv"
    df.to_csv(path, index=False)
    return path


def test_requests_arrive_as_residents_reports_at_their_logged_times(tmp_path):
    """Every request becomes exactly one case, reported by a resident at its creation time,
    never fixed on the spot; a department that schedules its work sends the crew only after
    the lead."""
    sc = scenario_with(Scenario(), {"departments.sanitation.scheduling_lead":
                                    {"dist": "fixed", "value": 48.0}})
    req = read_requests(_two_types(tmp_path), "nyc311", sc)
    assert len(req) == 280 and req.t0 == T0
    run = replay_once(sc, req, seed=3, keep_cases=True)
    c = run.cases.sort_values("incident_id")
    assert list(c.incident_id) == list(range(280))
    np.testing.assert_allclose(c.t_report_h.to_numpy(), req.t_h)
    assert set(c.channel) == {"resident"} and not c.on_spot.any()
    san = c[(c.department == "sanitation") & c.t_handled_h.notna()]
    assert len(san) > 100
    assert ((san.t_handled_h - san.t_dispatch_h) >= 48.0).all()
    pw = c[(c.department == "public_works") & c.t_handled_h.notna()]
    assert ((pw.t_handled_h - pw.t_dispatch_h) < 48.0).mean() > 0.9


def test_paired_differences_move_only_where_the_lever_binds(tmp_path):
    """The same requests and seeds with two more sanitation crews a street: sanitation's
    saturated queue shortens (the interval of the paired difference is below 0); public works'
    time to close, which those crews cannot touch, does not move (its interval covers 0).
    Two more public-works crews, where public works has spare crews: no category moves."""
    sc = scenario_with(Scenario(), TIGHT)
    req = read_requests(_two_types(tmp_path), "nyc311", sc)
    base = replay(sc, req, 4, 11)
    more_san = replay(scenario_with(sc, {"departments.sanitation.crews_per_street": 3}), req, 4,
                      11)
    d = paired(req, more_san, base)["categories"]
    print(json.dumps(d, indent=1))
    san, infra = d["environment_sanitation"], d["infrastructure"]
    assert san["p50_h"]["ci"][1] < 0 and san["p90_h"]["ci"][1] < 0
    assert infra["p50_h"]["ci"][0] <= 0 <= infra["p50_h"]["ci"][1]
    more_pw = replay(scenario_with(sc, {"departments.public_works.crews_per_street": 6}), req, 4,
                     11)
    d2 = paired(req, more_pw, base)["categories"]
    for cat in ("environment_sanitation", "infrastructure"):
        lo, hi = d2[cat]["p50_h"]["ci"]
        assert lo <= 0 <= hi, cat
    # the summary has the interface's keys, with intervals over the replications
    doc = summarise(req, base)
    side = doc["categories"]["environment_sanitation"]
    assert set(side["log"]) == {"n", "closed_share", "p50_h", "p90_h"}
    assert {"n", "closed_share", "p50_h", "p90_h", "p50_h_ci", "p90_h_ci"} <= set(side["sim"])
    assert side["sim"]["p50_h_ci"][0] <= side["sim"]["p50_h"] <= side["sim"]["p50_h_ci"][1]
    assert set(doc["departments"]) >= {"sanitation", "public_works"}


def test_cli_writes_a_run_folder_and_paired_differences(tmp_path):
    from tests.conftest import gridsim_inproc

    log = _two_types(tmp_path)
    scen = tmp_path / "tight.yaml"
    scen.write_text(scenario_with(Scenario(), TIGHT).to_yaml(), encoding="utf-8")
    out = tmp_path / "run"
    r = gridsim_inproc("replay", str(log), "--format", "nyc311", "--scenario", str(scen),
                       "--out", str(out), "--reps", "2", "--seed", "5",
                       "--set", "departments.sanitation.crews_per_street=3")
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == {"manifest.json", "replay.json", "replay.csv",
                                               "cases.parquet", "paired.json"}
    man = json.loads((out / "manifest.json").read_text())
    assert man["log_sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    assert man["reps"] == 2 and len(man["seeds"]) == 2 and man["requests"] == 280
    assert man["scenario_hash"] != man["baseline_hash"] and man["streets"] == 2
    doc = json.loads((out / "replay.json").read_text())
    assert set(doc) == {"categories", "departments"}
    assert doc["categories"]["infrastructure"]["log"]["n"] == 60
    assert len(pd.read_parquet(out / "cases.parquet")) == 280
    assert "Paired differences" in r.stderr
    diff = json.loads((out / "paired.json").read_text())
    assert diff["categories"]["environment_sanitation"]["p50_h"]["diff"] < 0


@pytest.mark.parametrize("args, message", [
    (["--reps", "1"], "reps: needs at least 2 replications"),
    (["--format", "nope"], "unknown format 'nope'"),
    (["--set", "departments.sanitation.crews_per_street=-1"], "crews_per_street"),
    (["--streets", "0"], "streets: must be at least 1"),
    (["--from", "soon"], "not a date or time: 'soon'"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    from tests.conftest import gridsim_inproc

    log = _two_types(tmp_path)
    out = tmp_path / "run"
    argv = ["replay", str(log), "--format", "nyc311", "--out", str(out)]
    for k, v in zip(args[::2], args[1::2]):
        if k in argv:
            argv[argv.index(k) + 1] = v
        else:
            argv += [k, v]
    r = gridsim_inproc(*argv)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()



def test_a_share_of_the_streets_keeps_the_load_per_street(tmp_path):
    """--streets: a city cut to fewer streets (crews per street kept) gets the same share of
    the requests, the same ones for the same seed and whatever the policy."""
    from sim.cli.replay import _on_streets
    from sim.data.sizing import n_streets

    sc = scenario_with(Scenario(), {"city.households": 64_000})
    req = read_requests(_two_types(tmp_path), "nyc311", sc)
    more = scenario_with(sc, {"departments.sanitation.crews_per_street": 5})
    small, small_base, sub = _on_streets(more, sc, req, 2, seed=7)
    share = small.city.households / sc.city.households
    assert n_streets(small) == 2 < n_streets(sc) and n_streets(small_base) == 2
    assert small.departments["sanitation"].crews_per_street == 5
    assert abs(len(sub) - share * len(req)) < 4 * (share * (1 - share) * len(req)) ** 0.5
    again = _on_streets(sc, None, req, 2, seed=7)[2]
    np.testing.assert_array_equal(again.t_h, sub.t_h)
