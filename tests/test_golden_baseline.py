"""One golden-master run: the baseline's KPIs at a fixed seed, against a stored JSON.

A change that moves any KPI fails here with a readable table (old, new, ratio). If the change is
meant — a model improvement — rewrite the file on purpose:

    GRIDSIM_UPDATE_BASELINE=1 .venv/bin/python -m pytest tests/test_golden_baseline.py

and say in the commit message which KPIs moved and why.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with

STORED = Path(__file__).parent / "baselines" / "baseline_seed1_10d.json"
REL_TOL = 1e-6  # libm may differ in the last bits between machines; a model change is far larger


def _current() -> dict[str, float | None]:
    sc = scenario_with(Scenario(), {"run.days": 10, "run.warmup_days": 1})
    k = run_scenario(sc, seed=1, keep_cases=False).kpis
    return {key: (None if v != v else v) for key, v in k.items()}


def test_baseline_kpis_match_the_stored_run():
    new = _current()
    if os.environ.get("GRIDSIM_UPDATE_BASELINE"):
        STORED.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert STORED.exists(), f"{STORED} is missing: create it on purpose (see the docstring)"
    old = json.loads(STORED.read_text(encoding="utf-8"))
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "missing"), new.get(key, "missing")
        same = a == b or (isinstance(a, float) and isinstance(b, float)
                          and math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12))
        if not same:
            ratio = b / a if isinstance(a, float) and isinstance(b, float) and a else "–"
            rows.append(f"  {key:32s} old {a!s:>14} new {b!s:>14} ratio {ratio}")
    assert not rows, "baseline KPIs moved (see the module docstring to accept):\n" + "\n".join(rows)
