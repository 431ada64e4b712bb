"""``gridsim map``: a run's grids as a choropleth in PNG, SVG or HTML, made offline; bad input
is one line and exit code 2 with nothing written."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.cli.map import choropleth, d3_winding, read_run
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run_scenario(scenario_with(Scenario(), {"run.days": 4, "run.warmup_days": 1}), seed=2,
                 out_dir=out, keep_cases=False)
    return out


def _png_size(blob: bytes) -> tuple[int, int]:
    assert blob[:8] == b"\x89PNG\r\n\x1a\n" and blob[12:16] == b"IHDR"
    return struct.unpack(">II", blob[16:24])


def test_png_svg_and_html_are_written(run_dir, tmp_path):
    for suffix in ("png", "svg", "html"):
        out = tmp_path / f"map.{suffix}"
        res = runner.invoke(app, ["map", str(run_dir), "--kpi", "on_time_rate", "--out", str(out)])
        assert res.exit_code == 0, res.output
        blob = out.read_bytes()
        if suffix == "png":
            w, h = _png_size(blob)
            assert w >= 600 and h >= 600
        elif suffix == "svg":
            root = ET.fromstring(blob)
            assert root.tag.endswith("svg")
            text = blob.decode("utf-8")
            assert "baseline" in text  # the title names the scenario
            assert text.count("<path") >= 45  # a shape per grid (plus the legend)
        else:
            text = blob.decode("utf-8")
            assert "vega-lite" in text.lower() and "cdn.jsdelivr" not in text  # inlined: offline
            assert "On-time closure rate" in text
    assert not list(tmp_path.glob(".*partial"))


def test_the_colour_scale_is_the_kpi_range_where_the_catalogue_gives_one(run_dir):
    features, manifest = read_run(run_dir)
    spec = choropleth(features, "on_time_rate", "t").to_dict()
    scale = spec["layer"][1]["encoding"]["color"]["scale"]
    assert scale["domain"] == [0.0, 1.0]
    legend = spec["layer"][1]["encoding"]["color"]["title"]
    assert "On-time closure rate" in legend and "按期结案率" in legend and "share" in legend
    spec = choropleth(features, "incidents_total", "t").to_dict()
    values = [f["properties"]["incidents_total"] for f in features]
    assert spec["layer"][1]["encoding"]["color"]["scale"]["domain"] == [min(values), max(values)]
    assert "this run's range" in spec["layer"][1]["encoding"]["color"]["title"]


def test_rings_are_reversed_for_d3():
    g = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    assert d3_winding(g)["coordinates"] == [[[0, 0], [1, 1], [1, 0], [0, 0]]]
    m = {"type": "MultiPolygon", "coordinates": [g["coordinates"]]}
    assert d3_winding(m)["coordinates"] == [d3_winding(g)["coordinates"]]


@pytest.mark.parametrize("args, says", [
    (["--kpi", "no_such_kpi", "--out", "{tmp}/m.png"], "allowed: incidents_total"),
    (["--kpi", "on_time_rate", "--out", "{tmp}/m.pdf"], "must end in .html, .png, .svg"),
    (["--kpi", "on_time_rate", "--out", "{tmp}/m"], "must end in"),
])
def test_bad_input_is_one_line_and_exit_2(run_dir, tmp_path, args, says):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = runner.invoke(app, ["map", str(run_dir), *args])
    assert res.exit_code == 2 and says in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not list(tmp_path.iterdir())


def test_a_missing_or_foreign_run_folder_is_refused(tmp_path):
    out = tmp_path / "m.png"
    res = runner.invoke(app, ["map", str(tmp_path / "nope"), "--kpi", "on_time_rate",
                              "--out", str(out)])
    assert res.exit_code == 2 and "is not a folder" in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["map", str(tmp_path / "empty"), "--kpi", "on_time_rate",
                              "--out", str(out)])
    assert res.exit_code == 2 and "has no grids.geojson" in res.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "grids.geojson").write_text("{not json", encoding="utf-8")
    res = runner.invoke(app, ["map", str(tmp_path / "bad"), "--kpi", "on_time_rate",
                              "--out", str(out)])
    assert res.exit_code == 2 and "not a GeoJSON feature collection" in res.output
    assert not out.exists()


def test_the_title_names_the_scenario_and_seed(run_dir):
    from sim.cli.map import title_of

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert title_of(manifest, run_dir) == "baseline — seed 2, 4 days"
