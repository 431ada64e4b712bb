"""The reference for engine speed: a bare SimPy seven-step case pipeline.

No agents, no records, no policies, no escalation: a source process files cases on ``n_grids``
grids at a constant rate; each case is a process that takes the steps of the platform's workflow
with durations drawn beforehand in NumPy batches:

    report → screening (operator) → dispatch (operator) → handling (a crew of the grid's street)
    → feedback → verification (a worker of the grid) → closed

About 15 SimPy events a case (process start, a timeout per step, a request and a release per
resource). It is what SimPy itself costs for the workflow's shape, the floor under which a model
of the same workflow cannot go: ``benchmarks/bench_engine.py`` compares gridsim's cases per
second with it.
"""

from __future__ import annotations

import time

import numpy as np
import simpy


def run_bare_pipeline(n_cases: int, n_grids: int = 10_000, grids_per_street: int = 80,
                      cases_per_h: float = 2_000.0, operators: int = 400, crews_per_street: int = 30,
                      workers_per_grid: int = 3, seed: int = 1) -> dict[str, float]:
    """Run ``n_cases`` through the pipeline; return cases, events and CPU seconds."""
    env = simpy.Environment()
    n_streets = max(1, n_grids // grids_per_street)
    ops = simpy.Resource(env, capacity=operators)
    crews = [simpy.Resource(env, capacity=crews_per_street) for _ in range(n_streets)]
    workers = [simpy.Resource(env, capacity=workers_per_grid) for _ in range(n_grids)]
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / cases_per_h, n_cases).tolist()
    grids = rng.integers(0, n_grids, n_cases).tolist()
    d = rng.lognormal(np.log([0.1, 0.05, 0.05, 1.5, 0.5, 0.3]), 0.6, (n_cases, 6)).tolist()
    timeout = env.timeout

    def case(g: int, dur: list[float]):
        report, screen, dispatch, handle, feedback, verify = dur
        yield timeout(report)
        with ops.request() as req:
            yield req
            yield timeout(screen)
        with ops.request() as req:
            yield req
            yield timeout(dispatch)
        with crews[g // grids_per_street].request() as req:
            yield req
            yield timeout(handle)
        yield timeout(feedback)
        with workers[g].request() as req:
            yield req
            yield timeout(verify)

    def source():
        for gap, g, dur in zip(gaps, grids, d):
            yield timeout(gap)
            env.process(case(g, dur))

    env.process(source())
    t0 = time.process_time()
    env.run()
    cpu = time.process_time() - t0
    events = int(repr(env._eid)[len("count("):-1])
    return {"cases": n_cases, "events": events, "cpu_s": cpu,
            "cases_per_s": n_cases / cpu, "events_per_s": events / cpu}
