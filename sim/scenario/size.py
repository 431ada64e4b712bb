"""How big a run of a scenario will be, estimated from its fields before anything is built.

A scenario can be valid field by field and still be beyond the machine: the widest city the
schema allows (20 million households in grids of 10) is two million grids. :func:`estimate`
predicts a run's peak memory from the counts that drive it, and :func:`check_fits` refuses a
scenario whose estimate exceeds the memory of this machine, saying by how much and which
fields to change, before a run starts (``gridsim run``, ``validate``, ``sweep``).

Peak memory of one run (resident set, measured with ``/usr/bin/time -f %M`` on gridsim
``run`` from 45 to 11,200 grids, 1 to 200 days, 2 to 100 staff per grid; the estimate is
within +5% … +25% of every measurement):

    MB ≈ 190 (interpreter, NumPy, pandas, SimPy, Mesa, the model code)
       + 10 KB per basic grid + 0.75 KB per staff member (workers, managers, assistants)
       + 3 KB per incident (the case, its events and its row of the case log)
       + 1 KB per time-series sample

Incidents are the expected count over the simulated days: households / 1000 × the category
rates × the zones' and hotspots' incident multipliers, plus invalid reports and cases handed
down (each is filed and screened like an incident).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.scenario.city import CityConfig
from sim.scenario.errors import ScenarioError
from sim.scenario.model import Scenario

BASE_BYTES = 190e6
GRID_BYTES = 10e3
STAFF_BYTES = 0.75e3
INCIDENT_BYTES = 3e3
SAMPLE_BYTES = 1e3
LIMIT_ENV = "GRIDSIM_MEMORY_LIMIT"


@dataclass(frozen=True)
class SizeEstimate:
    grids: int
    staff: int
    incidents: float
    samples: float

    @property
    def bytes(self) -> float:
        return (BASE_BYTES + GRID_BYTES * self.grids + STAFF_BYTES * self.staff
                + INCIDENT_BYTES * self.incidents + SAMPLE_BYTES * self.samples)

    def describe(self) -> str:
        return (f"{self.grids:,} grids, {self.staff:,} staff, about {self.incidents:,.0f} "
                f"incidents")


def grid_count(city: CityConfig) -> int:
    """Basic grids ``build_city`` will cut, counted by the city's own code (synthetic or a real
    map), without building the city."""
    from sim.world.city import grid_count as count

    return count(city)


def estimate(sc: Scenario) -> SizeEstimate:
    city = sc.city
    grids = grid_count(city)
    st = sc.staffing
    workers = st.workers_total if st.workers_total is not None else st.workers_per_grid * grids
    staff = workers + grids * (st.managers_per_grid + st.assistants_per_grid)
    per_day = sum(c.rate_per_1000_households_per_day for c in sc.incidents.categories.values())
    zone_mult = sum(z.share * z.incident_multiplier for z in city.zones.values())
    if city.geometry is not None:  # a map's zones hold its own households, not zones.*.share
        from sim.world.realmap import map_base

        base = map_base(city)
        mult = [z.incident_multiplier for z in city.zones.values()]
        zone_mult = float((base.households * np.asarray(mult)[base.zone]).sum()
                          / max(base.households.sum(), 1e-12))
    hot = 1 + city.hotspot_share * (city.hotspot_multiplier - 1)
    ch = sc.channels
    incidents = sc.run.days * (city.households / 1000 * (per_day * zone_mult * hot
                                                         + ch.invalid_reports_per_1000_households_per_day)
                               + ch.handed_down_per_day)
    samples = sc.run.days * 24 / sc.run.timeseries_interval_h
    return SizeEstimate(grids, int(staff), incidents, samples)


_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def machine_memory() -> float:
    """Bytes of memory this process may use: physical memory, or a cgroup's limit if lower.

    ``GRIDSIM_MEMORY_LIMIT`` (e.g. ``8G``, ``512M``) replaces the figure (batch jobs, tests).
    """
    env = os.environ.get(LIMIT_ENV, "").strip()
    if env:
        m = re.fullmatch(r"([0-9.]+)\s*([kKmMgGtT]?)i?[bB]?", env)
        if not m:
            raise ScenarioError([(LIMIT_ENV, f"write a size such as 8G or 512M (got {env!r})")])
        return float(m.group(1)) * _UNITS[m.group(2).lower()]
    total = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(f).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, float(text))
    return total


def _gb(b: float) -> str:
    return f"{b / 1e9:,.1f} GB" if b >= 1e9 else f"{b / 1e6:,.0f} MB"


def check_fits(sc: Scenario, copies: int = 1, source: str | None = None,
               limit: float | None = None) -> SizeEstimate:
    """Raise ScenarioError when ``copies`` runs of ``sc`` at once would exceed the machine."""
    est = estimate(sc)
    limit = machine_memory() if limit is None else limit
    need = est.bytes * copies
    if need <= limit:
        return est
    handed = sc.channels.handed_down_per_day * sc.run.days
    incident_field = "channels.handed_down_per_day" if handed > est.incidents / 2 else "run.days"
    terms = {"city.households_per_grid": GRID_BYTES * est.grids + STAFF_BYTES * est.staff,
             incident_field: INCIDENT_BYTES * est.incidents,
             "run.timeseries_interval_h": SAMPLE_BYTES * est.samples}
    field = max(terms, key=terms.get)  # type: ignore[arg-type]
    advice = {"city.households_per_grid": "raise city.households_per_grid or lower "
                                          "city.households",
              "run.days": "shorten run.days or lower city.households",
              "channels.handed_down_per_day": "lower channels.handed_down_per_day or shorten "
                                              "run.days",
              "run.timeseries_interval_h": "raise run.timeseries_interval_h"}[field]
    runs = f"{copies} runs at once (one per worker) need" if copies > 1 else "a run needs"
    raise ScenarioError([(field, f"too large for this machine: {runs} an estimated "
                                 f"{_gb(need)} of memory ({est.describe()}), this machine has "
                                 f"{_gb(limit)} — {need / limit:.1f}× too much; {advice}"
                                 + ("; or use fewer --workers" if copies > 1 else ""))],
                        source)
