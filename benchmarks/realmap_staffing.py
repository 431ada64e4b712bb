"""Staffing × grid size on a real map beside the synthetic city (docs/validation.md).

    .venv/bin/python benchmarks/realmap_staffing.py [--reps 5] [--days 14] [--markdown]

Runs ``scenarios/nyc_map.yaml`` (Staten Island on its 2020 NTAs) and the embedded baseline at
300, 500 and 1,000 households per grid × 1 and 3 workers per grid, replication r at the same
seed at every point (common random numbers: the same incidents on the same cells at every
point of one city), and prints one row per point and the paired effect of 1 → 3 workers.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with

ROOT = Path(__file__).resolve().parents[1]
SIZES = (300, 500, 1000)
WORKERS = (1, 3)
KPIS = ("incidents_total", "discovery_rate", "problem_hours_per_1000_households",
        "on_time_rate", "mean_time_from_occurrence_to_close_h", "monthly_staff_cost",
        "crew_utilization")


def sweep(base: Scenario, reps: int, days: float, seed0: int) -> dict:
    out = {}
    for hpg in SIZES:
        for w in WORKERS:
            sc = scenario_with(base, {"city.households_per_grid": hpg, "run.days": days,
                                      "run.warmup_days": 2, "staffing.workers_per_grid": w})
            rows = []
            for r in range(reps):
                res = run_scenario(sc, seed=seed0 + r, keep_cases=False)
                rows.append([res.kpis[k] for k in KPIS] + [res.manifest["n_grids"]])
            out[(hpg, w)] = np.array(rows, dtype=float)
    return out


def ci(d: np.ndarray) -> tuple[float, float]:
    half = 1.96 * d.std(ddof=1) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
    return float(d.mean()), half


def table(name: str, res: dict, households: float) -> list[str]:
    lines = [f"**{name}** ({households:,.0f} households)", "",
             "| households/grid | grids | workers/grid | discovery | problem-h per 1,000 hh "
             "| on-time | occurrence→close h | crew utilisation | cost ¥/month per 1,000 hh |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (hpg, w), a in res.items():
        m = a.mean(axis=0)
        lines.append(f"| {hpg} | {int(m[-1])} | {w} | {m[1]:.1%} | {m[2]:.0f} | {m[3]:.1%} | "
                     f"{m[4]:.1f} | {m[6]:.0%} | {m[5] / households * 1000:,.0f} |")
    lines += ["", "| households/grid | Δ discovery 1→3 workers (pp) | "
                  "Δ problem-h per 1,000 hh | same incidents at every point |", "|---|---|---|---|"]
    inc = {tuple(a[:, 0]) for a in res.values()}
    for hpg in SIZES:
        lo, hi = res[(hpg, WORKERS[0])], res[(hpg, WORKERS[-1])]
        dd, hd = ci((hi[:, 1] - lo[:, 1]) * 100), ci(hi[:, 2] - lo[:, 2])
        lines.append(f"| {hpg} | {dd[0]:+.2f} ± {dd[1]:.2f} | {hd[0]:+.1f} ± {hd[1]:.1f} | "
                     f"{'yes' if len(inc) == 1 else 'no'} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--days", type=float, default=14)
    ap.add_argument("--seed", type=int, default=2026112701)
    args = ap.parse_args()
    for name, sc in (("Synthetic baseline", Scenario()),
                     ("Staten Island, NYC (scenarios/nyc_map.yaml)",
                      load_scenario(ROOT / "scenarios" / "nyc_map.yaml"))):
        t0 = time.perf_counter()
        res = sweep(sc, args.reps, args.days, args.seed)
        print("\n".join(table(name, res, sc.city.households)))
        print(f"\n({len(res) * args.reps} runs of {args.days:g} days in "
              f"{time.perf_counter() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
