"""Emergencies and joint response (issue 3, S3.2): plans, dispatch rules, escalation, mutual aid,
hazards, the drill API, the trace and ``gridsim drill``."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from sim.emergency import Drill, narrate, read_trace, station_coverage
from sim.emergency.hazards import _grow
from sim.emergency.stations import station_grids
from sim.emergency.trace import narrative
from sim.engine.model import GridModel
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_with
from sim.scenario.emergency import LEVELS
from tests.conftest import SCENARIOS, gridsim

FIRE = SCENARIOS / "fire_drill.yaml"
FLOOD = SCENARIOS / "flood_drill.yaml"
SEEDS = (1, 3, 5, 11)


@pytest.fixture(scope="module")
def fire() -> Scenario:
    return load_scenario(FIRE)


@pytest.fixture(scope="module")
def flood() -> Scenario:
    return load_scenario(FLOOD)


def drill(sc: Scenario, seed: int, **sets) -> Drill:
    d = Drill(scenario_with(sc, {f"emergency.{k.replace('__', '.')}": v for k, v in sets.items()})
              if sets else sc, seed)
    d.run()
    return d


def _t(x: float) -> float:
    """A time that was never reached counts as later than any that was."""
    return math.inf if math.isnan(x) else x


# ------------------------------------------------------------------------------------ baseline
def test_off_by_default_and_baseline_unchanged():
    sc = Scenario()
    assert sc.emergency.enabled is False
    assert set(sc.emergency.kinds) >= {"building_fire", "flood", "gas_leak", "public_order"}
    m = GridModel(scenario_with(sc, {"run.days": 1, "run.warmup_days": 0}), seed=1)
    assert m.emergency is None
    ctx = m.finish()
    assert ctx.emergencies is None
    assert all(k in KPI_DEFINITIONS for k in ("em_first_response_min", "em_full_joint_response_min",
                                               "em_containment_min", "em_damage_yuan",
                                               "em_people_affected", "em_max_level",
                                               "em_mutual_aid_units", "em_routine_cases_delayed"))


def test_plans_name_departments_lead_and_levels():
    kinds = Scenario().emergency.kinds
    fire_plan = kinds["building_fire"].plan
    assert fire_plan.lead == "fire" and list(fire_plan.levels) == list(LEVELS)
    triggers = [fire_plan.levels[lv].trigger for lv in LEVELS]
    assert triggers == sorted(triggers)
    assert kinds["flood"].plan.lead == "water" and kinds["gas_leak"].plan.lead == "gas"
    assert {"gas", "police", "fire"} <= set(kinds["gas_leak"].plan.levels["IV"].units)


def test_bad_plan_is_a_scenario_error_naming_the_field():
    with pytest.raises(ScenarioError) as err:
        scenario_with(Scenario(), {"emergency.enabled": True,
                                   "emergency.kinds.flood.plan.levels.III.units": {"navy": 2}})
    assert "emergency.kinds.flood.plan.levels.III.units.navy" in str(err.value)
    assert "allowed:" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        Drill(scenario_with(load_scenario(FIRE), {"emergency.incidents": [
            {"kind": "building_fire", "at_h": 1, "grid": 9999}]}))
    assert "emergency.incidents.0.grid" in str(err.value)
    with pytest.raises(ScenarioError, match="emergency.incidents.0.at_h"):
        Drill(scenario_with(load_scenario(FIRE), {"emergency.incidents": [
            {"kind": "building_fire", "at_h": 30, "grid": 1}]}))


# ----------------------------------------------------------------------------------- hazards
def test_growth_solution_is_exact():
    # dS/dt = a·S − c has S(t) = (S0 − c/a)·e^{at} + c/a
    s1, integ = _grow(100.0, 0.2, 10.0, 3.0)
    assert s1 == pytest.approx((100 - 50) * math.exp(0.6) + 50)
    assert integ == pytest.approx((100 - 50) * (math.exp(0.6) - 1) / 0.2 + 50 * 3)
    s1, _ = _grow(100.0, 0.2, 30.0, 60.0)  # control beats growth: it reaches 0 and stays there
    assert s1 == 0.0
    assert _grow(5.0, 0.0, 1.0, 2.0)[0] == pytest.approx(3.0)


def test_hazards_match_their_closed_forms():
    from sim.emergency.hazards import FloodState, GrowthState
    from sim.scenario.emergency import FloodHazard, GrowthHazard

    city = GridModel(scenario_with(Scenario(), {"run.days": 1, "run.warmup_days": 0}), 1).city
    # unchecked growth with ample fuel is exponential: S(t) = S0·e^{rt}, B(t) = S(t)
    h = GrowthState(GrowthHazard(measure_en="a", measure_zh="a", unit="m²", initial=10,
                                 growth_per_min=0.1, capacity_per_grid=1e12,
                                 control_per_unit_per_min={"fire": 1}), 0, city)
    for _ in range(60):
        h.step(0.5, 0.0, False, np.random.default_rng(0))
    assert h.severity == pytest.approx(10 * math.exp(3.0), rel=1e-6)
    assert h.burned == pytest.approx(10 * math.exp(3.0), rel=1e-6)
    # block rain R for T hours over drains D: stored (R·c − D)·T, depth × ponding / 10
    cfg = FloodHazard(rain_peak_mm_per_h=100, rain_duration_h=1, rain_profile="block",
                      runoff_coefficient=0.8, drainage_mm_per_h=30, pump_mm_per_h={"water": 40})
    f = FloodState(cfg, city, 0.0, np.random.default_rng(0), np.ones(city.n_grids, bool), 0)
    for k in range(120):
        f.step(k * 0.5 / 60, 0.5, np.zeros(city.n_grids))
    assert f.stored_mm == pytest.approx(np.full(city.n_grids, 50.0))
    assert f.depth_cm == pytest.approx(5.0 * f.ponding)
    for k in range(120, 240):  # after the rain the drains empty it at D = 30 mm/h
        f.step(k * 0.5 / 60, 0.5, np.zeros(city.n_grids))
    assert f.stored_mm == pytest.approx(np.full(city.n_grids, 20.0))
    for k in range(240, 320):  # … and it stays empty
        f.step(k * 0.5 / 60, 0.5, np.zeros(city.n_grids))
    assert f.stored_mm.max() == 0.0


def test_fire_damage_grows_while_it_waits(fire):
    # The same fire reported later (slower platform) burns more.
    quick = drill(fire, 5, rules__platform_dispatch_min={"dist": "fixed", "value": 0.5})
    slow = drill(fire, 5, rules__platform_dispatch_min={"dist": "fixed", "value": 8})
    assert slow.kpis()["em_damage_yuan"] > quick.kpis()["em_damage_yuan"]
    assert slow.kpis()["em_people_affected"] > quick.kpis()["em_people_affected"]


def test_unattended_fire_spreads_to_neighbouring_grids(fire):
    d = drill(fire, 3, responders__fire__units_per_station=1)
    e = d.manager.emergencies[0]
    spread = [r for r in d.events if r["action"] == "spread"]
    assert spread and e.hazard.n_grids == 1 + len(spread)
    origin = e.grid
    for r in spread:  # every new grid touches one that was already burning
        burning_before = {origin} | {s["grid"] for s in spread if s["time_h"] < r["time_h"]}
        assert burning_before & set(d.model.city.neighbours(r["grid"]).tolist())


# ----------------------------------------------------------------------------- joint response
@pytest.mark.parametrize("command", ["platform", "lead"])
def test_simultaneous_full_joint_response_no_later_than_sequential(fire, flood, command):
    reached = 0
    for sc in (fire, flood):
        for seed in SEEDS:
            sim = drill(sc, seed, rules__dispatch="simultaneous", rules__command=command)
            seq = drill(sc, seed, rules__dispatch="sequential", rules__command=command)
            t_sim = _t(sim.kpis()["em_full_joint_response_min"])
            assert t_sim <= _t(seq.kpis()["em_full_joint_response_min"]) + 1e-9
            reached += t_sim < math.inf
    assert reached >= 4  # the comparison is not vacuous


def test_lead_command_is_slower_than_unified_platform_command(fire):
    worse = 0
    for seed in SEEDS:
        plat = drill(fire, seed, rules__command="platform").kpis()
        lead = drill(fire, seed, rules__command="lead").kpis()
        assert _t(plat["em_full_joint_response_min"]) <= _t(lead["em_full_joint_response_min"])
        worse += _t(plat["em_full_joint_response_min"]) < _t(lead["em_full_joint_response_min"])
    assert worse >= 1


def _two_fires(sc: Scenario) -> Scenario:
    """Two fires in one station district, the second while the first holds its trucks."""
    return scenario_with(sc, {
        "emergency.incidents": [{"kind": "building_fire", "at_h": 10.5, "grid": 0},
                                {"kind": "building_fire", "at_h": 10.6, "grid": 1}],
        "emergency.rules.micro_fire_stations.enabled": False,
        "emergency.rules.first_responders.enabled": False})


def test_mutual_aid_never_delays_first_response(fire):
    sc = _two_fires(fire)
    faster = 0
    for seed in SEEDS:
        on = drill(sc, seed, rules__mutual_aid__enabled=True).table()
        off = drill(sc, seed, rules__mutual_aid__enabled=False).table()
        first_on = on.t_first_response_h - on.t_alarm_h
        first_off = off.t_first_response_h - off.t_alarm_h
        assert (first_on.fillna(np.inf) <= first_off.fillna(np.inf) + 1e-9).all()
        faster += int((first_on < first_off - 1e-9).sum())
        assert off.mutual_aid_units.sum() == 0
    assert faster >= 1  # the second fire gets the other station's trucks sooner


def test_escalation_happens_exactly_when_a_trigger_is_crossed(fire):
    sc = scenario_with(fire, {
        **{f"emergency.kinds.building_fire.plan.levels.{lv}.trigger_grids": None
           for lv in ("III", "II", "I")},
        "emergency.responders.fire.turnout_min": 12,  # trucks late: the fire climbs the levels
        "emergency.rules.micro_fire_stations.enabled": False})
    for factor in (1.0, 1.5):
        s = scenario_with(sc, {"emergency.rules.escalation_factor": factor})
        plan = s.emergency.kinds["building_fire"].plan
        d = Drill(s, 5)
        d.run_until(10.5)
        tick = s.emergency.tick_min / 60.0
        running_max, declared, seen = -1.0, False, set()
        while not d.finished and d.now_h < 12:
            d.step(tick / 3)
            e = d.manager.emergencies[0]  # what drill.state() reports, without building it
            if math.isnan(e.t_decision):
                assert e.level == -1
                continue
            declared = True
            running_max = max(running_max, e.hazard.severity)
            expect = max(i for i, lv in enumerate(LEVELS)
                         if plan.levels[lv].trigger * factor <= running_max + 1e-9)
            assert e.level == expect, (d.now_h, running_max, e.level)
            seen.add(e.level)
        assert declared and len(seen) >= 3, seen  # several levels crossed, each at its trigger


def test_flood_with_no_rain_never_escalates(flood):
    d = drill(flood, 1, kinds__flood__hazard__rain_peak_mm_per_h=0)
    assert not any(r["action"] in ("warning", "alarm", "level_declared", "dispatched")
                   for r in d.events)
    k = d.kpis()
    assert k["em_max_level"] == 0 and k["em_units_sent"] == 0 and k["em_damage_yuan"] == 0
    assert d.finished and d.now_h < 15.0  # over once the (empty) rain event has passed
    assert k["em_not_contained"] == 0 and math.isnan(k["em_containment_min"])


def test_flood_warnings_follow_the_plan_and_pumps_lower_damage(flood):
    d = drill(flood, 1)
    warn = [r for r in d.events if r["action"] == "warning"]
    colours = [r["detail"].split()[0] for r in warn]
    assert colours[:2] == ["blue", "yellow"] and len(warn) >= 3
    plan = flood.emergency.kinds["flood"].plan
    for r in warn:
        assert r["value"] >= plan.levels[r["level"]].trigger
    weak = drill(flood, 1, kinds__flood__hazard__pump_mm_per_h={"water": 0.0, "public_works": 0.0,
                                                                  "fire": 0.0})
    assert weak.kpis()["em_damage_yuan"] > d.kpis()["em_damage_yuan"]


# --------------------------------------------------------------------------------- stations
def test_five_minute_coverage_at_the_norm_falls_as_stations_are_removed():
    sc = scenario_with(Scenario(), {"city.households": 200000, "emergency.enabled": True,
                                    "city.zones": {"residential": {"share": 1.0,
                                                                   "households_per_km2": 3000}}})
    m = GridModel(scenario_with(sc, {"run.days": 1, "run.warmup_days": 0}), seed=1)
    r = sc.emergency.responders["fire"]
    sites, home = station_grids(m.city, r)
    area = m.city.area_km2.sum()
    assert len(sites) == math.ceil(area / 7.0)
    district_area = np.bincount(home, weights=m.city.area_km2)
    assert district_area.mean() <= 7.0
    cover = [station_coverage(m.city, r, 35.0, 5.0, sites[:k]) for k in range(len(sites), 0, -1)]
    print(f"5-minute coverage with {len(sites)} … 1 stations: {np.round(cover, 3).tolist()}")
    assert cover[0] > 0.8
    assert all(a >= b for a, b in zip(cover, cover[1:])) and cover[-1] < cover[0] - 0.3


def test_simulated_five_minute_share_reported_and_falls_with_fewer_stations():
    from sim.run import run_scenario

    base = {"city.households": 200000, "emergency.enabled": True, "run.days": 8,
            "run.warmup_days": 1, "emergency.kinds.building_fire.rate_per_day": 4.0,
            "city.zones": {"residential": {"share": 1.0, "households_per_km2": 3000}}}
    share = {}
    for k in (None, 4):  # None: stations at the 7 km² norm (10 stations here)
        sc = scenario_with(Scenario(), {**base, "emergency.responders.fire.station_count": k})
        res = run_scenario(sc, seed=11, keep_cases=False)
        assert res.kpis["emergencies"] >= 20
        share[k] = res.kpis["em_lead_5min_share"]
    print(f"fires reached within 5 min: {share[None]:.1%} at the norm, {share[4]:.1%} with 4")
    assert share[None] >= 0.85 and share[4] < share[None] - 0.2


def test_routine_work_competes_for_shared_crews(flood):
    preempted_cases, faster, delayed = 0, 0, 0
    for seed in (1, 4, 5, 20261127):
        wait = drill(flood, seed, rules__routine_work="wait")
        pre = drill(flood, seed, rules__routine_work="preempt")
        assert not any(r["action"] == "preempted" for r in wait.events)
        delayed += wait.kpis()["em_routine_cases_delayed"] > 0  # routine cases queue behind it
        # pre-emption hands emergencies their crews no later
        t_pre = pre.kpis()["em_full_joint_response_min"]
        t_wait = wait.kpis()["em_full_joint_response_min"]
        assert t_pre <= t_wait + 1e-9
        faster += t_pre < t_wait - 1e-9
        ids = {int(r["detail"].split()[1]) for r in pre.events if r["action"] == "preempted"}
        preempted_cases += len(ids)
        # the pre-empted routine cases survive: a crew comes back and finishes the work
        pre.model.finish()
        cases = pre.model.case_log.frame().set_index("incident_id")
        assert ids <= set(cases.index)
        assert cases.loc[sorted(ids), "t_handled_h"].notna().all()
    assert preempted_cases > 0 and faster >= 1 and delayed >= 3


# --------------------------------------------------------------------------------- drill API
def test_unit_out_of_service_mid_drill_sends_a_replacement(fire):
    d = Drill(fire, 5)
    d.run_until(10.5)
    busy: list = []
    while not busy and d.now_h < 11:
        d.step(1 / 60)
        busy = [u for u in d.state()["units"] if u["responder"] == "fire" and u["emergency"] == 0]
    assert busy and busy[0]["status"] == "dispatched", "fire units are on their way"
    uid = busy[0]["unit"]
    d.unit_out_of_service(uid)
    d.run()
    acts = [(r["action"], r["actor"]) for r in d.events]
    assert ("out_of_service", uid) in acts and ("withdrawn", uid) in acts
    unit = d.manager.units[uid]
    assert unit.status == "out_of_service"
    sent_after = [r for r in d.events if r["action"] == "dispatched" and r["responder"] == "fire"
                  and r["time_h"] >= d.events[acts.index(("withdrawn", uid))]["time_h"]]
    assert sent_after and all(r["actor"] != uid for r in sent_after)
    d.unit_back_in_service(uid)
    assert unit.status == "available"
    with pytest.raises(ValueError):
        d.unit_out_of_service("F999")


def test_inject_a_second_incident_and_inspect_state(fire):
    d = Drill(fire, 5)
    d.run_until(10.6)
    eid = d.inject("gas_leak", grid=40)
    assert eid == 1
    d.step(0.25)  # alarmed, units still out (the leak is contained within the half hour)
    st = d.state()
    assert [e["kind"] for e in st["emergencies"]] == ["building_fire", "gas_leak"]
    assert st["emergencies"][1]["alarmed"]
    assert {"unit", "status", "x_km", "y_km", "emergency"} <= set(st["units"][0])
    moving = [u for u in st["units"] if u["status"] in ("dispatched", "on_scene")]
    assert moving
    fire_stations = [x for x in d.stations() if x["responder"] == "fire"]
    assert len(fire_stations) == 2 and all(x["units"] for x in fire_stations)
    assert {u["station"] for u in st["units"] if u["responder"] == "fire"} == {"S1", "S2"}
    assert d.inject("building_fire", grid=60, at_h=d.now_h + 2.0) == -1  # later: id when it occurs
    d.run()
    assert d.finished and d.kpis()["emergencies"] == 3
    assert d.manager.emergencies[2].t_occur == pytest.approx(10.85 + 2.0)
    with pytest.raises(ValueError):
        d.inject("meteor", grid=1)
    with pytest.raises(ValueError):
        d.inject("building_fire", grid=1, at_h=1.0)  # in the past


def test_public_order_incident_is_met_by_police():
    sc = scenario_with(Scenario(), {"emergency.enabled": True, "run.days": 1,
                                    "run.warmup_days": 0, "emergency.incidents": [
                                        {"kind": "public_order", "at_h": 20, "grid": 3}]})
    d = drill(sc, 2)
    arrived = {r["responder"] for r in d.events if r["action"] == "arrived"}
    assert "police" in arrived and d.manager.emergencies[0].t_contained > 20


# ------------------------------------------------------------------------------------ trace
def test_same_seed_same_trace_and_replay_reproduces_narrative(fire, tmp_path):
    a, b = drill(fire, 5), drill(fire, 5)
    dump = lambda d: json.dumps(d.events, sort_keys=True, default=str)  # noqa: E731
    assert dump(a) == dump(b)
    assert dump(a) != dump(drill(fire, 3))
    live = a.narrative()
    assert any("消防 Fire and rescue unit F" in line and "dispatched from station S" in line
               for line in live)
    for name in ("t.jsonl", "t.parquet"):
        a.write_trace(tmp_path / name)
        rows = read_trace(tmp_path / name)
        assert narrative(rows) == live
        assert narrative(rows, verbose=True) == a.narrative(verbose=True)
    moves = [r for r in read_trace(tmp_path / "t.jsonl") if r["action"] == "dispatched"]
    assert all(not math.isnan(r["x_km"]) and not math.isnan(r["to_x_km"]) for r in moves)
    assert narrate({**moves[0], "action": "hazard"}) is None


# -------------------------------------------------------------------------------------- CLI
def test_cli_drill_prints_narrative_kpis_and_writes_trace(tmp_path):
    out = tmp_path / "fire.jsonl"
    r = gridsim("drill", str(FIRE), "--seed", "5", "--trace", str(out))
    assert r.returncode == 0, r.stderr
    assert "消防 Fire and rescue unit F" in r.stdout and "Time to full joint response" in r.stdout
    assert "Highest response level" in r.stdout and out.exists()
    replay = gridsim("drill", "--replay", str(out))
    assert replay.returncode == 0
    live = [line for line in r.stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert len(live) > 20
    assert [line for line in replay.stdout.splitlines() if line] == live


@pytest.mark.parametrize("args, message", [
    (["--set", "emergency.rules.dispatch=sometimes"], "emergency.rules.dispatch"),
    (["--trace", "x.csv"], "trace"),
])
def test_cli_drill_bad_input_exits_2(args, message):
    r = gridsim("drill", str(FIRE), *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_a_scripted_grid_beyond_the_cut_city_is_an_input_error(tmp_path):
    """Larger grids cut fewer of them: a drill's grid 20 no longer exists at 4,000 households
    per grid. A run (not only a drill) says so, naming the field, and writes nothing."""
    from sim.run import run_scenario
    from tests.conftest import gridsim_inproc

    gas = SCENARIOS / "gas_leak_drill.yaml"
    big = scenario_with(load_scenario(gas), {"city.households_per_grid": 4000})
    with pytest.raises(ScenarioError, match=r"emergency\.incidents\.0\.grid: must be between 0"):
        run_scenario(big)
    out = tmp_path / "out"
    r = gridsim_inproc("run", str(gas), "--set", "city.households_per_grid=4000",
                       "--out", str(out))
    assert r.returncode == 2 and "emergency.incidents.0.grid" in r.stderr
    assert not out.exists()


def test_cli_drill_needs_emergencies_on():
    r = gridsim("drill", str(SCENARIOS / "baseline.yaml"))
    assert r.returncode == 2 and "emergency.enabled" in r.stderr


def test_emergency_work_counts_in_crew_utilisation(flood):
    from sim.run import run_scenario

    off = run_scenario(scenario_with(flood, {"emergency.enabled": False}), seed=1)
    on = run_scenario(flood, seed=1)
    assert on.context.crew_busy_h["water"] > off.context.crew_busy_h["water"]
    assert on.kpis["crew_utilization"] > off.kpis["crew_utilization"]
    assert math.isnan(off.kpis["em_units_sent"]) and on.kpis["em_units_sent"] > 0


def test_a_crew_busy_on_a_routine_case_cannot_be_taken_out_by_name(flood):
    d = Drill(flood, 1)
    d.run_until(11.0)
    units = d.state()["units"]
    routine = [u["unit"] for u in units if u["status"] == "routine"]
    free = [u["unit"] for u in units if u["status"] == "available" and u["shared_with_routine"]]
    assert routine and free
    with pytest.raises(ValueError, match="routine case"):
        d.unit_out_of_service(routine[0])
    d.unit_out_of_service(free[0])
    assert d.manager.units[free[0]].status == "out_of_service"
    d.run()  # the drill goes on with one crew fewer
    assert d.finished


def test_micro_fire_stations_and_grid_workers_come_first_and_limit_damage(fire):
    """The "1-3-5" tiers and grid workers on the spot: earlier first response, less burnt."""
    earlier = 0
    for seed in SEEDS:
        bare = drill(fire, seed, rules__micro_fire_stations__enabled=False,
                     rules__first_responders__enabled=False).kpis()
        for lever in ("micro_fire_stations", "first_responders"):
            other = "first_responders" if lever == "micro_fire_stations" else "micro_fire_stations"
            k = drill(fire, seed, **{f"rules__{lever}__enabled": True,
                                     f"rules__{other}__enabled": False}).kpis()
            assert k["em_first_response_min"] <= bare["em_first_response_min"] + 1e-9
            assert k["em_damage_yuan"] <= bare["em_damage_yuan"] * (1 + 1e-9)
            earlier += k["em_first_response_min"] < bare["em_first_response_min"] - 1e-9
    assert earlier >= len(SEEDS)


def test_grid_workers_of_grids_the_fire_spreads_to_turn_out(fire):
    d = drill(fire, 3)
    spread = {r["grid"] for r in d.events if r["action"] == "spread"}
    workers = {r["grid"] for r in d.events
               if r["action"] == "arrived" and r["responder"] == "grid_worker"}
    assert spread and spread <= workers and d.manager.emergencies[0].grid in workers


def test_a_neglected_gas_leak_explodes_into_a_building_fire():
    sc = scenario_with(Scenario(), {
        "emergency.enabled": True, "run.days": 1, "run.warmup_days": 0,
        "emergency.incidents": [{"kind": "gas_leak", "at_h": 9.0, "grid": 30}],
        "emergency.kinds.gas_leak.hazard.report_delay_min": {"dist": "fixed", "value": 120}})
    d = drill(sc, 1)
    ign = [r for r in d.events if r["action"] == "ignited"]
    assert len(ign) == 1 and ign[0]["value"] >= 100.0
    fire_em = d.manager.emergencies[1]
    assert fire_em.kind == "building_fire" and fire_em.grid == ign[0]["grid"]
    assert fire_em.t_occur == ign[0]["time_h"]
    # reported in time (the default delay), the same leak is stopped before it explodes
    quick = drill(scenario_with(sc, {"emergency.kinds.gas_leak.hazard.report_delay_min":
                                     {"dist": "fixed", "value": 5}}), 1)
    assert not any(r["action"] == "ignited" for r in quick.events)
    with pytest.raises(ScenarioError, match="ignites"):
        scenario_with(sc, {"emergency.kinds.gas_leak.hazard.ignites": "flood"})
