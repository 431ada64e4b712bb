"""Grid maps: the basic grids as square cells at their coordinates (plain Altair, no Streamlit).

A map's size follows the number of cells across it: each cell is between :data:`MIN_CELL_PX`
and :data:`MAX_CELL_PX` pixels, and the longer side about :data:`MAP_PX`, so a district of 20
grids and a city of 10,000 are both readable (Vega draws 10,000 rectangles in well under a
second)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

MAP_PX = 640        # the longer side of a map, in pixels, when the cells allow it
MIN_SIDE_PX = 240   # the shorter side at least (a long strip of grids stays visible)
MAX_LONG_PX = 900   # ... as long as the longer side fits the page
MIN_CELL_PX = 4
MAX_CELL_PX = 80


def map_size(cells_x: float, cells_y: float, px: int = MAP_PX,
             max_cell: float = MAX_CELL_PX) -> tuple[int, int, float]:
    """Width, height and pixels per cell for a map ``cells_x`` × ``cells_y`` cells wide."""
    long, short = max(cells_x, cells_y, 1.0), max(min(cells_x, cells_y), 1.0)
    per = min(max_cell, max(MIN_CELL_PX, px / long))
    if short * per < MIN_SIDE_PX:
        per = max(per, min(max_cell, MIN_SIDE_PX / short, MAX_LONG_PX / long))
    return int(round(cells_x * per)), int(round(cells_y * per)), per


def cell_layer(frame: pd.DataFrame, px: int = MAP_PX,
               max_cell: float = MAX_CELL_PX) -> tuple[pd.DataFrame, dict]:
    """``frame`` (one row per grid with x_km, y_km) with cell corners x0, x1, y0, y1, and the
    encodings/size that keep cells square: ``{"x", "x2", "y", "y2", "width", "height"}``."""
    xs = np.unique(np.round(frame["x_km"].to_numpy(float), 9))
    ys = np.unique(np.round(frame["y_km"].to_numpy(float), 9))
    steps = np.concatenate([np.diff(xs), np.diff(ys)])
    cell = float(steps[steps > 1e-9].min()) if (steps > 1e-9).any() else 1.0
    half = cell / 2 * 0.96
    df = frame.assign(x0=frame.x_km - half, x1=frame.x_km + half,
                      y0=frame.y_km - half, y1=frame.y_km + half)
    x_top = float(frame.x_km.max() + cell / 2)
    y_top = float(frame.y_km.max() + cell / 2)
    width, height, _ = map_size(x_top / cell, y_top / cell, px, max_cell)
    axis = alt.Axis(grid=False, tickCount=5)
    enc = {"x": alt.X("x0:Q", title="x (km)", axis=axis,
                      scale=alt.Scale(domain=[0, x_top], nice=False)),
           "x2": "x1:Q",
           "y": alt.Y("y0:Q", title="y (km)", axis=axis,
                      scale=alt.Scale(domain=[0, y_top], nice=False)),
           "y2": "y1:Q", "width": width, "height": height}
    return df, enc
