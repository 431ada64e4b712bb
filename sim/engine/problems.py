"""Problems before anyone reports them: births on cells, lifetimes, and the report channels.

Each hour the model hands this module the hour's incidents (``sim.engine.arrivals``). For each:

* its **lifetime while unreported** (subtype ``unreported``): ``persist`` stays until someone
  reports it; ``vanish`` disappears at ``t0 + L`` if nobody reported it by then (a stall moves
  on, the routine sweep clears a pile): it is recorded as ``vanished`` and never becomes a case;
  ``worsen`` stays and, if still unreported at ``t0 + L``, does harm (``harm_yuan``: a loose
  manhole cover becomes an injury). ``L`` is a draw of ``lifetime_h`` from the incident's own
  fate uniform;
* the channels other than patrols, fixed at birth as before (residents — only if they would
  report it at all, chance ``resident_report_prob`` of the subtype, from the incident's own fate
  uniform —, sensors, video, cases handed down): the earliest is scheduled;
* the patrol threshold, handed to :class:`sim.engine.discovery.Discovery`, which decides each
  hour, for all pending incidents at once, which a patrol finds and when, which vanish and which
  worsen.

Per-incident results that the case log needs (cell, when the problem ended, harm) are kept in
arrays indexed by incident id.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtri

from sim.engine import case as I
from sim.engine.arrivals import F_LIFETIME, F_RESIDENT, N_FATE, HourBatch
from sim.engine.discovery import HourOutcome

if TYPE_CHECKING:
    from sim.engine.case import Incident
    from sim.engine.model import GridModel

INF = math.inf
NAN = float("nan")
FATES = {"persist": 0, "vanish": 1, "worsen": 2}


def _lognormal(mu: np.ndarray, sigma: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.exp(mu + sigma * ndtri(np.clip(u, 1e-12, 1 - 1e-12)))


#: quantile functions of the duration distributions, vectorised: (p1, p2, u) -> durations
_PPF = (
    lambda a, b, u: a + 0.0 * u,  # fixed
    lambda a, b, u: -a * np.log1p(-u),  # exponential
    lambda a, b, u: a + (b - a) * u,  # uniform
    _lognormal,
)
_KIND = {"fixed": 0, "exponential": 1, "uniform": 2, "lognormal": 3}


def _params(dist: Any) -> tuple[str, float, float]:
    if dist.dist == "fixed":
        return "fixed", dist.value, 0.0
    if dist.dist == "exponential":
        return "exponential", dist.mean, 0.0
    if dist.dist == "uniform":
        return "uniform", dist.low, dist.high
    mu, sigma = dist._params
    return "lognormal", mu, sigma


class Problems:
    """Incidents from birth to their first report (or disappearance), for one model."""

    def __init__(self, m: "GridModel"):
        self.m = m
        subs = m.subtypes
        self.disc = m.discovery
        self.vis = np.array([s.patrol_visibility for s in subs], dtype=float)
        self.fate = np.array([FATES[s.unreported] for s in subs], dtype=np.int64)
        params = [_params(s.lifetime_h) if s.lifetime_h is not None and s.unreported != "persist"
                  else ("none", 0.0, 0.0) for s in subs]
        self._kind = np.array([_KIND.get(p[0], -1) for p in params], dtype=np.int64)
        self._kinds = sorted({int(k) for k in self._kind} - {-1})
        self._p1 = np.array([p[1] for p in params], dtype=float)
        self._p2 = np.array([p[2] for p in params], dtype=float)
        self.harm_yuan = np.array([s.harm_yuan for s in subs], dtype=float)
        self.cell = np.full(1024, -1, dtype=np.int64)
        self.done = np.zeros(1024, dtype=bool)
        self.t_gone = np.full(1024, NAN)
        self.harm = np.zeros(1024)
        self.vanished = 0
        self.worsened = 0

    def _ensure(self, n: int) -> None:
        if n <= len(self.done):
            return
        size = max(n, 2 * len(self.done))
        for name, fill in (("cell", -1), ("done", False), ("t_gone", NAN), ("harm", 0.0)):
            a = getattr(self, name)
            b = np.full(size, fill, dtype=a.dtype)
            b[: len(a)] = a
            setattr(self, name, b)

    def _lifetimes(self, subs: np.ndarray, t: np.ndarray,
                   u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vanish time, worsen time) of each incident (inf where its subtype does neither)."""
        t_vanish = np.full(len(subs), INF)
        t_worsen = t_vanish.copy()
        if not self._kinds:
            return t_vanish, t_worsen
        kind = self._kind[subs]
        for k in self._kinds:
            m = kind == k
            if m.any():
                s = subs[m]
                end = t[m] + _PPF[k](self._p1[s], self._p2[s], u[m])
                fate = self.fate[s]
                t_vanish[m] = np.where(fate == 1, end, INF)
                t_worsen[m] = np.where(fate == 2, end, INF)
        return t_vanish, t_worsen

    # ---------------------------------------------------------------------------------- births
    def begin_hour(self, hour: int) -> None:
        m = self.m
        if hour % 24 == 0:  # reported incidents are inert in the discovery; forget them daily
            self.disc.drop(self.done)
        self.disc.begin_hour(hour, m._worker_strength, m._assistant_strength, m._planned_h)

    def prepare(self, batch: HourBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(patrol threshold E / visibility, vanish time, worsen time) of a batch, at once."""
        e = -np.log1p(-batch.u[:, I.U_PATROL])
        vis = self.vis[batch.subs]
        threshold = np.full(len(batch), INF)
        seen = (vis > 0) & ~batch.handed
        threshold[seen] = e[seen] / vis[seen]
        t_vanish, t_worsen = self._lifetimes(batch.subs, batch.times, batch.fate[:, F_LIFETIME])
        return threshold, t_vanish, t_worsen

    def add(self, batch: HourBatch, ids: np.ndarray,
            prepared: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        """The hour's incidents (ids already allocated): create them, schedule the channels
        other than patrols, hand the patrol thresholds to the discovery."""
        m = self.m
        n = len(batch)
        if not n:
            return
        self._ensure(int(ids[-1]) + 1)
        self.cell[ids] = batch.cells
        threshold, t_vanish, t_worsen = prepared if prepared is not None else self.prepare(batch)
        t_other = np.empty(n)
        for k, (iid, t, g, s, h, row, fr, tv) in enumerate(zip(
                ids.tolist(), batch.times.tolist(), batch.grids.tolist(), batch.subs.tolist(),
                batch.handed.tolist(), batch.u.tolist(), batch.fate[:, F_RESIDENT].tolist(),
                t_vanish.tolist())):
            t_other[k] = m.new_incident(t, g, s, h, row, iid, fr, tv)
        self.disc.add(ids, batch.grids, batch.times, threshold, t_vanish, t_worsen, t_other)

    def add_one(self, iid: int, t: float, g: int, s: int, handed: bool, u: list[float],
                cell: int, fate: np.ndarray) -> None:
        """One incident added in the middle of an hour (``GridModel.inject_incident``)."""
        start = self.disc.n_pending
        batch = HourBatch(np.array([t]), np.array([cell]), np.array([g]), np.array([s]),
                          np.array([handed]), np.array([u]), fate.reshape(1, N_FATE))
        self.add(batch, np.array([iid]))
        self.settle(self.disc.decide(start))

    # ------------------------------------------------------------------------------- outcomes
    def settle(self, out: HourOutcome) -> None:
        """Schedule the patrol finds of the hour, record what vanished, book the harm."""
        m = self.m
        horizon = m.horizon_h
        now = m.env.now
        for iid, t in zip(out.found_ids.tolist(), out.found_t.tolist()):
            if t >= horizon:
                continue
            inc = m.open_incidents.get(iid)
            if inc is None:
                continue
            ev = m.env.timeout(max(0.0, t - now))
            ev.callbacks.append(lambda _e, inc=inc: m.patrol_found(inc))
        for iid, t in zip(out.vanished_ids.tolist(), out.vanished_t.tolist()):
            inc = m.open_incidents.get(iid)
            if t >= horizon or inc is None or inc.channel:
                continue
            self.done[iid] = True
            self.t_gone[iid] = t
            self.vanished += 1
            inc.state = "vanished"
            m._record(inc)
        for iid, t in zip(out.worsened_ids.tolist(), out.worsened_t.tolist()):
            inc = m.open_incidents.get(iid)
            if t < horizon and inc is not None:
                self.harm[iid] = self.harm_yuan[inc.sub]
                self.worsened += 1

    def reported(self, inc: "Incident") -> None:
        if inc.id >= 0:
            self._ensure(inc.id + 1)
            self.done[inc.id] = True

    def row(self, inc: "Incident") -> tuple[int, float, float]:
        """(cell, time the problem ended, harm) for the case log."""
        iid = inc.id
        if iid < 0 or iid >= len(self.done):
            return -1, NAN, 0.0
        if inc.state == "vanished":
            end = float(self.t_gone[iid])
        elif inc.state == "closed":
            end = inc.t_handled if inc.t_handled == inc.t_handled else inc.t_closed
        else:
            end = NAN
        return int(self.cell[iid]), end, float(self.harm[iid])
