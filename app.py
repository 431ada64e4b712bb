"""gridsim app (Streamlit). Placeholder page until the app issue lands: runs the baseline."""

from __future__ import annotations

import streamlit as st

from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario

st.set_page_config(page_title="gridsim", layout="wide")
st.title("gridsim — 城市网格化管理仿真实验室")
if st.button("Run baseline / 运行基准情景"):
    result = run_scenario(Scenario(), keep_cases=False)
    cols = st.columns(4)
    for i, (key, (en, zh, unit, _)) in enumerate(KPI_DEFINITIONS.items()):
        cols[i % 4].metric(f"{en} / {zh}", f"{result.kpis[key]:.3g}")
