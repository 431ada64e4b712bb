"""Writes the generated calibration fixtures (run from the repository root; deterministic).

    .venv/bin/python tests/data/make_fixtures.py

- ``window_12h.csv``: a NYC 311 export of 12 hours (Wednesday 08:00–20:00) of a city whose
  requests arrive at 960 a day in all, with the baseline's hour-of-day and weekday profiles
  (street lights 40%, dirty conditions 60%), each closed 2–30 h later.
- ``sparse_tail.csv``: an Open311 CSV of four dense days (Monday 4 – Thursday 7 March 2024, 500
  requests a day, same profiles) plus 200 stray requests spread over the eight months before.

The known answers (rates over the true span, profiles, time to close) are asserted in
tests/test_calibrate_time.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HOURLY = np.array((0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 1.0, 1.4, 1.6, 1.6, 1.5,
                   1.3, 1.4, 1.5, 1.5, 1.5, 1.4, 1.3, 1.2, 1.0, 0.8, 0.5, 0.3))
WEEKLY = np.array((1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.0))
HERE = Path(__file__).resolve().parent


def arrivals(rng: np.random.Generator, start: str, hours: int, per_day: float) -> pd.Series:
    t0 = pd.Timestamp(start)
    out: list[pd.Timestamp] = []
    for h in range(hours):
        t = t0 + pd.Timedelta(hours=h)
        lam = per_day / 24 * HOURLY[t.hour] / HOURLY.mean() * WEEKLY[t.day_of_week] / WEEKLY.mean()
        k = int(rng.poisson(lam))
        out += list(t + pd.to_timedelta(np.sort(rng.random(k)) * 3600, unit="s").round("s"))
    return pd.Series(out)


def window_12h(rng: np.random.Generator) -> None:
    created = arrivals(rng, "2024-01-03 08:00", 12, 960.0)
    n = len(created)
    closed = created + pd.to_timedelta(rng.uniform(2, 30, n) * 3600, unit="s").round("s")
    kind = np.where(rng.random(n) < 0.4, "Street Light Condition", "Dirty Condition")
    fmt = "%m/%d/%Y %I:%M:%S %p"
    pd.DataFrame({"Unique Key": np.arange(70000000, 70000000 + n),
                  "Created Date": created.dt.strftime(fmt), "Closed Date": closed.dt.strftime(fmt),
                  "Agency": np.where(kind == "Dirty Condition", "DSNY", "DOT"),
                  "Complaint Type": kind, "Descriptor": "free text",
                  "Incident Address": "1 PRIVATE LANE", "Status": "Closed",
                  "Latitude": 40.75, "Longitude": -73.99}).to_csv(HERE / "window_12h.csv",
                                                                  index=False)


def sparse_tail(rng: np.random.Generator) -> None:
    dense = arrivals(rng, "2024-03-04 00:00", 96, 500.0)
    stray = pd.Series(pd.Timestamp("2023-07-01") + pd.to_timedelta(
        np.sort(rng.random(200)) * 240 * 86400, unit="s").round("s"))
    created = pd.concat([stray, dense], ignore_index=True)
    n = len(created)
    closed = created + pd.to_timedelta(rng.lognormal(3.0, 0.8, n) * 3600, unit="s").round("s")
    iso = "%Y-%m-%dT%H:%M:%S-08:00"
    pd.DataFrame({"service_request_id": np.arange(n) + 1, "status": "closed",
                  "service_name": "Pothole in Street", "service_code": "001",
                  "description": "hole near 12 PRIVATE LANE",
                  "requested_datetime": created.dt.strftime(iso),
                  "updated_datetime": closed.dt.strftime(iso), "address": "12 PRIVATE LANE",
                  "lat": 37.76, "long": -122.46}).to_csv(HERE / "sparse_tail.csv", index=False)


if __name__ == "__main__":
    window_12h(np.random.default_rng(12))
    sparse_tail(np.random.default_rng(4))
