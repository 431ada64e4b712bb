"""Shared helpers of the app's AppTest tests."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


def open_app(page: str = "lab", lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    at.sidebar.radio(key="lang").set_value(lang).run()
    if page != "lab":
        at.sidebar.radio(key="page").set_value(page).run()
    return at


def assert_ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def widget(at: AppTest, kind: str, path: str):
    """The generated lever widget of a scenario field (its key ends with ``:<path>``)."""
    found = [w for w in getattr(at, kind) if w.key and w.key.endswith(":" + path)]
    assert len(found) == 1, (path, [w.key for w in getattr(at, kind)])
    return found[0]


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    """Metric cards by label: (value, change)."""
    return {m.label: (m.value, m.proto.delta) for m in at.metric}


def cards(at: AppTest) -> dict[str, str]:
    """The drill's KPI cards (HTML in a markdown element) by label: value."""
    import html
    import re

    out: dict[str, str] = {}
    for m in at.markdown:
        for label, value in re.findall(r'<div class="gs-card-label">(.*?)</div>'
                                       r'<div class="gs-card-value">(.*?)</div>', m.value):
            out[html.unescape(label)] = html.unescape(value)
    return out


TINY_OPTIMISATION = (
    "name: tiny_cheapest\n"
    "label: Tiny cheapest staffing\nlabel_zh: 小型最低成本配置\n"
    "description: Cheapest grid workers and crews of a tiny city keeping on-time closure.\n"
    "description_zh: 小城市中保持按期结案率的最低成本网格员与处置队伍配置。\n"
    "overrides: {city.households: 2000, run.days: 3, run.warmup_days: 1}\n"
    "factors:\n  staffing.workers_per_grid: {low: 1, high: 3}\n"
    "  departments.city_management.crews_per_street: {low: 1, high: 3}\n"
    "replications: 2\nseed: 11\n"
    "kpis: [incidents_total, on_time_rate, mean_time_to_close_h, monthly_staff_cost]\n"
    "optimize:\n  objectives: [{kpi: monthly_staff_cost, direction: minimize}]\n"
    "  constraints: ['on_time_rate >= 0.5']\n  confidence: 0.9\n"
    "  trials: 6\n  batch: 3\n  startup_trials: 3\n  max_replications: 3\n")


def write_tiny_optimisation_store(folder: Path) -> Path:
    """A tiny optimisation store (6 trials of 3-day runs) written by `gridsim optimize`."""
    from tests.conftest import gridsim

    exp = folder / "tiny_cheapest.yaml"
    exp.write_text(TINY_OPTIMISATION, encoding="utf-8")
    path = folder / "tiny_cheapest.duckdb"
    done = gridsim("optimize", str(exp), "--store", str(path), "--backend", "serial")
    assert done.returncode == 0, done.stderr[-2000:]
    return path


def staten_island(keep: list[str] | None = None):
    """Staten Island's 2020 NTAs (``scenarios/maps``) with their Census population as a field
    ``population``, as a GeoDataFrame in lon/lat (only the NTAs in ``keep`` when given): the
    boundary file a user brings from a GIS."""
    import geopandas as gpd
    import pandas as pd

    maps = ROOT / "scenarios" / "maps"
    g = gpd.read_file(maps / "nyc_nta2020.topo.json").set_crs("EPSG:4326", allow_override=True)
    pop = pd.read_csv(maps / "nyc_nta2020_population.csv")[["nta_code", "population"]]
    g = g.merge(pop, left_on="NTACode", right_on="nta_code", how="left").drop(columns="nta_code")
    g = g[g["NTACode"].str.startswith("SI")]
    return g[g["NTACode"].isin(keep)] if keep else g
