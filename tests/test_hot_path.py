"""The per-case shortcuts of the engine equal their plain definitions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sim.engine.discovery import PATROL
from sim.engine.model import GridModel
from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent


def test_pick_worker_takes_the_first_worker_whose_cumulative_share_exceeds_u():
    m = GridModel(Scenario(), seed=2)
    rng = np.random.default_rng(0)
    for g in range(m.city.n_grids):
        cum = m._worker_cum[g]
        ws = m.workers_by_grid[g]
        for u in [*rng.random(20).tolist(), *cum, 0.0, 0.999999999]:
            expected = next((ws[k] for k, c in enumerate(cum) if u < c), ws[-1])
            assert m.pick_worker(g, u) is expected


def test_street_and_travel_lists_are_the_citys():
    m = GridModel(Scenario(), seed=2)
    assert m.street_of == [int(s) for s in m.city.street]
    for code, d in m.departments.items():
        for g in range(m.city.n_grids):
            want = float(m.city.travel_km[g]) / d.cfg.travel_speed_kmh if d.cfg.travel else 0.0
            assert m.travel_h(code, g) == want


def test_a_cases_channel_times_are_its_other_channels_finite_times_sorted():
    # a 12345 hotline city: most cases are first reported by residents
    m = GridModel(load_scenario(ROOT / "scenarios" / "shanghai_12345_2016.yaml", {"run.days": 5}))
    life, seen = m.case_life, []

    def spy(row):
        gen = life(row)
        inc = m.open_incidents.get(row[0])
        if inc is not None and row[8] != PATROL:  # reported by another channel at birth
            assert inc.channel_times == tuple(sorted(x for x in row[6] if x != math.inf))
            assert inc.t_report in inc.channel_times
            seen.append(len(inc.channel_times))
        return gen

    m.case_life = spy
    m.run_until(24 * 5)
    assert len(seen) > 100
