"""Building a city from a real map: time and peak memory at 1,000, 10,000 and 40,000 grids.

    .venv/bin/python benchmarks/bench_geometry.py [--sizes 1000 10000 40000]

Each size is a boundary file made here: square grids of 250 m (6.25 ha, a dense residential
unit grid) laid on a square over the 100 m cell lattice, so that every grid's edge cells are
clipped (nine cells a grid), ten grids to a community and a hundred to a street (Shanghai has
40,625 unit grids). Each size runs in a fresh process: the file is read, checked, clipped into
cells and cut into the city (``build_city``; the modules are imported before); the peak is the process's resident set above what
it held before reading. The last column divides by the grid count: flat means linear.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_map(n: int, path: Path) -> None:
    import geopandas as gpd
    import numpy as np
    import shapely

    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    x0 = 500_000.0 + (i % side) * 250.0
    y0 = 3_450_000.0 + (i // side) * 250.0
    gpd.GeoDataFrame({"gid": [f"g{k}" for k in i], "hh": np.full(n, 400),
                      "comm": [f"c{k // 10}" for k in i], "street": [f"s{k // 100}" for k in i]},
                     geometry=shapely.box(x0, y0, x0 + 250, y0 + 250),
                     crs="EPSG:32651").to_file(path)


def one(n: int) -> dict:
    import numpy as np

    import sim.world.mapio  # noqa: F401  (imports are not the build: load them first)
    import sim.world.realcity  # noqa: F401
    from sim.scenario import validate_scenario
    from sim.world.city import build_city

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "grids.gpkg"
        make_map(n, path)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        sc = validate_scenario({"city": {"geometry": {
            "file": str(path), "level": "grid",
            "fields": {"id": "gid", "households": "hh", "community": "comm",
                       "street": "street"}}}})
        city = build_city(sc.city, np.random.default_rng(1))
        wall = time.perf_counter() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"grids": city.n_grids, "cells": city.n_cells, "s": wall,
            "mb": (rss1 - rss0) / 1024.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 40000])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    print("| grids | cells | build s | peak MB above start | ms per 1,000 grids | "
          "MB per 1,000 grids |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        k = r["grids"] / 1000
        print(f"| {r['grids']:,} | {r['cells']:,} | {r['s']:.2f} | {r['mb']:,.0f} | "
              f"{r['s'] / k * 1000:,.0f} | {r['mb'] / k:.1f} |", flush=True)


if __name__ == "__main__":
    main()
