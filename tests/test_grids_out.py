"""Grids back out: every run folder holds the run's grid layer (grids.geojson in lon/lat,
grids.parquet as GeoParquet) with per-grid KPIs by the run's own formulas, and the city's one
geometry agrees with what the rest of the model reads of the city's shape."""

from __future__ import annotations

import hashlib
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from sim.engine.records import CASE_SCHEMA
from sim.engine.seeding import Streams
from sim.metrics import GRID_KPIS, RunContext, case_kpis, per_grid_kpis
from sim.run import RunResult, run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with
from sim.world.city import build_city
from sim.world.geometry import LEVELS, SYNTHETIC_ORIGIN, unit_frame, unit_polygons

NAN = float("nan")
IDS = ("grid", "community", "street", "district")


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    sc = scenario_with(Scenario(), {"run.days": 6, "run.warmup_days": 1})
    r = run_scenario(sc, seed=3, out_dir=out, keep_cases=False)
    return r, out


def test_the_baseline_layer_has_one_lonlat_polygon_per_grid_near_dongcheng(baseline_run):
    r, out = baseline_run
    data = json.loads((out / "grids.geojson").read_text(encoding="utf-8"))
    feats = data["features"]
    assert data["type"] == "FeatureCollection" and len(feats) == r.manifest["n_grids"]
    assert sorted(f["properties"]["grid_index"] for f in feats) == list(range(len(feats)))
    layer = gpd.read_file(out / "grids.geojson")
    assert layer.crs.to_epsg() == 4326
    lon, lat = SYNTHETIC_ORIGIN
    x0, y0, x1, y1 = layer.total_bounds
    assert lon - 0.2 < x0 < x1 < lon + 0.2 and lat - 0.2 < y0 < y1 < lat + 0.2
    assert (layer.geom_type == "Polygon").all() and layer.is_valid.all()
    # areas on the ellipsoid (an independent reprojection) are the grid table's area_km2
    geod = Geod(ellps="WGS84")
    area = np.array([abs(geod.geometry_area_perimeter(g)[0]) / 1e6 for g in layer.geometry])
    np.testing.assert_allclose(area, layer["area_km2"], rtol=1e-3)
    assert layer["households"].sum() == pytest.approx(r.grids["households"].sum(), rel=1e-12)
    # RFC 7946: exterior rings counter-clockwise
    assert all(shapely.is_ccw(g.exterior) for g in layer.geometry)
    for level in IDS:
        assert layer[level].map(type).eq(str).all()
    assert (layer["grid"] == layer["grid_index"].astype(str)).all()  # synthetic ids: the index


def test_the_geoparquet_layer_is_the_geojson_one(baseline_run):
    _, out = baseline_run
    a = gpd.read_parquet(out / "grids.parquet")
    b = gpd.read_file(out / "grids.geojson")
    assert a.crs.to_epsg() == 4326 and list(a.columns) == list(b.columns)
    for col in GRID_KPIS + ("households", "area_km2"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-9)
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-6).all()


def test_per_grid_kpis_add_up_to_the_run_kpis(baseline_run):
    r, out = baseline_run
    g = gpd.read_parquet(out / "grids.parquet")
    k, ctx = r.kpis, r.context
    for key in ("incidents_total", "cases_filed", "cases_open_end", "escalated_cases",
                "parked_cases", "unreported_harm_yuan"):
        assert g[key].sum() == pytest.approx(k[key], rel=1e-12, abs=1e-9), key
    assert k["incidents_total"] > 100
    hours = (g["problem_hours_per_1000_households"] * g["households"] / 1000).sum()
    assert hours == pytest.approx(
        k["problem_hours_per_1000_households"] * g["households"].sum() / 1000, rel=1e-9)
    # the engine books each busy hour on its grid (workers) or street (crews): nothing lost
    assert ctx.worker_busy_grid_h.sum() == pytest.approx(ctx.worker_busy_h, rel=1e-9)
    assert ctx.crew_busy_street_h.sum() == pytest.approx(sum(ctx.crew_busy_h.values()), rel=1e-9)
    assert ctx.crew_capacity_street_h.sum() == pytest.approx(sum(ctx.crew_capacity_h.values()))
    # one-grid beats: Σ utilisation × capacity is the run's worker-hours
    cap = ctx.worker_capacity_beat_h[ctx.worker_beat]
    assert (g["worker_utilization"] * cap).sum() == pytest.approx(
        k["worker_utilization"] * ctx.worker_capacity_h, rel=1e-9)
    assert g["worker_utilization"].nunique() > 5  # grids differ, not the city's value copied
    st = r.grids["street"].to_numpy()
    crew = np.array([g["crew_utilization"][st == s].iloc[0] for s in np.unique(st)])
    assert crew @ ctx.crew_capacity_street_h == pytest.approx(
        k["crew_utilization"] * sum(ctx.crew_capacity_h.values()), rel=1e-9)


def test_each_grid_gets_the_run_formula_on_its_own_cases():
    """The one-pass per-grid counts equal case_kpis run on each grid's rows alone."""
    sc = scenario_with(Scenario(), {"run.days": 5, "run.warmup_days": 1})
    r = run_scenario(sc, seed=8)
    ctx = r.context
    keys = tuple(x for x in GRID_KPIS if x not in ("worker_utilization", "crew_utilization"))
    keys = keys + ("p50_time_to_close_h", "p90_time_to_close_h",
                   "p50_time_from_dispatch_to_close_h")
    per = per_grid_kpis(r.cases, len(r.grids), ctx.warmup_h, ctx.end_h, keys, ctx=ctx,
                        grids=r.grids)
    case_keys = [x for x in keys if x in case_kpis(r.cases.iloc[0:0], 0, 1)]
    for g, rows in r.cases.groupby("grid"):
        want = case_kpis(rows, ctx.warmup_h, ctx.end_h,
                         acceptance_limit_h=ctx.acceptance_limit_h)
        for key in case_keys:
            a, b = want[key], per.loc[g, key]
            assert (math.isnan(a) and math.isnan(b)) or b == pytest.approx(a, rel=1e-12), key


def _case(grid, **kw) -> dict:
    row = {f.name: NAN for f in CASE_SCHEMA}
    row.update(incident_id=0, grid=grid, category="c", subtype="s", department="d",
               t_occur_h=9.0, channel="patrol", t_report_h=10.0, n_reports=1, worker=-1,
               on_spot=False, complex=False, returns=0, reworks=0, escalation_level=0,
               false_closure=False, state="filed", misrouted_to="", padded=False,
               suppressed=False, staged_verification=False, gaming_caught=False,
               joint_meeting=False, cell=0, harm_yuan=0.0)
    row.update(kw)
    return row


def test_per_grid_kpis_on_a_hand_built_log():
    end = 100.0
    rows = [
        # grid 0: closed on time (due 60, closed 30); closed late (due 40, closed 50)
        _case(0, t_dispatch_h=10.0, t_due_h=60.0, t_closed_h=30.0, state="closed",
              t_gone_h=30.0),
        _case(0, t_occur_h=20.0, t_report_h=21.0, t_dispatch_h=22.0, t_due_h=40.0,
              t_closed_h=50.0, state="closed", t_gone_h=50.0),
        # grid 1: one reported, open past its deadline; one never reported, gone at 19 h
        _case(1, t_dispatch_h=12.0, t_due_h=20.0, t_gone_h=NAN),
        _case(1, t_occur_h=15.0, t_report_h=NAN, channel="", t_gone_h=19.0),
        # grid 2: nothing.  grid 3: an incident before the window (warm-up 5 h) only
        _case(3, t_occur_h=1.0, t_report_h=2.0, t_dispatch_h=2.0, t_due_h=3.0, t_closed_h=4.0,
              state="closed", t_gone_h=4.0),
    ]
    cases = pd.DataFrame(rows)
    grids = pd.DataFrame({"grid": range(4), "households": [500.0, 2000.0, 100.0, 100.0],
                          "street": [0, 0, 1, 1]})
    ctx = RunContext(warmup_h=5.0, end_h=end, worker_busy_grid_h=np.array([3.0, 1.0, 0, 0]),
                     worker_beat=np.array([0, 0, 1, 1]),
                     worker_capacity_beat_h=np.array([40.0, 10.0]),
                     crew_busy_street_h=np.array([6.0, 0.0]),
                     crew_capacity_street_h=np.array([24.0, 0.0]))
    p = per_grid_kpis(cases, 4, 5.0, end, GRID_KPIS, ctx=ctx, grids=grids).set_index("grid")
    assert p["incidents_total"].tolist() == [2, 2, 0, 0]
    assert p["cases_filed"].tolist() == [2, 1, 0, 0]
    assert p["discovery_rate"].tolist()[:2] == [1.0, 0.5]
    assert math.isnan(p.loc[2, "discovery_rate"]) and math.isnan(p.loc[2, "on_time_rate"])
    assert p.loc[0, "on_time_rate"] == 0.5 and p.loc[1, "on_time_rate"] == 0.0
    assert p.loc[1, "cases_open_end"] == 1 and p.loc[0, "closure_rate"] == 1.0
    # problem-hours from max(occurrence, warm-up) to fix/gone/end, per 1,000 households:
    # grid 0: (30 − 9) + (50 − 20) = 51 h over 0.5; grid 1: (100 − 9) + (19 − 15) = 95 h over 2;
    # grid 3: its problem ended at 4 h, before the window: 0 h
    assert p["problem_hours_per_1000_households"].tolist() == pytest.approx(
        [102.0, 47.5, 0.0, 0.0])
    # utilisation of the beat (grids 0 and 1 share beat 0) and of the street
    assert p["worker_utilization"].tolist() == pytest.approx([0.1, 0.1, 0.0, 0.0])
    assert p.loc[0, "crew_utilization"] == 0.25 and math.isnan(p.loc[2, "crew_utilization"])


def test_the_geometry_agrees_with_the_city_that_the_model_reads():
    """Areas, centroids, adjacency (hazard spread, travel graph) and containment in the
    hierarchy graph are those of the polygons."""
    for sc in (Scenario(), load_scenario("scenarios/dense_commercial.yaml")):
        city = build_city(sc.city, Streams(sc.run.seed)["city"])
        polys = unit_polygons(city, "grid")
        np.testing.assert_allclose(shapely.area(polys) / 1e6, city.area_km2, rtol=1e-12)
        # centroids: the lattice's (x_km, y_km) shifted to the plane's origin
        side = float(max(city.cells.col.max(), city.cells.row.max()) + 1) * city.cell_km
        c = shapely.centroid(polys)
        np.testing.assert_allclose(shapely.get_x(c) / 1000, city.x_km - side / 2, atol=1e-9)
        np.testing.assert_allclose(shapely.get_y(c) / 1000, city.y_km - side / 2, atol=1e-9)
        # neighbours: grids whose polygons share an edge (not just a corner)
        tree = shapely.STRtree(polys)
        a, b = tree.query(polys, predicate="touches")
        shared = shapely.length(shapely.intersection(polys[a], polys[b])) > 1e-6
        poly_pairs = {(int(x), int(y)) for x, y in zip(a[shared], b[shared])}
        adj = city.adjacency.tocoo()
        assert poly_pairs == {(int(x), int(y)) for x, y in zip(adj.row, adj.col)}
        # the hierarchy graph's containment is the polygons' containment
        shapes = {level: unit_polygons(city, level) for level in LEVELS}
        for u, v, d in city.graph.edges(data=True):
            if d["kind"] == "contains":
                (lu, iu), (lv, iv) = sorted((u, v), key=lambda x: -LEVELS.index(x[0]))
                assert shapes[lu][iu].covers(shapes[lv][iv]), (u, v)


def test_unit_frames_carry_ids_parents_and_totals():
    sc = Scenario()
    city = build_city(sc.city, Streams(sc.run.seed)["city"])
    for level in ("community", "street", "district"):
        f = unit_frame(city, level, lonlat=False)
        n = int(getattr(city, level).max()) + 1
        assert len(f) == n and f.crs == city.geometry.crs
        assert f["households"].sum() == pytest.approx(city.households.sum())
        assert f["area_km2"].to_numpy() == pytest.approx(shapely.area(f.geometry.values) / 1e6)
        # a community's street is the street of its grids
        if level == "community":
            want = [str(city.street[city.community == k][0]) for k in range(n)]
            assert f["street"].tolist() == want


def test_the_manifest_lists_every_output_file_with_its_sha256(baseline_run):
    _, out = baseline_run
    files = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert set(files) == {"kpis.json", "timeseries.parquet", "cases.parquet", "grids.geojson",
                          "grids.parquet"}
    for name, d in files.items():
        blob = (out / name).read_bytes()
        assert d["sha256"] == hashlib.sha256(blob).hexdigest() and d["bytes"] == len(blob)


def test_a_failed_layer_write_leaves_no_grid_file(baseline_run, tmp_path, monkeypatch):
    r, _ = baseline_run
    res = RunResult(kpis=r.kpis, timeseries=r.timeseries, cases=None, manifest=dict(r.manifest),
                    context=r.context, grids=r.grids, grid_kpis=r.grid_kpis, layer=r.layer)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_parquet", boom)
    with pytest.raises(OSError):
        res.write(tmp_path)
    assert not list(tmp_path.glob("grids*")) and not (tmp_path / "manifest.json").exists()


@pytest.mark.slow
def test_a_run_in_parts_writes_the_same_grid_layer(tmp_path):
    sc = load_scenario("scenarios/baseline.yaml", {
        "city.households": 64000, "city.communities_per_street": 2,
        "city.streets_per_district": 2, "run.days": 4, "platform.operators": 40})
    run_scenario(sc, 5, out_dir=tmp_path / "one")
    r = run_scenario(sc, 5, out_dir=tmp_path / "two", parts=2)
    assert r.manifest["parts"]["n"] == 2 and r.manifest["parts"]["exact"]
    a = json.loads((tmp_path / "one" / "grids.geojson").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "two" / "grids.geojson").read_text(encoding="utf-8"))
    assert len(a["features"]) == len(b["features"]) > 100
    for fa, fb in zip(a["features"], b["features"]):
        assert fa["geometry"] == fb["geometry"]
        pa_, pb = fa["properties"], fb["properties"]
        assert pa_.keys() == pb.keys()
        for key, x in pa_.items():
            y = pb[key]
            if isinstance(x, float) and isinstance(y, float):
                assert y == pytest.approx(x, rel=1e-9, abs=1e-12), key
            else:
                assert x == y, key
    assert "grids.geojson" in r.manifest["files"]
