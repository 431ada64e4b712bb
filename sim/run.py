"""The single entry point: ``run_scenario(scenario, seed) -> RunResult``.

The CLI, sweeps, the app and the tests all call it, so a sweep is plain data.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from sim.engine.model import GridModel
from sim.metrics import KPI_CASE_COLUMNS, RunContext, compute_kpis
from sim.scenario import Scenario
from sim.version import __version__

CASES_FILE = "cases.parquet"


@dataclass
class RunResult:
    """KPIs (one row), time series, the case log (one row per incident) and provenance."""

    kpis: dict[str, float]
    timeseries: pd.DataFrame
    cases: pd.DataFrame | None
    manifest: dict
    context: RunContext
    grids: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def write(self, out_dir: str | Path) -> None:
        """kpis.json, timeseries.parquet, manifest.json (cases.parquet is streamed by the run)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write(out / "kpis.json", json.dumps(_jsonable(self.kpis), indent=2,
                                                    ensure_ascii=False))
        tmp = out / "timeseries.parquet.partial"
        self.timeseries.to_parquet(tmp, index=False)
        os.replace(tmp, out / "timeseries.parquet")
        if self.cases is not None and not (out / CASES_FILE).exists():
            tmp = out / (CASES_FILE + ".partial")
            self.cases.to_parquet(tmp, index=False)
            os.replace(tmp, out / CASES_FILE)
        _atomic_write(out / "manifest.json", json.dumps(self.manifest, indent=2,
                                                        ensure_ascii=False))


def _jsonable(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v != v else v) for k, v in d.items()}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_scenario(scenario: Scenario, seed: int | None = None, *,
                 out_dir: str | Path | None = None, keep_cases: bool = True,
                 progress: Callable[[float, float, int], None] | None = None) -> RunResult:
    """Run one scenario at one seed (``scenario.run.seed`` when None).

    With ``out_dir`` the case log streams to ``out_dir/cases.parquet`` while the model runs and
    the other result files are written at the end. ``progress(now_h, horizon_h, events)`` is called
    once per simulated day (``events``: SimPy events scheduled so far).
    """
    t0 = time.perf_counter()
    sink = Path(out_dir) / CASES_FILE if out_dir else None
    model = GridModel(scenario, seed=seed, case_sink=str(sink) if sink else None)
    try:
        day = 24.0
        while model.now < model.horizon_h:
            model.run_until(model.now + day)
            if progress:
                progress(model.now, model.horizon_h, model.events_scheduled)
        ctx = model.finish()
    except BaseException:
        model.case_log.discard()
        raise
    cases = model.case_log.frame(None if keep_cases else list(KPI_CASE_COLUMNS))
    kpis = compute_kpis(cases, ctx)
    ts = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    wall = time.perf_counter() - t0
    manifest = {
        "gridsim_version": __version__,
        "scenario_name": scenario.name,
        "scenario_hash": scenario.hash(),
        "seed": model.seed,
        "days": scenario.run.days,
        "warmup_days": scenario.run.warmup_days,
        "n_grids": model.city.n_grids,
        "incidents": model.counters["incidents"],
        "events": model.events_scheduled,
        "wall_time_s": round(wall, 3),
        "python": platform.python_version(),
        "host": platform.node(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    result = RunResult(kpis=kpis, timeseries=ts, cases=cases if keep_cases else None,
                       manifest=manifest, context=ctx,
                       grids=model.policies.grid_frame(model.city.grid_frame()))
    if out_dir:
        result.write(out_dir)
    return result
