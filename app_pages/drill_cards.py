"""The drill's KPI cards: every emergency KPI of ``sim.metrics.KPI_DEFINITIONS`` the drill
reports, as cards whose labels wrap and whose values are never cut (a classroom projector at
1280×720 has narrow columns)."""

from __future__ import annotations

import html
import math
from typing import Any

import streamlit as st

from app_pages import kpi_view
from sim.metrics import KPI_DEFINITIONS


#: outcomes only a flood can move, and outcomes only a kind with people at risk can move
FLOOD_ONLY = ("em_roads_closed_grid_h",)
PEOPLE_ONLY = ("em_people_exposed", "em_people_evacuated", "em_injured", "em_killed",
               "em_exposure_h", "em_time_to_care_min")


def kinds_in_play(scenario: Any) -> list[Any]:
    """The emergency kinds a drill of ``scenario`` can see: its scripted incidents' kinds and
    every kind that also happens at random (``rate_per_day`` > 0)."""
    em = scenario.emergency
    names = {i.kind for i in em.incidents} | {k for k, v in em.kinds.items() if v.rate_per_day > 0}
    return [em.kinds[k] for k in sorted(names) if k in em.kinds]


def drill_kpi_keys(kpis: dict[str, float], scenario: Any = None) -> list[str]:
    """The drill's indicators, in the catalogue's order: every emergency KPI of
    ``sim.metrics.KPI_DEFINITIONS`` (``em_…``) the drill reports (a KPI added to the catalogue
    appears here without a change to the page). Given the drill's ``scenario``, the outcomes
    none of its kinds can move are left out (roads closed by water without a flood; the people
    at risk when no kind has people), so the projector shows what the drill is about."""
    keys = [k for k in KPI_DEFINITIONS if k.startswith("em_") and k in kpis]
    if scenario is not None:
        kinds = kinds_in_play(scenario)
        off = set()
        if not any(k.hazard.model == "flood" for k in kinds):
            off.update(FLOOD_ONLY)
        if not any(k.people is not None for k in kinds):
            off.update(PEOPLE_ONLY)
        keys = [k for k in keys if k not in off]
    return keys


#: cards whose labels wrap and whose values are never cut: a grid of as many columns as fit
CARD_CSS = """<style>
.gs-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.5rem,1fr));gap:.4rem;
margin:.2rem 0 .6rem 0}
.gs-card{border:1px solid rgba(49,51,63,.2);border-radius:.5rem;padding:.35rem .55rem;
min-width:0}
.gs-card-label{font-size:.8rem;line-height:1.15;color:rgba(49,51,63,.75);white-space:normal;
overflow-wrap:anywhere}
.gs-card-value{font-size:1.3rem;font-weight:600;line-height:1.3;white-space:normal;
overflow-wrap:anywhere}
</style>"""


def cards_html(kpis: dict[str, float], lang: str, scenario: Any = None) -> str:
    """The drill's KPI cards as HTML (label, value; the definition as the card's tooltip)."""
    cells = []
    for k in drill_kpi_keys(kpis, scenario):
        v = kpis[k]
        text = "–" if isinstance(v, float) and math.isnan(v) else kpi_view.fmt(k, v, lang)
        cells.append(f'<div class="gs-card" title="{html.escape(kpi_view.definition(k, lang))}">'
                     f'<div class="gs-card-label">{html.escape(kpi_view.label(k, lang))}</div>'
                     f'<div class="gs-card-value">{html.escape(text)}</div></div>')
    return f'<div class="gs-cards">{"".join(cells)}</div>'


def kpi_cards(kpis: dict[str, float], lang: str, scenario: Any = None) -> None:
    st.markdown(CARD_CSS + cards_html(kpis, lang, scenario), unsafe_allow_html=True)
