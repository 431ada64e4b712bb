"""GridModel: a Mesa model that owns one SimPy environment (the only clock).

Actors are Mesa agents (staff, departments, resident groups, sensor stations); their behaviour
runs as SimPy processes: the hourly incident arrivals, the channels that notice incidents, the
case workflow (``sim.engine.workflow``), invalid reports, and the time-series collector.

Incidents arise hourly on the city's fixed land cells (``sim.engine.arrivals``). Patrol
discovery follows the patrol time actually available on each grid, hour by hour, for all pending
incidents at once (``sim.engine.discovery``); the other channels are fixed at an incident's birth
from its own uniform numbers — residents (if they would report it at all) at rate
``resident rate · propensity[grid] · awareness · salience`` per hour, sensors and video after a
delay where they cover the grid. The earliest report opens the case, later ones become duplicate
reports; a problem nobody reports may vanish or worsen (``sim.engine.problems``). Until its first
report an incident is a row of the discovery's arrays; the report makes it an ``Incident`` and
starts its case process (``case_life``). Every morning each worker plans the day over the
workers' ``AgentSet`` (patrol versus other duties).

Use ``run_until(t)`` to advance step by step, and ``finish()`` once at the end.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Callable, Generator

import mesa
import numpy as np
import simpy

from sim.agents import (
    Department,
    GridAssistant,
    GridManager,
    GridWorker,
    LevelTeam,
    ResidentGroup,
    SensorStation,
)
from sim.engine import case as I
from sim.engine.arrivals import N_FATE, ArrivalGenerator, normalised
from sim.engine.discovery import CHANNELS, PATROL, Discovery, WorkerPool
from sim.engine.problems import Problems
from sim.engine.case import Incident, SubtypeInfo, taxonomy
from sim.engine.records import CaseLog
from sim.engine.clock import LeanProcess, events_scheduled, relaxed_gc, run_clock
from sim.engine.seeding import Streams
from sim.engine.slots import Slots
from sim.agents.levels import LevelDesks
from sim.engine.workflow import (
    _crew_visit,
    _verify,
    case_process,
    release_deadlines,
    schedule_deadline,
)
from sim.metrics import RunContext
from sim.policies.registry import Policies
from sim.scenario import Scenario, ScenarioError
from sim.world.beats import patrol_beats
from sim.world.calendar import due_time, open_hours_between
from sim.world.city import build_city

if TYPE_CHECKING:
    from sim.engine.parts import Part


MONTH_DAYS = 30.0
RESIDENT_CHANNELS = ("resident",)


class GridModel(mesa.Model):
    def __init__(self, scenario: Scenario, seed: int | None = None,
                 case_sink: str | None = None, part: "Part | None" = None):
        self.part = part  # one part of a city run in parts (sim.engine.parts); None: the city
        self.seed = scenario.run.seed if seed is None else int(seed)
        self.streams = Streams(self.seed)
        super().__init__(rng=self.streams.int_seed("mesa"))
        self.scenario = scenario
        self.env = simpy.Environment()
        self.horizon_h = scenario.run.days * 24.0
        self.warmup_h = scenario.run.warmup_days * 24.0
        self.city = build_city(scenario.city, self.streams["city"])
        if scenario.emergency.enabled:   # a scripted emergency's grid exists only once cut
            problems = scenario.emergency.reference_problems(scenario.departments,
                                                             self.city.n_grids)
            if problems:
                raise ScenarioError(problems, scenario.name)
        self.subtypes: list[SubtypeInfo] = taxonomy(scenario)
        self._sub_category, self._sub_name, self._sub_department = (
            np.array([getattr(x, f) for x in self.subtypes], dtype=object)
            for f in ("category", "subtype", "department"))
        self.case_log = CaseLog(case_sink)
        self.open_incidents: dict[int, Incident] = {}
        self.counters = {"incidents": 0, "reported": 0, "closed": 0, "parked": 0,
                         "invalid_reports": 0, "invalid_in_window": 0}
        self._busy: dict[str, float] = {}
        self._busy_at: dict[str, list[float]] = {}  # kind -> busy hours per grid or street
        self._overtime: dict[str, float] = {}  # crew-hours outside each department's shift
        self._shift_of = {code: d.shift for code, d in scenario.departments.items()}
        self._in_progress: dict[int, tuple[str, float, int, int]] = {}
        self._token = 0
        self.deadline_book: list[tuple[float, int, int, int]] = []  # sim.engine.workflow
        self.deadline_seq = 0
        self.deadlines_until = 0.0
        self._next_id = 0
        self._build_actors()
        self._precompute_rates()
        self.problems = Problems(self)  # births, lifetimes, channels (sim.engine.problems)
        self.policies = Policies(self)  # residents, appraisal, workforce, meetings, smart platform
        self.emergency = None  # joint emergency response (S3.2): sim.emergency
        if scenario.emergency.enabled:
            from sim.emergency.manager import EmergencyManager
            self.emergency = EmergencyManager(self)
        self.datacollector = mesa.DataCollector(model_reporters=self._reporters())
        self.env.process(self._arrivals())
        self.env.process(self._invalid_reports())
        self.env.process(self._collect())

    # ----------------------------------------------------------------------------- construction
    def _build_actors(self) -> None:
        sc, city, env = self.scenario, self.city, self.env
        st = sc.staffing
        n = city.n_grids
        self.departments: dict[str, Department] = {
            code: Department(self, code, cfg, city.n_streets, env)
            for code, cfg in sc.departments.items()}
        rng = self.streams["staff"]
        self.beats = patrol_beats(st, n)  # by default one beat per grid (sim/world/beats.py)
        nb, width = self.beats.n_beats, int(self.beats.workers.max())
        first_grid = np.searchsorted(self.beats.beat_of_grid, np.arange(nb))
        skills = np.empty((nb, width))
        for k in range(width):  # column by column: adding workers keeps the others
            skills[:, k] = np.clip(rng.normal(st.skill_mean, st.skill_sd, nb), 0.05, 1.0)
        beat_workers = [[GridWorker(self, int(first_grid[b]), float(skills[b, k]), st.effort)
                         for k in range(int(self.beats.workers[b]))] for b in range(nb)]
        self.discovery = Discovery(self.beats.beat_of_grid, nb, city.area_km2 * city.difficulty,
                                   sc.patrol.coverage_km2_per_h, sc.patrol.hours, I.N_UNIFORMS,
                                   self.horizon_h)
        beat_pools = [WorkerPool(env, int(c), b, self.discovery, sc.patrol.hours)
                      for b, c in enumerate(self.beats.workers)]
        self.workers_by_grid: list[list[GridWorker]] = [beat_workers[b]
                                                        for b in self.beats.beat_of_grid]
        self.worker_pools = [beat_pools[b] for b in self.beats.beat_of_grid]
        self.managers = [[GridManager(self, g) for _ in range(st.managers_per_grid)]
                         for g in range(n)]
        self.assistants = [[GridAssistant(self, g) for _ in range(st.assistants_per_grid)]
                           for g in range(n)]
        self.level_teams = {
            level: [LevelTeam(self, level, k, getattr(st.level_teams, level)) for k in range(count)]
            for level, count in (("community", city.n_communities), ("street", city.n_streets),
                                 ("district", city.n_districts))}
        self.level_desks = LevelDesks(self)  # level teams' review capacity (sim.agents.levels)
        if st.managers_per_grid:
            self._manager_pools = [Slots(env, st.managers_per_grid) for _ in range(n)]
        else:  # no grid manager: the community team coordinates
            cap = max(1, st.level_teams.community)
            per_comm = [Slots(env, cap) for _ in range(city.n_communities)]
            self._manager_pools = [per_comm[c] for c in city.community]
        self.operators = Slots(env, sc.platform.operators if self.part is None
                               else self.part.operators)
        self.residents = [ResidentGroup(self, g, float(city.households[g]),
                                        float(city.resident_propensity[g])) for g in range(n)]
        ch = sc.channels
        rng_s = self.streams["sensors"]
        has_sensor = rng_s.random(n) < ch.sensor_coverage
        has_video = rng_s.random(n) < ch.video_coverage
        self.sensor_stations = [SensorStation(self, g, bool(has_sensor[g]), bool(has_video[g]))
                                for g in range(n)]
        self.workers = self.agents_by_type[GridWorker]  # AgentSet: the daily plan runs over it
        # what the means over grids and workers are taken over: the city, or a part's own grids
        own = None if self.part is None else self.part.own
        self.own_residents = self.residents if own is None \
            else [r for r in self.residents if own[r.grid]]
        self.own_workers = [w for ws in beat_workers for w in ws
                            if own is None or own[w.grid]]
        # the city's per-grid street and travel distance as Python lists, read for every case
        self.street_of: list[int] = city.street.tolist()
        self.travel_km: list[float] = city.travel_km.tolist()

    def _precompute_rates(self) -> None:
        """Per-grid discovery hazards (per patrol hour) from the staff on each grid."""
        sc = self.scenario
        self.patrol_allocation = np.ones(self.city.n_grids)  # set by hotspot patrols
        self.refresh_patrol_rates()
        self.resident_rate_h = sc.channels.resident_reports_per_incident_per_day / 24.0

    def _strengths(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(workers' patrol strength per grid, assistants' per grid, planned patrol worker-hours
        per open hour per beat) from the staff as they are now."""
        sc, city = self.scenario, self.city
        strength = np.array([sum(w.patrol_strength for w in ws) for ws in self.workers_by_grid])
        mean_skill = np.array([sum(w.skill for w in ws) / len(ws) for ws in self.workers_by_grid])
        if not self.beats.identity:  # a beat's workers sweep all of its grids
            eff_area = city.area_km2 * city.difficulty
            beat_area = np.bincount(self.beats.beat_of_grid, weights=eff_area)
            strength = strength * (eff_area / beat_area[self.beats.beat_of_grid])
        assist = sc.patrol.assistant_coverage_factor * sc.staffing.assistants_per_grid \
            * mean_skill * sc.staffing.effort
        first = np.searchsorted(self.beats.beat_of_grid, np.arange(self.beats.n_beats))
        planned = np.array([sum(w.planned_patrol_share for w in self.workers_by_grid[g])
                            for g in first.tolist()])
        return strength, assist, planned

    def base_patrol_strength(self) -> np.ndarray:
        """Patrol strength on each grid from its staff (workers' skill × effort, assistants)."""
        w, a, _ = self._strengths()
        return w + a

    def refresh_patrol_rates(self) -> None:
        """Recompute the patrol strengths; call when effort, skill, vacancies, the daily plan or
        the patrol allocation change (sim.policies). Discovery follows from the next hour on
        (``sim.engine.discovery``); ``patrol_rate`` is the hazard per patrol hour with no other
        duties."""
        city, p = self.city, self.scenario.patrol
        w, a, self._planned_h = self._strengths()
        self._worker_strength = w * self.patrol_allocation
        self._assistant_strength = a * self.patrol_allocation
        self.patrol_rate = p.coverage_km2_per_h * (self._worker_strength + self._assistant_strength) \
            / (city.area_km2 * city.difficulty)
        self._worker_cum = []
        for ws in self.workers_by_grid:
            c = np.cumsum([w.patrol_strength for w in ws])
            c = c / c[-1] if c[-1] > 0 else np.arange(1, len(ws) + 1) / len(ws)
            self._worker_cum.append(c.tolist())

    # ---------------------------------------------------------------------------- model helpers
    def pick_worker(self, g: int, u: float) -> GridWorker:
        """The grid's worker whose share of its patrol strength holds ``u``."""
        ws = self.workers_by_grid[g]
        k = bisect_right(self._worker_cum[g], u)  # the first k with u < cum[k]
        return ws[k] if k < len(ws) else ws[-1]

    def manager_pool(self, g: int) -> Slots:
        return self._manager_pools[g]

    def manager_of(self, g: int) -> Any:
        ms = self.managers[g]
        return ms[0] if ms else self.level_teams["community"][int(self.city.community[g])]

    def travel_h(self, department: str, g: int) -> float:
        cfg = self.departments[department].cfg
        if not cfg.travel:
            return 0.0
        return self.travel_km[g] / cfg.travel_speed_kmh

    def start_deadline(self, inc: Incident, sub: SubtypeInfo) -> None:
        """Dispatch: the deadline clock starts and the first escalation event is scheduled."""
        inc.t_dispatch = self.env.now
        inc.department = sub.department
        inc.priority = -sub.urgency
        inc.t_due = due_time(self.env.now, sub.deadline, self.scenario.calendar)
        schedule_deadline(self, inc, inc.t_due, 1)

    def busy_start(self, kind: str, n: int, at: int = -1) -> int:
        self._token += 1
        self._in_progress[self._token] = (kind, self.env.now, n, at)
        return self._token

    def busy_stop(self, token: int, now: float | None = None) -> None:
        kind, t0, n, at = self._in_progress.pop(token)
        self._add_busy(kind, t0, self.env.now if now is None else now, n, at)

    def busy_add(self, kind: str, t0: float, t1: float, at: int = -1) -> None:
        """One of ``kind`` will be busy from ``t0`` to ``t1`` (work that nothing interrupts,
        booked when it starts; what falls past the horizon is not counted). ``at``: where —
        the grid for workers, the street for a department's crews (per-grid KPIs)."""
        self._add_busy(kind, t0, t1, 1, at)

    def _add_busy(self, kind: str, t0: float, t1: float, n: int, at: int = -1) -> None:
        lo = t0 if t0 >= self.warmup_h else self.warmup_h  # the part inside [warm-up, horizon]
        hi = t1 if t1 <= self.horizon_h else self.horizon_h
        if hi <= lo:
            return
        shift = self._shift_of.get(kind)
        inside = hi - lo if shift is None else open_hours_between(lo, hi, shift)
        self._busy[kind] = self._busy.get(kind, 0.0) + inside * n
        if at >= 0:
            acc = self._busy_at.get(kind)
            if acc is None:
                acc = self._busy_at[kind] = [0.0] * (
                    self.city.n_grids if kind == "worker" else self.city.n_streets)
            acc[at] += inside * n
        if inside < hi - lo:
            self._overtime[kind] = self._overtime.get(kind, 0.0) + (hi - lo - inside) * n

    def finish_case(self, inc: Incident, state: str) -> None:
        inc.state = state
        self.counters[state] += 1
        if self.policies.on_finish(inc, state):  # a parked case held for the joint meeting
            return
        self._record(inc)

    def _record(self, inc: Incident) -> None:
        self.open_incidents.pop(inc.id, None)
        sub = self.subtypes[inc.sub]
        end = min(inc.t_closed, self.env.now) if inc.t_closed == inc.t_closed else self.env.now
        n_reports = bisect_right(inc.channel_times, end) if inc.channel else 0  # at or before end
        t_due = inc.t_due
        if t_due != t_due and inc.channel and not inc.on_spot \
                and inc.state not in ("closed", "parked"):
            # not dispatched by the end: due as if it had been dispatched at its first report
            t_due = due_time(inc.t_report, sub.deadline, self.scenario.calendar)
        self.case_log.append((
            inc.id, inc.grid, sub.category, sub.subtype, sub.department, inc.t_occur, inc.channel,
            inc.t_report, max(n_reports, 1) if inc.channel else 0, inc.worker, inc.on_spot,
            inc.complex, inc.t_filed, inc.t_dispatch, t_due, inc.t_crew_req, inc.crew_wait_h,
            inc.t_handled, inc.t_closed, inc.returns, inc.reworks, inc.escalation,
            inc.false_closure, inc.state, inc.t_parked, inc.misrouted_to,
            *Policies.case_flags(inc), *self.problems.row(inc)))

    def record_unreported(self, rows: dict[str, np.ndarray], state: str, t_gone: np.ndarray) -> None:
        """Case-log rows for incidents nobody reported (vanished, or still there at the end),
        from the discovery's arrays (``Discovery._rows``), column by column."""
        ids = rows["ids"]
        if not len(ids):
            return
        sub = rows["sub"]
        nan, p = math.nan, self.problems
        self.case_log.extend_columns(len(ids), {
            "incident_id": ids, "grid": rows["grid"], "category": self._sub_category[sub],
            "subtype": self._sub_name[sub], "department": self._sub_department[sub],
            "t_occur_h": rows["t_occur"], "channel": "", "t_report_h": nan, "n_reports": 0,
            "worker": -1, "on_spot": False, "complex": False, "t_filed_h": nan,
            "t_dispatch_h": nan, "t_due_h": nan, "t_crew_request_h": nan, "crew_wait_h": nan,
            "t_handled_h": nan, "t_closed_h": nan, "returns": 0, "reworks": 0,
            "escalation_level": 0, "false_closure": False, "state": state, "t_parked_h": nan,
            "misrouted_to": "", "padded": False, "suppressed": False,
            "staged_verification": False, "gaming_caught": False, "joint_meeting": False,
            "reassigned": False, "mutual_aid": False, "extension": False,
            "cell": p.cell[ids], "t_gone_h": t_gone, "harm_yuan": p.harm[ids]})

    # -------------------------------------------------------------------------------- processes
    def _arrivals(self):
        gen = ArrivalGenerator(self.scenario, self.city, self.subtypes, self.streams["arrivals"],
                               self.streams["incident"], self.streams["fates"])
        problems = self.problems
        end = math.ceil(self.horizon_h)
        own = None if self.part is None else self.part.own
        for day0 in range(0, end, 24):
            day, starts = gen.draw_hours(day0, min(day0 + 24, end))
            pos = np.arange(len(day))  # positions simulated here (a part: its own grids')
            if own is not None:
                pos = np.flatnonzero(own[day.grids])
                day = day.take(pos)
            kept = np.searchsorted(pos, starts)
            thr, t_vanish, t_worsen = problems.prepare(day)
            for k in range(len(starts) - 1):
                release_deadlines(self, day0 + k + 1.0)
                problems.begin_hour(day0 + k)
                a, b = int(kept[k]), int(kept[k + 1])
                # ids are the city's: a part gives its incidents the ids they have in the city
                ids = self._next_id + (pos[a:b] - starts[k])
                self._next_id += int(starts[k + 1] - starts[k])
                problems.add(day.part(a, b), ids, (thr[a:b], t_vanish[a:b], t_worsen[a:b]))
                problems.settle(self.discovery.decide())
                yield self.env.timeout(day0 + k + 1 - self.env.now)

    def case_life(self, row: tuple) -> Generator | None:
        """An incident's first report (``sim.engine.problems``), called at that moment by the
        process it starts (``sim.engine.clock.DelayedProcess``): it becomes an object and, unless
        its patrol keeps it off the record, a case — the case process it returns.
        ``row``: (id, time, grid, subtype, birth time, uniforms, other channels' times sorted and
        how many of them are finite, channel code, first other report's time and code, vanish
        time, ``case_key``)."""
        iid, _t, g, s, t0, u, t3, n3, kind, t_other, ch, t_vanish, key = row
        inc = Incident(iid, g, s, t0, u, key, tuple(t3[:n3]))
        self.open_incidents[iid] = inc
        if kind == PATROL:
            if not self.patrol_found(inc):
                if not inc.channel and ch >= 0 and t_other < min(self.horizon_h, t_vanish):
                    # kept off the record by its patrol: another channel still reports it
                    self.env.timeout(t_other - self.env.now).callbacks.append(
                        lambda _e: self._on_channel(inc, CHANNELS[ch]))
                return None
        else:
            self._on_report(inc, CHANNELS[kind], start=False)
        return case_process(self, inc)

    def _on_channel(self, inc: Incident, channel: str) -> None:
        if not inc.channel:  # a patrol may have reported it first
            self._on_report(inc, channel)

    def patrol_found(self, inc: Incident) -> bool:
        """A patrol finds an unreported incident now (``sim.engine.discovery``). True if it is
        reported now; the caller (``case_life``) then runs its case."""
        if inc.channel:
            return False
        now = self.env.now
        times = {"patrol": now}
        # the policy hook may keep it off the record (a colluding worker; only the patrol and
        # handed-down entries are read here, the other channels were fixed at birth)
        self.policies.adjust_channel_times(inc, self.subtypes[inc.sub], times)
        if "patrol" in times:
            inc.channel_times = tuple(sorted(inc.channel_times + (now,)))
            self._on_report(inc, "patrol", start=False)
            return True
        if times.get("handed_down", math.inf) < self.horizon_h:
            t = times["handed_down"]
            inc.channel_times = tuple(sorted(inc.channel_times + (t,)))
            ev = self.env.timeout(t - now)
            ev.callbacks.append(lambda _e, inc=inc: self._on_channel(inc, "handed_down"))
        return False

    def _on_report(self, inc: Incident, channel: str, start: bool = True) -> None:
        inc.channel = channel
        inc.t_report = self.env.now
        self.counters["reported"] += 1
        if channel == "patrol":  # writing the report is patrol time lost
            self.discovery.charge(int(self.beats.beat_of_grid[inc.grid]),
                                  self.scenario.patrol.report_time.ppf(inc.u[I.U_REPORT_TIME]))
        if channel in RESIDENT_CHANNELS:
            self.residents[inc.grid].reports += 1
        elif channel in ("sensor", "video"):
            self.sensor_stations[inc.grid].detections += 1
        self.policies.on_report(inc, channel)
        if start:
            LeanProcess(self.env, case_process(self, inc))

    def _invalid_reports(self):
        """Unfounded or out-of-scope reports: they cost screening time and are rejected."""
        sc = self.scenario
        rate_h = sc.channels.invalid_reports_per_1000_households_per_day / 24.0 \
            * float(self.city.households.sum()) / 1000.0
        if rate_h <= 0:
            return
        rng = self.streams["invalid_reports"]
        hourly = normalised(sc.incidents.hourly_profile)
        weekly = normalised(sc.incidents.weekly_profile)
        part = self.part
        for hour in range(math.ceil(self.horizon_h)):
            n = int(rng.poisson(rate_h * hourly[hour % 24] * weekly[(hour // 24) % 7]))
            times, us_all = np.sort(hour + rng.random(n)), rng.random(n)
            if part is not None:  # the others go to other parts' platforms
                mine = part.takes_invalid(us_all)
                times, us_all = times[mine], us_all[mine]
            for t, us in zip(times.tolist(), us_all.tolist()):
                ev = self.env.timeout(t - self.env.now)
                ev.callbacks.append(lambda _e, us=us: self.env.process(self._screen_invalid(us)))
            yield self.env.timeout(hour + 1 - self.env.now)

    def _screen_invalid(self, u: float):
        ev = self.operators.acquire()
        if ev is not None:
            yield ev
        yield self.env.timeout(self.scenario.platform.screening_time.ppf(u))
        self.operators.release()
        self.counters["invalid_reports"] += 1
        if self.warmup_h <= self.env.now < self.horizon_h:
            self.counters["invalid_in_window"] += 1

    def _reporters(self) -> dict[str, Callable[["GridModel"], Any]]:
        c = self.counters
        return {
            "t_h": lambda m: m.env.now,
            "cum_incidents": lambda m: c["incidents"],
            "cum_reported": lambda m: c["reported"],
            "cum_closed": lambda m: c["closed"],
            "cum_parked": lambda m: c["parked"],
            "n_undiscovered": lambda m: c["incidents"] - c["reported"],
            "n_backlog": lambda m: c["reported"] - c["closed"] - c["parked"],
            "n_crews_busy": lambda m: sum(d.crews_busy() for d in m.departments.values()),
            "n_crew_queue": lambda m: sum(d.queue_length() for d in m.departments.values()),
            "n_operator_queue": lambda m: len(m.operators.queue),
            **self.policies.reporters(),
        }

    def _collect(self):
        step = self.scenario.run.timeseries_interval_h
        while True:
            self.datacollector.collect(self)
            yield self.env.timeout(step)

    # -------------------------------------------------------------------------------- stepping
    @property
    def now(self) -> float:
        return self.env.now

    def inject_incident(self, t: float, grid: int, subtype: str,
                        uniforms: dict[int, float] | None = None,
                        handed_down: bool = False) -> int:
        """Add one incident at time ``t`` (>= now) in ``grid`` of ``subtype`` ("category.sub").

        Its random draws come from the ``injected`` stream unless given by column
        (``sim.engine.case.U_*``). Returns the incident id.
        """
        codes = [s.code for s in self.subtypes]
        if subtype not in codes:
            raise ValueError(f"unknown subtype {subtype!r}; allowed: {', '.join(codes)}")
        if not 0 <= grid < self.city.n_grids:
            raise ValueError(f"grid must be between 0 and {self.city.n_grids - 1}")
        if t < self.env.now:
            raise ValueError(f"t must not be in the past (now is {self.env.now:g} h)")
        rng = self.streams["injected"]
        u = rng.random(I.N_UNIFORMS).tolist()
        fate = rng.random(N_FATE)
        for col, val in (uniforms or {}).items():
            u[col] = val
        iid = self._next_id
        self._next_id += 1
        cell = int(np.searchsorted(self.city.cell_grid, grid))  # the grid's first cell
        args = (iid, t, grid, codes.index(subtype), handed_down, u, cell, fate)
        if t == self.env.now:
            self.problems.add_one(*args)
        else:
            ev = self.env.timeout(t - self.env.now)
            ev.callbacks.append(lambda _e: self.problems.add_one(*args))
        return iid

    def run_until(self, t: float) -> None:
        """Advance the clock to ``t`` hours (no further than the horizon)."""
        t = min(t, self.horizon_h)
        if t > self.env.now:
            with relaxed_gc():
                run_clock(self.env, t)

    def crew_visit(self, inc: Incident, dept: Department, travel_h: float, work_h: float):
        """A crew visit of ``dept`` to a case at the case's priority (the workflow's handling
        step), for plug-ins; its value is False if the case was parked while it waited."""
        return _crew_visit(self, inc, dept, travel_h, work_h)

    def verify(self, inc: Incident, duration_h: float):
        """A grid worker's site check of a case in patrol hours (the workflow's step 6)."""
        return _verify(self, inc, duration_h)

    @property
    def events_scheduled(self) -> int:
        """Events scheduled so far: the engine's unit of work."""
        return events_scheduled(self.env)

    def finish(self) -> RunContext:
        """Record every incident still open (nothing is dropped) and return the KPI context."""
        self.run_until(self.horizon_h)
        self.policies.finish()
        for inc in list(self.open_incidents.values()):
            self._record(inc)
        pending = self.discovery.pending()
        self.record_unreported(pending, "undiscovered", np.full(len(pending["ids"]), np.nan))
        for token in list(self._in_progress):
            self.busy_stop(token, now=self.horizon_h)
        self.case_log.close()
        return self.run_context()

    def run_context(self) -> RunContext:
        sc, city = self.scenario, self.city
        w0, w1 = self.warmup_h, self.horizon_h
        duty = open_hours_between(w0, w1, sc.patrol.hours)
        crew_cap = {code: d.n_crews * open_hours_between(w0, w1, d.cfg.shift)
                    for code, d in self.departments.items()}
        return RunContext(
            warmup_h=w0, end_h=w1, invalid_reports=self.counters["invalid_in_window"],
            worker_busy_h=self._busy.get("worker", 0.0),
            worker_capacity_h=self.beats.n_workers * duty,
            crew_busy_h={code: self._busy.get(code, 0.0) for code in self.departments},
            crew_capacity_h=crew_cap, monthly_staff_cost=monthly_staff_cost(sc, city),
            crew_overtime_h={code: self._overtime.get(code, 0.0) for code in self.departments},
            overtime_cost=sum(self._overtime.get(code, 0.0) * d.overtime_cost_per_h
                              for code, d in sc.departments.items()),
            acceptance_limit_h=sc.platform.acceptance_limit_h,
            policy=self.policies.context(), indicator_weights=dict(sc.appraisal.indicator_weights),
            households=float(city.households.sum()),
            worker_busy_grid_h=np.asarray(self._busy_at.get("worker", [0.0] * city.n_grids)),
            worker_beat=self.beats.beat_of_grid,
            worker_capacity_beat_h=self.beats.workers * duty,
            crew_busy_street_h=np.sum([self._busy_at.get(c, [0.0] * city.n_streets)
                                       for c in self.departments], axis=0).reshape(-1),
            crew_capacity_street_h=np.full(city.n_streets, sum(
                d.cfg.crews_per_street * open_hours_between(w0, w1, d.cfg.shift)
                for d in self.departments.values())),
            emergencies=self.emergency.table() if self.emergency is not None else None)


def monthly_staff_cost(sc: Scenario, city: Any) -> float:
    """Pay for 30 days: grid staff, level teams, platform operators and department crews."""
    st, pay = sc.staffing, sc.staffing.pay
    n = city.n_grids
    grid = patrol_beats(st, n).n_workers * pay.grid_worker \
        + n * (st.managers_per_grid * pay.grid_manager + st.assistants_per_grid * pay.grid_assistant)
    teams = (city.n_communities * st.level_teams.community + city.n_streets * st.level_teams.street
             + city.n_districts * st.level_teams.district) * pay.level_team_member
    ops = sc.platform.operators * pay.platform_operator
    crews = sum(d.crews_per_street * city.n_streets * d.cost_per_crew_month
                for d in sc.departments.values())
    return float(grid + teams + ops + crews)
