"""The drill's KPI cards: every emergency KPI of ``sim.metrics.KPI_DEFINITIONS`` the drill
reports, as cards whose labels wrap and whose values are never cut (a classroom projector at
1280×720 has narrow columns)."""

from __future__ import annotations

import html
import math

import streamlit as st

from app_pages import kpi_view
from sim.metrics import KPI_DEFINITIONS


def drill_kpi_keys(kpis: dict[str, float]) -> list[str]:
    """The drill's indicators, in the catalogue's order: every emergency KPI of
    ``sim.metrics.KPI_DEFINITIONS`` (``em_…``) the drill reports (a KPI added to the catalogue
    appears here without a change to the page)."""
    return [k for k in KPI_DEFINITIONS if k.startswith("em_") and k in kpis]


#: cards whose labels wrap and whose values are never cut: a grid of as many columns as fit
CARD_CSS = """<style>
.gs-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.4rem;
margin:.2rem 0 .6rem 0}
.gs-card{border:1px solid rgba(49,51,63,.2);border-radius:.5rem;padding:.35rem .55rem;
min-width:0}
.gs-card-label{font-size:.8rem;line-height:1.15;color:rgba(49,51,63,.75);white-space:normal;
overflow-wrap:anywhere}
.gs-card-value{font-size:1.3rem;font-weight:600;line-height:1.3;white-space:normal;
overflow-wrap:anywhere}
</style>"""


def cards_html(kpis: dict[str, float], lang: str) -> str:
    """The drill's KPI cards as HTML (label, value; the definition as the card's tooltip)."""
    cells = []
    for k in drill_kpi_keys(kpis):
        v = kpis[k]
        text = "–" if isinstance(v, float) and math.isnan(v) else kpi_view.fmt(k, v, lang)
        cells.append(f'<div class="gs-card" title="{html.escape(kpi_view.definition(k, lang))}">'
                     f'<div class="gs-card-label">{html.escape(kpi_view.label(k, lang))}</div>'
                     f'<div class="gs-card-value">{html.escape(text)}</div></div>')
    return f'<div class="gs-cards">{"".join(cells)}</div>'


def kpi_cards(kpis: dict[str, float], lang: str) -> None:
    st.markdown(CARD_CSS + cards_html(kpis, lang), unsafe_allow_html=True)
