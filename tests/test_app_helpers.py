"""The app's UI-free helpers: schema → widgets, limits, paired statistics, KPI formatting."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from app_pages import i18n, kpi_view, limits
from app_pages.schema_widgets import all_specs, groups, specs_for_group
from app_pages.stats import holm, mean_ci, paired_diff
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_with
from sim.world.city import build_city

ROOT = Path(__file__).resolve().parent.parent


def _schema_node(schema: dict, path: str, root: object) -> dict:
    """The JSON-Schema property of a dotted scenario path (following $refs, optionals, dict
    values, and — for a union — the alternative named after the class of ``root``'s value)."""
    defs = schema["$defs"]

    def resolve(node: dict, obj: object) -> dict:
        while True:
            if "$ref" in node:
                node = defs[node["$ref"].split("/")[-1]]
            elif "anyOf" in node:  # an optional field: its non-null alternative
                node = next(o for o in node["anyOf"] if o.get("type") != "null")
            elif "oneOf" in node:
                name = type(obj).__name__
                node = next(o for o in node["oneOf"] if o["$ref"].endswith("/" + name))
            elif "allOf" in node:
                node = node["allOf"][0]
            else:
                return node

    node, obj = schema, root
    for part in path.split("."):
        node = resolve(node, obj)
        props = node.get("properties")
        node = props[part] if props and part in props else node["additionalProperties"]
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return resolve(node, obj)


def test_widgets_carry_the_schema_bounds_and_the_scenarios_values():
    sc = load_scenario(ROOT / "scenarios" / "dense_commercial.yaml")
    schema = Scenario.model_json_schema(by_alias=True)
    specs = all_specs(sc)
    assert {"staffing.workers_per_grid", "city.households_per_grid", "platform.misroute_prob",
            "departments.fire.crews_per_street"} <= set(specs)
    for path, spec in specs.items():
        node = _schema_node(schema, path, sc)
        lo = node.get("minimum", node.get("exclusiveMinimum"))
        hi = node.get("maximum", node.get("exclusiveMaximum"))
        assert spec.min_value == lo, path
        assert spec.max_value == hi, path
        assert spec.exclusive_min == ("exclusiveMinimum" in node), path
        # the widget starts at the loaded scenario's value, not at a default copied into the app
        node_val = sc
        for part in path.split("."):
            node_val = node_val[part] if isinstance(node_val, dict) else getattr(node_val, part)
        assert spec.value == node_val, path


def test_every_generated_lever_can_be_set_through_scenario_with():
    sc = Scenario()
    for path, spec in all_specs(sc).items():
        if spec.kind == "bool":
            new = not spec.value
        elif spec.kind == "choice":
            new = next((o for o in spec.options if o != spec.value), spec.value)
        else:
            lo, hi = spec.widget_bounds()
            new = hi if hi is not None and hi < 1e6 else (spec.value * 2 if spec.value else 1)
            new = int(new) if spec.kind == "int" else float(new)
        try:
            out = scenario_with(sc, {path: new})
        except ScenarioError as err:  # cross-field rules (shares adding to 1, windows) may refuse
            assert any(path.startswith(p) for p, _ in err.problems), (path, err.problems)
            continue
        node = out
        for part in path.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        assert node == new, path


def test_lever_groups_cover_new_schema_sections_and_deadlines():
    sc = Scenario()
    assert groups(sc)[:3] == ["city", "staffing", "patrol"]
    deadlines = specs_for_group(sc, "deadlines")
    assert {s.path.rsplit(".", 1)[-1] for s in deadlines} <= {
        "value", "unit", "minor", "complex_prob", "unsolvable_prob", "urgency"}
    n_subtypes = sum(len(c.subtypes) for c in sc.incidents.categories.values())
    assert sum(s.path.endswith("deadline.value") for s in deadlines) == n_subtypes


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_grid_count_matches_the_city_builder(path):
    sc = load_scenario(path)
    if sc.city.households / sc.city.households_per_grid > 50_000:
        pytest.skip("too large to build in a unit test")
    city = build_city(sc.city, np.random.default_rng(0))
    assert limits.grid_count(sc.city) == city.n_grids


def test_limits_refuse_large_scenarios_and_pass_the_baseline():
    assert limits.check_scenario(Scenario()) == []
    big = load_scenario(ROOT / "scenarios" / "city_large.yaml")
    problems = limits.check_scenario(big)
    assert problems and "basic grids" in problems[0].en and "基础网格" in problems[0].zh
    long = scenario_with(Scenario(), {"run.days": 3000})
    assert any("simulated days" in p.en for p in limits.check_scenario(long))
    assert limits.check_batch([Scenario()] * 4, 10) == []
    assert any("runs" in p.en for p in limits.check_batch([Scenario()] * 4, 11))


def test_paired_interval_agrees_with_scipy_and_beats_the_unpaired_one():
    rng = np.random.default_rng(1)
    common = rng.normal(100, 10, size=12)       # what the shared random numbers do to both
    ref = common + rng.normal(0, 1, size=12)
    var = common + 2 + rng.normal(0, 1, size=12)
    d = paired_diff(ref, var)
    t = stats.ttest_rel(var, ref)
    assert d.p == pytest.approx(t.pvalue)
    ci = t.confidence_interval(0.95)
    assert (d.lo, d.hi) == pytest.approx((ci.low, ci.high))
    unpaired = stats.ttest_ind(var, ref).confidence_interval(0.95)
    assert d.hi - d.lo < (unpaired.high - unpaired.low) / 3   # common random numbers pay off
    assert d.p < 0.001 and stats.ttest_ind(var, ref).pvalue > 0.05


def test_paired_diff_edge_cases():
    same = paired_diff([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.identical and same.p == 1.0
    shift = paired_diff([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])     # a deterministic effect (cost)
    assert (shift.mean, shift.lo, shift.hi, shift.p) == (1.0, 1.0, 1.0, 0.0)
    one = paired_diff([1.0], [2.0])
    assert one.n == 1 and math.isnan(one.lo)
    nan = paired_diff([1.0, math.nan, 3.0], [1.5, 2.0, 3.0])
    assert nan.n == 2
    with pytest.raises(ValueError):
        paired_diff([1.0, 2.0], [1.0])
    assert mean_ci([2.0, 4.0]).mean == 3.0 and mean_ci([]).n == 0


def test_holm_matches_the_textbook_step_down():
    # m = 4: sorted p 0.01, 0.02, 0.03, 0.5 → 0.04, 0.06, 0.06, 0.5
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    out = holm([math.nan, 0.01])
    assert math.isnan(out[0]) and out[1] == pytest.approx(0.01)


def test_kpi_formatting_and_labels_come_from_the_definitions():
    for key, (en, zh, unit, _) in KPI_DEFINITIONS.items():
        assert kpi_view.label(key, "en") == en and kpi_view.label(key, "zh") == zh
        assert kpi_view.fmt(key, math.nan) == "–"
    assert kpi_view.fmt("on_time_rate", 0.9424) == "94.2%"
    assert kpi_view.fmt_delta("on_time_rate", -0.001) == "-0.1 pp"
    assert kpi_view.fmt("monthly_staff_cost", 2069000.0) == "¥2,069,000"
    assert kpi_view.delta_color("mean_time_to_close_h") == "inverse"
    assert kpi_view.delta_color("on_time_rate") == "normal"
    assert kpi_view.delta_color("incidents_total") == "off"


def test_every_ui_string_has_both_languages():
    for key, (en, zh) in i18n.TEXT.items():
        assert en.strip() and zh.strip(), key
        # the same placeholders in both languages
        import string
        fields = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
        assert fields(en) == fields(zh), key
    assert i18n.humanise("handed_down_per_day") == "Handed down per day"
    assert i18n.humanise("coverage_km2_per_h") == "Coverage (km²/h)"
    assert i18n.field_label("workers_per_grid", "zh") == "每格网格员数"


def test_drill_gantt_bars_follow_the_unit_events():
    from app_pages.drill_page import gantt_frame, start_drill

    sc = load_scenario(ROOT / "scenarios" / "fire_drill.yaml")
    drill = start_drill(sc, sc.run.seed, {"dispatch": "simultaneous", "command": "platform"})
    drill.run()
    g = gantt_frame(drill.events, 1e9, "en")
    assert len(g) and (g.end_min > g.start_min).all()
    moving = {ev["actor"] for ev in drill.events
              if ev["action"] in ("dispatched", "arrived", "returning", "out_of_service")}
    dispatched = {ev["actor"] for ev in drill.events if ev["action"] == "dispatched"}
    assert dispatched <= set(g.unit) <= moving   # grid workers arrive without a dispatch row
    for unit, bars in g.sort_values("start_min").groupby("unit"):
        assert (bars.start_min.iloc[1:].to_numpy() >= bars.end_min.iloc[:-1].to_numpy() - 1e-9
                ).all(), unit   # one unit is never in two phases at once


def test_results_download_holds_the_run():
    import io
    import json
    import zipfile

    import pandas as pd

    from app_pages.lab_page import results_zip
    from sim.run import run_scenario

    sc = scenario_with(Scenario(), {"run.days": 4, "run.warmup_days": 1})
    res = run_scenario(sc, 3)
    z = zipfile.ZipFile(io.BytesIO(results_zip(sc, res)))
    assert set(z.namelist()) == {"scenario.yaml", "kpis.json", "manifest.json", "timeseries.csv",
                                 "cases.csv", "grids.csv"}
    kpis = json.loads(z.read("kpis.json"))
    assert kpis == {k: (None if v != v else v) for k, v in res.kpis.items()}
    from sim.scenario import parse_yaml, validate_scenario
    assert validate_scenario(parse_yaml(z.read("scenario.yaml").decode())).hash() == sc.hash()
    assert len(pd.read_csv(z.open("cases.csv"))) == len(res.cases)


def test_run_cache_returns_the_same_result_for_the_same_scenario_and_seed(monkeypatch):
    import sim.run
    from app_pages.runner import RunCache, cached_run

    calls = []
    real = sim.run.run_scenario

    def counting(sc, seed=None, **kw):
        calls.append((sc.hash(), seed))
        return real(sc, seed, **kw)

    monkeypatch.setattr(sim.run, "run_scenario", counting)
    cache = RunCache(max_entries=2)
    sc = scenario_with(Scenario(), {"run.days": 3, "run.warmup_days": 1})
    seen = []
    a = cached_run(cache, sc, 1, progress=lambda now, h, _events: seen.append(now / h))
    b = cached_run(cache, scenario_with(sc, {}), 1)          # an equal scenario: same hash
    assert a is b and len(calls) == 1 and seen[-1] == 1.0
    c = cached_run(cache, sc, 2)                             # another seed is another run
    assert c is not a and len(calls) == 2
    cached_run(cache, scenario_with(sc, {"staffing.workers_per_grid": 3}), 1)
    assert len(cache) == 2                                   # least recently used evicted
    cached_run(cache, sc, 1)
    assert len(calls) == 4


def test_timeseries_per_day_adds_up_the_intervals():
    from app_pages.lab_page import timeseries_frame
    from sim.run import run_scenario

    res = run_scenario(scenario_with(Scenario(), {"run.days": 4, "run.warmup_days": 1}), 2)
    fine = timeseries_frame(res, "en")
    daily = timeseries_frame(res, "en", per_day=True)
    for series in ("Reports per day (discoveries)", "Closures per day"):
        f = fine[fine.Series == series.replace("per day", "per interval")]
        d = daily[daily.Series == series]
        assert d.Count.sum() == f.Count.sum() == res.timeseries[
            "cum_reported" if "Reports" in series else "cum_closed"].iloc[-1]
    backlog = daily[daily.Series == "Open cases (backlog)"].set_index("Day").Count
    ts = res.timeseries.set_index("t_h")
    for day, v in backlog.items():
        if day * 24 in ts.index:
            assert v == ts.loc[day * 24, "n_backlog"]


def test_series_keep_their_colour_across_languages_and_palettes_are_colour_blind_safe():
    import json

    import pandas as pd

    from app_pages import drill_page, lab_page, optimize_view
    from sim.run import run_scenario
    from sim.scenario import Scenario, scenario_with

    sc = scenario_with(Scenario(), {"city.households": 2000, "run.days": 3,
                                    "run.warmup_days": 1})
    res = run_scenario(sc, 1)
    scales = {}
    for lang in ("en", "zh"):
        spec = json.loads(lab_page._timeseries_chart(res, None, lang, True).to_json())
        layer = next(x for x in spec["layer"] if "color" in x.get("encoding", {}))
        scales[lang] = layer["encoding"]["color"]["scale"]
    # backlog, reports, closures: the same colour in each language, in that order
    assert scales["en"]["range"] == scales["zh"]["range"] == list(lab_page.SERIES_COLOURS)
    assert scales["en"]["domain"][0].startswith("Open cases") and \
        scales["zh"]["domain"][0].startswith("未结案件")
    # no red-against-green scheme on any map or heatmap
    from app_pages import maps

    for key in ("on_time_rate", "mean_time_to_close_h", "incidents_total"):
        for diff in (False, True):
            scale = maps.colour_scale(key, diff, (-1.0, 1.0) if diff else (0.0, 1.0))
            assert scale.scheme in {"yellowgreenblue", "purplegreen", "blueorange"}
    okabe_ito = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}
    assert set(drill_page.PALETTE[:7]) == okabe_ito
    assert set(optimize_view.STATUS_COLOURS.values()) <= okabe_ito | {"#999999"}


def test_discovery_limits_and_optimisation_problems_read_as_sentences_in_both_languages():
    from app_pages import kpi_view, words
    from sim.experiment.discover import Box, Discovery, Limit
    from sim.experiment.optspec import Optimize

    d = Discovery(kpi="on_time_rate", op="<", threshold=0.9615, method="prim", unit="run",
                  n_cases=10, n_failing=2, boxes=[])
    box = Box([Limit("staffing.workers_per_grid", low=3)], n=2, failing=2, coverage=1.0,
              density=1.0, mass=0.2)
    assert words.box_sentence(box, d, "en").startswith(
        "Where workers per grid is 3 or more, on-time closure rate falls below 96.2% in 2 of 2 "
        "runs (100%).")
    zh = words.box_sentence(box, d, "zh")
    assert zh.startswith("当每格网格员数不少于 3 时，按期结案率低于 96.2%") and "2 次运行中有 2 次" in zh
    everywhere = Box([], n=10, failing=2, coverage=1.0, density=0.2, mass=1.0)
    assert words.box_sentence(everywhere, d, "en").startswith("Everywhere in this store")
    assert "where everywhere" not in words.box_sentence(everywhere, d, "en").lower()
    card = words.rule_card(1, Box([Limit("departments.sanitation.crews_per_street", high=2),
                                   Limit("platform.routing", values=("manual", "auto"))],
                                  n=4, failing=3, coverage=0.5, density=0.75, mass=0.4), d, "en")
    assert card["if"] == ["sanitation crews per street is 2 or less",
                          "routing is manual or auto"]
    assert words.limit_sentence(Limit("staffing.workers_per_grid", low=2, high=4), "zh") == \
        "每格网格员数在 2 至 4 之间"
    opt = Optimize.model_validate({"objectives": [{"kpi": "monthly_staff_cost"}],
                                   "constraints": ["on_time_rate >= 0.95"], "trials": 4,
                                   "batch": 2, "startup_trials": 2})
    assert words.problem_words(opt, "en").startswith(
        "Find the lowest monthly staff cost with on-time closure rate at least 95.0%")
    assert "minimize" not in words.problem_words(opt, "zh") and \
        words.problem_words(opt, "zh").startswith("寻找月人员成本最低的方案，且按期结案率不低于 95.0%")
    # values in their units, money with ¥ before the number, units in 中文
    assert kpi_view.fmt_delta("monthly_staff_cost", -82000) == "-¥82,000"
    assert kpi_view.fmt("mean_time_to_close_h", 4.3, "zh") == "4.30 小时"
    assert kpi_view.fmt_delta("on_time_rate", 0.012, "zh") == "+1.2 个百分点"
    assert kpi_view.clip_ci("monthly_staff_cost", -55840.0, 10.0) == (0.0, 10.0)
    assert words.axis_label_expr("monthly_staff_cost")
    assert words.axis_format("on_time_rate") == ".0%"
