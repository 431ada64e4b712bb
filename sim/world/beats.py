"""Patrol beats (巡查责任区): which grid workers patrol which basic grids.

By default every basic grid is its own beat with ``staffing.workers_per_grid`` workers. Some
cities staff fewer collectors than grids — Beijing Dongcheng in 2004 had 350 supervisors for
1,593 unit grids (facts.md) — so ``staffing.workers_total`` sets the city's head count instead:

* fewer workers than grids: the grids (numbered along the city's Hilbert curve, so consecutive
  grids are adjacent) are cut into ``workers_total`` beats of consecutive grids, as equal in
  count as possible, with one worker each; the worker sweeps the whole beat, so the patrol
  hazard in each of its grids is ``coverage · strength / effective beat area``;
* at least as many workers as grids: every grid is its own beat and the workers are dealt out as
  evenly as possible (``workers_total // n`` each, one more on the first ``workers_total % n``).

A beat's workers also share its verification work (one SimPy resource per beat).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Staffing


@dataclass(frozen=True)
class Beats:
    """``beat_of_grid[g]`` is grid g's beat; ``workers[b]`` the head count of beat b."""

    beat_of_grid: np.ndarray
    workers: np.ndarray

    @property
    def n_beats(self) -> int:
        return len(self.workers)

    @property
    def n_workers(self) -> int:
        return int(self.workers.sum())

    @property
    def identity(self) -> bool:
        """True when every grid is its own beat."""
        return self.n_beats == len(self.beat_of_grid)


def patrol_beats(staffing: Staffing, n_grids: int) -> Beats:
    """The beats of a city of ``n_grids`` basic grids under ``staffing``."""
    total = getattr(staffing, "workers_total", None)
    if total is None:
        return Beats(np.arange(n_grids, dtype=np.int64),
                     np.full(n_grids, staffing.workers_per_grid, dtype=np.int64))
    n_beats = min(int(total), n_grids)
    beat_of_grid = (np.arange(n_grids, dtype=np.int64) * n_beats) // n_grids
    workers = np.full(n_beats, total // n_beats, dtype=np.int64)
    workers[: total % n_beats] += 1
    return Beats(beat_of_grid, workers)
