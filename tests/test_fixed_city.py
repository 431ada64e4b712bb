"""A fixed city re-partitioned by the grid-size lever: the same cells, communities, streets,
crews and incidents whatever the grid size and the staffing (issue: grid size and staffing)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.model import GridModel
from sim.run import run_scenario
from sim.scenario import CityConfig, Scenario, scenario_with
from sim.world.city import build_city

SIZES = (150, 250, 400, 700, 1000)
SHORT = scenario_with(Scenario(), {"run.days": 3, "run.warmup_days": 1})


def test_cells_communities_and_streets_do_not_depend_on_grid_size():
    cities = [build_city(CityConfig(households_per_grid=h), np.random.default_rng(4))
              for h in SIZES]
    ref = cities[0]
    for c in cities[1:]:
        np.testing.assert_array_equal(c.cells.community, ref.cells.community)
        np.testing.assert_array_equal(c.cells.incident_weight, ref.cells.incident_weight)
        np.testing.assert_array_equal(c.depot_cells, ref.depot_cells)
        assert (c.n_communities, c.n_streets, c.n_districts) == \
            (ref.n_communities, ref.n_streets, ref.n_districts)
    counts = [c.n_grids for c in cities]
    assert counts == sorted(counts, reverse=True) and counts[0] > 4 * counts[-1]


def test_grids_nest_in_communities_and_keep_every_household():
    city = build_city(CityConfig(households_per_grid=300), np.random.default_rng(0))
    assert city.households.sum() == pytest.approx(CityConfig().households)
    for g in range(city.n_grids):
        cells = np.flatnonzero(city.cell_grid == g)
        assert len(cells) >= 1
        assert len(set(city.cells.community[cells].tolist())) == 1  # one community
        assert len(set(city.cells.zone[cells].tolist())) == 1  # one zone
        assert np.all(np.diff(cells) == 1)  # a run of consecutive (adjacent) cells


def test_harder_zones_still_get_smaller_grids():
    city = build_city(CityConfig(households=200000), np.random.default_rng(0))
    res = city.households[city.zone == "residential"].mean()
    com = city.households[city.zone == "commercial"].mean()
    assert com < res


def test_department_crews_do_not_change_with_grid_size():
    crews = {h: {code: d.n_crews for code, d in GridModel(
        scenario_with(SHORT, {"city.households_per_grid": h})).departments.items()}
        for h in SIZES}
    assert all(c == crews[400] for c in crews.values())


def _stream(r) -> list[tuple]:
    c = r.cases[r.cases.incident_id >= 0].sort_values("incident_id")
    return list(zip(c.t_occur_h.tolist(), c.cell.tolist(), c.category.tolist(),
                    c.subtype.tolist()))


def test_same_incidents_whatever_grid_size_and_staffing():
    """Common random numbers across the two levers that matter most."""
    ref = None
    totals = set()
    for h in (150, 400, 1000):
        for w in (1, 4):
            r = run_scenario(scenario_with(SHORT, {"city.households_per_grid": h,
                                                   "staffing.workers_per_grid": w}), seed=7)
            totals.add(r.kpis["incidents_total"])
            s = _stream(r)
            if ref is None:
                ref = s
            assert s == ref, (h, w)
    assert len(totals) == 1 and len(ref) > 100


def test_adding_workers_keeps_the_others_skills():
    m2 = GridModel(scenario_with(SHORT, {"staffing.workers_per_grid": 2}))
    m3 = GridModel(scenario_with(SHORT, {"staffing.workers_per_grid": 3}))
    for a, b in zip(m2.workers_by_grid, m3.workers_by_grid):
        assert [w.skill for w in a] == [w.skill for w in b[:2]]
