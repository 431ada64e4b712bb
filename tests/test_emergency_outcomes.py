"""What a joint response is for: people at risk, medical care, police traffic control and
evacuation, gas and power cut-off, levels by harm, grid workers drawn off routine work.

Exact traces with fixed times (who arrives when, what changes then), closed forms of the people
model, and the bookkeeping every run must satisfy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.emergency import Drill
from sim.emergency.people import People
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import load_scenario, scenario_with
from sim.scenario.emergency import PeopleAtRisk
from tests.conftest import SCENARIOS

MARKET = SCENARIOS / "market_fire_drill.yaml"
GAS = SCENARIOS / "gas_leak_drill.yaml"
FLOOD = SCENARIOS / "flood_drill.yaml"
K = "emergency.kinds.market_fire"
FIXED = {"emergency.rules.micro_fire_stations.enabled": False,
         "emergency.rules.first_responders.enabled": False,
         f"{K}.hazard.report_delay_min": {"dist": "fixed", "value": 6.0},
         "emergency.rules.platform_dispatch_min": {"dist": "fixed", "value": 1.0}}


def market(**over) -> Drill:
    sc = scenario_with(load_scenario(MARKET), {**FIXED, **over})
    return Drill(sc, 1)


def rows(d: Drill, action: str, responder: str | None = None) -> list[dict]:
    return [r for r in d.events if r["action"] == action
            and (responder is None or r["responder"] == responder)]


def eta_h(d: Drill, r: str, target: int, t_notified: float) -> float:
    """When the first unit of ``r`` notified at ``t_notified`` reaches ``target`` (all free)."""
    m = d.manager
    return t_notified + min(m._eta_h(r, st, target) for st in m.stations[r])


# ---------------------------------------------------------------------- traffic control, access
def test_units_are_held_at_the_perimeter_until_police_arrive():
    """Police quick: the fire trucks wait at the perimeter exactly until the police arrive."""
    d = market(**{"emergency.responders.police.turnout_min": 2.0,
                  "emergency.responders.fire.turnout_min": 0.0})
    d.run()
    t_dec = 2.0 + 7 / 60  # occurred 02:00, alarm after 6 min, platform 1 min
    t_fire = eta_h(d, "fire", 70, t_dec)
    t_police = eta_h(d, "police", 70, t_dec)
    assert t_fire < t_police < t_fire + 3 / 60  # the case under test
    held = rows(d, "held", "fire")
    assert held and held[0]["time_h"] == pytest.approx(t_fire)
    fire_on_scene = [r for r in rows(d, "arrived", "fire")]
    assert fire_on_scene[0]["time_h"] == pytest.approx(t_police)
    assert rows(d, "arrived", "police")[0]["time_h"] == pytest.approx(t_police)
    assert not rows(d, "held", "police")  # the police themselves are never held


def test_without_police_units_wait_the_access_delay():
    d = market(**{"emergency.responders.police.turnout_min": 30.0})
    d.run()
    t_dec = 2.0 + 7 / 60
    t_fire = eta_h(d, "fire", 70, t_dec)
    assert rows(d, "arrived", "fire")[0]["time_h"] == pytest.approx(t_fire + 3 / 60)
    # with no access delay the same trucks go straight in
    d0 = market(**{"emergency.responders.police.turnout_min": 30.0,
                   f"{K}.access_delay_min": 0.0})
    d0.run()
    assert rows(d0, "arrived", "fire")[0]["time_h"] == pytest.approx(t_fire)
    assert not rows(d0, "held")
    k, k0 = d.kpis(), d0.kpis()
    assert k["em_damage_yuan"] > k0["em_damage_yuan"] and k["em_injured"] > k0["em_injured"]


# ------------------------------------------------------------------------- supplies, re-ignition
def test_supply_cut_exactly_after_cutoff_min_and_growth_slows_then():
    d = market(**{f"{K}.hazard.control_per_unit_per_min": {"fire": 0.0},
                  f"{K}.hazard.capacity_per_grid": 1e15, f"{K}.hazard.spread_at": None,
                  "emergency.rules.escalation_factor": 100.0,
                  "emergency.rules.harm_levels.enabled": False})
    m = d.manager
    d.run_until(2.0 + 1e-9)
    e = m.emergencies[0]
    tick = d.scenario.emergency.tick_min / 60
    cfg = e.cfg.hazard
    t_gas = t_power = None
    history = []
    while d.now_h < 3.0:
        d.step(tick)
        history.append((d.now_h, e.hazard.severity, e.hazard.growth_factor))
        t_gas = t_gas or e.first_by.get("gas")
        t_power = t_power or e.first_by.get("power")
    cuts = {r["responder"]: r["time_h"] for r in rows(d, "supply_cut")}
    assert cuts["gas"] == pytest.approx(t_gas + 8 / 60)
    assert cuts["power"] == pytest.approx(t_power + 4 / 60)
    t_all = max(cuts.values())
    for (t0, s0, _), (t1, s1, f1) in zip(history, history[1:]):
        rate = cfg.growth_per_min * (cfg.cut_growth_factor if t1 > t_all + 1e-9 else 1.0)
        assert f1 == (cfg.cut_growth_factor if t1 > t_all + 1e-9 else 1.0)
        assert s1 / s0 == pytest.approx(math.exp(rate * 60 * (t1 - t0)), rel=1e-6), t1


def test_put_out_but_supply_on_flares_up_again_never_after_the_cut():
    d = market(**{f"{K}.hazard.reignite_prob_per_min": 1.0,
                  f"{K}.hazard.cutoff_min": {"gas": 40.0, "power": 4.0}})
    d.run()
    e = d.manager.emergencies[0]
    flares = rows(d, "reignited")
    t_cut = max(r["time_h"] for r in rows(d, "supply_cut"))
    assert flares and e.reignitions == len(flares)
    assert all(r["time_h"] < t_cut for r in flares)
    assert e.t_contained >= t_cut  # contained only once every supply is cut
    quick = market(**{f"{K}.hazard.reignite_prob_per_min": 1.0})  # cut after 8 min
    quick.run()
    assert quick.manager.emergencies[0].t_contained < e.t_contained


# --------------------------------------------------------------------------------- people model
def test_people_model_matches_its_closed_form():
    cfg = PeopleAtRisk(occupants_share=0.5, harm_at=100, injury_per_min=0.01,
                       self_evacuation_per_min=0.02, evacuate_per_unit_per_min={"police": 2.0},
                       care_per_unit_per_min={"medical": 0.0}, self_care_per_min=0.0,
                       untreated_death_per_min=0.05)
    p = People(cfg, np.array([200.0, 50.0]))
    p.reach(0)
    p.reach(0)  # once only
    assert p.exposed == 100.0
    # dZ/dt = −a·Z − c with a = injury + self-evacuation, c = 2 led out per minute
    a, c, t = 0.03, 2.0, 10.0
    p.step(t, {0: 150.0}, {0: c}, care=0.0)
    z = (100 + c / a) * math.exp(-a * t) - c / a
    integral = (100 + c / a) * (1 - math.exp(-a * t)) / a - c / a * t
    assert p.zone[0] == pytest.approx(z)
    assert p.exposure_min == pytest.approx(integral)
    assert p.injured == pytest.approx(0.01 * integral)
    assert p.evacuated == pytest.approx(100 - z - 0.01 * integral)
    # the injured wait with nobody to care for them: W(t) = W0·e^{−d t}, deaths d·∫W
    w0, k0 = p.waiting, p.killed
    p.step(20.0, {}, {}, care=0.0)
    assert p.waiting == pytest.approx(w0 * math.exp(-0.05 * 20))
    assert p.killed - k0 == pytest.approx(w0 * (1 - math.exp(-0.05 * 20)))
    assert p.time_to_care_min() == pytest.approx(p.wait_min / p.injured)
    # a grid where the hazard is not live exposes nobody
    before = p.exposure_min
    p.step(5.0, {}, {}, care=1.0)
    assert p.exposure_min == before


@pytest.mark.parametrize("path", [MARKET, GAS, FLOOD], ids=lambda p: p.stem)
def test_everyone_is_accounted_for(path):
    for seed in (1, 3):
        d = Drill(load_scenario(path), seed)
        d.run()
        for e in d.manager.emergencies:
            p = e.people
            assert p is not None and p.exposed > 0
            in_zone = sum(p.zone.values())
            assert p.exposed == pytest.approx(in_zone + p.evacuated + p.injured, rel=1e-9)
            assert p.injured == pytest.approx(p.killed + p.cared + p.waiting, rel=1e-9,
                                              abs=1e-9)
            assert p.cleared and e.cleared.triggered
        k = d.kpis()
        t = d.table()
        assert k["em_killed"] == pytest.approx(t.killed.sum())
        assert k["em_time_to_care_min"] == pytest.approx(
            t.care_wait_min.sum() / t.injured.sum())


def test_the_ambulance_decides_the_injured_outcome():
    """Same fire, same injuries: the later the 120 ambulance, the longer the wait and the more
    of the injured die; the people exposed and injured do not depend on it."""
    out = []
    for turnout in (1.0, 10.0, 25.0):
        d = market(**{"emergency.responders.medical.turnout_min": turnout})
        d.run()
        t_med = d.manager.emergencies[0].first_by["medical"]
        out.append((t_med, d.kpis()))
    (t1, a), (t2, b), (t3, c) = out
    assert t1 < t2 < t3
    assert a["em_injured"] == pytest.approx(b["em_injured"]) == pytest.approx(c["em_injured"])
    assert a["em_time_to_care_min"] < b["em_time_to_care_min"] < c["em_time_to_care_min"]
    assert a["em_killed"] < b["em_killed"] < c["em_killed"]


def test_police_evacuation_lowers_exposure_and_injuries():
    base = market()
    base.run()
    none = market(**{f"{K}.people.evacuate_per_unit_per_min": {"fire": 1.0}})
    none.run()
    kb, kn = base.kpis(), none.kpis()
    assert kb["em_people_exposed"] == pytest.approx(kn["em_people_exposed"])
    assert kb["em_exposure_h"] < kn["em_exposure_h"]
    assert kb["em_injured"] < kn["em_injured"]


# ------------------------------------------------------------------------------ levels by harm
def test_level_rises_at_the_tick_the_injured_reach_the_decree_threshold():
    d = market(**{f"{K}.people.injury_per_min": 0.008,
                  "emergency.rules.escalation_factor": 100.0,  # severity never escalates
                  "emergency.responders.fire.turnout_min": 15.0})
    d.run_until(2.0 + 7 / 60)
    e = d.manager.emergencies[0]
    tick = d.scenario.emergency.tick_min / 60
    seen = []
    while d.now_h < 3.0 and not d.finished:
        d.step(tick / 3)
        if e.level >= 0:
            expect = 1 if e.people.injured >= 10 else 0
            expect = 2 if e.people.injured >= 50 or e.people.killed >= 10 else expect
            expect = max(expect, 1 if e.people.killed >= 3 else 0)
            assert e.level >= expect or not math.isnan(e.t_contained)
            seen.append(e.level)
    assert max(seen) >= 1
    up = [r for r in rows(d, "level_declared") if r["level"] == "III"]
    assert up and "Decree 493" in up[0]["detail"] and "injured" in up[0]["detail"]
    off = market(**{f"{K}.people.injury_per_min": 0.008, "emergency.rules.escalation_factor": 100.0,
                    "emergency.responders.fire.turnout_min": 15.0,
                    "emergency.rules.harm_levels.enabled": False})
    off.run()
    assert off.kpis()["em_max_level"] == 1 and d.kpis()["em_max_level"] >= 2
    # more ambulances at level III: the injured wait less
    assert d.kpis()["em_time_to_care_min"] < off.kpis()["em_time_to_care_min"]


# ------------------------------------------------------------------ grid workers and routine work
@pytest.mark.parametrize("rule", ["wait", "preempt"])
def test_grid_workers_finish_routine_duty_or_drop_it(rule):
    """Both workers of the beat busy on a routine duty until 02:20: with ``wait`` they turn out
    after it (alarm + wait + arrive_min), with ``preempt`` at once; a routine duty asking for a
    worker meanwhile waits until they are back under the beat's capacity."""
    d = market(**{"emergency.rules.first_responders.enabled": True,
                  "emergency.rules.first_responders.arrive_min": {"dist": "fixed", "value": 4.0},
                  "emergency.rules.first_responders.off_duty_extra_min": 0.0,
                  "emergency.rules.routine_work": rule,
                  "emergency.responders.fire.turnout_min": 25.0})
    d.run_until(1.9)
    pool = d.model.worker_pools[70]
    assert pool.count == 0 and pool.capacity == 2
    assert pool.acquire() is None and pool.acquire() is None  # a routine duty holds both
    env = d.model.env
    env.timeout(2.0 + 20 / 60 - env.now).callbacks.append(
        lambda _e: (pool.release(), pool.release()))
    got: list[float] = []
    d.run_until(2.0 + 8 / 60)
    ev = pool.acquire()  # another routine duty, after the alarm
    assert ev is not None
    ev.callbacks.append(lambda _e: got.append(env.now))
    d.run()
    t_alarm = 2.0 + 6 / 60
    arrived = rows(d, "arrived", "grid_worker")[0]["time_h"]
    if rule == "wait":
        assert arrived == pytest.approx(2.0 + 20 / 60 + 4 / 60)
        assert rows(d, "queued", "grid_worker")
        # the routine duty asked after the workers: they had it first (FIFO)
        assert got and got[0] == pytest.approx(d.manager.emergencies[0].t_contained)
    else:
        assert arrived == pytest.approx(t_alarm + 4 / 60)
        assert got and got[0] == pytest.approx(d.manager.emergencies[0].t_contained)
    pool.release()


def test_grid_workers_time_on_scene_is_taken_from_patrol():
    sc = scenario_with(load_scenario(GAS), {"emergency.rules.first_responders.arrive_min":
                                            {"dist": "fixed", "value": 4.0}})
    d = Drill(sc, 1)
    before = d.model.discovery.owed_h.sum() + d.model.discovery.charged_h
    d.run()
    e = d.manager.emergencies[0]
    arrived = rows(d, "arrived", "grid_worker")[0]["time_h"]
    after = d.model.discovery.owed_h.sum() + d.model.discovery.charged_h
    # 2 workers from the alarm (15:00 + the report delay) to containment, inside patrol hours;
    # other routine duties add their own charges on top
    assert after - before >= 2 * (e.t_contained - e.t_alarm) - 1e-9
    assert arrived > e.t_alarm


# ------------------------------------------------------------------------------------ catalogue
def test_outcome_kpis_are_in_the_catalogue():
    for key in ("em_people_exposed", "em_people_evacuated", "em_injured", "em_killed",
                "em_exposure_h", "em_time_to_care_min", "em_roads_closed_grid_h"):
        en, zh, unit, formula = KPI_DEFINITIONS[key]
        assert en and zh and unit and formula


def test_flood_roads_close_and_units_wait_for_police_to_lead_them_in():
    """A unit reaching a grid whose roads the water has closed, with no police unit there,
    goes in ``access_delay_min`` later; without the delay it goes in at once."""
    sc = load_scenario(FLOOD)
    d = Drill(sc, 1)
    d.run()
    assert d.kpis()["em_roads_closed_grid_h"] > 0
    held = rows(d, "held")
    assert held and all(r["responder"] != "police" for r in held)
    for r in held:
        went_in = [a for a in rows(d, "arrived") if a["actor"] == r["actor"]
                   and a["time_h"] >= r["time_h"]]
        assert went_in[0]["time_h"] == pytest.approx(r["time_h"] + 10 / 60)
    free = Drill(scenario_with(sc, {"emergency.kinds.flood.access_delay_min": 0.0}), 1)
    free.run()
    assert not rows(free, "held")
    assert free.kpis()["em_killed"] < d.kpis()["em_killed"]
