"""The table of joint-response rules in docs/emergency.md still holds: the command that wrote it
(``benchmarks/emergency_rules.py``) is re-run on the first seeds, and every verdict it stored is
checked against the new paired differences.

- "=" (identical at every one of the 20 seeds) must stay identical on the first seeds;
- ↑ / ↓ must not turn into a significant change the other way, and a clear one (mean at least
  twice its half-width) must keep its sign;
- every drill and rule of the command is in the table (nothing left unmeasured)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT

SEEDS = [1, 2, 3, 4, 5]


def _bench():
    spec = importlib.util.spec_from_file_location("emergency_rules",
                                                  ROOT / "benchmarks" / "emergency_rules.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _bench()


@pytest.fixture(scope="module")
def fresh(bench):
    return bench.run(SEEDS)


def test_table_covers_every_drill_and_rule(bench):
    stored = bench.stored_verdicts()
    assert set(stored) == set(bench.DRILLS)
    for drill, rules in stored.items():
        assert set(rules) == set(bench.RULES), drill
        for rule, kpis in rules.items():
            assert set(kpis) == set(bench.COLUMNS), (drill, rule)
    # the lesson of the drills: rules that delay a responder who matters move outcomes
    moved = {(d, r) for d, rules in stored.items() for r, k in rules.items()
             if any(v[0] in ("↑", "↓") for v in k.values())}
    for drill in bench.DRILLS:
        assert (drill, "sequential dispatch") in moved
        assert (drill, "lead command (relay 3 min, decision 5 min)") in moved


def test_stored_verdicts_hold_at_reduced_size(bench, fresh):
    problems = []
    for drill, rules in bench.stored_verdicts().items():
        for rule, kpis in rules.items():
            for key, (verdict, mean, hw) in kpis.items():
                r = fresh[drill][rule][key]
                where = f"{drill} / {rule} / {key}: stored {verdict} {mean} ± {hw}, now " \
                        f"{r['verdict']} {r['mean']:.4g} ± {r['half_width']:.4g}"
                if verdict == "=":
                    if r["verdict"] != "=":
                        problems.append(where)
                elif verdict in ("↑", "↓"):
                    other = "↓" if verdict == "↑" else "↑"
                    sign = 1 if verdict == "↑" else -1
                    if r["verdict"] == other or (abs(mean) >= 2 * hw and sign * r["mean"] <= 0):
                        problems.append(where)
    assert not problems, "\n".join(problems)
