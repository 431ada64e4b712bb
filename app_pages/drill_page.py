"""Page 4 — Emergency drill (trainers), on ``sim.emergency.Drill``: pick a fire or flood drill,
play / pause / step it; a map of the hazard, the units moving and arriving and the grids'
response levels; a Gantt timeline of the departments' units; the bilingual narrative; switch the
joint-response rule and replay at the same seed; inject a second emergency or take a unit out of
service mid-drill. For the classroom: a time slider and a playback speed, legends whose shapes and
colours mean one thing in every frame and both languages, each hazard on its own scale, grids
that burnt or flooded stay marked, a projector layout for 1280×720, the narrative newest line
first (in 中文 alone when the app is in 中文), and a debrief of two rules replayed at one seed."""

from __future__ import annotations

import math
import re
import typing
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app_pages import kpi_view
from app_pages.common_ui import SCENARIO_DIR, scenario_label, select, show_problems
from app_pages.drill_cards import cards_html, drill_kpi_keys, kpi_cards  # noqa: F401
from app_pages.i18n import field_help, field_label, option_label, tr
from app_pages.map_drill import drill_spec
from app_pages.map_ui import drill_geometry
from app_pages.narrative import narrative
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_with

PLAY_INTERVAL_S = 1.0
STEP_OPTIONS_MIN = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
DEFAULT_STEP_MIN = 1.0
RULE_FIELDS = ("dispatch", "command")   # the joint-response rule: levers of emergency.rules
#: unit status → phase of the Gantt timeline
_PHASES = {"dispatched": "travel", "arrived": "on_scene", "returning": "return"}
_PHASE_LABELS = {"travel": ("travelling", "途中"), "on_scene": ("on scene", "到场处置"),
                 "return": ("returning", "返回"), "out": ("out of service", "停用")}
_STATUS_LABELS = {"available": ("available", "待命"), "dispatched": ("travelling", "途中"),
                  "on_scene": ("on scene", "到场"), "returning": ("returning", "返回"),
                  "out_of_service": ("out of service", "停用"), "routine": ("on a routine case",
                                                                          "日常处置中")}


def _l(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "zh" else pair[0]


#: unit statuses in a fixed order, each with one shape in every frame and both languages
STATUS_ORDER = ("available", "dispatched", "on_scene", "returning", "out_of_service", "routine")
STATUS_SHAPES = ("circle", "triangle-up", "square", "triangle-down", "cross", "diamond")
#: one colour per responder, the same in both languages: Okabe–Ito (colour-blind safe) first
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#999999", "#8C564B", "#F0E442")


def status_scale(lang: str) -> tuple[list[str], list[str]]:
    return [_l(_STATUS_LABELS[s], lang) for s in STATUS_ORDER], list(STATUS_SHAPES)


def hazard_frame(drill: Any, grids: pd.DataFrame, peaks: dict) -> pd.DataFrame:
    """Per grid and hazard unit: the value now, and the most seen so far (kept in ``peaks``:
    {"unit": max over the drill, ("grid", g): max of any hazard}), so a burnt or flooded grid
    stays marked after containment and a scale does not shrink between frames."""
    state = drill.state()
    unit_of = {e["emergency"]: e["unit"] for e in state["emergencies"]}
    rows = [{"grid": h["grid"], "hz_unit": unit_of.get(h["emergency"], ""), "value": h["value"]}
            for h in state["hazard"] if h["value"] > 0]
    hz = pd.DataFrame(rows, columns=["grid", "hz_unit", "value"]).groupby(
        ["grid", "hz_unit"], as_index=False)["value"].sum()
    for u, g in hz.groupby("hz_unit"):
        peaks[u] = max(peaks.get(u, 0.0), float(g.value.max()))
    for g in hz.grid:
        peaks[("grid", int(g))] = True
    return hz


def drill_scenarios() -> dict[str, Scenario]:
    """Ready scenarios with emergencies enabled and scripted (fire_drill, flood_drill, …)."""
    files = tuple((p.name, p.stat().st_mtime) for p in sorted(SCENARIO_DIR.glob("*.yaml")))
    return _drill_scenarios(files)


@st.cache_resource(show_spinner=False, max_entries=4)
def _drill_scenarios(files: tuple[tuple[str, float], ...]) -> dict[str, Scenario]:
    """Loaded once per set of files and modification times (the key)."""
    out: dict[str, Scenario] = {}
    for p in (SCENARIO_DIR / name for name, _ in files):
        try:
            sc = load_scenario(p)
        except ScenarioError:
            continue
        em = getattr(sc, "emergency", None)
        if em is not None and em.enabled and em.incidents:
            out[p.stem] = sc
    return out


def rule_options(field: str) -> tuple[str, ...]:
    """The allowed values of ``emergency.rules.<field>``, read from the schema."""
    from sim.scenario.emergency import JointResponseRules

    return typing.get_args(JointResponseRules.model_fields[field].annotation)


def rule_help(field: str) -> str:
    from sim.scenario.emergency import JointResponseRules

    return JointResponseRules.model_fields[field].description or ""


def start_drill(sc: Scenario, seed: int, rules: dict[str, str]) -> Any:
    """A new drill of ``sc`` with the chosen rule, advanced to the first scripted emergency."""
    from sim.emergency import Drill

    sc = scenario_with(sc, {f"emergency.rules.{k}": v for k, v in rules.items()})
    drill = Drill(sc, seed=seed)
    drill.run_until(min(i.at_h for i in sc.emergency.incidents))
    return drill


def _kind_label(sc: Scenario, lang: str) -> str:
    first = min(sc.emergency.incidents, key=lambda i: i.at_h)
    k = sc.emergency.kinds[first.kind]
    return (k.label_zh if lang == "zh" else k.label_en) + f" — {scenario_label(sc, lang)}"


def gantt_frame(events: list[dict], now_elapsed_s: float, lang: str) -> pd.DataFrame:
    """One bar per unit and phase (travel, on scene, return, out of service), in minutes."""
    rows: list[dict] = []
    open_: dict[str, tuple[str, float, dict]] = {}

    def close(unit: str, t: float) -> None:
        if unit in open_:
            phase, t0, ev = open_.pop(unit)
            if t > t0:
                rows.append({"unit": unit, "department": _l((ev["label_en"], ev["label_zh"]), lang),
                             "phase": _l(_PHASE_LABELS[phase], lang), "start_min": t0 / 60,
                             "end_min": t / 60, "emergency": ev["emergency"]})

    for ev in events:
        a, unit, t = ev["action"], ev["actor"], float(ev["elapsed_s"])
        if not unit or unit == "-" or ev.get("responder") in ("", None):
            continue
        if a in _PHASES:
            close(unit, t)
            open_[unit] = (_PHASES[a], t, ev)
        elif a == "out_of_service":
            close(unit, t)
            open_[unit] = ("out", t, ev)
        elif a in ("back", "stood_down", "withdrawn", "back_in_service"):
            close(unit, t)
    for unit in list(open_):
        close(unit, now_elapsed_s)
    df = pd.DataFrame(rows, columns=["unit", "department", "phase", "start_min", "end_min",
                                     "emergency"])
    df["row"] = df["department"] + " · " + df["unit"].map(lambda u: unit_name(u, lang))
    return df


def unit_name(actor: str, lang: str) -> str:
    """A unit's id as people read it: grid workers turning out as a group ("2 workers") are
    counted in 中文 (2 名); a unit code (F1, PS3) stays as it is."""
    m = re.fullmatch(r"(\d+) workers?", actor or "")
    if m and lang == "zh":
        return f"{m[1]} 名"
    return actor


def map_frames(drill: Any, lang: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grids (with hazard and response level) and units (with position and status) now."""
    state = drill.state()
    grids = drill.model.city.grid_frame()[["grid", "x_km", "y_km", "zone"]].copy()
    hz = pd.DataFrame(state["hazard"], columns=["emergency", "grid", "value"])
    grids["hazard"] = grids.grid.map(hz.groupby("grid")["value"].sum()).fillna(0.0)
    levels = {e["grid"]: e["level"] for e in state["emergencies"] if e["grid"] is not None
              and e["grid"] >= 0 and not e["contained"]}
    grids["level"] = grids.grid.map(levels).astype(object).fillna("")
    stations: dict[int, list[str]] = {}
    for s in (drill.stations() if hasattr(drill, "stations") else []):
        name = s["label_zh"] if lang == "zh" else s["label_en"]
        stations.setdefault(s["grid"], []).append(f"{name} {s['station']}")
    grids["stations"] = grids.grid.map(lambda g: ", ".join(stations.get(g, [])))
    units = pd.DataFrame(state["units"])
    if not units.empty:
        units["status_label"] = [_l(_STATUS_LABELS.get(s, (s, s)), lang) for s in units.status]
        units["department"] = [zh if lang == "zh" else en
                               for en, zh in zip(units.label_en, units.label_zh)]
    return grids, units


def department_scale(drill: Any, lang: str) -> tuple[list[str], list[str]]:
    """Every responder of the scenario in a fixed order, each with one colour."""
    names: list[str] = []
    for s in sorted(drill.stations(), key=lambda s: s["responder"]):
        name = s["label_zh"] if lang == "zh" else s["label_en"]
        if name not in names:
            names.append(name)
    return names, [PALETTE[i % len(PALETTE)] for i in range(len(names))]


PHASE_ORDER = ("travel", "on_scene", "return", "out")
PHASE_COLOURS = ("#56B4E9", "#D55E00", "#009E73", "#555555")   # colour-blind safe


def _gantt_chart(df: pd.DataFrame, lang: str) -> alt.Chart:
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("start_min:Q", title=tr("dr_minutes", lang)), x2="end_min:Q",
        y=alt.Y("row:N", title=None, sort=alt.SortField("row"), axis=alt.Axis(labelLimit=260,
                                                                         labelOverlap=False)),
        color=alt.Color("phase:N", title=tr("dr_phase", lang), scale=alt.Scale(
            domain=[_l(_PHASE_LABELS[p], lang) for p in PHASE_ORDER], range=list(PHASE_COLOURS))),
        tooltip=[alt.Tooltip("unit:N", title=tr("dr_unit", lang)),
                 alt.Tooltip("department:N", title=tr("department", lang)),
                 alt.Tooltip("phase:N", title=tr("dr_phase", lang)),
                 alt.Tooltip("start_min:Q", title=tr("dr_from_min", lang), format=".1f"),
                 alt.Tooltip("end_min:Q", title=tr("dr_to_min", lang), format=".1f")],
    ).properties(height=max(120, 26 * df["row"].nunique()))


def render(lang: str) -> None:
    st.header(tr("page_drill", lang))
    if not st.session_state.get("dr_projector"):   # the projector keeps the screen for the drill
        st.caption(tr("dr_intro", lang))
    scenarios = drill_scenarios()
    if not scenarios:
        st.warning(tr("dr_unavailable", lang))
        return
    names = list(scenarios)
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    name = select(tr("dr_kind", lang), names, "dr_scenario", lang, where=c1,
                  format_func=lambda n: _kind_label(scenarios[n], lang))
    sc = scenarios[name]
    rules = {}
    for col, f in zip((c2, c3), RULE_FIELDS):
        current = getattr(sc.emergency.rules, f)
        opts = list(rule_options(f))
        rules[f] = select(f"{tr('dr_rule', lang)} · {field_label(f, lang)}", opts,
                          f"dr_rule_{f}:{name}", lang, where=col, index=opts.index(current),
                          format_func=lambda v: option_label(v, lang),
                          help=field_help(rule_help(f), lang))
    seed = int(c4.number_input(tr("seed", lang), min_value=0, max_value=2**53 - 1,
                               value=int(sc.run.seed), step=1, key=f"dr_seed:{name}"))
    if st.button(tr("dr_start", lang), type="primary", key="dr_start"):
        try:
            drill = start_drill(sc, seed, rules)
        except (ScenarioError, ValueError) as err:
            show_problems(tr("scenario_invalid", lang), str(err).splitlines())
            return
        st.session_state["drill"] = {"drill": drill, "name": name, "rules": dict(rules),
                                     "seed": seed, "recorded": False, "scenario": sc,
                                     "peaks": {}, "length_min": drill_length_min(sc, seed, rules)}
        st.session_state["dr_playing"] = False
    current = st.session_state.get("drill")
    if not current:
        st.info(tr("dr_not_started", lang))
        return
    if (current["name"], current["rules"], current["seed"]) != (name, rules, seed):
        st.warning(tr("dr_changed", lang))
    playing = bool(st.session_state.get("dr_playing"))

    @st.fragment(run_every=PLAY_INTERVAL_S if playing else None)
    def live() -> None:
        _live(current, lang)

    live()
    _history(lang)


def elapsed_min(drill: Any) -> float:
    return (drill.now_h - drill.manager.origin_h) * 60.0


def drill_length_min(sc: Scenario, seed: int, rules: dict[str, str]) -> float:
    """Minutes from the first emergency to the end of the drill as scripted: the same drill
    played to its end (a drill is deterministic at a seed), so the time slider spans the drill
    itself, not the scenario's horizon."""
    shadow = start_drill(sc, seed, rules)
    shadow.run()
    return elapsed_min(shadow)


def slider_end(current: dict) -> int:
    """The time slider's last minute: the drill's own length (longer when a disturbance added
    by hand made it so), never less than the time already played."""
    drill = current["drill"]
    length = current.get("length_min") or (drill.horizon_h - drill.manager.origin_h) * 60.0
    return max(1, int(math.ceil(max(length, elapsed_min(drill)) - 1e-9)))


def seek(current: dict, minute: float) -> None:
    """Move the drill to ``minute`` after the first emergency: forward by running on, back by
    replaying from the start at the same seed (a drill is deterministic; disturbances added by
    hand are not replayed)."""
    drill = current["drill"]
    target_h = min(drill.horizon_h, drill.manager.origin_h + minute / 60.0)
    if target_h < drill.now_h - 1e-9:
        drill = start_drill(current["scenario"], current["seed"], current["rules"])
        current["drill"], current["recorded"] = drill, False
        current["peaks"] = {}
    if target_h > drill.now_h:
        drill.run_until(target_h)


def _controls(current: dict, lang: str) -> None:
    drill = current["drill"]
    playing = bool(st.session_state.get("dr_playing"))
    b1, b2, b3, b4, b5 = st.columns([1.3, 1, 1, 1, 1.2], vertical_alignment="bottom")
    step_min = float(select(tr("dr_speed", lang), list(STEP_OPTIONS_MIN), "dr_step_min", lang,
                            where=b1, index=STEP_OPTIONS_MIN.index(DEFAULT_STEP_MIN),
                            format_func=lambda m: f"{m:g}"))
    if b2.button(tr("dr_step", lang), key="dr_step", disabled=drill.finished):
        drill.step(step_min / 60.0)
    if playing:
        if b3.button(tr("dr_pause", lang), key="dr_pause"):
            st.session_state["dr_playing"] = False
            st.rerun()
    elif b3.button(tr("dr_play", lang), key="dr_play", disabled=drill.finished):
        st.session_state["dr_playing"] = True
        st.rerun()
    if b4.button(tr("dr_to_end", lang), key="dr_to_end", disabled=drill.finished):
        drill.run()
    b5.toggle(tr("dr_projector", lang), key="dr_projector", persist_state="session")
    end = slider_end(current)
    now = min(end, int(round(elapsed_min(current["drill"]))))
    st.session_state["dr_seek"] = now

    def moved() -> None:
        seek(current, float(st.session_state["dr_seek"]))

    st.slider(tr("dr_seek", lang), 0, end, key="dr_seek", on_change=moved)


def _clock_line(current: dict, drill: Any, lang: str) -> tuple[str, str]:
    """The clock (large, first) and what is being played (scenario, rule, seed) beneath it."""
    state = drill.state()
    clock = (f"**{tr('dr_clock', lang)}: {state['clock']}** "
             f"({tr('dr_elapsed', lang, m=elapsed_min(drill))})"
             + (f" — {tr('dr_done', lang)}" if drill.finished else ""))
    what = (f"{scenario_label(current['scenario'], lang)} · "
            + ", ".join(f"{field_label(k, lang)}: {option_label(v, lang)}"
                        for k, v in current["rules"].items())
            + f" · {tr('seed', lang)} {current['seed']}")
    return clock, what


def _show_clock(current: dict, drill: Any, lang: str) -> None:
    clock, what = _clock_line(current, drill, lang)
    st.markdown(clock)
    st.caption(what)


def _live(current: dict, lang: str) -> None:
    playing = bool(st.session_state.get("dr_playing"))
    step_min = float(st.session_state.get("dr_step_min", DEFAULT_STEP_MIN))
    drill = current["drill"]
    if playing and not drill.finished and drill.now_h < drill.horizon_h:
        drill.step(step_min / 60.0)
    if playing and (drill.finished or drill.now_h >= drill.horizon_h):
        st.session_state["dr_playing"] = False
        _record(current)
        st.rerun()
    _controls(current, lang)
    drill = current["drill"]
    if drill.finished and _record(current):
        st.rerun(scope="app")   # the history and the debrief are drawn outside this fragment
    state = drill.state()
    projector = bool(st.session_state.get("dr_projector"))
    grids, units = map_frames(drill, lang)
    hz = hazard_frame(drill, grids, current.setdefault("peaks", {}))
    ems = state["emergencies"]
    chart, turned = drill_spec(drill, drill_geometry(drill), grids, units, hz, current["peaks"],
                               department_scale(drill, lang), status_scale(lang), lang,
                               projector)
    lines = narrative(drill.events, lang)[::-1][:400]   # the newest line first
    if projector:
        left, right = st.columns([1, 1])   # three columns of cards at 1280×720
        left.vega_lite_chart(chart, width="stretch", theme=None)
        if turned:
            left.caption(tr("dr_turned", lang))
        with right:
            _show_clock(current, drill, lang)
            kpi_cards(drill.kpis(), lang, drill.scenario)
            box = st.container(height=260)
            box.code("\n".join(lines) or "…", language=None, wrap_lines=True)
        _interventions(drill, lang)
    else:
        _show_clock(current, drill, lang)
        kpi_cards(drill.kpis(), lang, drill.scenario)
        _interventions(drill, lang)
        left, right = st.columns([3, 2])
        with left:
            st.subheader(tr("dr_map", lang))
            st.vega_lite_chart(chart, width="stretch", theme=None)
        with right:
            st.subheader(tr("dr_log", lang))
            box = st.container(height=520)
            box.code("\n".join(lines) or "…", language=None, wrap_lines=True)
    if ems:
        st.dataframe(_emergency_table(ems, lang), hide_index=True, width="stretch")
    st.subheader(tr("dr_gantt", lang))
    origin = drill.manager.origin_h
    g = gantt_frame(drill.events, (drill.now_h - origin) * 3600.0, lang)
    if g.empty:
        st.caption("—")
    else:
        st.altair_chart(_gantt_chart(g, lang), width="stretch")


def _emergency_table(ems: list[dict], lang: str) -> pd.DataFrame:
    return pd.DataFrame([{
        "#": e["emergency"], tr("dr_kind", lang): e["label_zh"] if lang == "zh" else e["label_en"],
        tr("dr_inject_grid", lang): e["grid"], tr("dr_level", lang): e["level"] or "–",
        tr("dr_hazard", lang): f"{e['severity']:.1f} {e['unit']}",
        tr("dr_units_on_scene", lang): sum(e["units_on_scene"].values()),
        tr("dr_contained", lang): "✓" if e["contained"] else ""} for e in ems])


def _interventions(drill: Any, lang: str) -> None:
    with st.expander(tr("dr_disturb", lang), expanded=False):
        c1, c2, c3, c4 = st.columns([2, 1, 1, 2])
        kinds = drill.scenario.emergency.kinds
        kind = c1.selectbox(tr("dr_inject", lang), list(kinds), key=f"dr_inj_kind@{lang}",
                            format_func=lambda k: kinds[k].label_zh if lang == "zh"
                            else kinds[k].label_en)
        grid = int(c2.number_input(tr("dr_inject_grid", lang), min_value=0,
                                   max_value=drill.model.city.n_grids - 1, value=0, step=1,
                                   key="dr_inj_grid"))
        if c3.button(tr("dr_inject_go", lang), key="dr_inject", disabled=drill.finished
                     and drill.now_h >= drill.horizon_h):
            try:  # a flood is city-wide: it has no grid of origin
                drill.inject(kind, None if kinds[kind].hazard.model == "flood" else grid)
                st.toast(tr("dr_injected", lang))
            except ValueError as err:
                st.error(str(err))
        units = [u for u in drill.state()["units"] if u["status"] != "out_of_service"]
        ids = [u["unit"] for u in units]
        labels = {u["unit"]: f"{u['unit']} — {u['label_zh'] if lang == 'zh' else u['label_en']}"
                  f" ({_l(_STATUS_LABELS.get(u['status'], (u['status'],) * 2), lang)})"
                  for u in units}
        if ids:
            uid = c4.selectbox(tr("dr_unit", lang), ids, key=f"dr_unit@{lang}",
                               format_func=lambda u: labels[u])
            if c4.button(tr("dr_out", lang), key="dr_out"):
                try:
                    drill.unit_out_of_service(uid)
                except ValueError as err:
                    st.error(str(err))


def _record(current: dict) -> bool:
    """Keep the final KPIs of a finished drill, to compare rules replayed at the same seed;
    True when this call recorded it."""
    if current.get("recorded"):
        return False
    current["recorded"] = True
    hist = st.session_state.setdefault("dr_history", [])
    hist.append({"scenario": current["name"], **current["rules"], "seed": current["seed"],
                 **current["drill"].kpis()})
    return True


def _rule_text(h: dict, lang: str) -> str:
    return ", ".join(f"{field_label(f, lang)}: {option_label(h[f], lang)}" for f in RULE_FIELDS
                     if f in h)


def debrief_frame(a: dict, b: dict, lang: str, scenario: Any = None) -> pd.DataFrame:
    """Two drills of one scenario at one seed under two rules: each KPI the drill's cards show
    (:func:`drill_kpi_keys`), and B − A."""
    rows = []
    keys = ["emergencies", *drill_kpi_keys(a, scenario)]
    for k in keys:
        if k not in a or k not in b:
            continue
        va, vb = a[k], b[k]
        rows.append({tr("kpi", lang): kpi_view.label(k, lang),
                     _rule_text(a, lang): kpi_view.fmt(k, va, lang),
                     _rule_text(b, lang) + " ": kpi_view.fmt(k, vb, lang),
                     tr("dr_debrief_change", lang): "–" if va != va or vb != vb
                     else (kpi_view.fmt_delta(k, vb - va, lang) or "0")})
    return pd.DataFrame(rows)


def _history(lang: str) -> None:
    hist = st.session_state.get("dr_history", [])
    if not hist:
        return
    st.subheader(tr("dr_history", lang))
    df = pd.DataFrame(hist)
    shown = {}
    for col in df.columns:
        if col.startswith("em_") or col == "emergencies":
            shown[col] = [kpi_view.fmt(col, v, lang) if not (isinstance(v, float) and math.isnan(v))
                          else "–" for v in df[col]]
        elif col in RULE_FIELDS:
            shown[field_label(col, lang)] = [option_label(v, lang) for v in df[col]]
        elif col == "scenario":
            known = drill_scenarios()
            shown[tr("dr_kind", lang)] = [scenario_label(known[n], lang) if n in known else n
                                          for n in df[col]]
        elif col == "seed":
            shown[tr("seed", lang)] = df[col].map(str)
        else:
            shown[col] = df[col]
    out = pd.DataFrame(shown).rename(columns={c: kpi_view.label(c, lang) for c in df.columns
                                              if c.startswith("em_") or c == "emergencies"})
    st.dataframe(out, hide_index=True, width="stretch")
    if len(hist) >= 2:
        a, b = hist[-2], hist[-1]
        if (a["scenario"], a["seed"]) == (b["scenario"], b["seed"]) and \
                [a.get(f) for f in RULE_FIELDS] != [b.get(f) for f in RULE_FIELDS]:
            st.subheader(tr("dr_debrief", lang))
            st.table(debrief_frame(a, b, lang, drill_scenarios().get(a["scenario"]))
                     .set_index(tr("kpi", lang)))
