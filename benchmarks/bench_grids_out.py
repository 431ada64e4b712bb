"""Grids out: what writing a run's grid layer costs beside the run itself, on city_large.

    python benchmarks/bench_grids_out.py             # city_large (10,045 grids), 7 days
    python benchmarks/bench_grids_out.py --days 30

Times are CPU seconds (``time.process_time``) so other work on a shared machine skews them
less. The layer's cost is its three steps — the per-grid KPIs from the case log
(``sim.metrics.per_grid_kpis``, one pass), the grid polygons in lon/lat
(``sim.world.geometry.unit_frame``) and the two files (``grids.geojson``, ``grids.parquet``) —
and the figure to read is their sum as a share of the run (``run_scenario`` without output).
Goal: a few per cent of a 30-day run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.run import grid_kpis_of, run_scenario, write_grid_layer  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.world.geometry import unit_frame  # noqa: E402

LARGE = ROOT / "scenarios" / "city_large.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=7.0)
    a = ap.parse_args()
    import geopandas  # noqa: F401 - imported once, before timing (a run folder's writer pays it)

    sc = load_scenario(LARGE, {"run.days": a.days})
    t0 = time.process_time()
    r = run_scenario(sc, keep_cases=True)
    run_s = time.process_time() - t0
    t0 = time.process_time()
    kp = grid_kpis_of(r.cases, r.context, r.grids)
    kpis_s = time.process_time() - t0
    t0 = time.process_time()
    r.layer = unit_frame(r.city, "grid", attributes=False)
    r.grid_kpis = kp
    poly_s = time.process_time() - t0
    with tempfile.TemporaryDirectory() as d:
        t0 = time.process_time()
        write_grid_layer(r.grid_layer(), Path(d))
        write_s = time.process_time() - t0
        size = {f.name: f.stat().st_size for f in Path(d).iterdir()}
    total = kpis_s + poly_s + write_s
    print(f"city_large, {a.days:g} days: {len(r.grids):,} grids, {len(r.cases):,} case rows")
    print(f"  run (no output)            {run_s:>9.2f} CPU-s")
    print(f"  per-grid KPIs              {kpis_s:>9.2f} CPU-s")
    print(f"  polygons in lon/lat        {poly_s:>9.2f} CPU-s")
    print(f"  grids.geojson + .parquet   {write_s:>9.2f} CPU-s   "
          + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(size.items())))
    print(f"  grid layer / run           {total / run_s:>9.1%}        goal: a few per cent of "
          "a 30-day run")


if __name__ == "__main__":
    main()
