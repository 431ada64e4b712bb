"""Maps at the app's size limit: how long the lab's map takes from the city to pixels, with the
goal beside it ("renders in under a second at the app's size limit").

    python benchmarks/bench_maps.py [--no-browser]

For the baseline (45 grids) and a city of about ``app_pages.limits.MAX_GRIDS`` grids:

1. geometry: the city's polygons read into GeoJSON (``map_geo.map_geometry``; once per city);
2. spec: one map's Vega-Lite spec with community and street outlines and names;
3. browser: Vega drawing that spec as SVG in headless Chromium (``vegaEmbed`` from vl-convert's
   bundle, timed inside the page; skipped without Debian's chromium and chromedriver);
4. export: the same spec to PNG by vl-convert (the download button).

The ratio of the large city to the baseline shows how the cost grows with grids. Machines here
are shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd

from app_pages import limits, maps
from app_pages.map_geo import map_geometry
from sim.engine.seeding import Streams
from sim.scenario import Scenario, scenario_with
from sim.world.city import build_city

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def _best(fn, n: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _city(grids: int):
    sc = Scenario()
    if grids > 45:
        sc = scenario_with(sc, {"city.households": int(sc.city.households * grids / 45)})
    return build_city(sc.city, Streams(sc.run.seed)["city"]), limits.grid_count(sc.city)


def _browser_ms(specs: list[dict]) -> list[float] | None:
    if not (CHROMIUM.exists() and DRIVER.exists()):
        return None
    import json

    import vl_convert as vlc
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    d.set_window_size(1280, 900)
    page = Path(tempfile.mkdtemp()) / "vega.html"
    page.write_text(vlc.vegalite_to_html({"mark": "point"}, bundle=True), encoding="utf-8")
    out = []
    try:
        d.get(page.as_uri())
        for spec in specs:
            best = float("inf")
            for _ in range(3):
                best = min(best, d.execute_async_script(
                    "const done = arguments[arguments.length - 1];"
                    "const el = document.createElement('div'); el.style.width = '800px';"
                    "document.body.appendChild(el); const t0 = performance.now();"
                    f"vegaEmbed(el, {json.dumps(maps.export_spec(spec, 800))},"
                    " {renderer: 'svg', actions: false}).then(r => {"
                    " const ms = performance.now() - t0; r.finalize(); el.remove(); done(ms);});"))
            out.append(best)
    finally:
        d.quit()
    return out


def main() -> None:
    browser = "--no-browser" not in sys.argv
    rows, specs = [], []
    for target in (45, limits.MAX_GRIDS - 10):
        city, n = _city(target)
        t_geo, geo = _best(lambda c=city: map_geometry(c), 2)
        f = pd.DataFrame({"grid": np.arange(geo.n_grids),
                          "value": np.random.default_rng(1).random(geo.n_grids)})
        t_spec, spec = _best(lambda g=geo, fr=f: maps.grid_map(
            g, fr, "on_time_rate", "zh", outlines=("community", "street")))
        t_png, _ = _best(lambda s=spec: maps.to_png(s), 2)
        specs.append(spec)
        rows.append({"grids": n, "geometry_s": t_geo, "spec_s": t_spec, "png_s": t_png})
    ms = _browser_ms(specs) if browser else None
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores shared)")
    print(f"{'grids':>6} {'geometry s':>11} {'spec s':>8} {'browser s':>10} {'PNG s':>7}")
    for i, r in enumerate(rows):
        b = f"{ms[i] / 1000:10.3f}" if ms else f"{'–':>10}"
        print(f"{r['grids']:6d} {r['geometry_s']:11.3f} {r['spec_s']:8.3f} {b} {r['png_s']:7.3f}")
    a, b = rows
    print(f"ratio {b['grids'] / a['grids']:.1f}× grids: spec {b['spec_s'] / a['spec_s']:.1f}×"
          + (f", browser {ms[1] / ms[0]:.1f}×" if ms else ""))
    shown = b["spec_s"] + (ms[1] / 1000 if ms else 0.0)
    print(f"goal: a map at the size limit in under 1 s (spec + browser): {shown:.2f} s")


if __name__ == "__main__":
    main()
