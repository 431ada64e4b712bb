"""The emergencies of one model run: alarm, command, dispatch, escalation, mutual aid, trace.

Life of an emergency (all on the model's SimPy clock, in hours):

1. it occurs (scripted in ``emergency.incidents`` or at random ``rate_per_day``); its hazard
   evolves every ``tick_min`` from then on (``sim.emergency.hazards``);
2. alarm: a growth hazard is reported after ``report_delay_min``; a flood when a water-level
   sensor (or a late report from an unsensed grid) reads level IV's trigger (blue warning);
3. the platform takes ``platform_dispatch_min`` to decide, declares the level whose trigger the
   severity has reached, alerts the micro fire-station tiers (fires, if on), and notifies the
   plan's responders — all at once (``simultaneous``) or one after another, each once the
   previous is on scene plus ``assessment_min`` (``sequential``); under ``command: lead`` the
   platform notifies only the lead, which relays to the others (``relay_min`` per relay) and
   declares higher levels itself (``decision_min`` after the trigger, once it is on scene);
4. each unit comes from the free station with the earliest arrival among the home station (the
   grid's street or station district) and — with mutual aid — every other station; when the home
   station has nothing free a request also waits there at emergency priority (kept on grant only
   if it would arrive before every unit already on the way), so mutual aid never delays the
   first response. Shared crews are taken from routine work by priority: a routine case waits
   (``routine_work: wait``) or is pre-empted (``preempt``);
5. at each tick the level rises when a trigger is crossed, and the shortfall is dispatched;
6. contained (hazard gone / water below level IV): units stay ``mop_up_min`` and go home.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import simpy

from sim.emergency.dispatch import GRID_WORKER_LABELS, UnitDispatch
from sim.emergency.hazards import FloodState, GrowthState
from sim.emergency.stations import OUT_OF_SERVICE_PRIORITY, Station, Unit, station_grids
from sim.emergency.trace import TRACE_COLUMNS
from sim.scenario.emergency import GRID_WORKER, LEVELS, WARNING_COLOURS, EmergencyKind, FloodHazard

if TYPE_CHECKING:
    from sim.engine.model import GridModel

PLATFORM_LABELS = ("Command centre", "指挥中心")


@dataclass
class Emergency:
    id: int
    kind: str
    cfg: EmergencyKind
    grid: int
    t_occur: float
    hazard: Any
    done: simpy.Event
    level: int = -1  # index into LEVELS; -1 before the first declaration
    max_level: int = -1
    t_alarm: float = math.nan
    t_decision: float = math.nan
    t_first: float = math.nan
    t_full: float = math.nan
    t_contained: float = math.nan
    notified: dict[str, float] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    on_scene: dict[str, int] = field(default_factory=dict)
    first_by: dict[str, float] = field(default_factory=dict)
    arrived_ev: dict[str, simpy.Event] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    pending: list[Any] = field(default_factory=list)
    targets: dict[int, int] = field(default_factory=dict)
    seq_order: list[str] = field(default_factory=list)
    seq_running: bool = False
    cross_t: dict[int, float] = field(default_factory=dict)
    workers_on_scene: int = 0
    mutual_aid_units: int = 0
    units_sent: int = 0
    routine_delayed: set[int] = field(default_factory=set)
    warning: int = -1
    ignited: bool = False


class EmergencyManager(UnitDispatch):
    """Owns the stations, units and emergencies of a :class:`~sim.engine.model.GridModel`."""

    def __init__(self, model: "GridModel"):
        self.m = model
        self.env = model.env
        self.cfg = model.scenario.emergency
        self.rules = self.cfg.rules
        self.city = model.city
        self.rng = model.streams["emergency"]
        self.rng_spread = model.streams["emergency_spread"]
        self.preempt = self.rules.routine_work == "preempt"
        self.events: list[dict] = []
        self.emergencies: list[Emergency] = []
        self.stations: dict[str, list[Station]] = {}
        self.home: dict[str, np.ndarray] = {}
        self.units: dict[str, Unit] = {}
        starts = [inc.at_h for inc in self.cfg.incidents]
        self.origin_h = min(starts) if starts else 0.0
        self._build_stations()
        for inc in self.cfg.incidents:
            self._schedule(inc.kind, inc.grid, inc.at_h)
        for kind, k in self.cfg.kinds.items():
            if k.rate_per_day > 0:
                self.env.process(self._random_arrivals(kind))

    # --------------------------------------------------------------------------- construction
    def _build_stations(self) -> None:
        for code, r in self.cfg.responders.items():
            sites, home = station_grids(self.city, r, code)
            self.home[code] = home
            self.city.precompute_distances(sites)
            stations = []
            n_unit = 0
            for k, g in enumerate(sites.tolist()):
                if r.shares_routine_crews:
                    pool = self.m.departments[r.department].crews[k]
                else:
                    pool = simpy.PreemptiveResource(self.env, capacity=r.units_per_station)
                st = Station(f"S{k + 1}", code, k, int(g), pool, r.shares_routine_crews)
                for _ in range(pool.capacity):
                    n_unit += 1
                    u = Unit(f"{r.unit_code}{n_unit}", code, st)
                    st.units.append(u)
                    self.units[u.id] = u
                stations.append(st)
            self.stations[code] = stations

    def speed_kmh(self, code: str) -> float:
        r = self.cfg.responders[code]
        if r.speed_kmh is not None:
            return r.speed_kmh
        if r.department is not None:
            return self.m.scenario.departments[r.department].travel_speed_kmh
        return 30.0

    def labels(self, code: str) -> tuple[str, str]:
        if code == GRID_WORKER:
            return GRID_WORKER_LABELS
        r = self.cfg.responders[code]
        return r.label_en, r.label_zh

    # -------------------------------------------------------------------------------- the trace
    def log(self, action: str, e: Emergency | None, *, actor: str = "", responder: str = "",
            labels: tuple[str, str] | None = None, grid: int = -1, to_grid: int = -1,
            distance_km: float = math.nan, value: float = math.nan, unit: str = "",
            level: str = "", detail: str = "") -> None:
        now = self.env.now
        if labels is None:
            labels = (e.cfg.label_en, e.cfg.label_zh) if e is not None else PLATFORM_LABELS
        c = self.city
        row = {
            "time_h": now, "elapsed_s": round((now - self.origin_h) * 3600.0, 3),
            "emergency": e.id if e is not None else -1, "kind": e.kind if e is not None else "",
            "actor": actor, "responder": responder, "label_en": labels[0],
            "label_zh": labels[1], "action": action, "level": level, "grid": int(grid),
            "x_km": float(c.x_km[grid]) if grid >= 0 else math.nan,
            "y_km": float(c.y_km[grid]) if grid >= 0 else math.nan,
            "to_grid": int(to_grid),
            "to_x_km": float(c.x_km[to_grid]) if to_grid >= 0 else math.nan,
            "to_y_km": float(c.y_km[to_grid]) if to_grid >= 0 else math.nan,
            "distance_km": float(distance_km), "value": float(value), "unit": unit,
            "detail": detail}
        assert tuple(row) == TRACE_COLUMNS
        self.events.append(row)

    # ---------------------------------------------------------------------------- occurrence
    def _schedule(self, kind: str, grid: int | None, at_h: float) -> None:
        def fire(_e: Any) -> None:
            self.start(kind, grid)
        if at_h <= self.env.now:
            self.start(kind, grid)
        else:
            ev = self.env.timeout(at_h - self.env.now)
            ev.callbacks.append(fire)

    def _random_arrivals(self, kind: str):
        rng = self.m.streams[f"emergency_arrivals.{kind}"]
        k = self.cfg.kinds[kind]
        w = self.city.population / self.city.population.sum()
        while True:
            yield self.env.timeout(rng.exponential(24.0 / k.rate_per_day))
            g = int(rng.choice(self.city.n_grids, p=w))
            if self.env.now < self.m.horizon_h:
                self.start(kind, None if isinstance(k.hazard, FloodHazard) else g)

    def start(self, kind: str, grid: int | None, alarm_after_min: float | None = None) -> int:
        """An emergency of ``kind`` occurs now in ``grid`` (floods: the whole city); it is
        reported after its kind's ``report_delay_min`` unless ``alarm_after_min`` is given."""
        k = self.cfg.kinds[kind]
        eid = len(self.emergencies)
        if isinstance(k.hazard, FloodHazard):
            sensed = np.array([s.sensor for s in self.m.sensor_stations], dtype=bool)
            delay_ticks = int(round(k.hazard.unsensed_report_delay_min / self.cfg.tick_min))
            terrain = np.random.default_rng(self.m.streams.int_seed("emergency_terrain"))
            hz: Any = FloodState(k.hazard, self.city, self.env.now, terrain, sensed, delay_ticks)
            g = -1 if grid is None else int(grid)
        else:
            if grid is None:
                raise ValueError(f"a {kind} needs a grid")
            g = int(grid)
            hz = GrowthState(k.hazard, g, self.city)
        e = Emergency(eid, kind, k, g, self.env.now, hz, self.env.event())
        self.emergencies.append(e)
        h = k.hazard
        self.log("occurred", e, grid=g, value=hz.severity, unit=h.unit,
                 detail=f"{h.measure_en} {h.measure_zh}")
        if not isinstance(h, FloodHazard):
            delay_min = h.report_delay_min.ppf(self.rng.random()) if alarm_after_min is None \
                else alarm_after_min
            ev = self.env.timeout(delay_min / 60.0)
            ev.callbacks.append(lambda _e: self._alarm(e))
        self.env.process(self._hazard_loop(e))
        return eid

    # ------------------------------------------------------------------------- alarm, command
    def _trigger(self, e: Emergency, lv: str) -> float:
        return e.cfg.plan.levels[lv].trigger * self.rules.escalation_factor

    def _levels(self, e: Emergency) -> list[int]:
        return [i for i, lv in enumerate(LEVELS) if lv in e.cfg.plan.levels]

    def _level_reached(self, e: Emergency) -> int:
        sev = e.hazard.severity
        n = getattr(e.hazard, "n_grids", 1)
        best = self._levels(e)[0]
        for i in self._levels(e):
            lv = e.cfg.plan.levels[LEVELS[i]]
            if sev >= self._trigger(e, LEVELS[i]) or (lv.trigger_grids and n >= lv.trigger_grids):
                best = i
        return best

    def _alarm(self, e: Emergency) -> None:
        if not math.isnan(e.t_alarm) or e.done.triggered:
            return
        e.t_alarm = self.env.now
        self.log("alarm", e, grid=e.grid, value=e.hazard.severity, unit=e.cfg.hazard.unit)
        if self.rules.first_responders.enabled and e.grid >= 0:
            self.env.process(self._grid_workers(e))
            for g in sorted(getattr(e.hazard, "s", {})):  # grids it spread to before the alarm
                if g != e.grid:
                    self.env.process(self._grid_workers(e, g))
        self.env.process(self._command(e))

    def _command(self, e: Emergency):
        yield self.env.timeout(self.rules.platform_dispatch_min.ppf(self.rng.random()) / 60.0)
        if e.done.triggered:
            return
        e.t_decision = self.env.now
        self._declare(e, self._level_reached(e), "alarm")
        mf = self.rules.micro_fire_stations
        if mf.enabled and e.cfg.uses_micro_fire_stations:
            for tier in mf.tiers:
                self._notify(e, tier, 1, detail="micro fire station tier 微型消防站")
        order = self._plan_order(e)
        if self.rules.dispatch == "simultaneous":
            for k, r in enumerate(order):
                self._notify_later(e, r, self._relay_delay_h(k))
        else:
            e.seq_order = order
            self.env.process(self._sequence(e))

    def _relay_delay_h(self, k: int) -> float:
        return k * self.rules.relay_min / 60.0 if self.rules.command == "lead" else 0.0

    def _plan_order(self, e: Emergency) -> list[str]:
        lead = e.cfg.plan.lead
        need = self._required(e)
        return [lead] + [r for r in need if r != lead and need[r] > 0]

    def _required(self, e: Emergency) -> dict[str, int]:
        """Units each responder must have sent: the most any declared level asks for."""
        out: dict[str, int] = {}
        for i in self._levels(e):
            if i > e.level:
                break
            for r, n in e.cfg.plan.levels[LEVELS[i]].units.items():
                out[r] = max(out.get(r, 0), n)
        return out

    def _notify_later(self, e: Emergency, r: str, delay_h: float) -> None:
        if delay_h <= 0:
            self._notify(e, r)
        else:
            ev = self.env.timeout(delay_h)
            ev.callbacks.append(lambda _e: self._notify(e, r, detail="relayed by the lead 牵头单位转告"))

    def _notify(self, e: Emergency, r: str, n: int | None = None, detail: str = "") -> None:
        if e.done.triggered or r in e.notified:
            return
        e.notified[r] = self.env.now
        e.arrived_ev.setdefault(r, self.env.event())
        self.log("notified", e, responder=r, labels=self.labels(r), grid=e.grid, detail=detail)
        self._top_up(e, r, n)

    def _top_up(self, e: Emergency, r: str, n: int | None = None) -> None:
        need = (self._required(e).get(r, 0) if n is None else n) - e.sent.get(r, 0)
        for _ in range(max(0, need)):
            self._dispatch_one(e, r)

    def _sequence(self, e: Emergency):
        e.seq_running = True
        k = 0
        while k < len(e.seq_order):
            r = e.seq_order[k]
            if e.done.triggered:
                break
            if k > 0 and self.rules.command == "lead":
                yield self.env.timeout(self.rules.relay_min / 60.0)
            self._notify(e, r, detail=f"sequential, step {k + 1}")
            ev = e.arrived_ev.setdefault(r, self.env.event())
            if e.sent.get(r, 0) > 0:
                yield ev | e.done
                yield self.env.timeout(self.rules.assessment_min / 60.0)
            k += 1
        e.seq_running = False

    def _declare(self, e: Emergency, level: int, why: str) -> None:
        if level <= e.level:
            return
        first = e.level < 0
        e.level = level
        e.max_level = max(e.max_level, level)
        lv = LEVELS[level]
        trig = self._trigger(e, lv)
        detail = why if first else (
            f"{why}: trigger {trig:g} crossed" if e.hazard.severity >= trig
            else f"{why}: {e.hazard.n_grids} grids affected")
        self.log("level_declared", e, actor="platform" if self.rules.command == "platform"
                 else "lead", grid=e.grid, level=lv, value=e.hazard.severity,
                 unit=e.cfg.hazard.unit, detail=detail)
        if first:
            return
        for r, n in self._required(e).items():
            if r in e.notified:
                self._top_up(e, r)
            elif n > 0 and e.seq_running:
                if r not in e.seq_order:
                    e.seq_order.append(r)
            elif n > 0:
                self._notify_later(e, r, self._relay_delay_h(1))

    # ------------------------------------------------------------------------------- dispatch
    def _hazard_loop(self, e: Emergency):
        env, tick = self.env, self.cfg.tick_min
        next_trace = env.now
        while True:
            yield env.timeout(tick / 60.0)
            h = e.hazard
            if isinstance(h, FloodState):
                pump = np.zeros(self.city.n_grids)
                rates = e.cfg.hazard.pump_mm_per_h
                for u in e.units:
                    if u.status == "on_scene":
                        pump[u.grid] += rates.get(u.responder, 0.0)
                h.step(env.now - tick / 60.0, tick, pump)
                self._flood_warnings(e)
            else:
                effect = e.cfg.hazard.control_per_unit_per_min
                control = sum(effect.get(r, 0.0) * n for r, n in e.on_scene.items())
                control += effect.get(GRID_WORKER, 0.0) * e.workers_on_scene
                cordon = e.workers_on_scene > 0 or e.on_scene.get("police", 0) > 0
                for g in h.step(tick, control, cordon, self.rng_spread):
                    self.log("spread", e, grid=g, value=h.severity, unit=e.cfg.hazard.unit,
                             detail=f"{h.n_grids} grids")
                    if self.rules.first_responders.enabled and not math.isnan(e.t_alarm):
                        self.env.process(self._grid_workers(e, g))
                self._maybe_ignite(e)
            if not math.isnan(e.t_decision):
                self._escalate(e)
            for u in e.units:
                self._note_queue(e, u.station)
            if env.now + 1e-9 >= next_trace:
                self._snapshot(e)
                next_trace = env.now + self.cfg.trace_every_min / 60.0
            if self._contained(e):
                e.t_contained = env.now
                self._snapshot(e)
                self.log("contained", e, grid=e.grid, value=e.hazard.severity,
                         unit=e.cfg.hazard.unit, detail="" if not math.isnan(e.t_alarm)
                         else "no warning was raised 未达预警")
                for req in list(e.pending):
                    if not req.triggered:
                        req.cancel()
                        e.pending.remove(req)
                e.done.succeed()
                return

    def _maybe_ignite(self, e: Emergency) -> None:
        """A gas leak at its explosive limit may explode and start a fire there (once)."""
        cfg = e.cfg.hazard
        if e.ignited or cfg.ignites is None or cfg.ignite_at is None:
            return
        p_tick = 1.0 - (1.0 - cfg.ignite_prob_per_min) ** self.cfg.tick_min
        for g in sorted(e.hazard.s):
            if e.hazard.s[g] >= cfg.ignite_at and self.rng_spread.random() < p_tick:
                e.ignited = True
                new = self.cfg.kinds[cfg.ignites]
                self.log("ignited", e, grid=g, value=e.hazard.s[g], unit=cfg.unit,
                         detail=f"{new.label_en} {new.label_zh} breaks out")
                self.start(cfg.ignites, g, alarm_after_min=0.0)  # an explosion is heard
                self._alarm(e)
                return

    def _contained(self, e: Emergency) -> bool:
        """Over: the hazard is gone — or a flood's rain has passed without any warning."""
        h = e.hazard
        if isinstance(h, FloodState):
            cfg = e.cfg.hazard
            if math.isnan(e.t_alarm):  # nothing to contain once the rain is over and drained
                return h.rain_mm_per_h(self.env.now) == 0 and self.env.now > h.t0 \
                    and float(h.depth_cm.max()) == 0.0
            rising = h.rain_mm_per_h(self.env.now) * cfg.runoff_coefficient > cfg.drainage_mm_per_h
            return not rising and h.severity < self._trigger(e, LEVELS[self._levels(e)[0]])
        return not math.isnan(e.t_alarm) and h.contained

    def _flood_warnings(self, e: Emergency) -> None:
        h = e.hazard
        obs = h.observed_cm()
        levels = self._levels(e)
        colour = -1
        for i in levels:
            if obs.max() >= self._trigger(e, LEVELS[i]):
                colour = i
        if colour > e.warning:
            e.warning = colour
            g = int(np.argmax(obs))
            en, zh = WARNING_COLOURS[LEVELS[colour]]
            sensed = "sensor 传感器" if h.sensed[g] else "report 人工上报"
            self.log("warning", e, actor="sensor", grid=g, level=LEVELS[colour],
                     value=float(obs[g]), unit=e.cfg.hazard.unit, detail=f"{en} {zh} ({sensed})")
            if math.isnan(e.t_alarm):
                e.grid = g
                self._alarm(e)

    def _escalate(self, e: Emergency) -> None:
        reached = self._level_reached(e)
        if reached <= e.level:
            return
        now = self.env.now
        for i in range(e.level + 1, reached + 1):
            e.cross_t.setdefault(i, now)
        if self.rules.command == "platform":
            self._declare(e, reached, "platform")
            return
        lead = e.cfg.plan.lead
        if e.on_scene.get(lead, 0) > 0:
            ready = [i for i in range(e.level + 1, reached + 1)
                     if now + 1e-9 >= max(e.cross_t[i], e.first_by[lead])
                     + self.rules.decision_min / 60.0]
            if ready:
                self._declare(e, max(ready), "lead")

    def _snapshot(self, e: Emergency) -> None:
        h = e.hazard
        unit = e.cfg.hazard.unit
        if isinstance(h, FloodState):
            d = h.depth_cm
            for g in np.flatnonzero(d >= 1.0).tolist():
                self.log("hazard", e, grid=g, value=float(d[g]), unit=unit)
        else:
            for g, s in sorted(h.s.items()):
                self.log("hazard", e, grid=g, value=s, unit=unit)

    # --------------------------------------------------------------------------- trainer's API
    def unit_out_of_service(self, unit_id: str) -> None:
        u = self._unit(unit_id)
        st = u.station
        st.refresh_routine()
        if u.status == "out_of_service":
            raise ValueError(f"unit {unit_id} is already out of service")
        if u.status == "routine":
            raise ValueError(f"unit {unit_id} is busy on a routine case; take it out of service "
                             "once it is free (or take one that is free or on an emergency)")
        req = st.pool.request(priority=OUT_OF_SERVICE_PRIORITY, preempt=False)
        proc = u.process
        u.request, u.process, u.status = req, None, "out_of_service"
        e = self.emergencies[u.emergency] if u.emergency >= 0 else None
        u.emergency = -1
        self.log("out_of_service", e, actor=u.id, responder=u.responder,
                 labels=self.labels(u.responder), grid=st.grid, detail=st.id)
        if proc is not None and proc.is_alive:
            proc.interrupt("out_of_service")

    def unit_back_in_service(self, unit_id: str) -> None:
        u = self._unit(unit_id)
        if u.status != "out_of_service":
            raise ValueError(f"unit {unit_id} is not out of service")
        req = u.request
        if req is not None:
            if req.triggered:
                u.station.pool.release(req)
            else:
                req.cancel()
        u.request, u.status = None, "available"
        self.log("back_in_service", None, actor=u.id, responder=u.responder,
                 labels=self.labels(u.responder), grid=u.station.grid, detail=u.station.id)

    def _unit(self, unit_id: str) -> Unit:
        if unit_id not in self.units:
            raise ValueError(f"unknown unit {unit_id!r}; units: {', '.join(self.units)}")
        return self.units[unit_id]

    # -------------------------------------------------------------------------------- outputs
    def unit_frame(self) -> pd.DataFrame:
        """Every unit with its status and position now (straight-line interpolation)."""
        now = self.env.now
        for stations in self.stations.values():
            for st in stations:
                st.refresh_routine()
        rows = []
        c = self.city
        for u in self.units.values():
            x, y = float(c.x_km[u.station.grid]), float(c.y_km[u.station.grid])
            if u.status in ("dispatched", "returning"):
                span = u.t_arrive_h - u.t_depart_h
                f = 1.0 if span <= 0 else min(1.0, max(0.0, (now - u.t_depart_h) / span))
                x = (1 - f) * c.x_km[u.from_grid] + f * c.x_km[u.grid]
                y = (1 - f) * c.y_km[u.from_grid] + f * c.y_km[u.grid]
            elif u.status == "on_scene":
                x, y = float(c.x_km[u.grid]), float(c.y_km[u.grid])
            en, zh = self.labels(u.responder)
            rows.append({"unit": u.id, "responder": u.responder, "label_en": en, "label_zh": zh,
                         "station": u.station.id, "station_grid": u.station.grid,
                         "status": u.status, "emergency": u.emergency, "x_km": float(x),
                         "y_km": float(y), "shared_with_routine": u.station.shared})
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """One row per emergency (the KPIs in ``sim.metrics`` are computed from it)."""
        rows = []
        for e in self.emergencies:
            lead = e.cfg.plan.lead
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
                "routine_cases_delayed": len(e.routine_delayed)})
        return pd.DataFrame(rows, columns=EMERGENCY_COLUMNS)


EMERGENCY_COLUMNS = [
    "emergency", "kind", "grid", "t_occur_h", "t_alarm_h", "t_decision_h", "t_first_response_h",
    "t_full_joint_h", "t_contained_h", "t_lead_notified_h", "t_lead_arrived_h", "max_level",
    "max_level_rank", "severity", "grids_affected", "damage_yuan", "people_affected",
    "units_sent", "mutual_aid_units", "routine_cases_delayed"]
