"""Replay throughput: a year-long log read and replayed through a city sized for it.

    .venv/bin/python benchmarks/bench_replay.py [--rows 1000000] [--compare]

Writes an NYC-311-shaped log of ``--rows`` requests over a year (the same generator as
``bench_calibrate.py``: mapped and unmapped types, malformed rows, personal-data columns),
calibrates a scenario on it (households of NYC; operators and crews sized for the volume;
no match, fit or check), reads its cohort (:func:`sim.data.replay.read_requests`) and replays
it once (:func:`sim.data.replay.replay_once`), following the requests past the year's end.

Reported: rows read per second, cases replayed per second (wall and CPU: on a shared machine
the CPU figure is the one that travels), and — with ``--compare`` — the
ratio of the replay's time to a run of the same scenario with drawn arrivals over the same
days (``run_scenario``: the engine's usual work for the same volume), so that a shared,
busy machine slows both alike.

Measured (1,000,000 rows; 749,385 mapped requests over 399 days, the city of 3.3 million
households sized for them; 2 cores shared at a load average of about 17): the whole benchmark —
writing the log, calibrating, reading the cohort and the replay — took 180 s of CPU (21 min 55 s
of wall time on that machine, 16 min of it the replay); 200,000 rows (149,698 requests, 381
days): 79 s of CPU for the whole benchmark.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_calibrate import make_log  # noqa: E402

from sim.data.calibrate import calibrate  # noqa: E402
from sim.data.replay import read_requests, replay_once, replay_scenario  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--compare", action="store_true",
                    help="also run the scenario with drawn arrivals over the same days")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nyc311_year.csv"
        t0 = time.perf_counter()
        make_log(args.rows, path)
        t1 = time.perf_counter()
        _, sc = calibrate(path, "nyc311", households=3_300_000)
        t2 = time.perf_counter()
        req = read_requests(path, "nyc311", sc)
        t3, c3 = time.perf_counter(), time.process_time()
        run = replay_once(sc, req, seed=1)
        t4, c4 = time.perf_counter(), time.process_time()
    n = len(req)
    closed = int((run.sim_h == run.sim_h).sum())
    print(f"log: {args.rows:,} rows over a year ({t1 - t0:.1f} s to write)")
    print(f"calibrate (read, map, fit rates, size): {t2 - t1:.1f} s")
    print(f"read the cohort: {t3 - t2:.1f} s = {args.rows / (t3 - t2):,.0f} rows/s")
    print(f"replay: {n:,} requests over {req.horizon_h / 24:.0f} days in {t4 - t3:.1f} s "
          f"= {n / (t4 - t3):,.0f} cases/s; {closed / n:.1%} closed; {c4 - c3:.1f} s of CPU "
          f"= {n / (c4 - c3):,.0f} cases per CPU second")
    if args.compare:
        from sim.run import run_scenario

        drawn = replay_scenario(sc, req)
        t5 = time.perf_counter()
        r = run_scenario(drawn, seed=1, keep_cases=False)
        t6 = time.perf_counter()
        filed = r.kpis.get("cases_filed", float("nan"))
        print(f"drawn arrivals, same scenario and days: {t6 - t5:.1f} s "
              f"({filed:,.0f} cases filed in the window)")
        print(f"ratio replay / drawn run: {(t4 - t3) / (t6 - t5):.2f}")


if __name__ == "__main__":
    main()
