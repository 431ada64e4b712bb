"""Per-category incident surfaces over a real map's land cells (``city.geometry.surfaces``).

A surfaces file is a Parquet table of ``cell`` (the land cell's index), ``category`` and
``weight`` (each category's weights add up to 1 over the cells): where a category's incidents
arise, in place of the cells' household × zone × hotspot weights. It holds no coordinate, only
cell indices of the map the scenario names. ``sim.data.places`` estimates it from a log.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.scenario.errors import ScenarioRefError

FIELD = "city.geometry.surfaces"
COLUMNS = ("cell", "category", "weight")


def write_surfaces(path: str | Path, weights: dict[str, np.ndarray]) -> None:
    """Write {category: weight per cell} (each normalised to add up to 1), atomically."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    cells, cats, w = [], [], []
    for cat in sorted(weights):
        a = np.asarray(weights[cat], dtype=float)
        a = a / a.sum()
        nz = np.flatnonzero(a > 0)
        cells.append(nz.astype(np.int64))
        cats += [cat] * len(nz)
        w.append(a[nz])
    table = pa.table({"cell": np.concatenate(cells) if cells else np.empty(0, np.int64),
                      "category": pa.array(cats, pa.string()),
                      "weight": np.concatenate(w) if w else np.empty(0)})
    p = Path(path)
    tmp = p.with_name(p.name + ".partial")
    pq.write_table(table, tmp)
    os.replace(tmp, p)


@lru_cache(maxsize=8)
def _read(path: str, size: int, mtime: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - the reader's message is the useful part
        raise ScenarioRefError(FIELD, f"cannot read {path} as Parquet: "
                                      f"{str(e).splitlines()[0] if str(e) else e}") from None
    missing = [c for c in COLUMNS if c not in t.column_names]
    if missing:
        raise ScenarioRefError(FIELD, f"{path} lacks column(s) {', '.join(missing)}; a surfaces "
                                      f"file has {', '.join(COLUMNS)}")
    df = t.select(list(COLUMNS)).to_pandas()
    w = df["weight"].to_numpy(dtype=float)
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise ScenarioRefError(FIELD, f"{path}: weights must be finite and not negative")
    cell = df["cell"].to_numpy()
    if (cell < 0).any():
        raise ScenarioRefError(FIELD, f"{path}: cell indices must not be negative")
    out = {}
    for cat, g in df.groupby("category", sort=True):
        if g["weight"].sum() <= 0:
            raise ScenarioRefError(FIELD, f"{path}: category {cat!r} has no positive weight")
        out[str(cat)] = (g["cell"].to_numpy(np.int64), g["weight"].to_numpy(float))
    return out


def read_surfaces(path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{category: (cells, weights)} of a surfaces file (cached while the file stays)."""
    from sim.scenario.mapfiles import check_file

    p = check_file(path, FIELD)
    st = p.stat()
    return _read(str(p.resolve()), st.st_size, st.st_mtime)


def cell_weights(path: str, n_cells: int) -> dict[str, np.ndarray]:
    """{category: weight per cell, adding up to 1} for a city of ``n_cells`` land cells."""
    out = {}
    for cat, (cells, w) in read_surfaces(path).items():
        if len(cells) and int(cells.max()) >= n_cells:
            raise ScenarioRefError(FIELD, f"{path} names cell {int(cells.max())} but the map "
                                          f"has {n_cells:,} land cells: it was made for another "
                                          "map or city.cell_m2 (calibrate again)")
        a = np.bincount(cells, weights=w, minlength=n_cells)
        out[cat] = a / a.sum()
    return out
