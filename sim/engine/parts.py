"""A city run in parts: its districts shared out among processes, the results merged.

A district's cases meet only their own district's resources — grid workers and managers,
community, street and district teams, the department crews of its streets — except the
information platform, whose operators serve the whole city. So a city can be run as ``K``
processes, each simulating the incidents of its own districts:

* **Same incidents, same numbers.** Every part builds the whole city and its staff from the run's
  seed and draws the whole city's incidents hour by hour, then keeps those on its own grids under
  the ids they have in the city. Every later draw of a case comes from the case itself
  (``sim.engine.case``), so a case sees the same numbers in its part as in the whole city.
* **The platform is shared out.** Part ``k`` gets operators in proportion to its share of the
  city's expected incidents (largest remainder, at least one each) and screens the same share
  of the invalid reports, each report assigned by a number derived from its own draw.
* **When it is exact.** If no case of any part ever waited for an operator, no part ever used
  more than its share, so the whole city never used more than all of them: every case took the
  same steps at the same times as in the whole-city run. The merged case log, KPIs and counts
  are then those of the whole-city run (the time series and the means over grids equal up to
  the order of floating-point sums). ``exact`` in the result says whether this held.
* **When it is not.** Where operators bind, splitting them loses pooling (two queues of 200 wait
  longer than one of 400), so the parts' platform waits are an upper bound on the city's; how
  much that moves the KPIs is measured in ``benchmarks/bench_engine.py``.
* **What cannot be split.** Sections that act across districts — emergencies, the joint
  meeting, hotspot patrols, AI video, disclosure, resident campaigns, appraisal schemes, the
  workforce — are refused (:func:`coupling`), so are beats that cross the cut (the cut follows
  beats), and cities with fewer districts than parts run in as many parts as districts.

``run_in_parts`` runs the parts in local processes (or on any executor with ``submit``, such as
a Dask client whose workers share the output directory) and merges: case logs are concatenated
part by part (rows in each part in the order recorded), time series summed or weighted, the KPI
context added up; the KPIs are computed once from the merged log (``sim.metrics``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import resource
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sim.engine.case import _TWO53, _mix_array
from sim.scenario import Scenario
from sim.scenario.errors import ScenarioError


@dataclass(frozen=True)
class Part:
    """Part ``index`` of a plan: the grids it owns, its operators and its invalid reports."""

    index: int
    own: np.ndarray  # bool per grid
    operators: int
    invalid_share: tuple[float, float]  # [lo, hi): the invalid reports it screens

    def takes_invalid(self, u: np.ndarray) -> np.ndarray:
        """Which of the invalid reports whose screening uniforms are ``u`` this part screens (by
        a number mixed from each ``u``, so the choice is independent of the screening time)."""
        lo, hi = self.invalid_share
        with np.errstate(over="ignore"):
            v = (_mix_array((u * _TWO53).astype(np.uint64)) >> np.uint64(11)) / _TWO53
        return (lo <= v) & (v < hi)


# ------------------------------------------------------------------------------ what can be cut
def coupling(sc: Scenario) -> list[str]:
    """The scenario's settings that act across districts (empty: it can run in parts)."""
    from sim.scenario.policies import (
        AppraisalConfig,
        Campaigns,
        WorkforceConfig,
    )

    d = AppraisalConfig()
    checks = (
        ("emergency.enabled", sc.emergency.enabled),
        ("joint_meeting.enabled", sc.joint_meeting.enabled),
        ("smart_platform.hotspot_patrol.enabled", sc.smart_platform.hotspot_patrol.enabled),
        ("smart_platform.ai_video.enabled", sc.smart_platform.ai_video.enabled),
        ("residents.disclosure.enabled", sc.residents.disclosure.enabled),
        ("residents.campaigns", sc.residents.campaigns != Campaigns()),
        ("appraisal.worker_scheme", sc.appraisal.worker_scheme != d.worker_scheme),
        ("appraisal.department_scheme", sc.appraisal.department_scheme != d.department_scheme),
        ("appraisal.behaviour", sc.appraisal.behaviour != d.behaviour),
        ("workforce", sc.workforce != WorkforceConfig()),
    )
    return [name for name, on in checks if on]


MAX_PARTS = 64


def check_parts(sc: Scenario, parts: int) -> None:
    """Raise a ScenarioError naming what stops ``sc`` from running in ``parts`` parts."""
    if not 1 <= parts <= MAX_PARTS:
        raise ScenarioError([("parts", f"must be between 1 and {MAX_PARTS} (got {parts})")],
                            "--parts")
    if parts == 1:
        return
    reasons = coupling(sc)
    if reasons:
        raise ScenarioError([("parts", "settings that act across districts need the city run "
                              "as one (parts 1); they are on here: " + ", ".join(reasons))],
                            "--parts")


def district_units(city: Any, beat_of_grid: np.ndarray) -> np.ndarray:
    """Unit of each district: districts joined by a patrol beat that crosses them share one."""
    n = city.n_districts
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    d = city.district
    same_beat = beat_of_grid[1:] == beat_of_grid[:-1]
    cross = same_beat & (d[1:] != d[:-1])
    for a, b in set(zip(d[:-1][cross].tolist(), d[1:][cross].tolist())):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(a) for a in range(n)])
    return np.unique(roots, return_inverse=True)[1]


def plan_parts(sc: Scenario, parts: int, seed: int | None = None) -> list[Part]:
    """Cut the city into at most ``parts`` parts of whole districts, balanced by expected
    incidents (heaviest unit first onto the lightest part), with the platform shared out."""
    from sim.engine.seeding import Streams
    from sim.world.beats import patrol_beats
    from sim.world.city import build_city

    check_parts(sc, parts)
    seed = sc.run.seed if seed is None else int(seed)
    city = build_city(sc.city, Streams(seed)["city"])  # the run's city, as each part builds it
    beats = patrol_beats(sc.staffing, city.n_grids)
    unit_of_district = district_units(city, beats.beat_of_grid)
    n_units = int(unit_of_district.max()) + 1
    k = min(parts, n_units)
    if sc.platform.operators < k:
        msg = (f"{k} parts need at least one operator each "
               f"(platform.operators is {sc.platform.operators})")
        raise ScenarioError([("parts", msg)], "--parts")
    grid_w = np.bincount(city.cell_grid, weights=city.cells.incident_weight,
                         minlength=city.n_grids)
    unit_of_grid = unit_of_district[city.district]
    unit_w = np.bincount(unit_of_grid, weights=grid_w, minlength=n_units)
    load = np.zeros(k)
    part_of_unit = np.empty(n_units, dtype=np.int64)
    for u in sorted(range(n_units), key=lambda u: (-unit_w[u], u)):
        p = int(np.argmin(load))
        part_of_unit[u] = p
        load[p] += unit_w[u]
    share = load / load.sum() if load.sum() > 0 else np.full(k, 1.0 / k)
    ops = _largest_remainder(share, sc.platform.operators)
    hh = np.bincount(part_of_unit[unit_of_grid], weights=city.households, minlength=k)
    edges = np.r_[0.0, np.cumsum(hh / hh.sum())] if hh.sum() > 0 else np.linspace(0, 1, k + 1)
    edges[-1] = 1.0
    part_of_grid = part_of_unit[unit_of_grid]
    return [Part(p, part_of_grid == p, int(ops[p]), (float(edges[p]), float(edges[p + 1])))
            for p in range(k)]


def _largest_remainder(share: np.ndarray, total: int) -> np.ndarray:
    """Integers ≥ 1 summing to ``total``, as near ``share · total`` as that allows."""
    k = len(share)
    raw = share * (total - k)
    out = np.floor(raw).astype(np.int64) + 1
    rest = total - int(out.sum())
    for p in np.argsort(-(raw - np.floor(raw)), kind="stable")[:rest]:
        out[p] += 1
    return out


# ---------------------------------------------------------------------------------- one part
@dataclass
class PartResult:
    index: int
    context: Any  # RunContext of the part's own cases
    timeseries: pd.DataFrame
    grids: pd.DataFrame  # the part's own grids' rows of the grid table
    layer: Any  # their ids and polygons (sim.world.geometry.unit_frame, lon/lat)
    weights: dict[str, float]  # households, grids and workers it owns (for the merged means)
    counters: dict[str, int]
    events: int
    operator_waits: int
    operators: int
    cpu_s: float
    max_rss_mb: float
    cases_file: str


def run_part(sc: Scenario, seed: int, part: Part, cases_file: str,
             progress: Any = None) -> PartResult:
    """Run one part to the horizon; its case log goes to ``cases_file`` (Parquet)."""
    from sim.engine.model import GridModel
    from sim.world.geometry import unit_frame

    t0 = time.process_time()
    m = GridModel(sc, seed=seed, case_sink=cases_file, part=part)
    try:
        while m.now < m.horizon_h:
            m.run_until(m.now + 24.0)
            if progress is not None:
                progress.put((part.index, m.now, m.events_scheduled))
        ctx = m.finish()
    except BaseException:
        m.case_log.discard()
        raise
    own = part.own
    grids = m.policies.grid_frame(m.city.grid_frame())[own].reset_index(drop=True)
    return PartResult(
        index=part.index, context=ctx,
        timeseries=m.datacollector.get_model_vars_dataframe().reset_index(drop=True),
        grids=grids, layer=unit_frame(m.city, "grid", attributes=False)[own].reset_index(
            drop=True), weights=own_weights(m), counters=dict(m.counters),
        events=m.events_scheduled, operator_waits=m.operators.waits, operators=part.operators,
        cpu_s=time.process_time() - t0,
        max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        cases_file=cases_file)


def own_weights(m: Any) -> dict[str, float]:
    """What the model's means over grids and workers are taken over (all of them in a whole
    city): households and resident groups for the residents' means, workers for theirs."""
    groups = m.own_residents
    return {"households": float(sum(g.households for g in groups)), "grids": float(len(groups)),
            "workers": float(sum(1 for w in m.own_workers if w.present))}


# --------------------------------------------------------------------------------- the merge
#: time-series columns: summed over parts, or means weighted by what each part owns
SERIES_SUM = ("cum_incidents", "cum_reported", "cum_closed", "cum_parked", "n_undiscovered",
              "n_backlog", "n_crews_busy", "n_crew_queue", "n_operator_queue",
              "cum_padded_reports", "n_parked_waiting")
SERIES_MEAN = {"resident_satisfaction": "households", "resident_awareness": "grids",
               "resident_trust": "grids", "mean_worker_effort": "workers",
               "mean_worker_skill": "workers"}
#: KPI-context policy entries (``Policies.context``): every part sees some whole (the city's
#: staff), some are means over what each part owns, the others are counts and costs, summed
POLICY_CITY = ("worker_base_pay_monthly",)
POLICY_MEAN = {"resident_satisfaction": "households", "resident_satisfaction_end": "households",
               "resident_trust_end": "grids", "mean_worker_effort_end": "workers",
               "mean_worker_skill_end": "workers"}
POLICY_SUM = ("complaints", "investigations", "gaming_caught", "caught_padded",
              "caught_suppressed", "caught_staged", "caught_by_complaint", "suppressed",
              "staged_verifications", "false_alarms", "campaign_events", "workers_quit",
              "workers_hired", "parked_resolved", "joint_meetings", "side_payments_yuan",
              "incentive_pay_monthly", "training_cost_monthly", "campaign_cost_monthly",
              "recruitment_cost_monthly", "department_penalties_monthly",
              "ai_video_cost_monthly", "cases_reviewed", "level_team_wait_h")


def _weighted(values: list[float], weights: list[float]) -> float:
    w = np.asarray(weights, float)
    v = np.asarray(values, float)
    ok = w > 0
    return float((v[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else float("nan")


def merge_timeseries(results: list[PartResult]) -> pd.DataFrame:
    frames = [r.timeseries for r in results]
    out = pd.DataFrame({"t_h": frames[0]["t_h"].to_numpy()})
    for col in frames[0].columns:
        if col == "t_h":
            continue
        if col in SERIES_SUM:
            out[col] = sum(f[col].to_numpy() for f in frames)
        elif col in SERIES_MEAN:
            key = SERIES_MEAN[col]
            w = np.array([r.weights[key] for r in results], float)
            v = np.vstack([f[col].to_numpy(float) for f in frames])
            ok = w > 0
            out[col] = (v[ok] * w[ok, None]).sum(axis=0) / w[ok].sum()
        else:
            raise ValueError(f"time-series column {col!r} has no merge rule (sim.engine.parts)")
    return out


def merge_context(results: list[PartResult]) -> Any:
    ctxs = [r.context for r in results]
    c0 = ctxs[0]

    def add(name: str) -> dict[str, float]:
        return {code: float(sum(getattr(c, name)[code] for c in ctxs))
                for code in getattr(c0, name)}

    policy: dict[str, float] = {}
    for key in c0.policy:
        vals = [c.policy[key] for c in ctxs]
        if key in POLICY_CITY:
            policy[key] = vals[0]
        elif key in POLICY_MEAN:
            policy[key] = _weighted(vals, [r.weights[POLICY_MEAN[key]] for r in results])
        elif key in POLICY_SUM:
            policy[key] = float(sum(vals))
        else:
            raise ValueError(f"KPI context entry {key!r} has no merge rule (sim.engine.parts)")
    return replace(c0, invalid_reports=sum(c.invalid_reports for c in ctxs),
                   worker_busy_h=float(sum(c.worker_busy_h for c in ctxs)),
                   crew_busy_h=add("crew_busy_h"), crew_overtime_h=add("crew_overtime_h"),
                   overtime_cost=float(sum(c.overtime_cost for c in ctxs)), policy=policy,
                   # each part books hours only on its own grids and streets: the sum is the city
                   worker_busy_grid_h=np.sum([c.worker_busy_grid_h for c in ctxs], axis=0),
                   crew_busy_street_h=np.sum([c.crew_busy_street_h for c in ctxs], axis=0))


def merge_cases(results: list[PartResult], dest: str | Path) -> None:
    """Concatenate the parts' case logs, part by part, into one Parquet file (streamed)."""
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".partial")
    writer = None
    try:
        for r in results:
            f = pq.ParquetFile(r.cases_file)
            if writer is None:
                writer = pq.ParquetWriter(tmp, f.schema_arrow, compression="zstd")
            for i in range(f.num_row_groups):
                writer.write_table(f.read_row_group(i))
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, dest)


@dataclass
class PartsRun:
    """What ``run_in_parts`` hands back to ``sim.run``."""

    cases_file: Path
    context: Any
    timeseries: pd.DataFrame
    grids: pd.DataFrame
    counters: dict[str, int]
    events: int
    info: dict = field(default_factory=dict)  # for the manifest
    layer: Any = None  # the grids' ids and polygons (lon/lat), in grid order


def run_in_parts(sc: Scenario, seed: int, plan: list[Part], work_dir: str | Path,
                 progress: Callable[[float, float, int], None] | None = None,
                 executor: Any = None) -> PartsRun:
    """Run ``sc`` at ``seed`` in the parts of ``plan`` (``plan_parts``) and merge; the merged
    case log is ``work_dir/cases.parquet``. ``executor``: anything with ``submit(fn, *args)``
    returning a future (a Dask client, say); by default a local pool of one process a part."""
    work = Path(work_dir)
    (work / "parts").mkdir(parents=True, exist_ok=True)
    files = [str(work / "parts" / f"cases-{p.index}.parquet") for p in plan]
    own_pool = executor is None
    manager = q = None
    if own_pool:
        ctx = mp.get_context("spawn")
        executor = ProcessPoolExecutor(max_workers=len(plan), mp_context=ctx)
        if progress is not None:
            manager = ctx.Manager()
            q = manager.Queue()
    try:  # a failed part leaves no part files behind
        futures = [executor.submit(run_part, sc, seed, p, f, q) for p, f in zip(plan, files)]
        if q is not None:
            _follow(futures, q, len(plan), sc.run.days * 24.0, progress)
        results = sorted((f.result() for f in futures), key=lambda r: r.index)
    except BaseException:
        shutil.rmtree(work / "parts", ignore_errors=True)
        raise
    finally:
        if manager is not None:
            manager.shutdown()
        if own_pool:
            executor.shutdown(wait=True, cancel_futures=True)
    merge_cases(results, work / "cases.parquet")
    shutil.rmtree(work / "parts", ignore_errors=True)
    waits = [r.operator_waits for r in results]
    counters = {key: sum(r.counters[key] for r in results) for key in results[0].counters}
    info = {
        "n": len(plan), "unit": "district",
        "districts": [sorted(set(r.grids["district"].tolist())) for r in results],
        "operators": [r.operators for r in results], "operator_waits": waits,
        "exact": not any(waits),
        "why": ("no case waited for an operator in any part: the same run as the whole city"
                if not any(waits) else
                "cases waited for operators: the city-wide platform couples the parts, and its "
                "operators shared out pool less than all of them (waits are an upper bound)"),
        "cpu_s": [round(r.cpu_s, 2) for r in results],
        "max_rss_mb": [round(r.max_rss_mb, 1) for r in results],
    }
    return PartsRun(cases_file=work / "cases.parquet", context=merge_context(results),
                    timeseries=merge_timeseries(results),
                    grids=pd.concat([r.grids for r in results]).sort_values("grid")
                    .reset_index(drop=True),
                    counters=counters, events=sum(r.events for r in results), info=info,
                    layer=pd.concat([r.layer for r in results]).sort_values("grid_index")
                    .reset_index(drop=True))


def _follow(futures: list, q: Any, n: int, horizon_h: float,
            progress: Callable[[float, float, int], None]) -> None:
    """Relay the parts' daily progress: the slowest part's clock, all parts' events."""
    now = [0.0] * n
    events = [0] * n
    while not all(f.done() for f in futures):
        try:
            k, t, e = q.get(timeout=0.2)
        except queue_mod.Empty:
            continue
        now[k], events[k] = t, e
        progress(min(now), horizon_h, sum(events))
    while True:
        try:
            k, t, e = q.get_nowait()
        except queue_mod.Empty:
            break
        now[k], events[k] = t, e
    progress(min(now), horizon_h, sum(events))

