"""Privacy with places: coordinates are used only to count requests per land cell. A whole
``gridsim calibrate`` + ``gridsim replay`` run on a map, from a log with coordinates and
addresses, writes neither a coordinate nor an address into any file (scenario, surfaces,
reports, case logs, manifests)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import gridsim_inproc
from tests.test_places import ADDRESS, make_log, make_map

pytest.importorskip("geopandas")


def _texts(folder: Path) -> dict[str, str]:
    """Every written file as text (Parquet files as their table in CSV, full precision)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":
            out[str(p)] = pd.read_parquet(p).to_csv(index=False, float_format="%.10g")
        else:
            out[str(p)] = p.read_bytes().decode("utf-8", errors="replace")
    return out


def test_calibrate_and_replay_write_no_coordinate_or_address(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    map_path = make_map(src)
    log, df, kind = make_log(src, n_hot=600, n_flat=300)
    (src / "city.yaml").write_text(
        "name: places\ncity:\n  households_per_community: 2000\n  households_per_grid: 500\n"
        f"  geometry:\n    file: {map_path}\n    level: street\n"
        "    fields: {id: code, households: hh}\nrun: {days: 7, warmup_days: 0}\n",
        encoding="utf-8")
    out = tmp_path / "out"
    r = gridsim_inproc("calibrate", str(log), "--format", "csv", "--scenario",
                       str(src / "city.yaml"), "--crs", "gcj02", "--out", str(out / "cal.yaml"),
                       "--no-match-cases", "--no-fit", "--no-check", "--no-size")
    assert r.returncode == 0, r.stderr
    assert (out / "cal.surfaces.parquet").is_file()
    assert "surfaces.parquet" in (out / "cal.yaml").read_text(encoding="utf-8")
    r = gridsim_inproc("replay", str(log), "--format", "csv", "--scenario", str(out / "cal.yaml"),
                       "--crs", "gcj02", "--out", str(out / "replay"), "--reps", "2",
                       "--to", "2024-03-08")
    assert r.returncode == 0, r.stderr
    texts = _texts(out)
    assert {"cal.yaml", "cal.fit.md", "cal.surfaces.parquet", "cases.parquet",
            "manifest.json"} <= {Path(k).name for k in texts}
    coords = {v for v in pd.concat([df.lat, df.lon]).tolist() if v}
    for name, text in texts.items():
        assert ADDRESS not in text, name
        found = set(re.findall(r"-?\d+\.\d{6}", text))
        assert not found & coords, (name, sorted(found & coords)[:3])
    # nor does any number of a written table lie on one of the log's coordinates
    lat = df.lat[df.lat != ""].astype(float).to_numpy()
    for p in out.rglob("*.parquet"):
        t = pd.read_parquet(p)
        for col in t.select_dtypes("number").columns:
            v = t[col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            assert not np.isin(np.round(v, 6), np.round(lat, 6)).any(), (p.name, col)
    report = (out / "cal.fit.md").read_text(encoding="utf-8")
    assert "## Requests with places" in report and "outside the map" in report
