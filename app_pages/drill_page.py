"""Page 4 — Emergency drill (built on ``sim.emergency``)."""

from __future__ import annotations

import streamlit as st

from app_pages.i18n import tr


def render(lang: str) -> None:
    st.header(tr("page_drill", lang))
    st.caption(tr("dr_intro", lang))
    try:
        from sim.emergency import Drill  # noqa: F401
    except ImportError:
        st.warning(tr("dr_unavailable", lang))
        return
