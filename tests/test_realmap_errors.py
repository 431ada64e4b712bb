"""Bad geography is a clear error: one broken file per rule, each refused naming its
``city.geometry.*`` field (exit 2 and nothing written from the command line)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from sim.scenario import ScenarioError, validate_scenario
from sim.world.city import build_city

gpd = pytest.importorskip("geopandas")
UTM = "EPSG:32650"
FIELDS = {"id": "id", "households": "hh"}


def frame(geoms, hh=None, ids=None, crs=UTM, **cols):
    n = len(geoms)
    return gpd.GeoDataFrame({"id": ids or [f"u{i}" for i in range(n)],
                             "hh": hh or [100] * n, **cols}, geometry=geoms, crs=crs)


def refused(geometry: dict, field: str, words: str, **city) -> ScenarioError:
    with pytest.raises(ScenarioError) as e:
        sc = validate_scenario({"city": {"geometry": geometry, **city}})
        build_city(sc.city, np.random.default_rng(1))
    paths = [p for p, _ in e.value.problems]
    assert field in paths, str(e.value)
    assert words in str(e.value), str(e.value)
    return e.value


def two_boxes():
    return [shapely.box(0, 0, 500, 500), shapely.box(500, 0, 1000, 500)]


def test_unreadable_and_empty_files(tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(b"\x00\x01 not a map")
    refused({"file": str(bad), "fields": FIELDS}, "city.geometry.file", "cannot read")
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    refused({"file": str(empty), "fields": FIELDS}, "city.geometry.file", "no features")
    refused({"file": str(tmp_path / "none.geojson"), "fields": FIELDS}, "city.geometry.file",
            "no such file")


def test_projected_coordinates_without_crs(tmp_path):
    far = [shapely.box(500_000, 4e6, 501_000, 4.001e6), shapely.box(501_000, 4e6, 502_000,
                                                                    4.001e6)]
    p = tmp_path / "p.geojson"  # GeoJSON without a crs member claims lon/lat
    frame(far, crs=None).to_file(p)
    refused({"file": str(p), "level": "grid", "fields": FIELDS}, "city.geometry.crs",
            "out of range (projected?)")
    s = tmp_path / "p.shp"  # a Shapefile without its .prj has no CRS at all
    frame(far, crs=None).to_file(s)
    refused({"file": str(s), "level": "grid", "fields": FIELDS}, "city.geometry.crs",
            "has no CRS")
    ok = validate_scenario({"city": {"geometry": {"file": str(s), "level": "grid",
                                                  "fields": FIELDS, "crs": "EPSG:32650"}}})
    assert np.isclose(build_city(ok.city, np.random.default_rng(1)).area_km2.sum(), 2.0)


def test_nan_coordinates(tmp_path):
    p = tmp_path / "nan.geojson"
    p.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
                 '{"id":"a","hh":100},"geometry":{"type":"Polygon","coordinates":'
                 '[[[0,0],[1,NaN],[1,1],[0,0]]]}}]}')
    refused({"file": str(p), "level": "grid", "fields": FIELDS}, "city.geometry.file", "NaN")


def test_points_where_polygons_are_needed(tmp_path):
    p = tmp_path / "pts.geojson"
    frame([shapely.Point(0, 0), shapely.Point(1, 1)]).to_file(p)
    refused({"file": str(p), "level": "grid", "fields": FIELDS}, "city.geometry.file",
            "needs polygons")


def test_invalid_polygons_repaired_and_reported(tmp_path):
    p = tmp_path / "bow.geojson"
    bowtie = shapely.Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000), (0, 0)])
    frame([bowtie]).to_file(p)
    sc = validate_scenario({"city": {"geometry": {"file": str(p), "level": "grid",
                                                  "fields": FIELDS}}})
    c = build_city(sc.city, np.random.default_rng(1))
    assert any("repaired with make_valid: u0" in n for n in c.geometry.notes)
    assert np.isclose(c.area_km2.sum(), 0.5)  # the two triangles of the bow tie


def test_overlaps_and_gaps_above_tolerance_with_their_area(tmp_path):
    p = tmp_path / "over.geojson"
    frame([shapely.box(0, 0, 600, 500), shapely.box(500, 0, 1000, 500)]).to_file(p)
    e = refused({"file": str(p), "level": "grid", "fields": FIELDS}, "city.geometry.file",
                "overlap by 50,000 m²")
    assert "'u0' and 'u1'" in str(e)
    ok = validate_scenario({"city": {"geometry": {"file": str(p), "level": "grid",
                                                  "fields": FIELDS, "tolerance": 0.2}}})
    c = build_city(ok.city, np.random.default_rng(1))
    assert np.isclose(c.area_km2.sum(), 0.5)  # the overlap counted once
    g = tmp_path / "gap.geojson"
    ring = shapely.box(0, 0, 1000, 1000).difference(shapely.box(400, 400, 600, 600))
    left = ring.intersection(shapely.box(0, 0, 500, 1000))
    right = ring.intersection(shapely.box(500, 0, 1000, 1000))
    frame([left, right]).to_file(g)
    refused({"file": str(g), "level": "grid", "fields": FIELDS}, "city.geometry.file",
            "gaps between polygons cover 40,000 m²")


def test_duplicate_ids_negative_and_no_households_missing_field(tmp_path):
    p = tmp_path / "dup.geojson"
    frame(two_boxes(), ids=["a", "a"]).to_file(p)
    refused({"file": str(p), "level": "grid", "fields": FIELDS}, "city.geometry.fields.id",
            "duplicate id 'a'")
    frame(two_boxes(), hh=[100, -5]).to_file(p)
    refused({"file": str(p), "level": "grid", "fields": FIELDS},
            "city.geometry.fields.households", "negative")
    frame(two_boxes(), hh=[0, 0]).to_file(p)
    refused({"file": str(p), "level": "grid", "fields": FIELDS},
            "city.geometry.fields.households", "no unit")
    frame(two_boxes()).to_file(p)
    refused({"file": str(p), "level": "grid", "fields": {**FIELDS, "street": "STREET"}},
            "city.geometry.fields.street", "no attribute 'STREET'")
    refused({"file": str(p), "level": "street", "fields": {**FIELDS, "community": "id"}},
            "city.geometry.fields.community", "at or below")


def test_parent_that_does_not_contain_its_child(tmp_path):
    p, q = tmp_path / "u.geojson", tmp_path / "parent.geojson"
    frame(two_boxes()).to_file(p)
    gpd.GeoDataFrame({"pid": ["P"]}, geometry=[shapely.box(0, 0, 700, 500)], crs=UTM).to_file(q)
    refused({"file": str(p), "level": "grid", "fields": FIELDS,
             "parents": {"street": {"file": str(q), "id": "pid"}}},
            "city.geometry.parents.street", "no street of")
    # a child named under two parents by attribute
    frame(two_boxes() + [shapely.box(1000, 0, 1500, 500)], comm=["c", "c", "d"],
          st=["s1", "s2", "s2"]).to_file(p)
    refused({"file": str(p), "level": "grid",
             "fields": {**FIELDS, "community": "comm", "street": "st"}},
            "city.geometry.fields.street", "community 'c' lies in more than one street")


def test_file_too_big_and_too_many_grids(tmp_path, monkeypatch):
    from sim.scenario import mapfiles

    p = tmp_path / "u.geojson"
    frame(two_boxes(), hh=[20000, 20000]).to_file(p)
    monkeypatch.setattr(mapfiles, "MAX_MB", 1e-4)
    refused({"file": str(p), "level": "grid", "fields": FIELDS}, "city.geometry.file",
            "at most 0.0001 MB")
    monkeypatch.undo()
    from sim.scenario.size import check_fits, estimate

    frame(two_boxes(), hh=[20000, 20000]).to_file(p)
    sc = validate_scenario({"city": {"geometry": {"file": str(p), "level": "community",
                                                  "fields": FIELDS}, "households_per_grid": 10,
                                     "households_per_community": 100000, "cell_m2": 100},
                            "run": {"days": 1, "warmup_days": 0}})
    assert estimate(sc).grids == 4000  # 20,000 households in 2,500 cells: 2,000 grids each
    with pytest.raises(ScenarioError) as e:
        check_fits(sc, limit=200e6)
    assert e.value.problems[0][0] == "city.households_per_grid"
    assert "4,000 grids" in str(e.value)


def test_command_line_exit_2_and_nothing_written(tmp_path):
    from typer.testing import CliRunner

    from sim.cli import app

    p = tmp_path / "dup.geojson"
    frame(two_boxes(), ids=["a", "a"]).to_file(p)
    sc = tmp_path / "s.yaml"
    sc.write_text(json.dumps({"city": {"geometry": {"file": "dup.geojson", "level": "grid",
                                                    "fields": FIELDS}}}))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(sc), "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert "city.geometry.fields.id" in r.output and "Traceback" not in r.output
    assert not out.exists()
