"""Design points (full factorial, Latin hypercube, Sobol, Morris) and the seeds of every run.

Sampling designs draw in the unit cube and map each coordinate to a factor level
(:meth:`Factor.from_unit`): uniform over a list of values, uniform (or log-uniform) over a range,
integer fields rounded to integer levels. ``DesignPoint.x`` keeps the unit coordinates: SALib's
Sobol and Morris analyses work on them (indices do not change under a monotone map of one input).

Seeds: one ``SeedSequence(experiment.seed)`` per experiment; the run of design point ``p``,
replication ``r`` gets the child ``spawn_key=(RUNS, r)`` under common random numbers (the same
seed at every point, so policies are compared on the same incidents) or ``(RUNS, r, p)`` without.
Children are addressed by key, so adding replications or points never changes existing seeds.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

if TYPE_CHECKING:
    from sim.experiment.spec import ResolvedExperiment

_RUNS = zlib.crc32(b"runs")
_DESIGN = zlib.crc32(b"design")


@dataclass(frozen=True)
class DesignPoint:
    point_id: int
    values: dict[str, Any]
    x: tuple[float, ...]


def run_seed(root: int, point_id: int, replication: int, crn: bool = True) -> int:
    """The integer seed of one run (see the module docstring)."""
    key = (_RUNS, replication) if crn else (_RUNS, replication, point_id)
    ss = np.random.SeedSequence(root, spawn_key=key)
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def design_seed(root: int) -> int:
    ss = np.random.SeedSequence(root, spawn_key=(_DESIGN,))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def salib_problem(r: ResolvedExperiment) -> dict[str, Any]:
    names = r.factor_names
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def unit_sample(r: ResolvedExperiment) -> np.ndarray:
    """The sampling design in the unit cube, one row per design point."""
    d = r.spec.design
    seed = design_seed(r.spec.seed)
    k = len(r.factor_names)
    if d.type == "latin_hypercube":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=k, seed=np.random.default_rng(seed)).random(d.samples)
    if d.type == "sobol":
        from SALib.sample import sobol

        return sobol.sample(salib_problem(r), d.samples, calc_second_order=d.second_order,
                            seed=seed)
    if d.type == "morris":
        from SALib.sample import morris

        return morris.sample(salib_problem(r), d.samples, num_levels=d.levels, seed=seed)
    raise ValueError(f"not a sampling design: {d.type}")


def design_points(r: ResolvedExperiment) -> list[DesignPoint]:
    """All design points, in a fixed order (point ids are stable for a given experiment)."""
    if r.spec.design.type == "optimize":
        from sim.scenario import ScenarioError

        raise ScenarioError([("design", "an optimisation experiment chooses its own "
                                        "candidates: run it with gridsim optimize")], r.source)
    names = r.factor_names
    factors = [r.spec.factors[n] for n in names]
    if r.spec.design.type == "full_factorial":
        levels = [f.levels(r.integer[n]) for n, f in zip(names, factors)]
        pts = []
        for i, combo in enumerate(itertools.product(*levels)):
            x = tuple(_coord(v, lv) for v, lv in zip(combo, levels))
            pts.append(DesignPoint(i, dict(zip(names, combo)), x))
        return pts
    u = unit_sample(r)
    return [DesignPoint(i, {n: f.from_unit(float(row[j]), r.integer[n])
                            for j, (n, f) in enumerate(zip(names, factors))},
                        tuple(float(v) for v in row))
            for i, row in enumerate(u)]


def _coord(v: Any, levels: list[Any]) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return float(levels.index(v))


def plan(points: list[DesignPoint], replications: dict[int, int] | int
         ) -> Iterator[tuple[int, int]]:
    """(point, replication) pairs replication-major: every point gets replication 0 first.

    Interrupted sweeps thus leave a balanced store, and the first report is already usable.
    """
    reps = {p.point_id: replications for p in points} if isinstance(replications, int) \
        else replications
    top = max(reps.values(), default=0)
    for r in range(top):
        for p in points:
            if r < reps.get(p.point_id, 0):
                yield p.point_id, r
