"""Page 5 — Model and KPIs: what each number means (from sim.metrics) and the model (from docs/).

Documents are shown inside the app: a link from one document to another names the document to
pick instead of opening a new app session, and no path of the server is shown."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import kpi_view, limits
from app_pages.common_ui import select
from app_pages.i18n import tr, unit_label
from sim.metrics import KPI_DEFINITIONS

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: A Markdown link that is not to the web or to an anchor: [text](target)
_LOCAL_LINK = re.compile(r"\[([^\]]+)\]\((?!https?://|mailto:|#)([^)\s]+)\)")


def kpi_frame(lang: str) -> pd.DataFrame:
    rows = [{tr("kpi_code", lang): key, tr("kpi", lang): zh if lang == "zh" else en,
             ("English" if lang == "zh" else "中文"): en if lang == "zh" else zh,
             tr("unit", lang): unit_label(unit, lang),
             tr("md_formula", lang): kpi_view.definition(key, lang)}
            for key, (en, zh, unit, _formula) in KPI_DEFINITIONS.items()]
    return pd.DataFrame(rows)


def doc_files() -> list[Path]:
    """Markdown files under docs/, the model description (ODD protocol, overview) first."""
    files = sorted(p for p in DOCS.rglob("*.md") if p.is_file())
    first = ("odd", "readme", "index", "model", "kpis")
    return sorted(files, key=lambda p: (next((i for i, f in enumerate(first)
                                               if p.stem.lower().startswith(f)), len(first)),
                                        str(p)))


def doc_name(p: Path) -> str:
    return p.relative_to(DOCS).as_posix()


def local_links(text: str) -> str:
    """Links between documents become the name of the document (pick it above); links to
    source files become their name in code type. Web links stay links."""
    def repl(m: re.Match) -> str:
        label, target = m.group(1), m.group(2).split("#")[0]
        name = Path(target).name
        if target.endswith(".md"):
            return f"**{label}** (→ {name})"
        return f"{label} (`{name}`)" if name and name != label.strip("`") else label
    return _LOCAL_LINK.sub(repl, text)


def limit_lines(lang: str) -> list[str]:
    rows = [("md_lim_grids", f"{limits.MAX_GRIDS:,}"), ("md_lim_days", f"{limits.MAX_DAYS:g}"),
            ("md_lim_grid_days", f"{limits.MAX_GRID_DAYS:,.0f}"),
            ("md_lim_runs", f"{limits.MAX_RUNS}"),
            ("md_lim_total", f"{limits.MAX_TOTAL_GRID_DAYS:,.0f}"),
            ("md_lim_sweep", f"{limits.MAX_SWEEP_RUNS:,}"),
            ("md_lim_upload", f"{limits.MAX_UPLOAD_MB} MB")]
    return [f"- {tr(k, lang)} ≤ {v}" for k, v in rows]


def render(lang: str) -> None:
    st.header(tr("page_model", lang))
    t_kpi, t_docs, t_lim = st.tabs([tr("md_kpis", lang), tr("md_docs", lang),
                                    tr("md_limits", lang)])
    with t_kpi:
        st.table(kpi_frame(lang).set_index(tr("kpi_code", lang)))
    with t_docs:
        files = doc_files()
        if not files:
            st.info(tr("md_no_docs", lang))
        else:
            pick = select(tr("md_doc_pick", lang), files, "model_doc", lang, format_func=doc_name)
            if lang == "zh":
                st.caption(tr("md_docs_en", lang))
            st.markdown(local_links(pick.read_text(encoding="utf-8")))
    with t_lim:
        st.markdown("\n".join(limit_lines(lang)))
