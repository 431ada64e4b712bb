"""Paired comparisons at common random numbers for the behaviour and policy tests.

Each comparison runs two scenarios at the same seeds (so they see the same incidents) and tests
the paired differences with a one-sided paired t-test (scipy ``ttest_rel``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats

from sim.run import RunResult, run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with
from tests.conftest import SCENARIOS

ALPHA = 0.01


def ready(name: str, **overrides) -> Scenario:
    """A ready scenario from scenarios/, with dotted-path overrides."""
    return load_scenario(SCENARIOS / f"{name}.yaml", overrides or None)


def with_(sc: Scenario, **overrides) -> Scenario:
    return scenario_with(sc, {k.replace("__", "."): v for k, v in overrides.items()})


def paired(a: Scenario, b: Scenario, metric: Callable[[RunResult], float],
           seeds: range = range(1, 9)) -> tuple[np.ndarray, np.ndarray]:
    xa, xb = [], []
    for s in seeds:
        xa.append(metric(run_scenario(a, seed=s)))
        xb.append(metric(run_scenario(b, seed=s)))
    return np.array(xa, dtype=float), np.array(xb, dtype=float)


def assert_greater(x: np.ndarray, y: np.ndarray, what: str) -> None:
    """x > y in the mean, by a one-sided paired t-test at ALPHA."""
    d = x - y
    assert d.mean() > 0, f"{what}: mean paired difference {d.mean():.4g} is not positive ({d})"
    if np.all(d == d[0]):
        return  # identical positive differences: no variance to test
    p = stats.ttest_rel(x, y, alternative="greater").pvalue
    assert p < ALPHA, f"{what}: paired t-test p = {p:.3g} (differences {np.round(d, 4)})"


def kpi(key: str) -> Callable[[RunResult], float]:
    return lambda r: r.kpis[key]
