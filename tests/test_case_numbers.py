"""Each case's own numbers: the batch computation of case keys equals the per-case one, and
case_uniform depends only on the case's birth uniforms, the purpose and the repetition."""

from __future__ import annotations

import numpy as np

from sim.engine.case import N_UNIFORMS, Incident, case_key, case_keys, case_uniform


def test_batch_case_keys_equal_the_per_case_keys_bit_for_bit():
    u = np.random.default_rng(3).random((2000, N_UNIFORMS))
    u[0] = 0.0
    u[1] = 1.0 - 2.0 ** -53  # the largest uniform below 1
    u[2, ::2] = 0.5
    assert case_keys(u).tolist() == [case_key(row) for row in u.tolist()]


def test_case_uniform_is_a_function_of_the_birth_uniforms_purpose_and_repetition():
    u = np.random.default_rng(4).random(N_UNIFORMS).tolist()
    a, b = Incident(1, 0, 0, 0.0, u), Incident(99, 5, 2, 7.0, list(u))
    b.key = case_keys(np.array([u]))[0].item()  # the engine sets keys from the batch
    for purpose in ("verifier", "handle", "review"):
        for k in range(3):
            assert case_uniform(a, purpose, k) == case_uniform(b, purpose, k)
    draws = [case_uniform(a, p, k) for p in ("verifier", "handle") for k in range(50)]
    assert len(set(draws)) == len(draws) and all(0.0 <= x < 1.0 for x in draws)
