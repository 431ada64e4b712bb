"""Platform intelligence (S5.2): hotspot-driven patrols and AI video recognition.

* Hotspot patrols: the platform learns where cases come from — an exponentially weighted count
  of the cases *reported* in each grid (half-life ``learning_half_life_days``; it never sees
  incidents nobody reported) — and every ``relearn_interval_days`` re-allocates a share
  ``weight`` of each community's (or street's) patrol strength in proportion to those counts;
  the rest follows the fixed rota. Patrol strength s_g becomes
  (1 − weight) · s_g + weight · S_unit · λ̂_g / Σ_unit λ̂, so the unit's total is unchanged.
  Until the first relearning (or while nothing has been reported) the rota stands.
* AI video: in a share ``coverage`` of the grids (nested: a larger coverage adds grids), video-
  detectable incidents are recognised with chance ``accuracy`` after ``delay`` — using the
  incident's own video uniforms, so every incident ordinary video would catch, AI catches too.
  False alarms arrive at ``false_alarms_per_grid_per_day`` per covered grid; each takes an
  operator's screening time and is rejected. Cost: ``cost_per_grid_month_yuan`` per covered grid.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.engine import case as I
from sim.engine.case import Incident
from sim.policies.tally import Tally

if TYPE_CHECKING:
    from sim.engine.model import GridModel


class SmartPlatform:
    def __init__(self, m: "GridModel", tally: Tally):
        self.m = m
        self.tally = tally
        cfg = m.scenario.smart_platform
        self.hot = cfg.hotspot_patrol
        self.ai = cfg.ai_video
        n = m.city.n_grids
        self.learned = np.zeros(n)
        self._last_learn = 0.0
        unit = m.city.community if self.hot.scope == "community" else m.city.street
        self.unit = np.asarray(unit, dtype=int)
        cover = m.streams["ai_video"].random(n)
        self.ai_grid = (cover < self.ai.coverage) if self.ai.enabled else np.zeros(n, dtype=bool)
        self._video_ok = np.array([x.video_detectable for x in m.subtypes], dtype=bool)

    # ----------------------------------------------------------------------------------- hotspot
    def on_report(self, inc: Incident) -> None:
        if self.hot.enabled:
            self._decay()
            self.learned[inc.grid] += 1.0

    def _decay(self) -> None:
        now = self.m.env.now
        dt = now - self._last_learn
        if dt > 0:
            self.learned *= 0.5 ** (dt / (self.hot.learning_half_life_days * 24.0))
            self._last_learn = now

    def reallocate(self) -> None:
        """Re-allocate a share of each unit's patrol strength to where cases were reported."""
        m = self.m
        self._decay()
        base = m.base_patrol_strength()
        alloc = np.ones_like(base)
        for u in np.unique(self.unit):
            idx = np.nonzero(self.unit == u)[0]
            lam = self.learned[idx]
            s = base[idx]
            if lam.sum() <= 0 or s.sum() <= 0:
                continue
            target = (1.0 - self.hot.weight) * s + self.hot.weight * s.sum() * lam / lam.sum()
            with np.errstate(divide="ignore", invalid="ignore"):
                a = np.where(s > 0, target / s, 1.0)
            alloc[idx] = a
        m.patrol_allocation = alloc
        m.refresh_patrol_rates()
        self.tally.add("patrol_reallocations")

    # ---------------------------------------------------------------------------------- AI video
    def adjust_birth_times(self, grids: np.ndarray, subs: np.ndarray, t: np.ndarray,
                           u: np.ndarray, free: np.ndarray, t3: np.ndarray) -> None:
        """AI video on the covered grids spots a new incident after ``ai_video.delay`` (from
        the incident's own video uniforms), if sooner than the plain video (``t3[:, 2]``)."""
        ok = free & self.ai_grid[grids] & self._video_ok[subs] & (u[:, I.U_VIDEO]
                                                                  < self.ai.accuracy)
        if ok.any():
            t_ai = t[ok] + self.ai.delay.ppf_array(u[ok, I.U_VIDEO_DELAY])
            t3[ok, 2] = np.minimum(t3[ok, 2], t_ai)

    def false_alarms(self):
        """Poisson false alarms on the covered grids; each costs screening time."""
        m = self.m
        n_cov = int(self.ai_grid.sum())
        rate_h = self.ai.false_alarms_per_grid_per_day / 24.0 * n_cov
        if rate_h <= 0:
            return
        rng = m.streams["false_alarms"]
        screening = m.scenario.platform.screening_time
        for hour in range(math.ceil(m.horizon_h)):
            n = int(rng.poisson(rate_h))
            for t, us in zip(np.sort(hour + rng.random(n)).tolist(), rng.random(n).tolist()):
                ev = m.env.timeout(t - m.env.now)
                ev.callbacks.append(lambda _e, us=us: m.env.process(self._screen(screening, us)))
            yield m.env.timeout(hour + 1 - m.env.now)

    def _screen(self, screening, u: float):
        m = self.m
        ev = m.operators.acquire()
        if ev is not None:
            yield ev
        yield m.env.timeout(screening.ppf(u))
        m.operators.release()
        self.tally.add("false_alarms")

    def monthly_cost(self) -> float:
        return float(self.ai_grid.sum()) * self.ai.cost_per_grid_month_yuan if self.ai.enabled \
            else 0.0
