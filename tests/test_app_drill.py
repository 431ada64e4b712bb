"""Emergency drill page driven headless with streamlit.testing: start, step, play to the end,
replay with another joint-response rule at the same seed, disturb mid-drill."""

from __future__ import annotations

import math
import re

import pytest
from streamlit.testing.v1 import AppTest

from app_pages import kpi_view
from app_pages.drill_page import drill_kpi_keys
from app_pages.narrative import en_only
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import load_scenario
from tests.apptest_util import ROOT, assert_ok, cards, open_app


def _drill_at(rules: dict[str, str] | None = None) -> AppTest:
    at = open_app("drill")
    at.selectbox(key="dr_scenario@en").set_value("fire_drill").run()
    for field, value in (rules or {}).items():
        at.selectbox(key=f"dr_rule_{field}:fire_drill@en").set_value(value).run()
    at.button(key="dr_start").click().run()
    assert_ok(at)
    return at


def test_drill_plays_to_the_end_and_shows_the_kpis_of_sim():
    from app_pages.drill_page import start_drill
    sc = load_scenario(ROOT / "scenarios" / "fire_drill.yaml")
    at = _drill_at()
    at.button(key="dr_step").click().run()
    assert "00:01:00" in " ".join(m.value for m in at.markdown)   # one 1-minute step
    at.button(key="dr_to_end").click().run()
    assert_ok(at)
    drill = start_drill(sc, sc.run.seed, {"dispatch": sc.emergency.rules.dispatch,
                                          "command": sc.emergency.rules.command})
    drill.step(1 / 60)
    drill.run()
    want = drill.kpis()
    shown = cards(at)
    for key in drill_kpi_keys(want, sc):   # every emergency KPI the fire can move, as sim has it
        text = "–" if math.isnan(want[key]) else kpi_view.fmt(key, want[key])
        assert shown[KPI_DEFINITIONS[key][0]] == text, key
    assert len(shown) == len([k for k in KPI_DEFINITIONS if k.startswith("em_")]) - 1
    assert KPI_DEFINITIONS["em_roads_closed_grid_h"][0] not in shown   # no flood in a fire drill
    log = at.code[0].value
    assert "alarm received" in log and not re.search(r"[\u3400-\u9fff]", log)   # English alone
    # one line per line of the CLI's narrative, the newest first
    assert log.splitlines() == [en_only(x) for x in drill.narrative()[::-1][:400]]


def test_a_new_emergency_kpi_in_the_catalogue_gets_its_card(monkeypatch):
    from app_pages.drill_page import cards_html
    monkeypatch.setitem(KPI_DEFINITIONS, "em_people_evacuated",
                        ("People evacuated", "疏散人数", "count", "people moved out"))
    kpis = {"em_first_response_min": 3.5, "em_people_evacuated": 1234.0, "incidents_total": 9.0}
    assert drill_kpi_keys(kpis) == ["em_first_response_min", "em_people_evacuated"]
    page = cards_html(kpis, "zh")
    assert "疏散人数" in page and "1,234" in page and "首批力量到场时间" in page
    assert "incidents_total" not in page and KPI_DEFINITIONS["incidents_total"][1] not in page


def test_the_cards_leave_out_what_no_kind_of_the_drill_can_move():
    every = {k: 0.0 for k in KPI_DEFINITIONS if k.startswith("em_")}
    fire = load_scenario(ROOT / "scenarios" / "fire_drill.yaml")
    flood = load_scenario(ROOT / "scenarios" / "flood_drill.yaml")
    assert "em_roads_closed_grid_h" in drill_kpi_keys(every, flood)
    assert "em_roads_closed_grid_h" not in drill_kpi_keys(every, fire)
    assert "em_injured" in drill_kpi_keys(every, fire)
    kinds = {n: k.model_copy(update={"people": None}) for n, k in fire.emergency.kinds.items()}
    calm = fire.model_copy(update={"emergency": fire.emergency.model_copy(update={"kinds": kinds})})
    keys = drill_kpi_keys(every, calm)
    assert "em_injured" not in keys and "em_time_to_care_min" not in keys
    assert "em_first_response_min" in keys and "em_damage_yuan" in keys
    # a kind with people that only happens at random still counts
    kinds["building_fire"] = fire.emergency.kinds["building_fire"].model_copy(
        update={"rate_per_day": 1.0})
    random = fire.model_copy(update={"emergency": fire.emergency.model_copy(update={
        "kinds": kinds, "incidents": ()})})
    assert ("em_injured" in drill_kpi_keys(every, random)) == (
        fire.emergency.kinds["building_fire"].people is not None)
    assert drill_kpi_keys(every) == list(every)    # no scenario: the whole catalogue


def test_the_time_slider_spans_the_drill_and_the_debrief_follows_two_runs():
    at = _drill_at()
    drill = at.session_state["drill"]["drill"]
    length = at.session_state["drill"]["length_min"]
    assert at.slider(key="dr_seek").max == math.ceil(length) < (
        drill.horizon_h - drill.manager.origin_h) * 60       # the fire's 40 min, not 810
    at.button(key="dr_to_end").click().run()
    assert at.slider(key="dr_seek").max == math.ceil(length)
    assert at.session_state["drill"]["drill"].finished
    at.selectbox(key="dr_rule_dispatch:fire_drill@en").set_value("sequential").run()
    at.button(key="dr_start").click().run()
    at.button(key="dr_to_end").click().run()
    assert_ok(at)
    assert len(at.session_state["dr_history"]) == 2
    assert any("Debrief" in h.value for h in at.subheader)
    assert len(at.table) == 1 and len(at.table[0].value) >= 5


def test_drill_replay_with_sequential_dispatch_at_the_same_seed():
    at = _drill_at()
    at.button(key="dr_to_end").click().run()
    at.selectbox(key="dr_rule_dispatch:fire_drill@en").set_value("sequential").run()
    assert "settings changed" in " ".join(w.value for w in at.warning)
    at.button(key="dr_start").click().run()
    at.button(key="dr_to_end").click().run()
    assert_ok(at)
    hist = at.session_state["dr_history"]
    assert [h["dispatch"] for h in hist] == ["simultaneous", "sequential"]
    assert hist[0]["seed"] == hist[1]["seed"]
    # the same fire is reported at the same moment under both rules (common random numbers);
    # calling each responder only once the previous one is on site cannot get them all there
    # sooner than calling them all at once
    assert hist[1]["em_first_response_min"] == pytest.approx(hist[0]["em_first_response_min"])
    # (NaN: the full joint response was never reached before containment — later than any time)
    seq, sim_ = hist[1]["em_full_joint_response_min"], hist[0]["em_full_joint_response_min"]
    assert math.isnan(seq) or seq >= sim_


def test_drill_second_emergency_and_unit_out_of_service_mid_drill():
    at = _drill_at()
    at.button(key="dr_step").click().run()
    at.number_input(key="dr_inj_grid").set_value(5).run()
    at.button(key="dr_inject").click().run()
    unit = at.selectbox(key="dr_unit@en").value
    at.button(key="dr_out").click().run()
    assert_ok(at)
    drill = at.session_state["drill"]["drill"]
    assert len(drill.state()["emergencies"]) == 2
    assert {e["grid"] for e in drill.state()["emergencies"]} == {0, 5}
    assert any(ev["action"] == "out_of_service" and ev["actor"] == unit for ev in drill.events)
    assert unit not in at.selectbox(key="dr_unit@en").options


def test_flood_drill_runs_and_maps_the_water():
    at = open_app("drill")
    at.selectbox(key="dr_scenario@en").set_value("flood_drill").run()
    at.button(key="dr_start").click().run()
    at.button(key="dr_step").click().run()
    at.button(key="dr_to_end").click().run()
    assert_ok(at)
    drill = at.session_state["drill"]["drill"]
    assert drill.finished
    shown = cards(at)
    want = drill.kpis()
    assert shown[KPI_DEFINITIONS["em_containment_min"][0]] == kpi_view.fmt(
        "em_containment_min", want["em_containment_min"])
    kinds = drill.scenario.emergency.kinds
    flood = next(k for k, v in kinds.items() if v.hazard.model == "flood")
    at.selectbox(key="dr_inj_kind@en").set_value(flood).run()
    at.button(key="dr_inject").click().run()
    assert_ok(at)


def test_drill_time_slider_goes_forward_and_back_to_the_same_state():
    from app_pages.drill_page import start_drill
    at = _drill_at()
    at.slider(key="dr_seek").set_value(30).run()
    assert_ok(at)
    assert "00:30:00" in " ".join(m.value for m in at.markdown)
    at.slider(key="dr_seek").set_value(10).run()
    assert "00:10:00" in " ".join(m.value for m in at.markdown)
    drill = at.session_state["drill"]["drill"]
    sc = load_scenario(ROOT / "scenarios" / "fire_drill.yaml")
    fresh = start_drill(sc, sc.run.seed, {"dispatch": sc.emergency.rules.dispatch,
                                          "command": sc.emergency.rules.command})
    fresh.run_until(fresh.manager.origin_h + 10 / 60)
    assert drill.narrative() == fresh.narrative()      # back = replayed at the same seed
    assert drill.kpis() == pytest.approx(fresh.kpis(), nan_ok=True)


def test_legends_mean_one_thing_in_every_frame_and_language():
    from app_pages.drill_page import STATUS_ORDER, status_scale
    en, zh = status_scale("en"), status_scale("zh")
    assert en[1] == zh[1] and len(set(en[1])) == len(STATUS_ORDER)   # one shape per status
    at = _drill_at()
    specs = []
    for _ in range(3):
        at.button(key="dr_step").click().run()
        specs.append(at.get("vega_lite_chart")[0].proto.spec)
    import json
    for spec in specs:
        layer = [l for l in json.loads(spec)["layer"] if "shape" in l.get("encoding", {})][0]
        scale = layer["encoding"]["shape"]["scale"]
        assert scale["domain"] == en[0] and scale["range"] == en[1]


def test_chinese_narrative_is_chinese_alone():
    import re

    from app_pages.drill_page import start_drill
    from app_pages.narrative import narrative
    for name in ("fire_drill", "flood_drill"):
        sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        d = start_drill(sc, sc.run.seed, {"dispatch": "sequential", "command": "lead"})
        d.run()
        zh = narrative(d.events, "zh")
        assert len(zh) == len(d.narrative())          # one line per line of the CLI's narrative
        for line in zh:
            words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_\-]*", line)
                     if not re.search(r"\d", w) and len(w) > 2]   # unit and station ids kept
            units = {"km", "min", "iii", "ii", "iv"}   # units, response levels
            assert not [w for w in words if w.lower() not in units], line


def test_projector_layout_gives_the_map_the_screen_within_its_column():
    import json

    at = _drill_at()
    at.toggle(key="dr_projector").set_value(True).run()
    assert_ok(at)
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    from app_pages.map_drill import PROJECTOR_HEIGHT
    # the map fills its column (its box is measured in the browser test) below the window
    assert spec["width"] == "container" and spec["height"] <= PROJECTOR_HEIGHT
