"""Engine speed and memory, each figure beside its goal, measured side by side in one run.

    python benchmarks/bench_engine.py            # bare pipeline, baseline, large city days 1 → 5
    python benchmarks/bench_engine.py --large    # also city_large's 30 days (wall, peak memory),
                                                 # as one process and in --parts parts (default
                                                 # 2), with what splitting the platform costs
    python benchmarks/bench_engine.py --profile  # also the large city's top entries (cProfile)

Rates are per CPU second (``time.process_time``), so other work on a shared machine skews them
less; the ratio to the bare pipeline is the figure to read (both run in this process, under the
same collector settings, the bare one before and after the model). The large city's rate is
differenced: cases filed and CPU seconds from the end of day 1 to the end of day 5, so set-up and
the first, empty hours do not count. ``events`` are SimPy events scheduled.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bare_pipeline import run_bare_pipeline  # noqa: E402

from sim.engine.model import GridModel  # noqa: E402

try:
    from sim.engine.clock import relaxed_gc
except ImportError:  # an engine from before the collector settings (to measure "before")
    from contextlib import nullcontext as relaxed_gc
from sim.run import run_scenario  # noqa: E402
from sim.scenario import Scenario, load_scenario  # noqa: E402

LARGE = ROOT / "scenarios" / "city_large.yaml"


def bare(n: int) -> dict[str, float]:
    with relaxed_gc():
        return run_bare_pipeline(n)


def large_days(d0: float, d1: float, profile: bool = False) -> dict[str, float]:
    """city_large: set-up CPU seconds, then the cases filed from day d0 to d1 per CPU second."""
    sc = load_scenario(LARGE, {"run.days": d1})
    t0 = time.process_time()
    m = GridModel(sc)
    setup = time.process_time() - t0
    m.run_until(24 * d0)
    c0, e0, t1 = m.counters["reported"], m.events_scheduled, time.process_time()
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    m.run_until(24 * d1)
    if prof:
        prof.disable()
    cpu = time.process_time() - t1
    cases, events = m.counters["reported"] - c0, m.events_scheduled - e0
    out = {"setup_s": setup, "cases": cases, "events": events, "cpu_s": cpu,
           "cases_per_s": cases / cpu, "events_per_s": events / cpu, "n_grids": m.city.n_grids}
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
        out["profile"] = s.getvalue()
    return out


def setup_scaling() -> list[tuple[int, float]]:
    """Set-up CPU seconds of the large city at a quarter, half and all of its households."""
    rows = []
    for f in (0.25, 0.5, 1.0):
        sc = load_scenario(LARGE, {"city.households": int(9_600_000 * f), "run.days": 3})
        gc.collect()  # the last model's garbage is not this one's set-up
        t0 = time.process_time()
        m = GridModel(sc)
        rows.append((m.city.n_grids, time.process_time() - t0))
        del m
    return rows


def large_in_subprocess(days: float, parts: int = 1) -> dict:
    """city_large in a fresh process (its case log streamed to a file), so that its peak RSS
    is its own; with ``parts`` > 1 its districts run in that many processes (sim.engine.parts),
    whose CPU seconds and peaks are reported beside the parent's."""
    code = f"""
import json, resource, sys, tempfile, time
sys.path.insert(0, {str(ROOT)!r})
from sim.run import run_scenario
from sim.scenario import load_scenario
sc = load_scenario({str(LARGE)!r}, {{"run.days": {days}}})
with tempfile.TemporaryDirectory() as d:
    t0, c0 = time.perf_counter(), time.process_time()
    r = run_scenario(sc, out_dir=d, keep_cases=False, parts={parts})
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
p = r.manifest.get("parts", {{}})
print(json.dumps({{"wall_s": wall, "cpu_s": cpu + sum(p.get("cpu_s", [])),
    "events": r.manifest["events"], "incidents": r.manifest["incidents"],
    "n_grids": r.manifest["n_grids"], "kpis": r.kpis, "parts": p,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


#: what the platform's coupling costs a run in parts: these KPIs, whole city against parts
COUPLING_KPIS = ("cases_filed", "discovery_rate", "closure_rate", "on_time_rate",
                 "mean_time_to_close_h", "p50_time_to_close_h", "mean_crew_wait_h",
                 "escalated_cases", "resident_satisfaction")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", action="store_true", help="also city_large's whole run (minutes)")
    ap.add_argument("--large-days", type=float, default=30)
    ap.add_argument("--parts", type=int, default=2, help="parts of the large run in parts")
    ap.add_argument("--profile", action="store_true", help="cProfile the large city's days 1-5")
    args = ap.parse_args()

    print(f"gridsim engine benchmark (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    b1 = bare(100_000)
    base = Scenario()
    run_scenario(base, keep_cases=False)  # warm imports and caches
    t0 = time.process_time()
    r = run_scenario(base, keep_cases=False)
    base_cpu = time.process_time() - t0
    lg = large_days(1, 5, profile=args.profile)
    b2 = bare(100_000)
    bare_cases = (b1["cases_per_s"] + b2["cases_per_s"]) / 2
    bare_events = (b1["events_per_s"] + b2["events_per_s"]) / 2

    print(f"  bare SimPy pipeline         {bare_cases:>10,.0f} cases/CPU-s  "
          f"{bare_events:>10,.0f} events/CPU-s  ({b1['events'] / b1['cases']:.1f} events a case)")
    print(f"  baseline, {base.run.days:g} days          {base_cpu:>10.2f} CPU-s        "
          f"goal: well under 1 s  ({r.kpis['cases_filed']:,.0f} cases filed, "
          f"{r.manifest['events'] / base_cpu:,.0f} events/CPU-s)")
    print(f"  city_large set-up           {lg['setup_s']:>10.2f} CPU-s        goal: a few seconds "
          f"({lg['n_grids']:,} grids)")
    print(f"  city_large days 1 -> 5      {lg['cases_per_s']:>10,.0f} cases/CPU-s  "
          f"{lg['events_per_s']:>10,.0f} events/CPU-s  "
          f"({lg['events'] / lg['cases']:.1f} events a case)")
    print(f"  large city / bare pipeline  {lg['cases_per_s'] / bare_cases:>10.2f} (cases/s)    "
          f"goal: >= 0.50;  events/s ratio {lg['events_per_s'] / bare_events:.2f}")
    rows = setup_scaling()
    per = [s / g * 1000 for g, s in rows]
    print("  set-up by city size         " + ",  ".join(f"{g:,} grids {s:.2f} s" for g, s in rows)
          + f"  ({min(per):.2f}-{max(per):.2f} s per 1,000 grids; goal: linear)")
    if args.profile:
        print(lg["profile"])
    if args.large:
        x = large_in_subprocess(args.large_days)
        d = args.large_days
        print(f"  city_large, {d:g} days        {x['wall_s']:>10.0f} s wall       "
              f"goal: <= 120 s  ({x['cpu_s']:.0f} CPU-s, {x['kpis']['cases_filed']:,.0f} cases "
              f"filed, {x['incidents']:,} incidents; one process)")
        print(f"  city_large peak memory      {x['peak_rss_mb']:>10,.0f} MB           "
              f"goal: < 1,024 MB")
        y = large_in_subprocess(d, args.parts)
        p = y["parts"]
        print(f"  city_large, {d:g} days, {p['n']} parts {y['wall_s']:>7.0f} s wall       "
              f"goal: <= 120 s  ({y['cpu_s']:.0f} CPU-s in all, parts {p['cpu_s']} CPU-s, "
              f"operators {p['operators']}; {'exact' if p['exact'] else 'approximate'})")
        print(f"  ... its peak memory         {max(p['max_rss_mb']):>10,.0f} MB a part     "
              f"goal: < 1,024 MB  (merging process {y['peak_rss_mb']:,.0f} MB)")
        print(f"  ... cases filed per wall-s {y['kpis']['cases_filed'] / y['wall_s']:>10,.0f} "
              f"({y['kpis']['cases_filed'] / y['wall_s'] / bare_cases:.2f}x the bare pipeline's "
              f"rate on one core; one process: "
              f"{x['kpis']['cases_filed'] / x['wall_s'] / bare_cases:.2f}x)")
        print(f"  what the platform's coupling costs, whole city -> {p['n']} parts "
              f"(operator waits in parts: {sum(p['operator_waits']):,}):")
        for k in COUPLING_KPIS:
            a, b = x["kpis"][k], y["kpis"][k]
            rel = f"{(b - a) / a:+.2%}" if a else "–"
            print(f"      {k:34s} {a:>14,.4f} {b:>14,.4f}  {rel}")
    print(f"  (this process's peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"
          " MB)")


if __name__ == "__main__":
    main()
