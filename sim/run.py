"""The single entry point: ``run_scenario(scenario, seed) -> RunResult``.

The CLI, sweeps, the app and the tests all call it, so a sweep is plain data.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pyarrow.parquet as pq

from sim.engine.model import GridModel
from sim.metrics import GRID_KPIS, KPI_CASE_COLUMNS, RunContext, compute_kpis, per_grid_kpis
from sim.scenario import Scenario
from sim.version import __version__

CASES_FILE = "cases.parquet"
FREE_MODEL_ROWS = 200_000  # case-log rows from which a run frees its model before the KPIs


@dataclass
class RunResult:
    """KPIs (one row), time series, the case log (one row per incident) and provenance."""

    kpis: dict[str, float]
    timeseries: pd.DataFrame
    cases: pd.DataFrame | None
    manifest: dict
    context: RunContext
    grids: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    #: per-grid KPIs (sim.metrics.per_grid_kpis), made while the case log is at hand
    grid_kpis: pd.DataFrame | None = field(repr=False, default=None)
    #: the grids' ids and polygons in lon/lat (sim.world.geometry.unit_frame), or the city to
    #: make them from when first needed
    layer: Any = field(repr=False, default=None)
    city: Any = field(repr=False, default=None)

    def grid_layer(self) -> Any:
        """The run's grid table as a GeoDataFrame in lon/lat: the unit ids ``grid``,
        ``community``, ``street``, ``district`` (and names), ``grid_index`` (the ``grid`` of the
        case log), the grid's attributes, its KPIs (:data:`sim.metrics.GRID_KPIS`, under their
        KPI names) and its polygon."""
        from sim.world.geometry import LEVELS, unit_frame

        if self.layer is None:
            self.layer = unit_frame(self.city, "grid", attributes=False)
        kp = self.grid_kpis
        if kp is None and self.cases is not None:
            kp = self.grid_kpis = grid_kpis_of(self.cases, self.context, self.grids)
        attrs = self.grids.drop(columns=[c for c in LEVELS if c != "grid"])
        if kp is not None:
            attrs = attrs.merge(kp, on="grid", how="left", suffixes=("", "_kpi"))
        attrs = attrs.rename(columns={"grid": "grid_index"})
        out = self.layer.merge(attrs, on="grid_index", how="left")
        return out[[c for c in out.columns if c != "geometry"] + ["geometry"]]

    def write(self, out_dir: str | Path) -> None:
        """kpis.json, timeseries.parquet, grids.geojson and grids.parquet (the grid layer),
        and last manifest.json, which lists every file with its sha256 (cases.parquet is
        streamed by the run). Each file appears under its name only once complete."""
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
        if self.layer is not None or self.city is not None:
            write_grid_layer(self.grid_layer(), out)
        self.manifest["files"] = {f.name: file_digest(f) for f in sorted(out.iterdir())
                                  if f.is_file() and f.name in OUTPUT_FILES}
        _atomic_write(out / "manifest.json", json.dumps(self.manifest, indent=2,
                                                        ensure_ascii=False))


#: the files of a run folder the manifest lists (with their sha256)
OUTPUT_FILES = ("kpis.json", "timeseries.parquet", CASES_FILE, "grids.geojson", "grids.parquet")


def grid_kpis_of(cases: pd.DataFrame, ctx: RunContext, grids: pd.DataFrame) -> pd.DataFrame:
    """Every KPI of :data:`sim.metrics.GRID_KPIS` for each grid of the run's grid table."""
    return per_grid_kpis(cases, len(grids), ctx.warmup_h, ctx.end_h, GRID_KPIS, ctx=ctx,
                         grids=grids)


def write_grid_layer(layer: Any, out: Path) -> None:
    """``grids.geojson`` (RFC 7946: lon/lat, right-hand rings) and ``grids.parquet``
    (GeoParquet, CRS recorded) in ``out``, each written aside and renamed when complete."""
    tmp, tmp_pq = out / "grids.geojson.partial", out / "grids.parquet.partial"
    try:
        tmp.unlink(missing_ok=True)  # the GeoJSON driver does not overwrite
        layer.to_file(tmp, driver="GeoJSON", engine="pyogrio", layer_options={"RFC7946": "YES"})
        layer.to_parquet(tmp_pq, index=False)
        os.replace(tmp, out / "grids.geojson")
        os.replace(tmp_pq, out / "grids.parquet")
    finally:
        tmp.unlink(missing_ok=True)
        tmp_pq.unlink(missing_ok=True)


def file_digest(path: Path) -> dict[str, Any]:
    """sha256 and size of a file (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"sha256": h.hexdigest(), "bytes": path.stat().st_size}


def _jsonable(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if v != v else v) for k, v in d.items()}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_scenario(scenario: Scenario, seed: int | None = None, *,
                 out_dir: str | Path | None = None, keep_cases: bool = True,
                 progress: Callable[[float, float, int], None] | None = None,
                 parts: int = 1, executor: Any = None) -> RunResult:
    """Run one scenario at one seed (``scenario.run.seed`` when None).

    With ``out_dir`` the case log streams to ``out_dir/cases.parquet`` while the model runs and
    the other result files are written at the end. ``progress(now_h, horizon_h, events)`` is called
    once per simulated day (``events``: SimPy events scheduled so far).

    ``parts > 1`` runs the city's districts in that many processes (on ``executor`` if given) and
    merges them (``sim.engine.parts``); ``manifest["parts"]`` says whether that was exact.
    """
    if parts > 1:
        return _run_in_parts(scenario, seed, out_dir, keep_cases, progress, parts, executor)
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
    table = model.case_log.table(None if keep_cases else list(KPI_CASE_COLUMNS))
    ts = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    grids = model.policies.grid_frame(model.city.grid_frame())
    city = model.city
    facts = (model.seed, model.city.n_grids, model.counters["incidents"], model.events_scheduled)
    if table.num_rows >= FREE_MODEL_ROWS:
        # a large city: free its agents, cases and processes (cycles, so collect) before the
        # case log becomes a frame, so that the peak is the larger of the two, not their sum
        del model
        gc.collect()
    cases = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    kpis = compute_kpis(cases, ctx)
    per_grid = grid_kpis_of(cases, ctx, grids) if out_dir else None
    manifest = _manifest(scenario, *facts, time.perf_counter() - t0)
    result = RunResult(kpis=kpis, timeseries=ts, cases=cases if keep_cases else None,
                       manifest=manifest, context=ctx, grids=grids, grid_kpis=per_grid,
                       city=city)
    if out_dir:
        result.write(out_dir)
    return result


def _map_notes(scenario: Scenario) -> list[str]:
    """What reading the scenario's map repaired or left out (units without households …)."""
    from sim.world.realmap import map_base

    return list(map_base(scenario.city).notes)


def _manifest(scenario: Scenario, seed: int, n_grids: int, incidents: int, events: int,
              wall: float) -> dict:
    return {
        "gridsim_version": __version__,
        "scenario_name": scenario.name,
        "scenario_hash": scenario.hash(),
        "seed": seed,
        "days": scenario.run.days,
        "warmup_days": scenario.run.warmup_days,
        "n_grids": n_grids,
        "files": scenario.files(),  # every file the scenario names, with its sha256
        **({"map_notes": _map_notes(scenario)} if scenario.city.geometry is not None else {}),
        "incidents": incidents,
        "events": events,
        "wall_time_s": round(wall, 3),
        "python": platform.python_version(),
        "host": platform.node(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _run_in_parts(scenario: Scenario, seed: int | None, out_dir: str | Path | None,
                  keep_cases: bool, progress: Callable[[float, float, int], None] | None,
                  parts: int, executor: Any) -> RunResult:
    from sim.engine.parts import plan_parts, run_in_parts

    t0 = time.perf_counter()
    seed = scenario.run.seed if seed is None else int(seed)
    plan = plan_parts(scenario, parts, seed)
    if len(plan) == 1:  # one district (or beats joining them all): nothing to run apart
        result = run_scenario(scenario, seed, out_dir=out_dir, keep_cases=keep_cases,
                              progress=progress)
        result.manifest["parts"] = {"n": 1, "asked": parts, "unit": "district", "exact": True,
                                    "why": "the city is one district (or its beats join its "
                                           "districts): run as one"}
        if out_dir:
            result.write(out_dir)
        return result
    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="gridsim-parts-"))
    try:
        pr = run_in_parts(scenario, seed, plan, work, progress=progress, executor=executor)
        cases = pq.read_table(pr.cases_file, memory_map=True, columns=None if keep_cases
                              else list(KPI_CASE_COLUMNS)).to_pandas(self_destruct=True,
                                                                      split_blocks=True)
    finally:
        if not out_dir:
            shutil.rmtree(work, ignore_errors=True)
    kpis = compute_kpis(cases, pr.context)
    per_grid = grid_kpis_of(cases, pr.context, pr.grids) if out_dir else None
    manifest = _manifest(scenario, seed, len(pr.grids), pr.counters["incidents"], pr.events,
                         time.perf_counter() - t0)
    manifest["parts"] = {"asked": parts, **pr.info}
    result = RunResult(kpis=kpis, timeseries=pr.timeseries, cases=cases if keep_cases else None,
                       manifest=manifest, context=pr.context, grids=pr.grids,
                       grid_kpis=per_grid, layer=pr.layer)
    if out_dir:
        result.write(out_dir)
    return result
