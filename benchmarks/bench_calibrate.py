"""Calibration throughput on a large synthetic NYC 311 log.

    .venv/bin/python benchmarks/bench_calibrate.py [--rows 500000]

Writes a log of ``--rows`` requests spread over a year (complaint types from the default
mapping, plus unmapped and malformed rows, and personal-data columns that must not be read),
then times ``sim.data.calibrate.calibrate`` (reading, mapping, period and profiles, Kaplan–Meier
and the checked fits, capacity sizing) against ``pandas.read_csv`` of the same columns, as a
ratio (a shared machine slows both alike). Measured: 200,000 rows in 11 s, about 18,000 rows/s
on 2 busy cores. Reference: NYC 311 receives about 6,700 requests a day
(facts.md), i.e. about 2.4 million rows a year.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.data.calibrate import calibrate

TYPES = ["Street Light Condition", "Dirty Conditions", "Noise - Residential", "Illegal Parking",
         "HEAT/HOT WATER", "Sewer", "Taxi Complaint", "Unicorn Sighting"]


def make_log(rows: int, path: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.random(rows) * 365 * 24, unit="h")
    closed = created + pd.to_timedelta(rng.lognormal(2.5, 1.0, rows), unit="h")
    fmt = "%m/%d/%Y %I:%M:%S %p"
    df = pd.DataFrame({
        "Unique Key": np.arange(rows), "Created Date": created.strftime(fmt),
        "Closed Date": closed.strftime(fmt), "Agency": "X",
        "Complaint Type": rng.choice(TYPES, rows), "Descriptor": "free text",
        "Incident Address": "1 PRIVATE ST", "Status": "Closed",
        "Latitude": rng.random(rows), "Longitude": rng.random(rows)})
    df.loc[rng.random(rows) < 0.001, "Created Date"] = "garbage"
    df.to_csv(path, index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nyc311.csv"
        t0 = time.perf_counter()
        make_log(args.rows, path)
        t1 = time.perf_counter()
        cal, _ = calibrate(path, "nyc311", households=3_300_000)
        t2 = time.perf_counter()
        pd.read_csv(path, usecols=["Unique Key", "Created Date", "Closed Date",
                                   "Complaint Type", "Status"])
        t3 = time.perf_counter()
    mb = args.rows  # rows
    print(f"log: {mb:,} rows ({t1 - t0:.1f} s to write)")
    print(f"calibrate: {t2 - t1:.1f} s = {args.rows / (t2 - t1):,.0f} rows/s; "
          f"malformed {sum(cal.log.malformed.values()):,}, unmapped "
          f"{sum(cal.log.unmapped.values()):,}, dropped {sum(cal.log.dropped.values()):,}")
    print(f"ratio to pandas.read_csv of the same five columns (no parsing of times, no fit): "
          f"{(t2 - t1) / (t3 - t2):.1f}×")
    print(f"reference: one year of NYC 311 ≈ 2.4 M rows → ≈ "
          f"{2.4e6 / (args.rows / (t2 - t1)):.0f} s at this rate")


if __name__ == "__main__":
    main()
