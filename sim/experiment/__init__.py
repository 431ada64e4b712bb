"""Experiments at scale: designs, replications, backends, a resumable DuckDB store, reports.

Typical use::

    from sim.experiment import load_experiment, sweep, make_backend, ResultsStore
    exp = load_experiment("experiments/smoke.yaml")
    summary = sweep(exp, make_backend("processes"), "out/sweeps/smoke.duckdb")
    with ResultsStore(summary.store, read_only=True) as store:
        kpis = store.kpis()          # one row per (design point, replication)

Nothing here imports streamlit; worker code is spawn-safe (see ``sim.experiment.worker``).
Names are imported lazily so that ``gridsim run`` does not pay for DuckDB or Dask.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "make_backend": "sim.experiment.backends",
    "design_points": "sim.experiment.design",
    "run_seed": "sim.experiment.design",
    "SweepSummary": "sim.experiment.engine",
    "sweep": "sim.experiment.engine",
    "Experiment": "sim.experiment.spec",
    "ResolvedExperiment": "sim.experiment.spec",
    "load_experiment": "sim.experiment.spec",
    "validate_experiment": "sim.experiment.spec",
    "ResultsStore": "sim.experiment.store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
