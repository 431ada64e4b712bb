"""gridsim — the Streamlit app (城市网格化管理仿真实验室). Start it with `make app` or `gridsim app`.

Pages live in ``app_pages/``; every label is in English and 中文 (switch in the sidebar). An
error a page raises is shown as a short message with a reference; the traceback and the error's
text (which may name files of the server) go to the server log under that reference, never to the
browser. Stores are opened only under the results folder (``GRIDSIM_RESULTS_DIR``, see
``app_pages/deploy.py``).
"""

from __future__ import annotations

import importlib
import logging
import threading
import uuid

import streamlit as st

from app_pages.i18n import LANG_NAMES, LANGS, tr

PAGES: dict[str, str] = {
    "lab": "app_pages.lab_page",
    "compare": "app_pages.compare_page",
    "sweeps": "app_pages.sweeps_page",
    "drill": "app_pages.drill_page",
    "model": "app_pages.model_page",
}

st.set_page_config(page_title="gridsim", page_icon="🏙️", layout="wide")
#: KPI cards (st.metric) wrap their label and value instead of cutting them with "…": a
#: classroom projector at 1280×720 leaves a quarter of 900 px to a card
st.markdown("""<style>
[data-testid="stMetricLabel"] *, [data-testid="stMetricValue"] * {white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; overflow-wrap: anywhere;}
[data-testid="stMetricLabel"] {height: auto !important;}
[data-testid="stMetricValue"] {font-size: clamp(1.3rem, 2.1vw, 2.25rem);}
</style>""", unsafe_allow_html=True)
lang = st.sidebar.radio(tr("language", "en") + " / " + tr("language", "zh"), LANGS,
                        format_func=LANG_NAMES.__getitem__, key="lang", horizontal=True)
st.sidebar.title(tr("app_title", lang))
page = st.sidebar.radio(tr("page", lang), list(PAGES), key="page",
                        format_func=lambda p: tr(f"page_{p}", lang))


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread:
    """Import the simulation engine (Mesa and friends, over a second) and the charting library
    in the background once per server, so the first page shows at once and the first Run does
    not wait for them."""
    t = threading.Thread(target=lambda: [importlib.import_module(m) for m in ("sim.run", "altair")],
                         daemon=True)
    t.start()
    return t


try:
    importlib.import_module(PAGES[page]).render(lang)
    _warm_up()
except Exception:  # noqa: BLE001 - the user sees a reference; the log keeps the traceback
    ref = uuid.uuid4().hex[:8]
    logging.getLogger("gridsim.app").exception("page %s failed (reference %s)", page, ref)
    st.error(tr("error_unexpected", lang, ref=ref))
