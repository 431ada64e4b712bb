"""A city on its own map in the app: a boundary file uploaded in the lab (GeoJSON and the same
map as a zipped Shapefile), its fields chosen in widgets, runs end to end and shows the KPIs
that ``sim.run.run_scenario`` gives for the same map; broken files and bad choices show the map
reader's message naming the field; the app's grid limit counts the map's grids."""

from __future__ import annotations

import io
import zipfile

import pytest

from app_pages import kpi_view, limits
from app_pages.map_upload import scenario_on_map, store
from sim.run import run_scenario
from sim.scenario import Scenario
from tests.apptest_util import ROOT, assert_ok, metrics, open_app, staten_island

MAPS = ROOT / "scenarios" / "maps"
#: three Staten Island neighbourhoods, kept by the filter widget (about 25,000 households)
KEEP = ["SI0101", "SI0102", "SI0103"]


@pytest.fixture(scope="module")
def si_files(tmp_path_factory) -> dict[str, bytes]:
    """Staten Island's 2020 NTAs with their Census population as a field: as GeoJSON and as a
    zipped Shapefile (what a user exports from a GIS)."""
    d = tmp_path_factory.mktemp("si")
    g = staten_island()
    g.to_file(d / "si.geojson", driver="GeoJSON")
    g.to_file(d / "si.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(d.glob("si.*")):
            if p.suffix != ".geojson":
                z.write(p, p.name)
    return {"si.geojson": (d / "si.geojson").read_bytes(), "si.zip": buf.getvalue()}


@pytest.fixture(autouse=True)
def _uploads(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDSIM_UPLOAD_DIR", str(tmp_path / "uploads"))


def _upload(at, name: str, data: bytes):
    at.selectbox(key="lab_source@en").set_value("__map_upload__").run()
    at.file_uploader(key="lab_map_upload").set_value((name, data, "application/octet-stream")).run()
    return at


def _choose(at, what: str, value: str):
    at.selectbox(key=f"lab_map_{what}@en").set_value(value).run()


def _map_caption(at) -> str:
    found = [c.value for c in at.caption if c.value.startswith("On this map:")]
    assert found, [c.value for c in at.caption]
    return found[0]


@pytest.mark.parametrize("name", ["si.geojson", "si.zip"])
def test_an_uploaded_boundary_file_runs_in_the_lab_as_sim_runs_it(si_files, name):
    at = _upload(open_app(), name, si_files[name])
    _choose(at, "id", "NTACode")
    _choose(at, "name", "GEONAME")
    assert at.radio(key="lab_map_how").value == "population"     # guessed from the field names
    assert at.selectbox(key="lab_map_population@en").value == "population"
    _choose(at, "where", "NTACode")
    at.multiselect(key="lab_map_where_NTACode").set_value(KEEP).run()
    caption = _map_caption(at)
    at.number_input(key="lab_reps").set_value(1).run()
    at.button(key="lab_run").click().run()
    assert_ok(at)

    geo = {"file": str(store(si_files[name], name)), "level": "street",
           "where": {"NTACode": KEEP},
           "fields": {"id": "NTACode", "name": "GEONAME", "population": "population"}}
    sc = scenario_on_map(Scenario(), geo, "map_si")
    assert f"{sc.city.households:,} households in {limits.grid_count(sc.city):,} basic grids" \
        in caption
    assert 15_000 < sc.city.households < 60_000               # three neighbourhoods, not 190,000
    assert sc.platform.operators > Scenario().platform.operators   # the baseline's per household
    want = run_scenario(sc, sc.run.seed).kpis
    assert metrics(at)["On-time closure rate"][0] == kpi_view.fmt("on_time_rate",
                                                                   want["on_time_rate"])


def test_the_geojson_and_the_shapefile_are_one_city(si_files):
    cities = []
    for name in ("si.geojson", "si.zip"):
        geo = {"file": str(store(si_files[name], name)), "level": "street",
               "fields": {"id": "NTACode", "population": "population"}}
        cities.append(scenario_on_map(Scenario(), geo, "map_si").city)
    assert cities[0].households == cities[1].households
    assert limits.grid_count(cities[0]) == limits.grid_count(cities[1])


@pytest.mark.parametrize("name, data, expect", [
    ("broken.geojson", b'{"type": "FeatureCollection", "features": [{"type": ',
     "city.geometry.file: cannot read"),
    ("empty.geojson", b"", "The file is empty"),
    ("no_shapefile.zip", b"", "city.geometry.file: cannot read"),   # bytes made below
    ("nothing.geojson", b'{"type": "FeatureCollection", "features": []}', "has no features"),
])
def test_a_broken_file_shows_its_message(name, data, expect):
    if name.endswith(".zip"):                     # a zip holding no Shapefile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("README.txt", "boundaries to follow")
        data = buf.getvalue()
    at = _upload(open_app(), name, data)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "The map cannot be used" in errors and expect in errors, errors
    assert "Traceback" not in errors and "lab_run" not in [b.key for b in at.button]


def test_a_bad_choice_names_the_field(si_files):
    at = _upload(open_app(), "si.geojson", si_files["si.geojson"])
    _choose(at, "id", "NTACode")
    _choose(at, "population", "GEONAME")            # names, not numbers
    errors = " ".join(e.value for e in at.error)
    assert "city.geometry.fields.population" in errors and "no unit" in errors, errors
    assert "lab_run" not in [b.key for b in at.button]
    _choose(at, "population", "population")
    assert not at.error


def test_without_residents_the_page_asks_for_them(si_files):
    at = _upload(open_app(), "si.geojson", si_files["si.geojson"])
    _choose(at, "population", "")
    infos = " ".join(i.value for i in at.info)
    assert "a map needs to know where people live" in infos
    assert "lab_run" not in [b.key for b in at.button] and not at.exception


def test_the_app_grid_limit_counts_the_maps_grids(si_files, monkeypatch):
    monkeypatch.setattr(limits, "MAX_GRIDS", 50)
    at = _upload(open_app(), "si.geojson", si_files["si.geojson"])
    _choose(at, "id", "NTACode")
    errors = " ".join(e.value for e in at.error)
    assert "basic grids; the app runs at most 50" in errors, errors
    assert "lab_run" not in [b.key for b in at.button]


def test_a_population_table_is_joined_on_the_unit_id(si_files):
    at = _upload(open_app(), "si.geojson", si_files["si.geojson"])
    _choose(at, "id", "NTACode")
    at.radio(key="lab_map_how").set_value("table").run()
    assert "Upload a CSV" in " ".join(i.value for i in at.info)
    table = (MAPS / "nyc_nta2020_population.csv").read_bytes()
    at.file_uploader(key="lab_map_table").set_value(("pop.csv", table, "text/csv")).run()
    assert at.selectbox(key="lab_map_table_id@en").value == "nta_code"
    assert at.selectbox(key="lab_map_table_col@en").value == "population"
    assert_ok(at)
    geo = {"file": str(store(si_files["si.geojson"], "si.geojson")), "level": "street",
           "fields": {"id": "NTACode", "population": "population"}}
    want = scenario_on_map(Scenario(), geo, "map_si").city.households
    assert f"{want:,} households" in _map_caption(at)


def test_the_app_checks_the_bytes_again_whatever_the_widget_let_through():
    from app_pages.map_upload import MAP_TYPES, check_bytes

    mb = limits.MAX_MAP_UPLOAD_MB
    assert check_bytes(b"{}", "a.geojson", "en", MAP_TYPES, mb) is None
    assert "empty" in check_bytes(b"", "a.geojson", "en", MAP_TYPES, mb)
    big = check_bytes(b"x" * (mb * 1024 * 1024 + 1), "a.geojson", "en", MAP_TYPES, mb)
    assert big is not None and f"{mb * 1024}" in big
    assert ".txt" in check_bytes(b"x", "notes.txt", "en", MAP_TYPES, mb)
    assert check_bytes(b"x" * 2048, "pop.csv", "en", ["csv"], 0) is not None
