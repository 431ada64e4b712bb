"""Page 5 — Model and KPIs: what each number means (from sim.metrics) and the model (from docs/)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import limits
from app_pages.common_ui import select
from app_pages.i18n import tr
from sim.metrics import KPI_DEFINITIONS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def kpi_frame(lang: str) -> pd.DataFrame:
    rows = [{"key": key, tr("kpi", lang): zh if lang == "zh" else en,
             ("English" if lang == "zh" else "中文"): en if lang == "zh" else zh,
             tr("unit", lang): unit, tr("md_formula", lang): formula}
            for key, (en, zh, unit, formula) in KPI_DEFINITIONS.items()]
    return pd.DataFrame(rows)


def doc_files() -> list[Path]:
    """Markdown files under docs/, the model description (ODD protocol, overview) first."""
    files = sorted(p for p in DOCS.rglob("*.md") if p.is_file())
    first = ("odd", "readme", "index", "model", "kpis")
    return sorted(files, key=lambda p: (next((i for i, f in enumerate(first)
                                               if p.stem.lower().startswith(f)), len(first)),
                                        str(p)))


def render(lang: str) -> None:
    st.header(tr("page_model", lang))
    t_kpi, t_docs, t_lim = st.tabs([tr("md_kpis", lang), tr("md_docs", lang),
                                    tr("md_limits", lang)])
    with t_kpi:
        st.table(kpi_frame(lang).set_index("key"))
    with t_docs:
        files = doc_files()
        if not files:
            st.info(tr("md_no_docs", lang))
        else:
            pick = select(tr("md_doc_pick", lang), files, "model_doc", lang,
                          format_func=lambda p: str(p.relative_to(DOCS)))
            st.markdown(pick.read_text(encoding="utf-8"))
    with t_lim:
        st.markdown("\n".join([
            f"- basic grids / 基础网格 ≤ {limits.MAX_GRIDS:,}",
            f"- simulated days / 模拟天数 ≤ {limits.MAX_DAYS:g}",
            f"- grid-days per run / 每次运行的网格·天 ≤ {limits.MAX_GRID_DAYS:,.0f}",
            f"- runs per comparison / 每次比较的运行次数 ≤ {limits.MAX_RUNS}",
            f"- grid-days per comparison / 每次比较的网格·天 ≤ {limits.MAX_TOTAL_GRID_DAYS:,.0f}",
            f"- upload size / 上传文件大小 ≤ {limits.MAX_UPLOAD_KB} KB",
        ]))
