"""Verification: the verifier and the miss are independent draws, so every worker's skill counts.

On one grid with two workers, worker 0 of skill 1 never misses a failed fix and worker 1 of
skill s misses with ``verification_miss_prob · (1 − s)``. Verifiers are chosen in proportion to
patrol strength (skill × effort), so a failed fix passes with probability
``Σ_w share_w · miss · (1 − s_w)`` — the second worker's share only. (With one uniform for both,
only the first worker could ever wave one through, and this probability would be 0.)
"""

from __future__ import annotations

import math

import pytest

from sim.engine import case as I
from sim.engine.model import GridModel
from tests.test_workflow_trace import BASE_U, trace_scenario

N_CASES = 400


def miss_share(second_skill: float, seed: int = 5) -> tuple[float, float, int]:
    sc = trace_scenario(**{"departments.public_works.fix_success_prob": 0.5,
                           "departments.public_works.shift": {"start_h": 0, "end_h": 24},
                           "departments.public_works.crews_per_street": 20,
                           "platform.verification_miss_prob": 1.0, "platform.max_reworks": 20,
                           "staffing.workers_per_grid": 2, "run.days": 40})
    m = GridModel(sc, seed=seed)
    w0, w1 = m.workers_by_grid[0]
    w0.skill, w1.skill = 1.0, second_skill
    m.refresh_patrol_rates()
    u = {k: v for k, v in BASE_U.items() if k != I.U_FIX}
    for k in range(N_CASES):
        m.inject_incident(13.0 + 2.0 * k, 0, "infrastructure.street_light", u)
    m.finish()
    log = m.case_log.frame()
    passed = int(log.false_closure.sum())  # failed fixes waved through
    caught = int(log.reworks.sum())  # failed fixes sent back
    share = second_skill / (1.0 + second_skill)
    return passed / (passed + caught), share * (1.0 - second_skill), passed + caught


@pytest.mark.parametrize("skill", [0.3, 0.8])
def test_false_closures_follow_every_verifiers_skill(skill):
    observed, theory, n = miss_share(skill)
    se = math.sqrt(theory * (1 - theory) / n)
    assert n > 250
    assert abs(observed - theory) < 4 * se, (observed, theory, n)


def test_false_closure_share_falls_with_the_second_workers_skill():
    low, _, _ = miss_share(0.3)
    high, _, _ = miss_share(0.9)
    assert high < low
