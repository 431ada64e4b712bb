"""The shipped real district (scenarios/nyc_map.yaml, Staten Island on NYC's 2020 NTAs) and the
round trip of the synthetic baseline's grids through a GeoJSON file and back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.engine.model import GridModel
from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with
from sim.scenario.size import estimate
from sim.world.city import build_city, grid_count

gpd = pytest.importorskip("geopandas")
NYC = Path(__file__).resolve().parents[1] / "scenarios" / "nyc_map.yaml"
STATEN_ISLAND_RESIDENTS = 495_302  # 2020 Census, the 16 residential NTAs of the borough


@pytest.fixture(scope="module")
def nyc() -> Scenario:
    return load_scenario(NYC, {"run.days": 2, "run.warmup_days": 1})


def test_grid_counts_at_three_sizes_and_households_conserved(nyc):
    counts = {}
    for hpg in (300, 500, 1000):
        sc = scenario_with(nyc, {"city.households_per_grid": hpg})
        c = build_city(sc.city, np.random.default_rng(1))
        counts[hpg] = c.n_grids
        assert grid_count(sc.city) == c.n_grids == estimate(sc).grids  # the size guard too
        assert np.isclose(c.households.sum(), STATEN_ISLAND_RESIDENTS / 2.6, rtol=1e-12)
        assert c.n_streets == 23 and c.n_districts == 1  # 23 NTAs, one borough
        assert c.n_communities == 126  # fixed: independent of the grid size
    assert counts == {300: 624, 500: 366, 1000: 239}
    notes = run_scenario(sc, seed=1, keep_cases=False).manifest["map_notes"]
    assert notes[0].startswith("7 of 23 units have no households")  # parks, landfill, wetlands
    assert sc.city.households == round(STATEN_ISLAND_RESIDENTS / 2.6)


def test_same_incidents_at_every_grid_size_and_crews_unchanged(nyc):
    totals, crews, cells = set(), set(), set()
    for hpg in (300, 500, 1000):
        sc = scenario_with(nyc, {"city.households_per_grid": hpg})
        m = GridModel(sc, seed=5)
        crews.add(tuple(sorted((k, d.n_crews) for k, d in m.departments.items())))
        cells.add(m.city.n_cells)
        totals.add(run_scenario(sc, seed=5, keep_cases=False).kpis["incidents_total"])
    assert len(totals) == 1 and totals.pop() > 0
    assert len(crews) == 1 and len(cells) == 1


def test_hash_follows_file_content_not_place(nyc, tmp_path):
    import shutil

    for f in ("nyc_nta2020.topo.json", "nyc_nta2020_population.csv"):
        (tmp_path / "maps").mkdir(exist_ok=True)
        shutil.copy(NYC.parent / "maps" / f, tmp_path / "maps" / f)
    shutil.copy(NYC, tmp_path / "nyc_map.yaml")
    moved = load_scenario(tmp_path / "nyc_map.yaml", {"run.days": 2, "run.warmup_days": 1})
    assert moved.hash() == nyc.hash()  # the same files elsewhere: the same scenario
    table = tmp_path / "maps" / "nyc_nta2020_population.csv"
    table.write_text(table.read_text().replace("SI0101,", "SI0101,").replace(",Staten Island,",
                                                                           ",Staten Island,", 1)
                     + "\n")
    changed = load_scenario(tmp_path / "nyc_map.yaml", {"run.days": 2, "run.warmup_days": 1})
    assert changed.hash() != nyc.hash()  # one byte more in a named file: another scenario
    files = nyc.files()
    assert files["city.geometry.file"]["sha256"] == (
        "8ac60eed369734c48826c34f0bfde3e84d4bc53b6a2e993381accb6bba0fa0f5")
    assert Scenario().hash() == scenario_with(Scenario(), {}).hash()


def test_round_trip_of_the_synthetic_grids(tmp_path):
    """The baseline's own grids.geojson (written by the run), read back through city.geometry at
    level grid, gives the same grids, parents, households and areas, and runs like it."""
    base = scenario_with(Scenario(), {"run.days": 10, "run.warmup_days": 1})
    first = run_scenario(base, seed=1)
    first.write(tmp_path / "run")
    city = build_city(base.city, np.random.default_rng(1))
    path = tmp_path / "run" / "grids.geojson"
    geo = {"file": str(path), "level": "grid", "tolerance": 0.01,
           "fields": {"id": "grid", "households": "households", "community": "community",
                      "street": "street", "district": "district", "zone": "zone"}}
    data = base.model_dump(mode="json")
    data["city"]["geometry"] = geo
    del data["city"]["households"]
    back = Scenario.model_validate(data)
    again = build_city(back.city, np.random.default_rng(1))
    assert again.n_grids == city.n_grids
    assert again.n_communities == city.n_communities and again.n_streets == city.n_streets
    hh = dict(zip(again.geometry.ids["grid"], again.households))
    assert all(np.isclose(hh[str(i)], city.households[i], rtol=1e-9)
               for i in range(city.n_grids))
    area = dict(zip(again.geometry.ids["grid"], again.area_km2))
    assert all(np.isclose(area[str(i)], city.area_km2[i], rtol=0.01)
               for i in range(city.n_grids))
    comm = {again.geometry.ids["grid"][i]: again.geometry.ids["community"][again.community[i]]
            for i in range(again.n_grids)}
    assert all(comm[str(i)] == str(city.community[i]) for i in range(city.n_grids))
    # the same households in the same places: the KPIs of a run agree within sampling noise
    k0 = first.kpis
    k1 = run_scenario(back, seed=1, keep_cases=False).kpis
    assert abs(k1["incidents_total"] / k0["incidents_total"] - 1) < 0.1
    assert abs(k1["on_time_rate"] - k0["on_time_rate"]) < 0.1
    json.dumps(k1)


def test_a_real_map_run_writes_its_grids(nyc, tmp_path):
    """A run on the real map writes grids.geojson: one feature per grid, with the file's own
    NTA codes as streets (clipped cells are not noded alike: a full union, not a coverage one)."""
    res = run_scenario(nyc, seed=2)
    res.write(tmp_path)
    layer = gpd.read_file(tmp_path / "grids.geojson")
    city = build_city(nyc.city, np.random.default_rng(1))
    assert len(layer) == city.n_grids
    assert set(layer["street"]) == set(city.geometry.ids["street"][city.street])
    assert all(code.startswith("SI") for code in layer["street"])  # Staten Island's NTA codes
    assert layer.geometry.is_valid.all() and (layer.to_crs(city.geometry.crs).area > 0).all()
    assert np.isclose(layer["households"].sum(), city.households.sum(), rtol=1e-9)
    assert layer["incidents_total"].sum() == res.kpis["incidents_total"]
