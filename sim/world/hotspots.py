"""Which basic grids are hotspots (热点网格): one rule for the synthetic city and real maps."""

from __future__ import annotations

import numpy as np


def hotspot_grids(cell_grid: np.ndarray, cell_hotspot: np.ndarray, cell_households: np.ndarray,
                  n: int) -> np.ndarray:
    """A grid is a hotspot (热点网格: a label for maps and layers; the model's rates are the
    cells') when the share of its households living in hotspot cells is at least twice the
    city's: its extra incidents from hotspots are at least twice an average grid's. "Holds any
    hotspot cell" would call nearly every grid of a sparse real map a hotspot (a grid of 25
    cells, 10 % of them hot, almost surely holds one); on grids of one cell both rules agree.
    Grids without households count their cells instead."""
    w = np.asarray(cell_households, dtype=float)
    if not (w > 0).any():
        w = np.ones_like(w)
    hot = np.bincount(cell_grid, weights=cell_hotspot * w, minlength=n)
    total = np.bincount(cell_grid, weights=w, minlength=n)
    cells_hot = np.bincount(cell_grid, weights=cell_hotspot, minlength=n)
    cells = np.bincount(cell_grid, minlength=n)
    share = np.where(total > 0, hot / np.maximum(total, 1e-300),
                     cells_hot / np.maximum(cells, 1))
    city = float(hot.sum() / total.sum())
    return (share > 0) & (share >= 2.0 * city)
