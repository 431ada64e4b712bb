"""Dispatching the units of an emergency: the station each comes from, mutual aid, each unit's
life (travel, work on scene, return), and grid workers turned out to help.

A mixin of :class:`sim.emergency.manager.EmergencyManager`; it works on the manager's state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.emergency.hazards import FloodState
from sim.emergency.stations import EMERGENCY_PRIORITY, Station, Unit
from sim.scenario.emergency import GRID_WORKER, LEVELS, Responder
from sim.world.calendar import in_window

if TYPE_CHECKING:
    from sim.emergency.manager import Emergency
    from sim.engine.model import GridModel


GRID_WORKER_LABELS = ("Grid workers", "网格员")


class UnitDispatch:
    """The dispatch half of :class:`~sim.emergency.manager.EmergencyManager`."""

    model: "GridModel"

    def _target(self, e: Emergency) -> int:
        if not isinstance(e.hazard, FloodState):
            return e.grid
        obs = e.hazard.observed_cm()
        thr = self._trigger(e, LEVELS[self._levels(e)[0]])
        cands = np.flatnonzero(obs >= thr)
        if len(cands) == 0:
            return e.grid
        return int(min(cands.tolist(), key=lambda g: (e.targets.get(g, 0), -obs[g], g)))

    def _eta_h(self, r: str, st: Station, grid: int) -> float:
        d = float(self.city.distances_from(st.grid)[grid])
        return self.cfg.responders[r].turnout_min / 60.0 + d / self.speed_kmh(r)

    def _dispatch_one(self, e: Emergency, r: str) -> None:
        R: Responder = self.cfg.responders[r]
        target = self._target(e)
        stations = self.stations[r]
        home = stations[int(self.home[r][target])]
        cands = [home]
        ma = self.rules.mutual_aid
        level_ok = e.level < 0 or e.cfg.plan.levels[LEVELS[e.level]].mutual_aid
        if ma.enabled and level_ok and not R.serves_own_area_only:
            for st in stations:
                if st is home:
                    continue
                d = float(self.city.distances_from(st.grid)[target])
                if ma.max_distance_km is None or d <= ma.max_distance_km:
                    cands.append(st)
        best, best_eta = None, math.inf
        for st in cands:
            if st.free_units(self.preempt) > 0:
                eta = self._eta_h(r, st, target)
                if eta < best_eta:
                    best, best_eta = st, eta
        e.sent[r] = e.sent.get(r, 0) + 1
        e.targets[target] = e.targets.get(target, 0) + 1
        if best is None:
            self.log("queued", e, responder=r, labels=self.labels(r), grid=home.grid,
                     detail=f"waiting at {home.id}")
            self._request(e, r, home, target, mutual_aid=False, backup=False)
            return
        self._request(e, r, best, target, mutual_aid=best is not home, backup=False)
        if best is not home and home.free_units(self.preempt) == 0:
            self._request(e, r, home, target, mutual_aid=False, backup=True)

    def _request(self, e: Emergency, r: str, st: Station, target: int, mutual_aid: bool,
                 backup: bool) -> None:
        pool = st.pool
        preempt = self.preempt and st.shared
        if preempt and len(pool.users) >= pool.capacity:
            victim = sorted(pool.users, key=lambda q: q.key)[-1]
            cid = getattr(victim, "case_id", None)
            if cid is not None:
                e.routine_delayed.add(int(cid))
                self.log("preempted", e, actor="routine", responder=r, labels=self.labels(r),
                         grid=st.grid, detail=f"case {cid} at {st.id} 案卷 {cid}")
        req = pool.request(priority=EMERGENCY_PRIORITY, preempt=preempt)
        e.pending.append(req)
        self.env.process(self._unit_life(e, r, st, req, target, mutual_aid, backup))

    def _backup_useful(self, e: Emergency, r: str, st: Station, target: int) -> bool:
        if e.on_scene.get(r, 0) > 0:
            return False
        arrive = self.env.now + self._eta_h(r, st, target)
        en_route = [u.t_arrive_h for u in e.units if u.responder == r and u.status == "dispatched"]
        return not en_route or arrive < min(en_route)

    def _unit_life(self, e: Emergency, r: str, st: Station, req: Any, target: int,
                   mutual_aid: bool, backup: bool):
        env = self.env
        yield req
        e.pending.remove(req)
        if e.done.triggered or (backup and not self._backup_useful(e, r, st, target)):
            st.pool.release(req)
            return
        if backup:
            e.sent[r] = e.sent.get(r, 0) + 1
        u = st.next_unit()
        u.request, u.process, u.emergency, u.status = req, env.active_process, e.id, "dispatched"
        R = self.cfg.responders[r]
        token = self.m.busy_start(R.department, 1, st.index) if st.shared else None  # crews' use
        u.from_grid, u.grid = st.grid, target
        e.units.append(u)
        e.units_sent += 1
        if mutual_aid:
            e.mutual_aid_units += 1
        self._note_queue(e, st)
        dist = float(self.city.distances_from(st.grid)[target])
        travel_h = dist / self.speed_kmh(r)
        u.t_depart_h = env.now + R.turnout_min / 60.0
        u.t_arrive_h = u.t_depart_h + travel_h
        kind = "street depot" if R.placement == "street_depots" else "station"
        self.log("dispatched", e, actor=u.id, responder=r, labels=self.labels(r), grid=st.grid,
                 to_grid=target, distance_km=dist,
                 detail=f"{kind} {st.id}" + ("; mutual_aid" if mutual_aid else "")
                 + ("; backup" if backup else ""))
        on_scene = False
        try:
            yield env.timeout(u.t_arrive_h - env.now)
            if e.done.triggered:
                self.log("stood_down", e, actor=u.id, responder=r, labels=self.labels(r),
                         grid=target)
            else:
                on_scene = True
                u.status = "on_scene"
                self._arrived(e, r, u, target)
                yield e.done
                yield env.timeout(R.mop_up_min / 60.0)
                on_scene = False
                e.on_scene[r] -= 1
            u.status = "returning"
            u.from_grid, u.grid = target, st.grid
            u.t_depart_h, u.t_arrive_h = env.now, env.now + travel_h
            self.log("returning", e, actor=u.id, responder=r, labels=self.labels(r), grid=target,
                     to_grid=st.grid, distance_km=dist)
            yield env.timeout(travel_h)
            self.log("back", e, actor=u.id, responder=r, labels=self.labels(r), grid=st.grid,
                     detail=st.id)
        except simpy.Interrupt:
            if on_scene:
                e.on_scene[r] -= 1
            e.units.remove(u)
            e.sent[r] -= 1
            self.log("withdrawn", e, actor=u.id, responder=r, labels=self.labels(r),
                     grid=u.grid, detail="out of service 停用")
            st.pool.release(req)
            if token is not None:
                self.m.busy_stop(token)
            u.process = None
            if not e.done.triggered:
                self._top_up(e, r)
            return
        st.pool.release(req)
        if token is not None:
            self.m.busy_stop(token)
        u.request, u.process, u.emergency, u.status = None, None, -1, "available"
        u.grid = st.grid

    def _arrived(self, e: Emergency, r: str, u: Unit, grid: int) -> None:
        now = self.env.now
        e.on_scene[r] = e.on_scene.get(r, 0) + 1
        self.log("arrived", e, actor=u.id, responder=r, labels=self.labels(r), grid=grid)
        if math.isnan(e.t_first):
            e.t_first = now
        if r not in e.first_by:
            e.first_by[r] = now
            ev = e.arrived_ev.setdefault(r, self.env.event())
            if not ev.triggered:
                ev.succeed()
        self._check_full(e)

    def _check_full(self, e: Emergency) -> None:
        if not math.isnan(e.t_full) or e.level < 0:
            return
        need = [r for r, n in self._required(e).items() if n > 0]
        if all(e.on_scene.get(r, 0) > 0 for r in need):
            e.t_full = self.env.now
            self.log("full_joint_response", e, grid=e.grid, detail=", ".join(
                f"{self.labels(r)[1]}×{e.on_scene[r]}" for r in need))

    def _note_queue(self, e: Emergency, st: Station) -> None:
        if st.shared:
            for q in st.pool.queue:
                cid = getattr(q, "case_id", None)
                if cid is not None:
                    e.routine_delayed.add(int(cid))

    def _grid_workers(self, e: Emergency, grid: int | None = None):
        """Grid workers of ``grid`` (the emergency's own, or one it spread to: cross-grid
        linkage 跨网格联动) turn out: evacuation, cordon, and their ``grid_worker`` control."""
        fr = self.rules.first_responders
        g = e.grid if grid is None else grid
        delay = fr.arrive_min.ppf(self.rng.random())
        if not in_window(self.env.now, self.m.scenario.patrol.hours):
            delay += fr.off_duty_extra_min
        yield self.env.timeout(delay / 60.0)
        if e.done.triggered:
            return
        e.workers_on_scene += fr.workers
        what = "evacuation and cordon 疏散警戒" if grid is None else \
            "cross-grid linkage, evacuation and cordon 跨网格联动 疏散警戒"
        self.log("arrived", e, actor=f"{fr.workers} workers", responder=GRID_WORKER,
                 labels=GRID_WORKER_LABELS, grid=g, detail=what)
        if math.isnan(e.t_first):
            e.t_first = self.env.now

    # ---------------------------------------------------------------------------- the hazard
