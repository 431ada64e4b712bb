"""Replay: a log's own requests fed into a scenario instead of drawn arrivals, followed to closure.

A request log is a *cohort*: the requests created in its window, followed until they close (the
closing dates run weeks past the window) or until the log was extracted. :func:`log_requests`
turns a log into that cohort — each request's creation time, its category and subtype through
the mapping (a request mapped to a category only gets a subtype drawn by the scenario's shares),
and what the log says happened to it (hours to close, or hours followed while still open).

:class:`ReplayModel` is the scenario's model with the drawn arrivals replaced by the requests:
each one is reported by a resident at its creation time (the resident channel: no patrol find,
no on-the-spot fix — a 311/12345 request is a resident's call) on a grid drawn by the city's
incident weights — or, on a real map, on the cell its coordinates fall in
(:mod:`sim.data.places`) — and runs the case workflow from filing on. The run continues without new
requests until the cohort's follow-up ends (the log's extraction time, at most
:data:`FOLLOW_UP_CAP_DAYS` past the window). Every case draws its uniforms from the
replication's ``replay`` stream in request order, so the same requests under two policies at the
same seed meet the same random numbers (common random numbers: paired differences).

:func:`replay` runs replications and keeps, per request, its simulated time to close or its
follow-up while open; :mod:`sim.data.replaystats` summarises both sides with one Kaplan–Meier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from sim.engine import case as I
from sim.engine.discovery import RESIDENT
from sim.engine.model import GridModel
from sim.engine.workflow import release_deadlines
from sim.scenario import Scenario, scenario_with

if TYPE_CHECKING:
    import pandas as pd

    from sim.data.servicelog import LogData

#: the longest follow-up after the window (days): closings later than this are censored
FOLLOW_UP_CAP_DAYS = 60.0
#: resident salience of a log's categories in a calibrated scenario (the schema's largest)
SALIENCE = 10.0
#: statuses that are not cases (screened out by a platform)
NOT_CASES = ("cancelled", "duplicate")


@dataclass
class Requests:
    """A log's cohort of requests, as the model takes them in (sorted by creation time).

    ``t_h``: hours from model time 0 (the Monday 00:00 on or before the window's start, so the
    model's weekdays and shifts are the log's); ``sub``: subtype index in the scenario's
    taxonomy, or -1 where only the category is known (drawn per replication by the shares);
    ``log_h``: the log's hours to close (NaN if not closed) and ``log_follow_h``: hours the log
    followed a request still open (NaN if closed)."""

    t_h: np.ndarray
    category: np.ndarray          # object: category name
    sub: np.ndarray               # int64: subtype index or -1
    log_h: np.ndarray
    log_follow_h: np.ndarray
    t0: "pd.Timestamp"            # calendar time of model hour 0
    window_h: tuple[float, float]  # model hours of the window's start and end
    horizon_h: float              # end of the follow-up (model hours)
    has_closed: bool = True
    source: str = ""
    notes: list[str] = field(default_factory=list)
    place: np.ndarray | None = None   # int8 place code per request (sim.data.places), or None
    where: np.ndarray | None = None   # its cell or unit index
    index: Any = None                 # sim.data.places.PlaceIndex of the map placed on

    def __len__(self) -> int:
        return len(self.t_h)

    def take(self, keep: np.ndarray) -> "Requests":
        """The requests where ``keep`` is true (same clock and follow-up)."""
        placed = self.place is not None
        return Requests(self.t_h[keep], self.category[keep], self.sub[keep], self.log_h[keep],
                        self.log_follow_h[keep], self.t0, self.window_h, self.horizon_h,
                        self.has_closed, self.source, list(self.notes),
                        self.place[keep] if placed else None,
                        self.where[keep] if placed else None, self.index)

    def first_days(self, days: float) -> "Requests":
        """The requests of the window's first ``days`` days, followed as long as before but at
        most :data:`FOLLOW_UP_CAP_DAYS` past their own window."""
        keep = self.t_h < self.window_h[0] + days * 24.0
        out = self.take(keep)
        out.window_h = (self.window_h[0], min(self.window_h[1], self.window_h[0] + days * 24.0))
        out.horizon_h = min(self.horizon_h, out.window_h[1] + FOLLOW_UP_CAP_DAYS * 24.0)
        out.log_follow_h = np.minimum(out.log_follow_h, out.horizon_h - out.t_h)
        return out


def log_requests(log: "LogData", scenario: Scenario, start: "pd.Timestamp", end: "pd.Timestamp",
                 inclusive_end: bool = True, source: str = "") -> Requests:
    """The cohort of mapped requests created in [start, end] (cancelled and duplicate ones left
    out), with the log's own outcome of each."""
    import pandas as pd

    df = log.frame
    t = df.created
    inside = (t >= start) & ((t <= end) if inclusive_end else (t < end))
    d = df[inside & df.category.notna() & ~df.status.isin(NOT_CASES)].sort_values(
        "created", kind="stable")
    closed_any = df.closed.notna().any()
    extracted = max(df.created.max(), df.closed.max()) if closed_any else df.created.max()
    t0 = start.normalize() - pd.Timedelta(days=int(start.day_of_week))
    hour = pd.Timedelta(hours=1)
    t_h = ((d.created - t0) / hour).to_numpy(float)
    done = ((d.status == "closed") & d.closed.notna()).to_numpy()
    dur = ((d.closed - d.created) / hour).to_numpy(float)
    ref = ((d.status == "referred") & d.closed.notna()).to_numpy()
    age = ((extracted - d.created) / hour).to_numpy(float)
    log_h = np.where(done, np.maximum(dur, 0.0), np.nan)
    follow = np.where(done, np.nan, np.where(ref, np.maximum(dur, 0.0), np.maximum(age, 0.0)))
    codes = {f"{s.category}.{s.subtype}": k for k, s in enumerate(I.taxonomy(scenario))}
    subs = np.array([codes.get(f"{c}.{s}", -1) if isinstance(s, str) else -1
                     for c, s in zip(d.category.tolist(), d.subtype.tolist())], dtype=np.int64)
    w0, w1 = (start - t0) / hour, (end - t0) / hour
    cap = w1 + FOLLOW_UP_CAP_DAYS * 24.0
    last = (extracted - t0) / hour
    horizon = float(min(max(last, w1), cap))
    notes = []
    if last > cap:
        notes.append(f"follow-up cut at {FOLLOW_UP_CAP_DAYS:g} days after the window (the log "
                     f"runs {(last - w1) / 24:.0f} days past it): later closings are censored "
                     "on both sides")
    placed = "place" in d.columns
    return Requests(t_h=t_h, category=d.category.to_numpy(object), sub=subs, log_h=log_h,
                    log_follow_h=np.minimum(follow, horizon - t_h), t0=t0,
                    window_h=(float(w0), float(w1)), horizon_h=max(horizon, float(w1) + 1.0),
                    has_closed=bool(log.has_closed), source=source, notes=notes,
                    place=d["place"].to_numpy() if placed else None,
                    where=d["where"].to_numpy() if placed else None, index=log.placer)


class ReplayModel(GridModel):
    """The scenario's model with the log's requests as its only arrivals (reported by residents
    at their creation times; see the module's docstring)."""

    def __init__(self, scenario: Scenario, requests: Requests, seed: int | None = None,
                 case_sink: str | None = None):
        self.requests = requests
        super().__init__(scenario, seed=seed, case_sink=case_sink)

    def _subtypes_of(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """Subtype indices of requests ``idx``: the log's where mapped to one, else drawn by the
        scenario's shares within the category."""
        req = self.requests
        subs = req.sub[idx].copy()
        todo = np.flatnonzero(subs < 0)
        if len(todo):
            u = rng.random(len(todo))
            cats = req.category[idx][todo]
            for cat in set(cats.tolist()):
                k = np.flatnonzero(cats == cat)
                choices, cum = self._shares[cat]
                subs[todo[k]] = choices[np.minimum(np.searchsorted(cum, u[k], side="right"),
                                                   len(choices) - 1)]
        return subs

    def _arrivals(self):  # noqa: ANN202 - a SimPy process
        req = self.requests
        rng = self.streams["replay"]
        self._shares: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for cat in set(req.category.tolist()):
            ks = [k for k, s in enumerate(self.subtypes) if s.category == cat]
            w = np.array([self.subtypes[k].rate_per_1000_households_per_day for k in ks])
            w = w / w.sum() if w.sum() > 0 else np.full(len(ks), 1.0 / len(ks))
            self._shares[cat] = (np.array(ks), np.cumsum(w))
        cell_cum = np.cumsum(self.city.cells.incident_weight)
        pr, disc = self.problems, self.discovery
        end = math.ceil(self.horizon_h)
        bounds = np.searchsorted(req.t_h, np.arange(0, end + 1, dtype=float), side="left")
        for day0 in range(0, end, 24):
            h1 = min(day0 + 24, end)
            a, b = int(bounds[day0]), int(bounds[h1])
            idx = np.arange(a, b)
            if len(idx):  # the day's draws at once, in request order
                uc = rng.random(len(idx))
                cells = np.minimum(np.searchsorted(cell_cum, uc * cell_cum[-1], side="right"),
                                   len(cell_cum) - 1)
                if req.place is not None:  # requests with a place arise on their own cells
                    cells = req.index.draw_cells(req.place[idx], req.where[idx], uc, cells)
                subs = self._subtypes_of(rng, idx)
                u = rng.random((len(idx), I.N_UNIFORMS))
            for h in range(day0, h1):
                release_deadlines(self, h + 1.0)
                pr.begin_hour(h)
                i, j = int(bounds[h]) - a, int(bounds[h + 1]) - a
                if j > i:
                    self._add(idx[i:j], req.t_h[a + i:a + j], cells[i:j], subs[i:j], u[i:j])
                    pr.settle(disc.decide())
                yield self.env.timeout(h + 1 - self.env.now)

    def _add(self, ids: np.ndarray, times: np.ndarray, cells: np.ndarray, subs: np.ndarray,
             u: np.ndarray) -> None:
        """Requests as incidents whose first report is a resident's, at their creation time."""
        k = len(ids)
        pr = self.problems
        pr._ensure(int(ids[-1]) + 1)
        pr.cell[ids] = cells
        self.counters["incidents"] += k
        self._next_id = max(self._next_id, int(ids[-1]) + 1)
        inf = np.full(k, np.inf)
        t3 = np.full((k, 3), np.inf)
        t3[:, 0] = times
        grids = self.city.cell_grid[cells]
        self.discovery.add(ids, grids, times, inf, inf, inf, times,
                           np.full(k, RESIDENT, dtype=np.int8), subs, t3, u)


@dataclass
class ReplayRun:
    """One replication: per request (in the cohort's order) the simulated category and
    department, hours to close (NaN if not closed) and hours followed while open."""

    seed: int
    category: np.ndarray
    department: np.ndarray
    sim_h: np.ndarray
    follow_h: np.ndarray
    cases: "pd.DataFrame | None" = None


def replay_scenario(scenario: Scenario, requests: Requests) -> Scenario:
    """The scenario run for the cohort: no warm-up, the follow-up as its horizon, no drawn
    arrivals (the requests are the arrivals), no cases handed down from above, and the time
    series (not read by a replay) sampled daily."""
    return scenario_with(scenario, {
        "run.days": requests.horizon_h / 24.0, "run.warmup_days": 0.0,
        "channels.handed_down_per_day": 0.0,
        "run.timeseries_interval_h": max(scenario.run.timeseries_interval_h, 24.0)})


def replay_once(scenario: Scenario, requests: Requests, seed: int,
                case_sink: str | Path | None = None, keep_cases: bool = False) -> ReplayRun:
    """Replay the requests once on the scenario (see :func:`replay_scenario`)."""
    sc = replay_scenario(scenario, requests)
    m = ReplayModel(sc, requests, seed=seed, case_sink=str(case_sink) if case_sink else None)
    m.finish()
    cols = ["incident_id", "category", "department", "t_report_h", "t_closed_h", "state"]
    table = m.case_log.table(None if keep_cases else cols)
    ids = table.column("incident_id").to_numpy()
    n = len(requests)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if len(ids) != n or (n and (ids[0] != 0 or ids[-1] != n - 1)):
        raise RuntimeError(f"replay recorded {len(ids)} cases for {n} requests")

    def col(name: str) -> np.ndarray:
        return table.column(name).to_numpy(zero_copy_only=False)[order]

    t_rep, t_cl = col("t_report_h").astype(float), col("t_closed_h").astype(float)
    closed = (col("state") == "closed") & ~np.isnan(t_cl)
    horizon = sc.run.days * 24.0
    sim_h = np.where(closed, t_cl - t_rep, np.nan)
    follow = np.where(closed, np.nan, horizon - np.where(np.isnan(t_rep), requests.t_h, t_rep))
    cases = table.to_pandas() if keep_cases else None
    return ReplayRun(seed=seed, category=col("category").astype(object),
                     department=col("department").astype(object), sim_h=sim_h,
                     follow_h=np.maximum(follow, 0.0), cases=cases)


def replay(scenario: Scenario, requests: Requests, reps: int = 3, seed: int | None = None,
           case_sink: str | Path | None = None,
           progress: Callable[[], None] | None = None) -> list[ReplayRun]:
    """``reps`` replications on the seeds derived from ``seed`` (the scenario's by default);
    the first one's case log streams to ``case_sink`` if given."""
    from sim.data.validation import replication_seeds

    seeds = replication_seeds(scenario.run.seed if seed is None else seed, reps)
    runs = []
    for k, sd in enumerate(seeds):
        runs.append(replay_once(scenario, requests, sd, case_sink if k == 0 else None))
        if progress:
            progress()
    return runs


def thin(requests: Requests, share: float, seed: int) -> Requests:
    """A random ``share`` of the requests (the same ones for the same seed): the cohort of a
    city cut to fewer streets at the same load per street (:func:`sim.data.sizing.reduced_city`)."""
    if share >= 1.0:
        return requests
    u = np.random.default_rng(np.random.SeedSequence([seed, 0x7E91])).random(len(requests))
    return requests.take(u < share)


def cohort_overrides(scenario: Scenario, categories: set[str]) -> dict[str, Any]:
    """Overrides that make the scenario's *drawn* incidents of ``categories`` reach it as a
    log's requests do: reported by residents only (no patrol find, so no on-the-spot fix; no
    sensor or video), every one of them reported, as soon as the schema allows (salience
    :data:`SALIENCE`: a log has no time of occurrence, its requests start at the report), none
    vanishing unreported."""
    over: dict[str, Any] = {}
    for c in sorted(categories):
        cat = scenario.incidents.categories[c]
        over[f"incidents.categories.{c}.patrol_visibility"] = 0.0
        over[f"incidents.categories.{c}.resident_salience"] = max(cat.resident_salience, SALIENCE)
        over[f"incidents.categories.{c}.sensor_detectable"] = False
        over[f"incidents.categories.{c}.video_detectable"] = False
        over[f"incidents.categories.{c}.resident_report_prob"] = 1.0
        for s, sub in cat.subtypes.items():
            if sub.resident_report_prob is not None:
                over[f"incidents.categories.{c}.subtypes.{s}.resident_report_prob"] = 1.0
            if sub.unreported == "vanish":
                over[f"incidents.categories.{c}.subtypes.{s}.unreported"] = "persist"
    return over


__all__ = ["Requests", "ReplayModel", "ReplayRun", "log_requests", "replay", "replay_once",
           "replay_scenario", "thin", "cohort_overrides"]


def read_requests(log_path: str | Path, fmt: str, scenario: Scenario,
                  mapping_path: str | Path | None = None, *,
                  columns: dict[str, str] | None = None, tz: str | None = None,
                  start: str | None = None, end: str | None = None,
                  crs: str | None = None) -> Requests:
    """Read a log of any registered format, map it, find its period (the span, a sparse tail
    left out, or ``start``/``end``) and return its cohort of requests; on a scenario with
    ``city.geometry`` each request is placed on the map (``crs``: of the log's lat/lon) and
    replayed on its own cell (a unit's: drawn by households; no place: by the cells' weights)."""
    from sim.data.logtimes import find_period
    from sim.data.servicelog import (CalibrationError, check_read_args, default_mapping_path,
                                     load_mapping, read_log)

    t0, t1 = check_read_args(fmt, tz, start, end)
    mapping = load_mapping(mapping_path or default_mapping_path(fmt), fmt, scenario)
    index = None
    if scenario.city.geometry is not None:  # a real map: requests on their cells
        from sim.data.places import PlaceIndex

        index = PlaceIndex.for_scenario(scenario, crs)
    log = read_log(log_path, fmt, mapping, columns=columns, tz=tz, placer=index)
    df = log.frame
    if df.empty or df.category.notna().sum() == 0:
        top = sorted(log.unmapped.items(), key=lambda kv: -kv[1])[:8]
        seen = ("; unmapped: " + ", ".join(f"{k!r} ({v:,})" for k, v in top)) if top else ""
        raise CalibrationError([("", f"no request could be mapped to a gridsim category "
                                     f"({log.rows_read:,} rows read){seen}; add them to the "
                                     "mapping (--mapping FILE)")], str(log_path))
    period = find_period(df.created, t0, t1)
    req = log_requests(log, scenario, period.start, period.end,
                       inclusive_end=period.how != "--from/--to", source=str(log_path))
    if not len(req):
        raise CalibrationError([("from", f"no mapped request between {period.start} and "
                                         f"{period.end}")], str(log_path))
    return req

