"""The grid hierarchy: counts, sizes by difficulty, adjacency and travel over the graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sim.scenario import CityConfig, Scenario, load_scenario
from sim.world.city import build_city
from tests.conftest import SCENARIOS


def test_baseline_city_structure():
    city = build_city(Scenario().city, np.random.default_rng(0))
    assert 35 <= city.n_grids <= 50
    assert city.households.sum() == pytest.approx(16000)
    cfg = Scenario().city
    assert city.n_communities == round(cfg.households / cfg.households_per_community)  # fixed
    assert city.n_streets == int(np.ceil(city.n_communities / cfg.communities_per_street))
    g = city.graph
    grids = [n for n, d in g.nodes(data=True) if d["level"] == "basic_grid"]
    assert len(grids) == city.n_grids
    adj = nx.Graph([(a, b) for a, b, d in g.edges(data=True) if d["kind"] == "adjacent"])
    assert nx.is_connected(adj)
    # every grid belongs to exactly one community, every community to one street
    for i in range(city.n_grids):
        parents = [n for n in g.neighbors(("grid", i)) if n[0] == "community"]
        assert parents == [("community", int(city.community[i]))]
    assert g.nodes[("district", 0)]["households"] == pytest.approx(16000, abs=2)


def test_harder_zones_get_smaller_grids():
    city = build_city(Scenario().city, np.random.default_rng(0))
    res = city.households[city.zone == "residential"].mean()
    com = city.households[city.zone == "commercial"].mean()
    assert com < res
    assert res == pytest.approx(400, rel=0.1)
    assert com == pytest.approx(400 / 1.5, rel=0.1)


def test_grid_size_lever_changes_grid_count():
    small = build_city(CityConfig(households_per_grid=200), np.random.default_rng(0))
    large = build_city(CityConfig(households_per_grid=800), np.random.default_rng(0))
    assert small.n_grids == pytest.approx(4 * large.n_grids, rel=0.15)


def test_travel_distance_is_shortest_path_on_the_graph():
    city = build_city(CityConfig(households=60000), np.random.default_rng(3))
    g = city.graph
    adj = g.edge_subgraph([(a, b) for a, b, d in g.edges(data=True) if d["kind"] == "adjacent"])
    src = int(city.street_depots[0])
    nx_len = nx.single_source_dijkstra_path_length(adj, ("grid", src), weight="length_km")
    d = city.distances_from(src)
    for (_, j), length in nx_len.items():
        assert d[j] == pytest.approx(length)


def test_propensity_spread_matches_the_lever():
    city = build_city(CityConfig(households=400000, resident_propensity_spread=3.0),
                      np.random.default_rng(1))
    ratio = city.resident_propensity.max() / city.resident_propensity.min()
    assert 2.5 < ratio <= 3.0


def test_city_large_has_ten_thousand_grids_and_25_million_residents():
    sc = load_scenario(SCENARIOS / "city_large.yaml")
    city = build_city(sc.city, np.random.default_rng(0))
    assert 9500 <= city.n_grids <= 10500
    assert city.population.sum() == pytest.approx(25e6, rel=0.01)


def test_a_hotspot_grid_carries_twice_the_citys_share_of_hotspot_households():
    """Known answers: ten grids of 10 cells, 10 % of the city's cells hot. A grid with one hot
    cell of ten (the city's share) is no hotspot; one with two or more is; a grid of one hot
    cell is. "Holds any hot cell" would have marked the first too."""
    import numpy as np

    from sim.world.hotspots import hotspot_grids

    cell_grid = np.repeat(np.arange(10), 10)
    hot = np.zeros(100, dtype=bool)
    hot[[0, 10, 11, 20, 21, 22, 30, 40, 50, 60]] = True   # grid 0: 1, grid 1: 2, grid 2: 3 …
    hh = np.full(100, 50.0)
    got = hotspot_grids(cell_grid, hot, hh, 10)
    assert got.tolist() == [False, True, True] + [False] * 7
    hh[10] = 0.0                                             # grid 1's hot cell has no one
    assert not hotspot_grids(cell_grid, hot, hh, 10)[1]
    assert hotspot_grids(np.array([0, 1, 1]), np.array([True, False, False]),
                         np.array([10.0, 10.0, 10.0]), 2).tolist() == [True, False]


def test_a_sparse_real_map_is_not_all_hotspots():
    from sim.engine.seeding import Streams
    from sim.scenario import load_scenario
    from sim.world.city import build_city

    sc = load_scenario(SCENARIOS / "nyc_map.yaml")
    city = build_city(sc.city, Streams(sc.run.seed)["city"])
    assert 0 < city.hotspot.mean() < 0.2       # 96 % under "holds any hotspot cell"
