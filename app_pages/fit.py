"""Charts that keep within their column: a map's plot area scaled down to a size that fits
whatever ``app_pages.maps`` draws (plain Altair/Vega-Lite, no Streamlit)."""

from __future__ import annotations

import altair as alt


def fit_map(chart: alt.TopLevelMixin, longest_px: int) -> dict:
    """The map as a Vega-Lite spec whose plot area is scaled down, keeping its proportions, so
    its longer side is at most ``longest_px``, with its legends stacked under it (not side by
    side): the map and its legends stay within a projector's column whatever the city's cells."""
    w, h = float(chart.width), float(chart.height)
    k = min(1.0, longest_px / max(w, h, 1.0))
    spec = chart.properties(width=max(1, int(w * k)), height=max(1, int(h * k))).to_dict()
    spec.setdefault("config", {}).setdefault("legend", {})["layout"] = {
        "bottom": {"anchor": "start", "direction": "vertical", "margin": 6}}
    # the plot area is width × height and the legends come on top (Streamlit's default "fit"
    # would squeeze the map to make room for them: a flat strip)
    spec["autosize"] = {"type": "pad", "contains": "padding"}
    return spec
