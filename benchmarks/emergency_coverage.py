"""Fire coverage: the share of fires reached within 5 minutes, at the station-district norm and
with stations removed (issue 3; facts.md: class-1 station district ≤ 7 km², crews reach its edge
within 5 min of dispatch).

Two figures per station count:
- analytic: share of households whose grid the nearest station reaches within 5 min (turnout +
  travel over the grid graph at the responder's speed) — ``sim.emergency.station_coverage``;
- simulated: ``em_lead_5min_share`` of a run with random building fires (units may be busy, and
  mutual aid then comes from farther away), from ``run_scenario``.

Reference: at the norm the 5-minute coverage should be close to 100% (the norm is designed so);
removing stations must lower it. Run: ``.venv/bin/python benchmarks/emergency_coverage.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from sim.emergency import station_coverage
from sim.emergency.stations import station_grids
from sim.engine.model import GridModel
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with

CITY = {"city.households": 200000,
        "city.zones": {"residential": {"share": 1.0, "households_per_km2": 3000}},
        "emergency.enabled": True}
REFERENCE_AT_NORM = 0.95  # "reach the edge of the station district within 5 min" (facts.md)


def main() -> None:
    sc = scenario_with(Scenario(), {**CITY, "run.days": 1, "run.warmup_days": 0})
    m = GridModel(sc, seed=1)
    city, fire = m.city, sc.emergency.responders["fire"]
    speed = fire.speed_kmh or 35.0
    sites, home = station_grids(city, fire)
    area = float(city.area_km2.sum())
    print(f"city {area:.1f} km², {city.n_grids} grids; fire stations at the norm "
          f"(≤ {fire.station_district_km2:g} km² each): {len(sites)}; speed {speed:g} km/h, "
          f"turnout {fire.turnout_min:g} min")
    print(f"{'stations':>8} {'km²/station':>11} {'removed-from-norm':>17} {'re-placed':>9} "
          f"{'simulated':>9} {'fires':>5} {'wall s':>6}")
    for k in range(len(sites), 0, -2 if len(sites) > 6 else -1):
        removed = station_coverage(city, fire, speed, 5.0, sites[:k])
        replaced = station_coverage(city, fire, speed, 5.0,
                                    station_grids(city, fire.model_copy(
                                        update={"station_count": k}))[0])
        t0 = time.perf_counter()
        run = scenario_with(Scenario(), {
            **CITY, "run.days": 10, "run.warmup_days": 1,
            "emergency.responders.fire.station_count": k,
            "emergency.kinds.building_fire.rate_per_day": 4.0})
        res = run_scenario(run, seed=7, keep_cases=False)
        wall = time.perf_counter() - t0
        print(f"{k:>8} {area / k:>11.1f} {removed:>17.1%} {replaced:>9.1%} "
              f"{res.kpis['em_lead_5min_share']:>9.1%} {res.kpis['emergencies']:>5.0f} "
              f"{wall:>6.1f}")
    at_norm = station_coverage(city, fire, speed, 5.0, sites)
    print(f"reference at the norm: ≥ {REFERENCE_AT_NORM:.0%}; measured {at_norm:.1%} "
          f"({'ok' if at_norm >= REFERENCE_AT_NORM else 'below the reference'})")


if __name__ == "__main__":
    main()
