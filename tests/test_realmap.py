"""A city on its real map: files made here in code, read through ``city.geometry``, with known
answers (households per grid, grid counts at three sizes, parents, distances, areas)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import shapely

from sim.scenario import ScenarioError, validate_scenario
from sim.world.city import build_city, grid_count
from sim.world.gcj02 import (bd09_to_gcj02, gcj02_to_bd09, gcj02_to_wgs84, wgs84_to_gcj02)

gpd = pytest.importorskip("geopandas")
UTM50 = "EPSG:32650"  # metres, around Beijing


def write(path, frame, **kw) -> str:
    frame.to_file(path, **kw)
    return str(path)


def scenario(geometry: dict, **city):
    return validate_scenario({"city": {"geometry": geometry, **city}})


def city_of(sc, seed: int = 1):
    return build_city(sc.city, np.random.default_rng(seed))


def squares(tmp_path, name="sq.geojson", crs=UTM50):
    """Four 1 km squares (communities) in two streets, 1,000 households each."""
    x0, y0 = 500_000.0, 4_400_000.0
    boxes = [shapely.box(x0 + i * 1000, y0 + j * 1000, x0 + (i + 1) * 1000, y0 + (j + 1) * 1000)
             for j in range(2) for i in range(2)]
    f = gpd.GeoDataFrame({"code": ["A", "B", "C", "D"], "hh": [1000, 1000, 1000, 1000],
                          "street": ["S1", "S1", "S2", "S2"]}, geometry=boxes, crs=crs)
    return write(tmp_path / name, f)


def test_squares_known_grids_households_and_parents(tmp_path):
    path = squares(tmp_path)
    geo = {"file": path, "level": "community",
           "fields": {"id": "code", "households": "hh", "street": "street"}}
    counts = {}
    for hpg, want in ((250, 16), (500, 8), (1000, 4)):
        sc = scenario(geo, households_per_grid=hpg)
        counts[hpg] = grid_count(sc.city)
        c = city_of(sc)
        assert c.n_grids == want == counts[hpg]
        assert np.allclose(c.households, hpg)  # equal areas, households spread by area
        assert c.n_cells == 400 and np.isclose(c.area_km2.sum(), 4.0)
        assert c.n_communities == 4 and c.n_streets == 2 and c.n_districts == 1
    g = c.geometry
    assert sorted(g.ids["community"]) == ["A", "B", "C", "D"]
    street_of = dict(zip(g.ids["community"], g.ids["street"][
        [int(c.street[c.community == k][0]) for k in range(4)]]))
    assert street_of == {"A": "S1", "B": "S1", "C": "S2", "D": "S2"}
    assert sc.city.households == 4000


def test_rescaling_households_and_cut_streets(tmp_path):
    path = squares(tmp_path)
    geo = {"file": path, "level": "street", "fields": {"id": "code", "households": "hh"}}
    sc = scenario(geo, households=8000, households_per_community=500, households_per_grid=250)
    c = city_of(sc)
    assert np.isclose(c.households.sum(), 8000)  # every unit doubled
    assert c.n_streets == 4 and c.n_communities == 16 and c.n_grids == 32
    assert set(c.geometry.ids["community"][:4]) <= {f"{s}-c{k}" for s in "ABCD"
                                                    for k in range(1, 5)}


def test_polygon_with_hole_and_multipolygon(tmp_path):
    outer = shapely.box(0, 0, 1000, 1000)
    holed = shapely.Polygon(outer.exterior.coords, [shapely.box(300, 300, 700, 700)
                                                    .exterior.coords])
    multi = shapely.MultiPolygon([shapely.box(2000, 0, 2500, 500),
                                  shapely.box(4000, 0, 4500, 500)])
    f = gpd.GeoDataFrame({"id": ["holed", "multi"], "hh": [840, 500]},
                         geometry=[holed, multi], crs=UTM50)
    sc = scenario({"file": write(tmp_path / "h.gpkg", f), "level": "grid",
                   "fields": {"id": "id", "households": "hh"}}, households_per_grid=10000)
    c = city_of(sc)
    assert c.n_grids == 2
    area = dict(zip(c.geometry.ids["grid"], c.area_km2))
    assert np.isclose(area["holed"], 0.84) and np.isclose(area["multi"], 0.5)
    cells = c.geometry.cells
    hole = shapely.box(300, 300, 700, 700)
    assert not any(shapely.area(shapely.intersection(cells, hole)) > 1e-6)
    # the two parts of the multipolygon are one grid, joined to the rest of the grid graph
    assert c.distances_from(0)[1] < np.inf


def test_lonlat_file_without_crs_is_projected(tmp_path):
    lon, lat = 116.40, 39.90
    sq = shapely.box(lon, lat, lon + 0.01, lat + 0.01)
    f = gpd.GeoDataFrame({"id": ["a"], "hh": [500]}, geometry=[sq])  # no CRS
    sc = scenario({"file": write(tmp_path / "ll.geojson", f), "level": "grid",
                   "fields": {"id": "id", "households": "hh"}})
    c = city_of(sc)
    want = gpd.GeoSeries([sq], crs=4326).to_crs(UTM50).area.iloc[0] / 1e6
    assert np.isclose(c.area_km2.sum(), want, rtol=1e-3)
    assert "32650" in c.geometry.crs


def test_gcj02_known_pairs_and_file(tmp_path):
    # published pairs (coordtransform's README, eviltransform's tests)
    assert np.allclose(wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164),
                       atol=1e-12)
    assert np.allclose(bd09_to_gcj02(116.404, 39.915), (116.39762729119315, 39.90865673957631),
                       atol=1e-12)
    assert np.allclose(gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021),
                       atol=1e-12)
    assert np.allclose(wgs84_to_gcj02(121.5272106, 31.1774276),
                       (121.531541859215, 31.17530398364597), atol=1e-12)
    assert np.allclose(gcj02_to_wgs84(*wgs84_to_gcj02(116.404, 39.915)), (116.404, 39.915),
                       atol=1e-9)
    # a square drawn on a GCJ-02 web map lands on its WGS84 place (hundreds of metres away)
    wgs = shapely.box(116.40, 39.90, 116.41, 39.91)
    gcj = shapely.transform(wgs, lambda p: np.column_stack(wgs84_to_gcj02(p[:, 0], p[:, 1])))
    f = gpd.GeoDataFrame({"id": ["a"], "hh": [500]}, geometry=[gcj])
    sc = scenario({"file": write(tmp_path / "g.geojson", f), "crs": "gcj02", "level": "grid",
                   "fields": {"id": "id", "households": "hh"}})
    c = city_of(sc)
    from sim.world.geometry import to_lonlat, unit_polygons

    back = to_lonlat(unit_polygons(c, "grid"), c.geometry.crs)[0]
    assert np.allclose(back.bounds, wgs.bounds, atol=2e-5)  # within a cell's clipping
    assert not np.allclose(back.bounds, gcj.bounds, atol=1e-3)


def test_zipped_gbk_shapefile_and_geopackage_layer(tmp_path):
    f = gpd.GeoDataFrame({"名称": ["东城区", "西城区"], "hh": [300, 600], "code": ["d1", "d2"]},
                         geometry=[shapely.box(0, 0, 500, 500), shapely.box(500, 0, 1000, 500)],
                         crs=UTM50)
    write(tmp_path / "gbk.shp", f, encoding="GBK")
    z = tmp_path / "gbk.zip"
    with zipfile.ZipFile(z, "w") as out:
        for ext in ("shp", "shx", "dbf", "prj"):  # no .cpg: the encoding is not declared
            out.write(tmp_path / f"gbk.{ext}", f"gbk/gbk.{ext}")
    sc = scenario({"file": str(z), "level": "grid",
                   "fields": {"id": "code", "name": "名称", "households": "hh"}})
    c = city_of(sc)
    assert sorted(c.geometry.names["grid"]) == ["东城区", "西城区"]
    assert sorted(c.households) == [300, 600]
    gp = tmp_path / "two.gpkg"
    write(gp, f, layer="first")
    write(gp, f.assign(hh=[100, 200]), layer="second")
    sc = scenario({"file": str(gp), "layer": "second", "level": "grid",
                   "fields": {"id": "code", "households": "hh"}})
    assert sorted(city_of(sc).households) == [100, 200]


def test_depot_points_and_straight_line_distance(tmp_path):
    f = gpd.GeoDataFrame({"id": ["near", "far"], "hh": [100, 100], "street": ["s", "s"]},
                         geometry=[shapely.box(0, 0, 100, 100), shapely.box(1000, 0, 1100, 100)],
                         crs=UTM50)
    dep = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(50, 50)], crs=UTM50)
    geo = {"file": write(tmp_path / "d.geojson", f), "level": "grid",
           "fields": {"id": "id", "households": "hh", "street": "street"},
           "depots": {"file": write(tmp_path / "dep.geojson", dep)}, "detour_factor": 1.5}
    c = city_of(scenario(geo))
    travel = dict(zip(c.geometry.ids["grid"], c.travel_km))
    assert travel["near"] == 0.0 and np.isclose(travel["far"], 1.0 * 1.5)


def test_households_from_points(tmp_path):
    f = gpd.GeoDataFrame({"id": ["u"], "hh": [900]}, geometry=[shapely.box(0, 0, 1000, 100)],
                         crs=UTM50)
    pts = gpd.GeoDataFrame({"w": [1.0, 2.0]}, geometry=[shapely.Point(50, 50),
                                                        shapely.Point(950, 50)], crs=UTM50)
    geo = {"file": write(tmp_path / "u.geojson", f), "level": "community",
           "fields": {"id": "id", "households": "hh"},
           "points": {"file": write(tmp_path / "p.geojson", pts), "weight": "w"}}
    c = city_of(scenario(geo, households_per_grid=300))
    assert sorted(c.cells.households[c.cells.households > 0]) == [300, 600]
    assert np.isclose(c.households.sum(), 900)


def test_parents_by_containment_in_a_second_file(tmp_path):
    path = squares(tmp_path)
    parents = gpd.GeoDataFrame({"pid": ["West", "East"]}, geometry=[
        shapely.box(500_000, 4_400_000, 501_000, 4_402_000),
        shapely.box(501_000, 4_400_000, 502_000, 4_402_000)], crs=UTM50)
    geo = {"file": path, "level": "community", "fields": {"id": "code", "households": "hh"},
           "parents": {"district": {"file": write(tmp_path / "p.geojson", parents),
                                    "id": "pid"}}}
    c = city_of(scenario(geo))
    assert sorted(c.geometry.ids["district"]) == ["East", "West"]
    comm = c.geometry.ids["community"]
    dist = {comm[k]: c.geometry.ids["district"][int(c.district[c.community == k][0])]
            for k in range(4)}
    assert dist == {"A": "West", "C": "West", "B": "East", "D": "East"}


def test_station_points_place_a_responders_stations(tmp_path):
    from sim.emergency.stations import station_grids
    from sim.scenario.emergency import EmergencyConfig

    path = squares(tmp_path)
    st = gpd.GeoDataFrame({"kind": ["fire", "medical"]}, geometry=[
        shapely.Point(500_050, 4_400_050), shapely.Point(501_950, 4_401_950)], crs=UTM50)
    geo = {"file": path, "level": "community", "fields": {"id": "code", "households": "hh"},
           "stations": {"file": write(tmp_path / "st.geojson", st), "responder": "kind"}}
    c = city_of(scenario(geo))
    resp = EmergencyConfig().responders
    fire, _ = station_grids(c, resp["fire"], "fire")
    cent = shapely.centroid(c.geometry.cells)
    d = np.hypot(shapely.get_x(cent) - 500_050, shapely.get_y(cent) - 4_400_050)
    assert list(fire) == [int(c.cell_grid[np.argmin(d)])]  # the grid holding the fire station
    police, _ = station_grids(c, resp["police"], "police")  # no point of its own: k-means
    assert len(police) >= 1


def test_road_graph_distances(tmp_path):
    import networkx as nx
    from pyproj import Transformer

    f = gpd.GeoDataFrame({"id": ["near", "far"], "hh": [100, 100], "street": ["s", "s"]},
                         geometry=[shapely.box(0, 0, 100, 100), shapely.box(1000, 0, 1100, 100)],
                         crs=UTM50)
    dep = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(50, 50)], crs=UTM50)
    to_ll = Transformer.from_crs(UTM50, "EPSG:4326", always_xy=True)
    g = nx.Graph()
    for name, (x, y) in {"a": (50, 50), "b": (50, 2050), "c": (1050, 50)}.items():
        lon, lat = to_ll.transform(x, y)
        g.add_node(name, x=lon, y=lat)
    g.add_edge("a", "b", length=2000.0)  # the only road to the far grid goes round: 3 km
    g.add_edge("b", "c", length=1000.0)
    nx.write_graphml(g, tmp_path / "roads.graphml")
    geo = {"file": write(tmp_path / "d.geojson", f), "level": "grid",
           "fields": {"id": "id", "households": "hh", "street": "street"},
           "depots": {"file": write(tmp_path / "dep.geojson", dep)},
           "roads": str(tmp_path / "roads.graphml")}
    c = city_of(scenario(geo))
    travel = dict(zip(c.geometry.ids["grid"], c.travel_km))
    assert np.isclose(travel["near"], 0.0, atol=1e-9) and np.isclose(travel["far"], 3.0)


def test_zones_from_a_field_and_regridding_a_file_of_grids(tmp_path):
    x0, y0 = 500_000.0, 4_400_000.0
    boxes = [shapely.box(x0 + i * 1000, y0, x0 + (i + 1) * 1000, y0 + 1000) for i in range(4)]
    f = gpd.GeoDataFrame({"code": list("ABCD"), "hh": [1000] * 4, "street": ["S1"] * 4,
                          "kind": ["residential", "residential", "commercial", "commercial"]},
                         geometry=boxes, crs=UTM50)
    path = write(tmp_path / "z.geojson", f)
    geo = {"file": path, "level": "community",
           "fields": {"id": "code", "households": "hh", "zone": "kind"}}
    c = city_of(scenario(geo, households_per_grid=250))
    # households × difficulty ÷ 250: 4 grids in each residential community, 6 (1.5×) in each
    # commercial one, so commercial grids hold 1,000 / 6 households (whole cells of 10 each)
    assert c.n_grids == 4 + 4 + 6 + 6
    com = c.households[c.zone == "commercial"]
    assert np.allclose(c.households[c.zone == "residential"], 250)
    assert len(com) == 12 and np.isclose(com.mean(), 1000 / 6) and np.ptp(com) <= 10
    assert set(c.zone) == {"residential", "commercial"}
    bad = f.assign(kind=["residential", "harbour", "commercial", "commercial"])
    with pytest.raises(ScenarioError, match="city.geometry.fields.zone"):
        city_of(scenario({**geo, "file": write(tmp_path / "bad.geojson", bad)}))
    # a file of grids is used as it is, unless re-gridding is asked for
    grids = gpd.GeoDataFrame({"gid": list("ABCD"), "hh": [1000] * 4, "comm": ["c1"] * 4},
                             geometry=boxes, crs=UTM50)
    gpath = write(tmp_path / "g.geojson", grids)
    as_is = {"file": gpath, "level": "grid",
             "fields": {"id": "gid", "households": "hh", "community": "comm"}}
    counts = {h: grid_count(scenario(as_is, households_per_grid=h).city) for h in (250, 2000)}
    assert counts == {250: 4, 2000: 4}
    regrid = {**as_is, "regrid": True}
    counts = {h: grid_count(scenario(regrid, households_per_grid=h).city)
              for h in (250, 500, 2000)}
    assert counts == {250: 16, 500: 8, 2000: 2}
    with pytest.raises(ScenarioError, match="city.geometry.regrid"):
        scenario({**geo, "regrid": True})
