"""The trainer's drill: run an emergency step by step, look, intervene, continue.

    from sim.emergency import Drill
    from sim.scenario import load_scenario

    drill = Drill(load_scenario("scenarios/fire_drill.yaml"), seed=1)
    drill.run_until(10.1)                  # model hours (t = 0 is Monday 00:00)
    drill.state()["units"]                 # where every unit is, and what it does
    drill.unit_out_of_service("F2")        # a truck breaks down: its emergency sends another
    drill.inject("building_fire", grid=7)  # a second fire, now
    drill.step(0.25)                       # 15 more minutes
    drill.run()                            # until every emergency is contained and units are home
    drill.narrative(); drill.kpis(); drill.write_trace("fire.jsonl")

The routine model keeps running underneath (routine cases compete for the shared crews).
``drill.events`` is the trace (rows of :data:`sim.emergency.trace.TRACE_COLUMNS`), appended to as
the drill advances; the same scenario and seed give the same trace.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sim.emergency.hazards import FloodState
from sim.emergency.manager import EmergencyManager
from sim.emergency.trace import clock, narrative, write_trace
from sim.engine.model import GridModel
from sim.metrics import emergency_kpis
from sim.scenario import Scenario, ScenarioError
from sim.scenario.emergency import LEVELS


class Drill:
    """An emergency drill on one scenario and seed (``emergency.enabled`` must be true)."""

    def __init__(self, scenario: Scenario, seed: int | None = None):
        if not scenario.emergency.enabled:
            raise ScenarioError([("emergency.enabled", "a drill needs emergency.enabled: true")],
                                scenario.name)
        self.scenario = scenario
        self.model = GridModel(scenario, seed=seed)   # checks the scripted emergencies' grids
        horizon = self.model.horizon_h
        problems = [(f"emergency.incidents.{i}.at_h",
                      f"must be before the end of the run ({horizon:g} h = run.days × 24)")
                     for i, inc in enumerate(scenario.emergency.incidents) if inc.at_h >= horizon]
        if problems:
            raise ScenarioError(problems, scenario.name)
        self._scheduled_h: list[float] = [inc.at_h for inc in scenario.emergency.incidents]
        assert self.model.emergency is not None
        self.manager: EmergencyManager = self.model.emergency

    # ------------------------------------------------------------------------------- the clock
    @property
    def now_h(self) -> float:
        return self.model.now

    @property
    def horizon_h(self) -> float:
        return self.model.horizon_h

    @property
    def events(self) -> list[dict]:
        """The trace so far (do not modify the rows)."""
        return self.manager.events

    def run_until(self, t_h: float) -> None:
        """Advance to model hour ``t_h`` (not beyond the scenario's horizon)."""
        self.model.run_until(t_h)

    def step(self, dt_h: float) -> None:
        """Advance ``dt_h`` hours."""
        if dt_h < 0:
            raise ValueError("dt_h must be >= 0")
        self.run_until(self.now_h + dt_h)

    @property
    def finished(self) -> bool:
        """Every emergency that occurred is contained and no unit is still out on one."""
        m = self.manager
        started = bool(m.emergencies) and all(not math.isnan(e.t_contained)
                                              for e in m.emergencies)
        busy = any(u.emergency >= 0 for u in m.units.values())
        pending = any(t > self.now_h for t in self._scheduled_h)
        return started and not busy and not pending

    def run(self, max_h: float | None = None) -> None:
        """Advance until :attr:`finished`, the horizon, or ``max_h`` hours from now."""
        stop = self.horizon_h if max_h is None else min(self.horizon_h, self.now_h + max_h)
        tick = self.scenario.emergency.tick_min / 60.0
        while self.now_h < stop and not self.finished:
            self.run_until(min(stop, self.now_h + 4 * tick))

    # ------------------------------------------------------------------------- interventions
    def inject(self, kind: str, grid: int | None = None, at_h: float | None = None) -> int:
        """A new emergency of ``kind`` in ``grid`` (floods: city-wide), now or at ``at_h``.
        Returns its id, or -1 when scheduled for later (the id is given when it occurs)."""
        kinds = self.scenario.emergency.kinds
        if kind not in kinds:
            raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(kinds)}")
        flood = kinds[kind].hazard.model == "flood"
        n = self.model.city.n_grids
        if not flood and (grid is None or not 0 <= grid < n):
            raise ValueError(f"grid must be between 0 and {n - 1}")
        t = self.now_h if at_h is None else float(at_h)
        if t < self.now_h:
            raise ValueError(f"at_h must not be in the past (now is {self.now_h:g} h)")
        if t == self.now_h:
            return self.manager.start(kind, grid)
        ev = self.model.env.timeout(t - self.now_h)
        ev.callbacks.append(lambda _e: self.manager.start(kind, grid))
        self._scheduled_h.append(t)
        return -1

    def unit_out_of_service(self, unit_id: str) -> None:
        """Take a unit out of service now; if it is on an emergency, a replacement is sent."""
        self.manager.unit_out_of_service(unit_id)

    def unit_back_in_service(self, unit_id: str) -> None:
        self.manager.unit_back_in_service(unit_id)

    # ----------------------------------------------------------------------------- inspection
    def state(self) -> dict[str, Any]:
        """What the trainer sees now: emergencies, units (positions, status), hazard per grid."""
        m = self.manager
        ems, hazard = [], []
        for e in m.emergencies:
            h = e.hazard
            ems.append({
                "emergency": e.id, "kind": e.kind, "label_en": e.cfg.label_en,
                "label_zh": e.cfg.label_zh, "grid": e.grid,
                "level": LEVELS[e.level] if e.level >= 0 else "",
                "severity": h.severity, "unit": e.cfg.hazard.unit,
                "alarmed": not math.isnan(e.t_alarm), "contained": not math.isnan(e.t_contained),
                "units_on_scene": dict(e.on_scene), "units_sent": e.units_sent,
                "damage_yuan": h.damage_yuan(), "people_affected": h.people_affected(),
                **_people_state(e.people)})
            if isinstance(h, FloodState):
                d = h.depth_cm
                hazard += [{"emergency": e.id, "grid": int(g), "value": float(d[g])}
                           for g in range(len(d)) if d[g] > 0]
            else:
                hazard += [{"emergency": e.id, "grid": g, "value": s}
                           for g, s in sorted(h.s.items())]
        return {"time_h": self.now_h, "clock": clock((self.now_h - m.origin_h) * 3600.0),
                "emergencies": ems, "units": m.unit_frame().to_dict("records"),
                "hazard": hazard}

    def stations(self) -> list[dict[str, Any]]:
        """Every station: responder, labels, id, grid, coordinates, units, shared or not."""
        m, c = self.manager, self.model.city
        rows = []
        for code, stations in m.stations.items():
            en, zh = m.labels(code)
            for st in stations:
                rows.append({"responder": code, "label_en": en, "label_zh": zh,
                             "station": st.id, "grid": st.grid, "x_km": float(c.x_km[st.grid]),
                             "y_km": float(c.y_km[st.grid]),
                             "units": [u.id for u in st.units], "shared_with_routine": st.shared})
        return rows

    def kpis(self) -> dict[str, float]:
        """The emergency KPIs (``sim.metrics.KPI_DEFINITIONS``) of this drill so far."""
        return emergency_kpis(self.manager.table())

    def table(self):  # -> pandas.DataFrame
        return self.manager.table()

    def narrative(self, verbose: bool = False) -> list[str]:
        return narrative(self.events, verbose)

    def write_trace(self, path: str | Path) -> None:
        write_trace(self.events, path)


def _people_state(p: Any) -> dict[str, float]:
    """People at risk now (zeros when the kind has no ``people``)."""
    if p is None:
        return {"in_danger_zone": 0.0, "people_evacuated": 0.0, "injured": 0.0,
                "waiting_for_care": 0.0, "killed": 0.0}
    return {"in_danger_zone": float(sum(p.zone.values())), "people_evacuated": p.evacuated,
            "injured": p.injured, "waiting_for_care": p.waiting, "killed": p.killed}
