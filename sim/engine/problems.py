"""Problems before anyone reports them: births on cells, lifetimes, and the report channels.

Each hour the model hands this module the hour's incidents (``sim.engine.arrivals``). For each:

* its **lifetime while unreported** (subtype ``unreported``): ``persist`` stays until someone
  reports it; ``vanish`` disappears at ``t0 + L`` if nobody reported it by then (a stall moves
  on, the routine sweep clears a pile): it is recorded as ``vanished`` and never becomes a case;
  ``worsen`` stays and, if still unreported at ``t0 + L``, does harm (``harm_yuan``: a loose
  manhole cover becomes an injury). ``L`` is a draw of ``lifetime_h`` from the incident's own
  fate uniform;
* the channels other than patrols, fixed at birth for the whole batch at once (residents — only
  if they would report it at all, chance ``resident_report_prob`` of the subtype, from the
  incident's own fate uniform —, sensors, video, cases handed down);
* the patrol threshold, handed to :class:`sim.engine.discovery.Discovery`, which decides each
  hour, for all pending incidents at once, which a patrol finds and when, which another channel
  reports first, which vanish and which worsen. Each first report starts the incident's case
  process at its moment (``settle``).

Per-incident results that the case log needs (cell, when the problem ended, harm) are kept in
arrays indexed by incident id.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtri

from sim.engine import case as I
from sim.engine.case import case_keys
from sim.engine.clock import DelayedProcess
from sim.engine.arrivals import F_LIFETIME, F_RESIDENT, N_FATE, HourBatch
from sim.engine.discovery import HANDED_DOWN, RESIDENT, SENSOR, VIDEO, HourOutcome

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
        self.salience = np.array([x.resident_salience for x in subs], dtype=float)
        self.res_prob = np.array([x.resident_report_prob for x in subs], dtype=float)
        self.sensor_ok = np.array([x.sensor_detectable for x in subs], dtype=bool)
        self.video_ok = np.array([x.video_detectable for x in subs], dtype=bool)
        self.has_sensor = np.array([st.sensor for st in m.sensor_stations], dtype=bool)
        self.has_video = np.array([st.video for st in m.sensor_stations], dtype=bool)
        self.cell = np.full(1024, -1, dtype=np.int64)
        self.t_gone = np.full(1024, NAN)
        self.harm = np.zeros(1024)
        self.vanished = 0
        self.worsened = 0

    def _ensure(self, n: int) -> None:
        if n <= len(self.cell):
            return
        size = max(n, 2 * len(self.cell))
        for name, fill in (("cell", -1), ("t_gone", NAN), ("harm", 0.0)):
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

    def channel_times(self, batch: HourBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first reports by channels other than patrols, fixed at birth for a whole batch:
        (times by residents, sensors and video — the first column holds a case handed down —,
        the earliest of them, its ``CHANNELS`` code; -1: none)."""
        m = self.m
        ch_cfg = m.scenario.channels
        n = len(batch)
        t, g, s, u = batch.times, batch.grids, batch.subs, batch.u
        t3 = np.full((n, 3), INF)
        free = ~batch.handed
        if m.resident_rate_h > 0:
            groups = m.residents
            mult = np.fromiter((groups[k].reporting_multiplier for k in g.tolist()), float, n)
            res = m.resident_rate_h * mult * self.salience[s]
            ok = free & (res > 0) & (batch.fate[:, F_RESIDENT] < self.res_prob[s])
            t3[ok, 0] = t[ok] - np.log1p(-u[ok, I.U_RESIDENT]) / res[ok]
        ok = free & self.has_sensor[g] & self.sensor_ok[s] & (u[:, I.U_SENSOR]
                                                              < ch_cfg.sensor_detect_prob)
        if ok.any():
            t3[ok, 1] = t[ok] + ch_cfg.sensor_delay.ppf_array(u[ok, I.U_SENSOR_DELAY])
        ok = free & self.has_video[g] & self.video_ok[s] & (u[:, I.U_VIDEO]
                                                            < ch_cfg.video_detect_prob)
        if ok.any():
            t3[ok, 2] = t[ok] + ch_cfg.video_delay.ppf_array(u[ok, I.U_VIDEO_DELAY])
        m.policies.adjust_birth_times(g, s, t, u, free, t3)  # AI video
        t3[batch.handed, 0] = t[batch.handed]
        col = np.argmin(t3, axis=1)  # ties: residents, then sensors, then video
        t_other = t3[np.arange(n), col]
        code = np.where(col == 0, RESIDENT, np.where(col == 1, SENSOR, VIDEO))
        code = np.where(batch.handed, HANDED_DOWN, code)
        return t3, t_other, np.where(t_other < INF, code, -1).astype(np.int8)

    def add(self, batch: HourBatch, ids: np.ndarray,
            prepared: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        """The hour's incidents (ids already allocated): their channels and patrol thresholds go
        to the discovery, which keeps them as arrays until their first report."""
        n = len(batch)
        if not n:
            return
        self._ensure(int(ids[-1]) + 1)
        self.cell[ids] = batch.cells
        self.m.counters["incidents"] += n
        threshold, t_vanish, t_worsen = prepared if prepared is not None else self.prepare(batch)
        t3, t_other, ch = self.channel_times(batch)
        self.disc.add(ids, batch.grids, batch.times, threshold, t_vanish, t_worsen, t_other, ch,
                      batch.subs, t3, batch.u)

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
        """Schedule the hour's first reports, record what vanished, book the harm."""
        m = self.m
        rep = out.reports
        if len(rep["ids"]):
            env = m.env
            now = env.now
            life = m.case_life
            t3 = np.sort(rep["t3"], axis=1)  # the other channels' times, the finite first
            for row in zip(rep["ids"].tolist(), rep["t"].tolist(), rep["grid"].tolist(),
                           rep["sub"].tolist(), rep["t_occur"].tolist(), rep["u"].tolist(),
                           t3.tolist(), (t3 < INF).sum(axis=1).tolist(), rep["kind"].tolist(),
                           rep["t_other"].tolist(), rep["ch"].tolist(), rep["t_vanish"].tolist(),
                           case_keys(rep["u"]).tolist()):
                DelayedProcess(env, partial(life, row), row[1] - now)
        van = out.vanished
        if len(van["ids"]):
            ids = van["ids"]
            self.t_gone[ids] = van["t"]
            self.vanished += len(ids)
            m.record_unreported(van, "vanished", van["t"])
        wor = out.worsened
        if len(wor["ids"]):
            self.harm[wor["ids"]] = self.harm_yuan[wor["sub"]]
            self.worsened += len(wor["ids"])

    def row(self, inc: "Incident") -> tuple[int, float, float]:
        """(cell, time the problem ended, harm) for the case log."""
        iid = inc.id
        if iid < 0 or iid >= len(self.cell):
            return -1, NAN, 0.0
        if inc.state == "closed":
            end = inc.t_handled if inc.t_handled == inc.t_handled else inc.t_closed
        else:
            end = NAN
        return int(self.cell[iid]), end, float(self.harm[iid])
