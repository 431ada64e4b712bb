"""App responsiveness: how soon the first page is ready and how long the baseline takes to run
in it, with the goals beside them ("first page ready in a few seconds; the baseline runs
interactively").

    python benchmarks/bench_app.py

Measured headless with ``streamlit.testing`` (the script run itself, no browser rendering):

1. First page: a fresh ``AppTest`` of ``app.py`` run once — imports, the lab page with its
   generated lever widgets. Goal: < 3 s.
2. Baseline run: pressing Run on the baseline (a cache miss: the scenario as loaded is run once,
   as the reference of the KPI changes). Goal: < 3 s.
3. The same press again (a cache hit: same scenario and seed). Goal: < 1 s.
4. A comparison of 2 variants × 5 seeds of the baseline (10 runs, cold cache). Goal: < 15 s.

Machines here are shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(ROOT / "app.py")


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    at = AppTest.from_file(APP, default_timeout=300)
    first = _timed(at.run)
    at.sidebar.radio(key="lang").set_value("en").run()
    run_cold = _timed(lambda: at.button(key="lab_run").click().run())
    run_warm = _timed(lambda: at.button(key="lab_run").click().run())
    at.sidebar.radio(key="page").set_value("compare").run()
    at.number_input(key="cmp_reps").set_value(5).run()
    compare = _timed(lambda: at.button(key="cmp_run").click().run())
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    rows = [("first page ready", first, 3.0), ("baseline run (cold cache)", run_cold, 3.0),
            ("baseline run again (cached)", run_warm, 1.0),
            ("compare 2 variants x 5 seeds (cold)", compare, 15.0)]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'step':40s} {'seconds':>8s} {'goal':>6s}")
    for name, sec, goal in rows:
        print(f"{name:40s} {sec:8.2f} {'<' + format(goal, 'g'):>6s}  "
              f"{'ok' if sec < goal else 'SLOW'}")


if __name__ == "__main__":
    main()
