"""The map builders (``app_pages.maps``, ``map_geo``, ``map_drill``), without a browser: colour
scales fixed by the KPI, changes centred on 0 with green for better whichever way better is,
tooltips in the page's language, names only where they fit, any geometry (not only squares),
GeoJSON and images out. The browser test measures the drawn maps on screen."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app_pages import kpi_view, maps
from app_pages.map_geo import map_geometry, turned
from sim.engine.seeding import Streams
from sim.scenario import Scenario, load_scenario, scenario_with
from sim.world.city import build_city
from sim.world.geometry import SYNTHETIC_ORIGIN, CityGeometry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def city():
    sc = Scenario()
    return build_city(sc.city, Streams(sc.run.seed)["city"])


@pytest.fixture(scope="module")
def geo(city):
    return map_geometry(city)


def _frame(geo, values, **extra) -> pd.DataFrame:
    return pd.DataFrame({"grid": np.arange(geo.n_grids), "value": values, **extra})


def _fill_layer(spec: dict) -> dict:
    return next(lay for lay in spec["layer"] if "color" in lay.get("encoding", {}))


def _scale(spec: dict) -> dict:
    return _fill_layer(spec)["encoding"]["color"]["scale"]


def test_the_colour_domain_is_the_kpis_own_not_the_runs(geo):
    low, high = np.full(geo.n_grids, 0.31), np.full(geo.n_grids, 0.97)
    a = maps.grid_map(geo, _frame(geo, low), "on_time_rate", "en")
    b = maps.grid_map(geo, _frame(geo, high), "on_time_rate", "en")
    assert _scale(a)["domain"] == _scale(b)["domain"] == [0.0, 1.0]   # a share: 0–100%
    # a KPI without a natural top: one round domain for every map shown together
    hours_a, hours_b = np.linspace(1, 7.3, geo.n_grids), np.linspace(2, 11.2, geo.n_grids)
    dom = maps.kpi_domain("mean_time_to_close_h", hours_a, hours_b)
    assert dom == (0.0, 20.0)
    specs = [maps.grid_map(geo, _frame(geo, v), "mean_time_to_close_h", "en", domain=dom)
             for v in (hours_a, hours_b)]
    assert _scale(specs[0])["domain"] == _scale(specs[1])["domain"] == [0.0, 20.0]
    assert [maps.nice_ceiling(v) for v in (0.7, 3, 11.2, 26, 4e5)] == [1, 5, 20, 50, 5e5]


def test_the_change_view_diverges_around_zero(geo):
    d = np.linspace(-0.013, 0.041, geo.n_grids)
    spec = maps.grid_map(geo, _frame(geo, d), "on_time_rate", "en", diff=True)
    sc = _scale(spec)
    assert sc["domainMid"] == 0 and sc["domain"] == [-0.05, 0.05]     # symmetric, round
    assert sc["scheme"] == maps.DIVERGING
    plain = maps.grid_map(geo, _frame(geo, d), "on_time_rate", "en")
    assert _scale(plain)["scheme"] == maps.SEQUENTIAL and "domainMid" not in _scale(plain)
    legend = _fill_layer(spec)["encoding"]["color"]["legend"]
    assert "pp" in legend["labelExpr"]                                # shares change in pp
    zh = maps.grid_map(geo, _frame(geo, d), "on_time_rate", "zh", diff=True)
    expr = _fill_layer(zh)["encoding"]["color"]["legend"]["labelExpr"]
    assert "个百分点" in expr and "pp" not in expr                      # and in 中文 words
    tips = [g["t_value"] for g in zh["datasets"]["grids"]]
    assert tips and all("个百分点" in t and "pp" not in t for t in tips), tips[:3]   # tooltips


def _fills(spec: dict) -> list[str]:
    """The fill colour of each coloured grid in the drawn SVG, in data order."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(maps.export_spec(spec, 500))
    return [tuple(int(v) for v in m) for m in
            re.findall(r'fill="rgb\((\d+), (\d+), (\d+)\)"', svg)]


def _greenish(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return g > r + 30 and g > b


@pytest.mark.parametrize("key", ["on_time_rate", "mean_time_to_close_h"])
def test_green_is_better_whichever_way_better_is(geo, key):
    """Drawn, not read off the spec: on a KPI where higher is better a rise is green, on one
    where lower is better a fall is green."""
    sign = 1.0 if kpi_view.direction(key) == "up" else -1.0
    assert kpi_view.direction(key) in ("up", "down")
    v = np.full(geo.n_grids, np.nan)
    v[0], v[1] = sign * 0.04, -sign * 0.04            # grid 0 better, grid 1 worse
    spec = maps.grid_map(geo, _frame(geo, v), key, "en", diff=True, names=False)
    better, worse = _fills(spec)[:2]
    assert _greenish(better) and not _greenish(worse), (better, worse)


def test_tooltips_speak_the_pages_language(geo):
    f = _frame(geo, np.full(geo.n_grids, 0.85), cases_filed=np.arange(geo.n_grids) * 10,
               hotspot=np.arange(geo.n_grids) % 2 == 0)
    zh = maps.grid_map(geo, f, "on_time_rate", "zh")
    en = maps.grid_map(geo, f, "on_time_rate", "en")
    titles = {lang: [t["title"] for t in _fill_layer(s)["encoding"]["tooltip"]]
              for lang, s in (("zh", zh), ("en", en))}
    assert titles["zh"] == ["网格", "社区", "街道", "按期结案率", "立案数", "热点网格"]
    assert titles["en"] == ["Grid", "Community", "Street", "On-time closure rate",
                            "Cases filed", "Hotspot"]
    rec = zh["datasets"]["grids"][3]
    assert rec["t_value"] == "85.0%" and rec["t_cases"] == "30" and rec["t_hotspot"] == "否"
    assert rec["t_community"].startswith("社区") and rec["t_street"].startswith("街道")
    assert en["datasets"]["grids"][2]["t_hotspot"] == "yes"
    assert en["datasets"]["grids"][3]["t_community"].startswith("Community")
    hours = maps.grid_map(geo, _frame(geo, np.full(geo.n_grids, 2.5)), "mean_time_to_close_h",
                          "zh")
    assert hours["datasets"]["grids"][0]["t_value"] == "2.50 小时"      # the unit in 中文 too
    en_hours = maps.grid_map(geo, _frame(geo, np.full(geo.n_grids, 2.5)), "mean_time_to_close_h",
                             "en")
    assert en_hours["datasets"]["grids"][0]["t_value"] == "2.50 h"
    assert _fill_layer(hours)["encoding"]["color"]["title"] == "平均结案时长 (小时)"


def test_grids_without_a_value_are_grey_not_dropped(geo):
    v = np.full(geo.n_grids, 0.5)
    v[:5] = np.nan
    spec = maps.grid_map(geo, _frame(geo, v), "on_time_rate", "en", names=False)
    recs = spec["datasets"]["grids"]
    assert len(recs) == geo.n_grids and [r["v"] for r in recs[:5]] == [None] * 5
    base = spec["layer"][0]
    assert base["mark"]["fill"] == maps.NO_DATA and "transform" not in base


def test_names_appear_only_where_they_fit(geo):
    wide = maps.fitting_labels(geo, "community", "en", 4000, 4000)
    assert len(wide) == len(geo.labels["community"])
    assert maps.fitting_labels(geo, "community", "en", 120, 120).empty
    some = maps.fitting_labels(geo, "grid", "en", 640, 460)
    assert 0 < len(some) <= geo.n_grids
    # a long name needs more room than a short one
    assert maps.text_px("社区 12") > maps.text_px("12") and maps.text_px("中") == 11.0


def test_outlines_on_demand(geo):
    f = _frame(geo, np.full(geo.n_grids, 0.5))
    none = maps.grid_map(geo, f, "on_time_rate", "en")
    both = maps.grid_map(geo, f, "on_time_rate", "en", outlines=["community", "street"])
    assert not any(k.startswith("outline_") for k in none["datasets"])
    assert len(both["datasets"]["outline_street"]) == len(geo.outlines["street"]) >= 1
    assert len(both["datasets"]["outline_community"]) == len(geo.outlines["community"]) > 1
    assert len(both["layer"]) == len(none["layer"]) + 2


def _real_shaped(city) -> CityGeometry:
    """The city's cells cut by a circle and laid in UTM zone 50N, with named units: polygons of
    any shape, another CRS, as a real boundary file gives them."""
    import shapely
    from pyproj import Transformer

    cells = city.geometry.cells
    c = shapely.centroid(shapely.union_all(cells))
    disc = shapely.buffer(c, 0.75 * (shapely.bounds(shapely.union_all(cells))[2]
                                     - shapely.get_x(c)))
    cut = shapely.intersection(cells, disc)
    cut = np.where(shapely.is_empty(cut), shapely.buffer(shapely.centroid(cells), 5), cut)
    tr = Transformer.from_crs(city.geometry.crs, "EPSG:32650", always_xy=True)
    utm = shapely.transform(cut, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    names = {"community": np.array([f"和平里{i}社区" for i in range(city.community.max() + 1)],
                                   dtype=object)}
    ids = {"grid": np.array([f"G{i:03d}" for i in range(city.n_grids)], dtype=object)}
    return CityGeometry(crs="EPSG:32650", cells=utm, source="test", ids=ids, names=names)


def test_any_geometry_draws_not_only_squares(city):
    real = replace(city, _geometry=_real_shaped(city))
    geo = map_geometry(real)
    assert geo.crs == "EPSG:32650" and geo.n_grids == city.n_grids
    f = _frame(geo, np.linspace(0, 1, geo.n_grids))
    spec = maps.grid_map(geo, f, "on_time_rate", "zh", outlines=["community"])
    recs = spec["datasets"]["grids"]
    assert recs[7]["t_grid"] == "G007" and recs[7]["t_community"].endswith("社区")
    assert any(lab["name"].startswith("和平里") for lab in spec["datasets"].get("labels", []))
    # the model's kilometres land on the grids (units of the drill are placed this way)
    import shapely
    x, y = geo.place(city.x_km, city.y_km)
    inside = shapely.contains_xy(shapely.buffer(geo.grid_polys, 60), x, y)
    assert inside.mean() > 0.9
    # out in lon/lat, near the city's origin, with the geometry's own ids
    out = json.loads(maps_geojson(geo, f.rename(columns={"value": "on_time_rate"})))
    first = shapely.centroid(shapely.from_geojson(json.dumps(out["features"][0]["geometry"])))
    lon, lat = shapely.get_x(first), shapely.get_y(first)
    assert abs(lon - SYNTHETIC_ORIGIN[0]) < 0.1 and abs(lat - SYNTHETIC_ORIGIN[1]) < 0.1
    assert out["features"][7]["properties"]["grid"] == "G007"


def maps_geojson(geo, frame) -> bytes:
    from app_pages.map_geo import grids_geojson
    return grids_geojson(geo, frame)


def test_grids_out_as_geojson_with_their_kpis(geo):
    f = pd.DataFrame({"grid": np.arange(geo.n_grids), "on_time_rate": np.nan,
                      "cases_filed": np.arange(geo.n_grids, dtype=float)})
    out = json.loads(maps_geojson(geo, f))
    assert out["type"] == "FeatureCollection" and len(out["features"]) == geo.n_grids
    p = out["features"][5]["properties"]
    assert p["cases_filed"] == 5.0 and p["on_time_rate"] is None and p["grid"] == "5"
    assert p["community"].startswith("Community")


def test_maps_export_to_png_and_svg(geo):
    spec = maps.grid_map(geo, _frame(geo, np.full(geo.n_grids, 0.4)), "on_time_rate", "en")
    assert maps.to_png(spec, scale=1).startswith(b"\x89PNG")
    svg = maps.to_svg(spec)
    assert svg.startswith(b"<svg") and svg.count(b"<path") >= geo.n_grids


def test_a_change_grid_by_grid_needs_the_same_grids():
    sc = Scenario()
    more = scenario_with(sc, {"city.households": sc.city.households * 2})
    a, b = (build_city(s.city, Streams(sc.run.seed)["city"]).grid_frame() for s in (sc, more))
    assert maps.same_grids(a, a.copy()) and not maps.same_grids(a, b)


def test_a_turned_map_keeps_every_grid_and_turns_the_units_with_it(geo, city):
    t = turned(geo)
    assert t.size_m == geo.size_m[::-1]
    x, y = geo.place(city.x_km, city.y_km)
    tx, ty = t.place(city.x_km, city.y_km)
    assert np.allclose(tx, y) and np.allclose(ty, -x)


def test_the_drill_map_shows_hazard_units_stations_cordon_and_ways():
    from app_pages.drill_page import (department_scale, hazard_frame, map_frames, start_drill,
                                      status_scale)
    from app_pages.map_drill import cordons, drill_spec

    sc = load_scenario(ROOT / "scenarios" / "fire_drill.yaml")
    d = start_drill(sc, sc.run.seed, {"dispatch": sc.emergency.rules.dispatch,
                                      "command": sc.emergency.rules.command})
    d.step(10 / 60)
    geo = map_geometry(d.model.city)
    grids, units = map_frames(d, "zh")
    peaks: dict = {}
    hz = hazard_frame(d, grids, peaks)
    spec, turn = drill_spec(d, geo, grids, units, hz, peaks, department_scale(d, "zh"),
                            status_scale("zh"), "zh", projector=True)
    data = spec["datasets"]
    burning = {int(g) for g in hz.grid}
    assert burning and {i for i, r in enumerate(data["grids"]) if r["hz"]} == burning
    assert cordons(d) and len(data["cordon"]) == len(cordons(d))
    assert len(data["stations"]) == len(d.stations())
    assert len(data["units"]) == len(units)
    moving = units[units.status.isin(["dispatched", "returning"])]
    assert len(data["way"]) == len(moving) > 0
    x0, y0, x1, y1 = (turned(geo) if turn else geo).bounds
    xy = np.array([[u["x"], u["y"]] for u in data["units"]])
    assert ((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)).all()
    assert spec["width"] == "container"
    assert any(r["t_hazard"].endswith("m²") for r in data["grids"] if r["hz"])
    import altair as alt
    alt.LayerChart.from_dict(spec, validate=True)


def test_every_kind_of_map_is_a_valid_vega_lite_spec(geo):
    """The app skips Altair's validation for speed: the schema is checked here instead."""
    import altair as alt

    f = _frame(geo, np.linspace(-0.1, 0.2, geo.n_grids), hotspot=np.arange(geo.n_grids) < 3)
    for kw in ({}, {"diff": True}, {"outlines": ["community", "street"], "legend_at": "top"}):
        alt.LayerChart.from_dict(maps.grid_map(geo, f, "on_time_rate", "zh", **kw),
                                 validate=True)


def test_the_map_averages_as_many_seeds_as_its_grids_allow():
    from types import SimpleNamespace

    from app_pages.map_ui import MAP_GRID_RUNS, map_seeds

    def runs(grids: int, n: int) -> list:
        return [SimpleNamespace(grids=pd.DataFrame({"grid": range(grids)})) for _ in range(n)]

    assert len(map_seeds(runs(45, 3))) == 3                       # the baseline: every seed
    assert len(map_seeds(runs(590, 3))) == 1                      # the size limit: one
    assert len(map_seeds(runs(45, 40))) == MAP_GRID_RUNS // 45


def _map_specs(at) -> list[dict]:
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    return [s for s in specs if "grids" in s.get("datasets", {})]


def test_compare_maps_share_one_scale_and_show_the_change_from_the_reference():
    from tests.apptest_util import assert_ok
    from tests.test_app_compare_sweeps import _short_compare

    at = _short_compare(reps=2)
    at.button(key="cmp_run").click().run()
    assert_ok(at)
    a, b = _map_specs(at)                               # the reference and the variant
    assert _scale(a)["domain"] == _scale(b)["domain"]
    assert a["datasets"]["grids"] != b["datasets"]["grids"]
    at.toggle(key="cmp_map_diff").set_value(True).run()
    assert_ok(at)
    (change,) = _map_specs(at)                          # the variant's change from the reference
    sc = _scale(change)
    assert sc["domainMid"] == 0 and sc["domain"][0] == -sc["domain"][1]
    va = np.array([r["v"] if r["v"] is not None else np.nan for r in a["datasets"]["grids"]])
    vb = np.array([r["v"] if r["v"] is not None else np.nan for r in b["datasets"]["grids"]])
    vd = np.array([r["v"] if r["v"] is not None else np.nan for r in change["datasets"]["grids"]])
    ok = np.isfinite(va) & np.isfinite(vb)
    assert np.allclose(vd[ok], (vb - va)[ok])
