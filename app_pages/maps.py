"""Grid maps: the basic grids as square cells at their coordinates (plain Altair, no Streamlit)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

MAP_PX = 520  # the longer side of a map, in pixels


def cell_layer(frame: pd.DataFrame, px: int = MAP_PX) -> tuple[pd.DataFrame, dict]:
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
    per_km = px / max(x_top, y_top)
    enc = {"x": alt.X("x0:Q", title="x (km)", scale=alt.Scale(domain=[0, x_top], nice=False)),
           "x2": "x1:Q",
           "y": alt.Y("y0:Q", title="y (km)", scale=alt.Scale(domain=[0, y_top], nice=False)),
           "y2": "y1:Q",
           "width": max(160, int(round(x_top * per_km))),
           "height": max(160, int(round(y_top * per_km)))}
    return df, enc
