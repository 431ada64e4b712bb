"""Engine speed and memory, with the reference figure beside each measurement.

    python benchmarks/bench_engine.py            # baseline speed, events/s against bare SimPy
    python benchmarks/bench_engine.py --large    # also city_large (10,000 grids), 30 days

Figures are ratios measured in one run where possible, and rates are per CPU second
(``time.process_time``) so that other work on a shared machine does not skew them.
``events`` are SimPy events scheduled (the same count for the model and the bare loop).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.run import run_scenario  # noqa: E402
from sim.scenario import Scenario, load_scenario  # noqa: E402


def bare_mmc(n_customers: int, lam: float = 1.8, mu: float = 1.0, c: int = 2) -> tuple[int, float]:
    """A bare SimPy M/M/c loop: source process, one process per customer, request/serve/release."""
    env = simpy.Environment()
    crews = simpy.Resource(env, capacity=c)
    rng = np.random.default_rng(1)
    inter = rng.exponential(1 / lam, n_customers).tolist()
    serve = rng.exponential(1 / mu, n_customers).tolist()

    def customer(s: float):
        with crews.request() as req:
            yield req
            yield env.timeout(s)

    def source():
        for a, s in zip(inter, serve):
            yield env.timeout(a)
            env.process(customer(s))

    env.process(source())
    t0 = time.process_time()
    env.run()
    wall = time.process_time() - t0
    events = int(repr(env._eid)[len("count("):-1])
    return events, wall


def model_rate(scenario: Scenario) -> tuple[int, float, float]:
    t0 = time.process_time()
    r = run_scenario(scenario, keep_cases=False)
    wall = time.process_time() - t0
    return r.manifest["events"], wall, r.manifest["incidents"]


def large_in_subprocess(days: float) -> dict:
    """city_large in a fresh process, so its peak RSS is its own."""
    code = f"""
import json, resource, sys, tempfile, time
sys.path.insert(0, {str(ROOT)!r})
from sim.run import run_scenario
from sim.scenario import load_scenario
sc = load_scenario({str(ROOT / 'scenarios' / 'city_large.yaml')!r}, {{"run.days": {days}}})
with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    r = run_scenario(sc, out_dir=d, keep_cases=False)
    wall = time.perf_counter() - t0
print(json.dumps({{"wall_s": wall, "events": r.manifest["events"],
    "incidents": r.manifest["incidents"], "n_grids": r.manifest["n_grids"],
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", action="store_true", help="also run city_large (minutes)")
    ap.add_argument("--large-days", type=float, default=30)
    args = ap.parse_args()

    print("gridsim engine benchmark")
    events, wall = bare_mmc(200_000)
    bare_rate = events / wall
    print(f"  bare SimPy M/M/c loop      {bare_rate:>12,.0f} events/CPU-s ({events:,} events)")

    base = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    ev, w, inc = model_rate(base)  # warm imports and caches
    ev, w, inc = model_rate(base)
    print(f"  baseline, 30 days          {w:>12.2f} CPU-s      reference: a few seconds at most")
    print(f"  baseline model rate        {ev / w:>12,.0f} events/CPU-s ({inc:,.0f} incidents, "
          f"{ev:,} events)")
    mid = load_scenario(ROOT / "scenarios" / "city_large.yaml",
                        {"city.households": 480000, "platform.operators": 20, "run.days": 10})
    ev2, w2, inc2 = model_rate(mid)
    print(f"  500-grid city, 10 days     {ev2 / w2:>12,.0f} events/CPU-s ({inc2:,.0f} incidents, "
          f"{w2:.1f} CPU-s)")
    ratio = min(ev / w, ev2 / w2) / bare_rate
    print(f"  model / bare rate          {ratio:>12.2f}            reference: >= 0.50")

    if args.large:
        r = large_in_subprocess(args.large_days)
        print(f"  city_large, {args.large_days:g} days       {r['wall_s']:>10.0f} s          "
              f"({r['n_grids']:,} grids, {r['incidents']:,} incidents, {r['events']:,} events)")
        print(f"  city_large peak memory     {r['peak_rss_mb']:>12,.0f} MB         "
              f"reference: < 2,048 MB")
        print(f"  city_large model rate      {r['events'] / r['wall_s']:>12,.0f} events/s")
    print(f"  (this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"
          f" MB)")


if __name__ == "__main__":
    main()
