"""What a joint response is for: the people at risk, the supplies cut, access to the scene, the
levels by harm, and the one-row-per-emergency table the KPIs are computed from.

A mixin of :class:`sim.emergency.manager.EmergencyManager`; it works on the manager's state.

- People (``kind.people``, :mod:`sim.emergency.people`): evacuators on scene (police, grid
  workers …) lead people out of the danger zone; medical units take the injured into care.
- Supplies (``hazard.cutoff_min``): the gas company / power company cut their supply that many
  minutes after their first unit is on scene; until every supply is cut the hazard grows at its
  full rate (then × ``cut_growth_factor``) and, once put out, may flare up again
  (``reignite_prob_per_min``); it is contained only when it is out *and* every supply is cut.
- Access (``kind.access_delay_min``): a unit reaching the scene while no police unit holds
  traffic control waits at the perimeter that long, or until the police arrive (floods: only
  into a grid whose roads are closed by the water, and only police in that grid help).
- Levels by harm (``rules.harm_levels``, Decree 493): deaths, injured or direct loss raise the
  level as the severity does.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.emergency.hazards import FloodState
from sim.emergency.people import People, share_by_zone
from sim.scenario.emergency import GRID_WORKER, LEVELS, GrowthHazard

if TYPE_CHECKING:
    from sim.emergency.manager import Emergency

#: the responder whose units on scene hold traffic control (access for the others)
TRAFFIC_CONTROL = "police"


class Outcomes:
    """The outcome half of :class:`~sim.emergency.manager.EmergencyManager`."""

    # ------------------------------------------------------------------------------- people
    def _new_people(self, e: Emergency) -> None:
        if e.cfg.people is not None:
            e.people = People(e.cfg.people, self.city.population)

    def _cares(self, e: Emergency, r: str) -> bool:
        """``r`` takes injured into care (it stays until every injured person is in care)."""
        p = e.cfg.people
        return p is not None and p.care_per_unit_per_min.get(r, 0.0) > 0

    def _over(self, e: Emergency, r: str) -> bool:
        """Nothing left for responder ``r`` to do at ``e``."""
        return (e.cleared if self._cares(e, r) else e.done).triggered

    def _people_step(self, e: Emergency, tick: float) -> None:
        p = e.people
        if p is None:
            return
        cfg = e.cfg.people
        assert cfg is not None
        rates = cfg.evacuate_per_unit_per_min
        h = e.hazard
        if isinstance(h, FloodState):
            d = h.depth_cm
            aff = max(e.cfg.hazard.affecting_depth_cm, 1e-9)
            for g in np.flatnonzero(d >= aff).tolist():
                p.reach(g)
            live = {g: float(d[g]) for g in p.zone if d[g] >= aff}
            evac: dict[int, float] = {}
            for u in e.units:
                if u.status == "on_scene" and rates.get(u.responder, 0.0) > 0:
                    evac[u.grid] = evac.get(u.grid, 0.0) + rates[u.responder]
            if e.workers_on_scene and e.grid >= 0:
                evac[e.grid] = evac.get(e.grid, 0.0) + rates.get(GRID_WORKER, 0.0) \
                    * e.workers_on_scene
        else:
            for g in h.s:
                p.reach(g)
            live = {g: s for g, s in h.s.items() if s > 0}
            total = sum(rates.get(r, 0.0) * n for r, n in e.on_scene.items()) \
                + rates.get(GRID_WORKER, 0.0) * e.workers_on_scene
            evac = share_by_zone(total, p.zone, live)
        care = sum(cfg.care_per_unit_per_min.get(r, 0.0) * n for r, n in e.on_scene.items())
        p.step(tick, live, evac, care)

    def _log_people(self, e: Emergency, why: str = "") -> None:
        p = e.people
        if p is None:
            return
        in_zone = sum(p.zone.values())
        self.log("people", e, grid=e.grid, value=p.killed, detail=(
            f"in danger zone 在危险区 {in_zone:.1f}; evacuated 已疏散 {p.evacuated:.1f}; "
            f"injured 受伤 {p.injured:.2f}; waiting for care 待救治 {p.waiting:.2f}; "
            f"dead 死亡 {p.killed:.2f}" + (f"; {why}" if why else "")))

    # ----------------------------------------------------------------------------- supplies
    def _supplies_cut(self, e: Emergency) -> bool:
        h = e.cfg.hazard
        return not isinstance(h, GrowthHazard) or all(r in e.cut for r in h.cutoff_min)

    def _start_cutoff(self, e: Emergency, r: str) -> None:
        h = e.cfg.hazard
        if not isinstance(h, GrowthHazard) or r not in h.cutoff_min:
            return
        ev = self.env.timeout(h.cutoff_min[r] / 60.0)
        ev.callbacks.append(lambda _e: self._cut(e, r))

    def _cut(self, e: Emergency, r: str) -> None:
        if r in e.cut or e.done.triggered:
            return
        e.cut[r] = self.env.now
        h = e.cfg.hazard
        assert isinstance(h, GrowthHazard)
        done = self._supplies_cut(e)
        if done:
            e.hazard.growth_factor = h.cut_growth_factor
        self.log("supply_cut", e, responder=r, labels=self.labels(r), grid=e.grid,
                 detail="every supply cut 全部切断" if done else "")

    def _maybe_reignite(self, e: Emergency) -> None:
        """Put out, but a supply is still on: it may flare up again in its first grid."""
        cfg = e.cfg.hazard
        h = e.hazard
        if not isinstance(cfg, GrowthHazard) or cfg.reignite_prob_per_min <= 0 \
                or not h.contained or self._supplies_cut(e) or math.isnan(e.t_alarm):
            return
        p_tick = 1.0 - (1.0 - cfg.reignite_prob_per_min) ** self.cfg.tick_min
        if self.m.streams["emergency_reignite"].random() < p_tick:
            h.s[e.grid] = cfg.initial
            h.burned += cfg.initial
            h.burned_by_grid[e.grid] += cfg.initial
            e.reignitions += 1
            uncut = [self.labels(r)[1] for r in cfg.cutoff_min if r not in e.cut]
            self.log("reignited", e, grid=e.grid, value=cfg.initial, unit=cfg.unit,
                     detail="supply still on 未切断: " + ", ".join(uncut))

    # ------------------------------------------------------------------------------- access
    def _access_hold_h(self, e: Emergency, r: str, target: int) -> float:
        """Hours a unit of ``r`` arriving now at ``target`` is held at the perimeter (0: none)."""
        delay = e.cfg.access_delay_min
        if delay <= 0 or r == TRAFFIC_CONTROL:
            return 0.0
        if isinstance(e.hazard, FloodState):  # police leading units in through that grid's water
            if not e.hazard.closed(target) or any(
                    u.responder == TRAFFIC_CONTROL and u.status == "on_scene" and u.grid == target
                    for u in e.units):
                return 0.0
        elif e.on_scene.get(TRAFFIC_CONTROL, 0) > 0:
            return 0.0
        return delay / 60.0

    # ------------------------------------------------------------------------ levels by harm
    def _harm_level(self, e: Emergency) -> tuple[int, str]:
        """(index into LEVELS reached by deaths, injured or loss, -1 if none; why)."""
        hl = self.rules.harm_levels
        if not hl.enabled:
            return -1, ""
        p = e.people
        dead = p.killed if p is not None else 0.0
        hurt = p.injured if p is not None else 0.0
        loss = e.hazard.damage_yuan()
        best, why = -1, ""
        for k in range(3):
            reasons = [f"{x} {v:,.1f} ≥ {t:,.0f}" for x, v, t in (
                ("deaths 死亡", dead, hl.deaths[k]), ("injured 受伤", hurt, hl.injured[k]),
                ("direct loss 直接损失 ¥", loss, hl.loss_yuan[k])) if v >= t]
            if reasons:
                best, why = k + 1, "; ".join(reasons)
        if best < 0:
            return -1, ""
        defined = [i for i in self._levels(e) if i <= best]
        return max(defined), f"harm 伤亡损失 (Decree 493 国务院令第493号): {why}"

    # -------------------------------------------------------------------------------- table
    def table(self) -> pd.DataFrame:
        """One row per emergency (the KPIs in ``sim.metrics`` are computed from it)."""
        rows = []
        for e in self.emergencies:
            lead = e.cfg.plan.lead
            p = e.people
            rows.append({
                "emergency": e.id, "kind": e.kind, "grid": e.grid, "t_occur_h": e.t_occur,
                "t_alarm_h": e.t_alarm, "t_decision_h": e.t_decision,
                "t_first_response_h": e.t_first, "t_full_joint_h": e.t_full,
                "t_contained_h": e.t_contained,
                "t_lead_notified_h": e.notified.get(lead, math.nan),
                "t_lead_arrived_h": e.first_by.get(lead, math.nan),
                "max_level": LEVELS[e.max_level] if e.max_level >= 0 else "",
                "max_level_rank": e.max_level + 1, "severity": e.hazard.severity,
                "grids_affected": getattr(e.hazard, "n_grids", int(
                    getattr(e.hazard, "reached", np.zeros(1)).sum())),
                "damage_yuan": e.hazard.damage_yuan(),
                "people_affected": e.hazard.people_affected(),
                "units_sent": e.units_sent, "mutual_aid_units": e.mutual_aid_units,
                "routine_cases_delayed": len(e.routine_delayed),
                "people_exposed": p.exposed if p else 0.0,
                "people_evacuated": p.evacuated if p else 0.0,
                "injured": p.injured if p else 0.0, "killed": p.killed if p else 0.0,
                "exposure_h": p.exposure_min / 60.0 if p else 0.0,
                "care_wait_min": p.wait_min if p else 0.0,
                "roads_closed_grid_h": getattr(e.hazard, "closed_grid_h", 0.0),
                "reignitions": e.reignitions})
        return pd.DataFrame(rows, columns=EMERGENCY_COLUMNS)


EMERGENCY_COLUMNS = [
    "emergency", "kind", "grid", "t_occur_h", "t_alarm_h", "t_decision_h", "t_first_response_h",
    "t_full_joint_h", "t_contained_h", "t_lead_notified_h", "t_lead_arrived_h", "max_level",
    "max_level_rank", "severity", "grids_affected", "damage_yuan", "people_affected",
    "units_sent", "mutual_aid_units", "routine_cases_delayed", "people_exposed",
    "people_evacuated", "injured", "killed", "exposure_h", "care_wait_min",
    "roads_closed_grid_h", "reignitions"]
