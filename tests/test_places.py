"""Requests with places: a map and a log made here in code with known surfaces (three
hotspots; 20% of rows without coordinates, 5% outside the map, GCJ-02 coordinates) — the
calibrated surfaces, the calibrated city's incidents and the replay recover where requests arise
within their sampling error; the scenario's hash covers the surfaces; nothing is written with a
coordinate or an address in it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from sim.scenario import ScenarioError, scenario_with, validate_scenario
from sim.world.gcj02 import wgs84_to_gcj02

gpd = pytest.importorskip("geopandas")
UTM50 = "EPSG:32650"
X0, Y0 = 500_000.0, 4_400_000.0
SIDE = 4000.0
#: hotspots: (x, y) offset in metres from the map's corner, radius, share of the category's
#: requests that arise in the disc (the rest arise where households are: uniform here)
HOTSPOTS = ((800.0, 900.0, 160.0, 0.15), (2600.0, 3100.0, 160.0, 0.10),
            (3300.0, 1200.0, 160.0, 0.06))
ADDRESS = "和平里七区3号楼"


def make_map(tmp_path) -> str:
    """Sixteen 1 km squares (streets), 2,000 households each."""
    boxes = [shapely.box(X0 + i * 1000, Y0 + j * 1000, X0 + (i + 1) * 1000, Y0 + (j + 1) * 1000)
             for j in range(4) for i in range(4)]
    f = gpd.GeoDataFrame({"code": [f"S{k:02d}" for k in range(16)], "hh": [2000] * 16},
                         geometry=boxes, crs=UTM50)
    path = tmp_path / "city.geojson"
    f.to_file(path)
    return str(path)


def base_scenario(map_path: str, **extra):
    return validate_scenario({"city": {"geometry": {
        "file": map_path, "level": "street", "fields": {"id": "code", "households": "hh"}},
        "households_per_community": 2000, "households_per_grid": 500, **extra},
        "run": {"days": 7, "warmup_days": 0}})


def points(rng, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, hotspot index or -1) of n requests of the hotspot category, in UTM metres."""
    which = rng.choice(4, size=n, p=[h[3] for h in HOTSPOTS] + [1 - sum(h[3] for h in HOTSPOTS)])
    x = X0 + rng.random(n) * SIDE
    y = Y0 + rng.random(n) * SIDE
    for k, (hx, hy, r, _) in enumerate(HOTSPOTS):
        sel = np.flatnonzero(which == k)
        rad = r * np.sqrt(rng.random(len(sel)))
        ang = rng.random(len(sel)) * 2 * np.pi
        x[sel], y[sel] = X0 + hx + rad * np.cos(ang), Y0 + hy + rad * np.sin(ang)
    return x, y, np.where(which < 3, which, -1)


def make_log(tmp_path, n_hot: int = 3000, n_flat: int = 1500, seed: int = 5):
    """A CSV log: infrastructure requests from the three hotspots and households, sanitation
    requests where households are; 20% without coordinates, 5% outside the map, in GCJ-02."""
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    hx, hy, _ = points(rng, n_hot)
    fx, fy = X0 + rng.random(n_flat) * SIDE, Y0 + rng.random(n_flat) * SIDE
    x, y = np.r_[hx, fx], np.r_[hy, fy]
    n = len(x)
    kind = rng.choice(3, size=n, p=[0.75, 0.20, 0.05])  # placed, no coordinates, outside
    out = kind == 2
    x[out] = X0 - 5000 - rng.random(out.sum()) * 3000  # west of the map
    lon, lat = Transformer.from_crs(UTM50, "EPSG:4326", always_xy=True).transform(x, y)
    glon, glat = wgs84_to_gcj02(lon, lat)
    t0 = pd.Timestamp("2024-03-04")
    created = t0 + pd.to_timedelta(np.sort(rng.random(n)) * 28, unit="D")
    df = pd.DataFrame({
        "id": np.arange(n), "created": created.strftime("%Y-%m-%d %H:%M:%S"),
        "closed": (created + pd.to_timedelta(rng.exponential(30, n), unit="h")).strftime(
            "%Y-%m-%d %H:%M:%S"),
        "type": np.r_[np.full(n_hot, "infrastructure"), np.full(n_flat, "environment_sanitation")],
        "status": "closed",
        "lat": np.where(kind == 1, "", [f"{v:.6f}" for v in glat]),
        "lon": np.where(kind == 1, "", [f"{v:.6f}" for v in glon]),
        "address": [f"{ADDRESS}{i % 97}" for i in range(n)]})
    path = tmp_path / "log.csv"
    df.to_csv(path, index=False)
    return path, df, kind


def hotspot_cells(city, k: int) -> np.ndarray:
    hx, hy, r, _ = HOTSPOTS[k]
    disc = shapely.Point(X0 + hx, Y0 + hy).buffer(r)
    return np.flatnonzero(shapely.intersects(city.geometry.cells, disc))


def true_share(city, cells: np.ndarray, k: int) -> float:
    """Expected share of the category's requests on ``cells``: the hotspot's own and the
    household-spread rest (households ∝ area on this map)."""
    hh = city.cells.households
    rest = 1 - sum(h[3] for h in HOTSPOTS)
    return HOTSPOTS[k][3] + rest * hh[cells].sum() / hh.sum()


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    from sim.data.calibrate import calibrate

    tmp = tmp_path_factory.mktemp("places")
    base = base_scenario(make_map(tmp))
    log, df, kind = make_log(tmp)
    cal, sc = calibrate(log, "csv", base=base, size=False, crs="gcj02",
                        surfaces=tmp / "surfaces.parquet")
    from sim.engine.seeding import Streams
    from sim.world.city import build_city

    city = build_city(sc.city, Streams(sc.run.seed)["city"])
    return cal, sc, city, df, kind, tmp


def test_places_are_counted_by_kind(calibrated):
    """Every used request is on a cell, outside, or without a place — in the log's numbers."""
    cal, _, _, _, kind, _ = calibrated
    c = cal.places.counts
    assert c == {"cell": int((kind == 0).sum()), "unit": 0, "outside": int((kind == 2).sum()),
                 "none": int((kind == 1).sum())}


def test_surfaces_recover_the_hotspots_within_sampling_error(calibrated):
    """Each hotspot's share of the surface is its true share — the placed requests' (a share
    f of the category's) with the rest spread by households — within 3 binomial standard
    errors of the placed requests; a GCJ-02 log read as WGS84 (a ~500 m offset) misses them."""
    from sim.data.calibrate import calibrate

    cal, sc, city, _, _, tmp = calibrated
    s = cal.places.surfaces["infrastructure"]
    assert s.spread > 0.5  # hotspots: relative risk far from its unit's households
    n, f = s.on_cells, s.on_cells / s.requests
    hh = city.cells.households / city.cells.households.sum()
    for k in range(3):
        cells = hotspot_cells(city, k)
        p = true_share(city, cells, k)
        want = f * p + (1 - f) * hh[cells].sum()
        got = s.weights[cells].sum()
        assert abs(got - want) < 3 * f * np.sqrt(p * (1 - p) / n), (k, got, want)
    wrong, _ = calibrate(tmp / "log.csv", "csv", base=scenario_with(sc, {
        "city.geometry.surfaces": None}), size=False, surfaces=tmp / "wrong.parquet")
    cells = hotspot_cells(city, 0)
    want = f * true_share(city, cells, 0) + (1 - f) * hh[cells].sum()
    assert wrong.places.surfaces["infrastructure"].weights[cells].sum() < want / 2


def test_a_flat_category_stays_near_households(calibrated):
    """Sanitation requests follow households: its surface puts each hotspot area's household
    share there (no spurious hotspot), the prior strength large."""
    cal, _, city, _, _, _ = calibrated
    s = cal.places.surfaces["environment_sanitation"]
    hh = city.cells.households / city.cells.households.sum()
    for k in range(3):
        cells = hotspot_cells(city, k)
        assert abs(s.weights[cells].sum() - hh[cells].sum()) < 0.01
    assert s.spread < 0.5


def test_calibrated_city_draws_its_incidents_on_the_surfaces(calibrated):
    """The arrivals of the calibrated scenario put each hotspot's share of infrastructure
    incidents there (binomial 99.9% band), while a category without surface keeps the cells'
    weights; the same scenario without the surfaces draws the same incident count per hour
    (common random numbers: only the cells move)."""
    from sim.engine import case as I
    from sim.engine.arrivals import ArrivalGenerator

    cal, sc, city, _, _, tmp = calibrated
    subs = I.taxonomy(sc)

    def draw(scen):
        rng = [np.random.default_rng(s) for s in (1, 2, 3)]
        gen = ArrivalGenerator(scen, city, subs, *rng)
        return gen.draw_hours(0, 24 * 60)[0]

    b = draw(sc)
    plain = draw(scenario_with(sc, {"city.geometry.surfaces": None}))
    assert len(b) == len(plain) and np.array_equal(b.subs, plain.subs)
    cat = np.array([s.category for s in subs])[b.subs]
    infra = b.cells[cat == "infrastructure"]
    w = cal.places.surfaces["infrastructure"].weights
    for k in range(3):
        cells = hotspot_cells(city, k)
        p = w[cells].sum()
        got = np.isin(infra, cells).mean()
        assert abs(got - p) < 3.3 * np.sqrt(p * (1 - p) / len(infra)), (k, got, p)
    from sim.scenario.surfaces import write_surfaces

    path = tmp / "infra_only.parquet"
    write_surfaces(path, {"infrastructure": w})
    only = draw(scenario_with(sc, {"city.geometry.surfaces": str(path)}))
    assert np.array_equal(only.cells[cat == "infrastructure"], infra)  # same uniforms, same cells
    other = only.cells[cat == "environment_sanitation"]
    assert np.array_equal(other, plain.cells[cat == "environment_sanitation"])


def test_the_hash_covers_the_surfaces(calibrated, tmp_path):
    """Same content elsewhere: same hash; other weights: another hash."""
    from sim.scenario.surfaces import write_surfaces

    cal, sc, _, _, _, _ = calibrated
    w = cal.places.weights()
    write_surfaces(tmp_path / "a.parquet", w)
    a = scenario_with(sc, {"city.geometry.surfaces": str(tmp_path / "a.parquet")})
    assert a.hash() == sc.hash()
    w2 = dict(w, infrastructure=np.roll(w["infrastructure"], 1))
    write_surfaces(tmp_path / "b.parquet", w2)
    b = scenario_with(sc, {"city.geometry.surfaces": str(tmp_path / "b.parquet")})
    assert b.hash() != sc.hash()
    assert "city.geometry.surfaces" in sc.files()


def test_a_surface_of_an_unknown_category_or_another_map_is_refused(calibrated, tmp_path):
    from sim.engine.model import GridModel
    from sim.scenario.surfaces import write_surfaces

    _, sc, city, _, _, _ = calibrated
    write_surfaces(tmp_path / "x.parquet", {"potholes": np.ones(10)})
    with pytest.raises(ScenarioError, match="city.geometry.surfaces.*'potholes'"):
        scenario_with(sc, {"city.geometry.surfaces": str(tmp_path / "x.parquet")})
    big = np.zeros(city.n_cells + 5)
    big[-1] = 1
    write_surfaces(tmp_path / "y.parquet", {"infrastructure": big})
    bad = scenario_with(sc, {"city.geometry.surfaces": str(tmp_path / "y.parquet")})
    with pytest.raises(ScenarioError, match="city.geometry.surfaces.*another map"):
        GridModel(bad, seed=1)


def test_replay_places_requests_on_their_cells(calibrated):
    """A replay on the map puts each request with coordinates on its own cell: the replayed
    cases' cells are the log's, hotspot by hotspot, exactly."""
    from sim.data.replay import read_requests, replay_once

    cal, sc, city, df, kind, tmp = calibrated
    req = read_requests(tmp / "log.csv", "csv", sc, crs="gcj02")
    assert req.place is not None and (req.place == 2).sum() == (kind == 0).sum()
    run = replay_once(sc, req.first_days(3), seed=3, keep_cases=True)
    cases = run.cases.sort_values("incident_id")
    own = req.first_days(3)
    placed = own.place == 2
    assert np.array_equal(cases["cell"].to_numpy()[placed], own.where[placed])


def test_unit_codes_place_requests_on_their_unit(tmp_path):
    """A request without coordinates but with a unit code of the map lands in that unit."""
    from sim.data.calibrate import calibrate

    base = base_scenario(make_map(tmp_path))
    rng = np.random.default_rng(1)
    n = 400
    units = np.where(rng.random(n) < 0.5, "S05", np.array([f"S{k:02d}" for k in range(16)])[
        rng.integers(0, 16, n)])
    t = pd.Timestamp("2024-03-04") + pd.to_timedelta(np.sort(rng.random(n)) * 14, unit="D")
    pd.DataFrame({"created": t.strftime("%Y-%m-%d %H:%M"), "type": "infrastructure",
                  "area": units}).to_csv(tmp_path / "u.csv", index=False)
    cal, sc = calibrate(tmp_path / "u.csv", "csv", base=base, size=False,
                        columns={"unit": "area"})
    assert cal.places.counts["unit"] == n
    from sim.engine.seeding import Streams
    from sim.world.city import build_city

    city = build_city(sc.city, Streams(sc.run.seed)["city"])
    k = list(city.geometry.ids["street"]).index("S05")
    cells = np.flatnonzero(city.street[city.cell_grid] == k)
    share = cal.places.surfaces["infrastructure"].weights[cells].sum()
    p = (units == "S05").mean()
    assert abs(share - p) < 3 * np.sqrt(p * (1 - p) / n)


def test_bad_crs_is_a_clear_error(tmp_path):
    """An unknown --crs, or --crs without a map, exits 2 naming the option; nothing written."""
    from tests.conftest import gridsim_inproc

    log, _, _ = make_log(tmp_path, n_hot=50, n_flat=20)
    (tmp_path / "city.yaml").write_text(
        f"city:\n  geometry:\n    file: {make_map(tmp_path)}\n    level: street\n"
        "    fields: {id: code, households: hh}\n", encoding="utf-8")
    r = gridsim_inproc("calibrate", str(log), "--format", "csv", "--scenario",
                       str(tmp_path / "city.yaml"), "--crs", "EPSG:999999", "--out",
                       str(tmp_path / "o" / "cal.yaml"), "--no-match-cases")
    assert r.returncode == 2 and "crs" in r.stderr and "EPSG:999999" in r.stderr
    r = gridsim_inproc("calibrate", str(log), "--format", "csv", "--crs", "gcj02",
                       "--out", str(tmp_path / "o" / "cal.yaml"), "--no-match-cases")
    assert r.returncode == 2 and "city.geometry" in r.stderr
    assert not (tmp_path / "o").exists()
