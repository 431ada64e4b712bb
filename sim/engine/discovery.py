"""Patrol discovery from the patrol time actually available, in vectorised hourly batches.

Every incident draws at birth a patrol threshold ``E = −ln(1 − U_PATROL)`` (exponential, mean 1).
Each basic grid accumulates *patrol exposure* ``H_g``: during the open part of each hour of the
patrol window it grows at

    r_g = coverage_km2_per_h · (W_g · a_b + A_g) / (area_g · difficulty_g)

where ``W_g`` is the workers' patrol strength on the grid (skill × effort × the share of the day
their plan leaves for patrol; a beat's strength is shared by its grids' effective areas), ``A_g``
the assistants' and ``a_b`` the share of the beat's planned patrol time left this hour after the
other duties its workers were charged with (on-the-spot fixes, verifications, writing reports,
padded ones included, emergency turn-outs). An incident of patrol visibility ``v`` is found when
``v · (H_g(t) − H_g(t_birth))`` reaches ``E``. With constant rates this is exactly an exponential
hazard ``r_g · v`` per patrol hour; when the rates change, an incident keeps its threshold, so a
stronger patrol finds the same incident sooner (common random numbers across staffing).

Duties are charged with a lag: time a worker spends on them is owed by the beat and taken from
the next open hours' patrol time (at most all of it; the rest carries over).

The whole hour is decided at its start, for all pending incidents at once (NumPy): which are
found and when (inside the open part of the hour, by linear interpolation of ``H``), which are
first reported by another channel (residents, sensors, video, a case handed down: times fixed at
birth), which vanish unreported (lifetime over before any report), and which worsen unreported
(a harm cost). Nothing is decided at or past the run's horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from sim.engine.slots import Slots
from sim.scenario import Window
from sim.world.calendar import open_hours_between

INF = float("inf")


def open_part(hour: int, hours: Window) -> tuple[float, float]:
    """The open sub-interval [a, b) of model hour ``hour`` under a daily window (a == b: shut)."""
    if (hour // 24) % 7 not in hours.days:
        return float(hour), float(hour)
    day0 = hour - hour % 24
    a = max(float(hour), day0 + hours.start_h)
    b = min(float(hour + 1), day0 + hours.end_h)
    return (a, b) if b > a else (float(hour), float(hour))


#: report channels, by code (``Discovery.ch``; ``PATROL`` for a patrol find)
CHANNELS = ("resident", "sensor", "video", "handed_down", "patrol")
RESIDENT, SENSOR, VIDEO, HANDED_DOWN, PATROL = range(5)


@dataclass
class HourOutcome:
    """What happens to pending incidents during one hour.

    ``reports``: the first reports (by a patrol or another channel), sorted by time, each with
    its incident's birth data (the columns of :class:`Discovery`) and ``t``, ``kind`` (a
    ``CHANNELS`` code). ``vanished`` (sorted by time, with ``t``) and ``worsened`` (``t``) the
    same way."""

    reports: dict[str, np.ndarray]
    vanished: dict[str, np.ndarray]
    worsened: dict[str, np.ndarray]


class Discovery:
    """Pending (unreported) incidents, with their birth data, and the grids' patrol exposure.

    An incident stays here, as a row of arrays, until its first report, its disappearance or
    the end of the run; only then does the model give it a Python object (``sim.engine.model``).
    """

    #: per pending incident: id, grid, exposure level at which a patrol finds it, vanish and
    #: worsen times, first report by another channel (time, ``CHANNELS`` code), subtype, birth
    #: time, the other channels' times (resident, sensor, video; handed down in the first
    #: column) and the birth uniforms
    _FIELDS = ("ids", "grid", "level", "t_vanish", "t_worsen", "t_other", "ch", "sub", "t_occur",
               "t3", "u")

    def __init__(self, beat_of_grid: np.ndarray, n_beats: int, eff_area: np.ndarray,
                 coverage_km2_per_h: float, hours: Window, n_uniforms: int = 0,
                 horizon_h: float = INF):
        n = len(beat_of_grid)
        self.beat_of_grid = beat_of_grid
        self.eff_area = eff_area
        self.coverage = coverage_km2_per_h
        self.hours = hours
        self.horizon = horizon_h
        self.H = np.zeros(n)
        self.rate = np.zeros(n)  # exposure per open hour, this hour
        self.owed_h = np.zeros(n_beats)  # worker-hours of duties not yet taken from patrol
        self.charged_h = 0.0  # worker-hours taken from patrol so far (all beats)
        self._a = self._b = 0.0
        self.hour = 0
        self.n = 0  # pending incidents: the first n entries of the arrays below
        size = 256
        self.ids, self.grid, self.sub = (np.empty(size, dtype=np.int64) for _ in range(3))
        self.level, self.t_vanish, self.t_worsen, self.t_other, self.t_occur = (
            np.empty(size) for _ in range(5))
        self.ch = np.empty(size, dtype=np.int8)
        self.t3 = np.empty((size, 3))
        self.u = np.empty((size, n_uniforms))
        self._next_fate = INF  # no pending incident vanishes or worsens before this time

    # ------------------------------------------------------------------------------- the budget
    def charge(self, beat: int, hours: float) -> None:
        """A worker of ``beat`` spent ``hours`` on a duty other than patrol."""
        if hours > 0:
            self.owed_h[beat] += hours

    def begin_hour(self, hour: int, worker_strength: np.ndarray, assistant_strength: np.ndarray,
                   planned_worker_h: np.ndarray) -> None:
        """Close the last hour and set this one's exposure rates. ``planned_worker_h[b]``: the
        beat's planned patrol worker-hours per open hour."""
        if self._b > self._a:
            self.H += self.rate * (self._b - self._a)
        self.hour = hour
        a, b = open_part(hour, self.hours)
        self._a, self._b = a, b
        span = b - a
        if span <= 0:
            return
        cap = planned_worker_h * span
        take = np.minimum(self.owed_h, cap)
        self.owed_h -= take
        self.charged_h += float(take.sum())
        avail = 1.0 - np.divide(take, cap, out=np.zeros_like(take), where=cap > 0)
        strength = worker_strength * avail[self.beat_of_grid] + assistant_strength
        self.rate = self.coverage * strength / self.eff_area

    def exposure_at(self, grids: np.ndarray, t: np.ndarray) -> np.ndarray:
        """H of each grid at times t inside the current hour."""
        if self._b <= self._a:
            return self.H[grids]
        return self.H[grids] + self.rate[grids] * (np.clip(t, self._a, self._b) - self._a)

    # ------------------------------------------------------------------------------- incidents
    def add(self, ids: np.ndarray, grids: np.ndarray, t: np.ndarray, threshold: np.ndarray,
            t_vanish: np.ndarray, t_worsen: np.ndarray, t_other: np.ndarray, ch: np.ndarray,
            subs: np.ndarray, t3: np.ndarray, u: np.ndarray) -> None:
        """New incidents of this hour. ``threshold`` = E / visibility (inf: patrols never see it)."""
        k = len(ids)
        if not k:
            return
        n = self.n
        if n + k > len(self.ids):
            size = max(n + k, 2 * len(self.ids))
            for name in self._FIELDS:
                a = getattr(self, name)
                b = np.empty((size,) + a.shape[1:], dtype=a.dtype)
                b[:n] = a[:n]
                setattr(self, name, b)
        sl = slice(n, n + k)
        self.ids[sl], self.grid[sl], self.sub[sl], self.t_occur[sl] = ids, grids, subs, t
        self.level[sl] = self.exposure_at(grids, t) + threshold
        self.t_vanish[sl], self.t_worsen[sl], self.t_other[sl] = t_vanish, t_worsen, t_other
        self.ch[sl], self.t3[sl], self.u[sl] = ch, t3, u
        self.n = n + k
        self._next_fate = min(self._next_fate, float(t_vanish.min()), float(t_worsen.min()))

    def _keep(self, keep: np.ndarray) -> None:
        m = int(keep.sum())
        if m == self.n:
            return
        for name in self._FIELDS:
            a = getattr(self, name)
            a[:m] = a[: self.n][keep]
        self.n = m

    def _rows(self, start: int, mask: np.ndarray, t: np.ndarray,
              **extra: np.ndarray) -> dict[str, np.ndarray]:
        """The birth data of the pending incidents ``start + where(mask)``, sorted by ``t``
        (``t`` and ``extra`` are arrays over the same pending incidents as ``mask``)."""
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(t[idx], kind="stable")]
        rows = {name: getattr(self, name)[idx + start] for name in self._FIELDS}
        rows["t"] = t[idx]
        rows.update((name, a[idx]) for name, a in extra.items())
        return rows

    def decide(self, start: int = 0) -> HourOutcome:
        """Decide the current hour for the pending incidents from index ``start`` on (all by
        default; the last few for incidents added in the middle of the hour): first reports by
        a patrol or another channel, disappearances, harm. Nothing at or past the horizon."""
        n = self.n
        if start >= n:
            return _EMPTY
        end = self.hour + 1.0
        span = self._b - self._a
        check_fate = self._next_fate < end
        sl = slice(start, n)
        t_other = self.t_other[sl]
        if span > 0:
            g = self.grid[sl]
            h0, rate = self.H[g], self.rate[g]
            gap = self.level[sl] - h0
            found = (gap < rate * span) & (rate > 0)
            t_found = np.full(n - start, INF)
            t_found[found] = self._a + gap[found] / rate[found]
            found &= (t_found < t_other) & (t_found < self.horizon)
        else:
            found = np.zeros(n - start, dtype=bool)
            t_found = np.full(n - start, INF)
        other = (t_other < end) & (t_other < self.horizon) & ~found
        if check_fate:
            t_vanish, t_worsen = self.t_vanish[sl], self.t_worsen[sl].copy()
            first = np.minimum(t_other, t_found)
            vanish = (t_vanish < end) & (t_vanish < first) & (t_vanish < self.horizon)
            found &= ~vanish
            other &= ~vanish
            worsen = (t_worsen < end) & (t_worsen < first) & (t_worsen < t_vanish)
            self.t_worsen[sl][worsen] = INF
            worsen &= t_worsen < self.horizon
        else:
            vanish = worsen = np.zeros(n - start, dtype=bool)
            t_worsen = t_found
        gone = found | other | vanish
        if check_fate and start == 0:
            self._next_fate = min(float(self.t_vanish[:n][~gone].min(initial=INF)),
                                  float(self.t_worsen[:n].min(initial=INF)))
        reported = found | other
        if reported.any():
            reports = self._rows(start, reported, np.where(found, t_found, t_other),
                                 kind=np.where(found, PATROL, self.ch[sl]))
        else:
            reports = _NONE
        out = HourOutcome(reports,
                          self._rows(start, vanish, self.t_vanish[sl]) if vanish.any() else _NONE,
                          self._rows(start, worsen, t_worsen) if worsen.any() else _NONE)
        if gone.any():
            keep = np.ones(n, dtype=bool)
            keep[start:] = ~gone
            self._keep(keep)
        return out

    def pending(self) -> dict[str, np.ndarray]:
        """The birth data of every incident still pending (at the end of a run)."""
        return {name: getattr(self, name)[: self.n] for name in self._FIELDS}

    @property
    def n_pending(self) -> int:
        return self.n


_NONE: dict[str, np.ndarray] = {"ids": np.empty(0, dtype=np.int64)}
_EMPTY = HourOutcome(_NONE, _NONE, _NONE)


class WorkerPool(Slots):
    """A beat's workers as one pool of servers (on-the-spot fixes, verifications, padded reports).

    The time a worker is held inside patrol hours is charged to the beat's budget when it is
    released: those hours are taken from patrol (``Discovery.charge``)."""

    __slots__ = ("beat", "discovery", "hours")

    def __init__(self, env: simpy.Environment, capacity: int, beat: int, discovery: Discovery,
                 hours: Window):
        super().__init__(env, capacity)
        self.beat = beat
        self.discovery = discovery
        self.hours = hours

    def release_from(self, t0: float) -> None:
        """Give back a worker taken at ``t0``, charging the patrol hours it was held."""
        self.discovery.charge(self.beat, open_hours_between(t0, self.env.now, self.hours))
        self.release()
