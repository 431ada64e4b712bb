"""``gridsim map RUN_DIR --kpi K --out FILE``: a run's grids as a choropleth, drawn offline.

The map reads the run folder's ``grids.geojson`` (lon/lat, one feature per basic grid with its
per-grid KPIs) and ``manifest.json`` (the scenario's name and seed for the title).

Why Altair's ``geoshape`` with vl-convert: both are pure-Python wheels pinned in the lock file
(no browser, Node or GDAL rendering stack), they draw from the polygons themselves with no tile
server, so a map is made on a machine without network; the same Vega-Lite spec is what the
app's Streamlit charts render, and vl-convert writes PNG and SVG from it directly. The HTML
has the Vega libraries inlined, so it opens offline too. No basemap is drawn: the grids are
the map (a tile basemap would need a reachable tile server).

Colours: a KPI whose catalogue entry has a range (shares 0–1, scores 0–100, skills 0–1) is
coloured on that fixed range, so maps of two runs compare by eye; other KPIs on the range of
this run's values (the legend says which). Grids where the KPI has no value (e.g. on-time rate
with no case due) are grey.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from sim.cli.common import console, fail
from sim.scenario import ScenarioError

SUFFIXES = (".html", ".png", ".svg")
#: grid attributes that can be mapped besides the KPIs
ATTRIBUTES = {"households": "Households (户)", "population": "Population (人)",
              "area_km2": "Area (km²)", "difficulty": "Difficulty (multiplier)",
              "resident_propensity": "Resident reporting propensity (multiplier)"}
#: fixed colour ranges by the KPI catalogue's unit
UNIT_RANGE = {"share": (0.0, 1.0), "0-100": (0.0, 100.0), "0-1": (0.0, 1.0)}


def map_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (gridsim run --out).")],
    kpi: Annotated[str, typer.Option(help="The per-grid KPI (or grid attribute) to colour by.")],
    out: Annotated[Path, typer.Option(help="Output file: .html, .png or .svg.")],
    width: Annotated[int, typer.Option(help="Width of the map in pixels.")] = 640,
) -> None:
    """Draw a run's grids coloured by a KPI (choropleth), offline, to HTML, PNG or SVG."""
    try:
        features, manifest = read_run(run_dir)
        if out.suffix.lower() not in SUFFIXES:
            raise ScenarioError([("out", f"must end in {', '.join(SUFFIXES)} (got "
                                         f"{out.suffix or 'no suffix'!r})")], str(out))
        allowed = map_options(features)
        if kpi not in allowed:
            raise ScenarioError([("kpi", f"{kpi!r} is not a per-grid value of this run; allowed: "
                                         f"{', '.join(allowed)}")], str(run_dir))
    except ScenarioError as e:
        fail(e)
        return
    chart = choropleth(features, kpi, title_of(manifest, run_dir), width)
    save_chart(chart, out)
    console.print(f"map of {kpi} written to {out}", highlight=False)


def read_run(run_dir: Path) -> tuple[list[dict], dict]:
    """The features of ``RUN_DIR/grids.geojson`` and the run's manifest (empty if missing)."""
    if not run_dir.is_dir():
        raise ScenarioError([("RUN_DIR", "is not a folder (a run folder written by "
                                         "gridsim run --out)")], str(run_dir))
    layer = run_dir / "grids.geojson"
    if not layer.is_file():
        raise ScenarioError([("RUN_DIR", "has no grids.geojson (runs write it with "
                                         "gridsim run --out)")], str(run_dir))
    try:
        data = json.loads(layer.read_text(encoding="utf-8"))
        features = data["features"]
    except (ValueError, KeyError, TypeError) as e:
        raise ScenarioError([("grids.geojson", f"is not a GeoJSON feature collection ({e})")],
                            str(layer)) from None
    mf = run_dir / "manifest.json"
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8")) if mf.is_file() else {}
    except ValueError:
        manifest = {}
    return features, manifest


def map_options(features: list[dict]) -> list[str]:
    """The KPIs (catalogue order) and grid attributes with numbers in the layer."""
    from sim.metrics import KPI_DEFINITIONS

    props = features[0].get("properties", {}) if features else {}
    numeric = {k for k, v in props.items() if isinstance(v, (int, float))
               and not isinstance(v, bool)} | {k for f in features for k, v in (
                   f.get("properties") or {}).items() if v is None}
    return [k for k in KPI_DEFINITIONS if k in numeric] + [a for a in ATTRIBUTES if a in numeric]


def label_of(key: str) -> tuple[str, tuple[float, float] | None]:
    """The legend title (label, 中文 and unit) and the fixed range, if the catalogue gives one."""
    from sim.metrics import KPI_DEFINITIONS

    if key in KPI_DEFINITIONS:
        en, zh, unit, _ = KPI_DEFINITIONS[key]
        shown = {"share": "share 0–1", "0-100": "0–100", "0-1": "0–1"}.get(unit, unit)
        return f"{en} {zh} ({shown})", UNIT_RANGE.get(unit)
    return ATTRIBUTES[key], None


def title_of(manifest: dict, run_dir: Path) -> str:
    name = manifest.get("scenario_name") or run_dir.name
    seed = manifest.get("seed")
    days = manifest.get("days")
    bits = [f"seed {seed}" if seed is not None else "", f"{days:g} days" if days else ""]
    return f"{name}" + (f" — {', '.join(b for b in bits if b)}" if any(bits) else "")


def choropleth(features: list[dict], key: str, title: str, width: int = 640) -> Any:
    """An Altair chart: the grids filled by ``key`` (grey where it has no value)."""
    import altair as alt

    label, fixed = label_of(key)
    values = [f["properties"].get(key) for f in features]
    finite = [float(v) for v in values if isinstance(v, (int, float)) and v == v]
    if fixed is None:
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        fixed = (lo, hi if hi > lo else lo + 1.0)
        label += " — this run's range"
    fmt = ".0%" if label_of(key)[1] == (0.0, 1.0) and "share" in label else ",.3~g"
    shapes = [{"type": "Feature", "geometry": d3_winding(f["geometry"]),
               "properties": {"grid": f["properties"].get("grid"),
                              "value": v if isinstance(v, (int, float)) and v == v else None}}
              for f, v in zip(features, values)]
    data = alt.Data(values=shapes)
    base = alt.Chart(data).project(type="mercator")
    missing = base.mark_geoshape(fill="#d9d9d9", stroke="white", strokeWidth=0.3).transform_filter(
        "!isValid(datum.properties.value)")
    shown = base.mark_geoshape(stroke="white", strokeWidth=0.3).encode(
        color=alt.Color("properties.value:Q", title=label,
                        scale=alt.Scale(scheme="viridis", domain=list(fixed), clamp=True),
                        legend=alt.Legend(format=fmt, orient="bottom", gradientLength=width // 2,
                                          titleLimit=width)),
        tooltip=[alt.Tooltip("properties.grid:N", title="grid"),
                 alt.Tooltip("properties.value:Q", title=key, format=fmt)],
    ).transform_filter("isValid(datum.properties.value)")
    return (missing + shown).properties(width=width, height=width, title=title)


def d3_winding(geometry: dict) -> dict:
    """The polygon with every ring reversed: RFC 7946 rings run counter-clockwise (holes
    clockwise), d3-geo, which draws Vega's geoshapes on the sphere, reads a counter-clockwise
    ring as everything but the polygon."""
    rings = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        rings = [r[::-1] for r in rings]
    elif geometry["type"] == "MultiPolygon":
        rings = [[r[::-1] for r in poly] for poly in rings]
    return {"type": geometry["type"], "coordinates": rings}


def save_chart(chart: Any, out: Path) -> None:
    """Write ``chart`` to ``out`` (format from the suffix) aside, renamed when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = out.suffix.lower().lstrip(".")
    tmp = out.with_name(f".{out.name}.partial")
    try:
        if fmt == "html":
            chart.save(str(tmp), format="html", inline=True)
        else:
            chart.save(str(tmp), format=fmt)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
