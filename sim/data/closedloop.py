"""Closing the loop: does the calibrated city close cases like the real one?

A log's time to close is measured on a *cohort*: the requests created in its window, followed
until they close or the log was extracted. :func:`cohort` replays that cohort on the calibrated
scenario (:mod:`sim.data.replay`: the log's own requests, reported by residents, followed past
the window without new arrivals) — on a city of fewer streets at the same load per street when
the log is large, with the requests thinned in proportion. :func:`log_targets` gives the log's
side: per category the cases per day (exact Poisson interval) and the Kaplan–Meier median and
p90 with an approximate 95% interval, or the lower bound "> longest follow-up" where the
follow-up never reaches the quantile.

:func:`check_calibration` compares, per category, the cases filed per day by the calibrated
scenario (drawn arrivals; from ``--match-cases`` when it ran) and the replayed cohort's median
and p90 (one Kaplan–Meier on both sides) with the log's, each with a 95% interval and a
verdict. The fit is in :mod:`sim.data.cohortfit`; :func:`match_case_rates` rescales the rates
so the scenario files cases at the log's rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from sim.data.replay import Requests, log_requests, replay, thin
from sim.data.replaystats import KMQuantile, km
from sim.data.sizing import n_streets, reduced_city
from sim.data.ttcfit import km_quantile
from sim.scenario import Scenario, scenario_with

if TYPE_CHECKING:
    import pandas as pd

    from sim.data.calibrate import Calibration

#: relative difference always accepted as agreement (intervals aside)
AGREE_WITHIN = 0.10
#: the longest stretch of a log's window that the check and the fit replay (days)
MAX_DAYS = 28.0
#: requests the check and the fit replay at most (a larger cohort: a city of fewer streets at
#: the same load per street, the requests thinned in proportion)
MAX_REQUESTS = 4000
#: a median within this factor of the log's is the calibration goal (where the log has
#: :data:`GOAL_MIN_CLOSED` closed requests in the category)
MEDIAN_GOAL = 1.5
GOAL_MIN_CLOSED = 50
STATS = ("per_day", "p50", "p90")


@dataclass
class CheckResult:
    table: "pd.DataFrame"   # per category: log and simulated volume, p50, p90, with intervals
    reps: int
    days: float             # the replayed window (days)
    streets: int
    scale: float
    follow_days: float = 0.0  # follow-up after the window (days)
    requests: int = 0       # requests replayed per replication

    @property
    def agrees(self) -> bool:
        cols = [c for c in self.table.columns if c.endswith("_ok")]
        return bool(self.table[cols].fillna(True).to_numpy().all()) if cols else True

    def summary(self) -> str:
        cols = [c for c in self.table.columns if c.endswith("_ok")]
        vals = self.table[cols].to_numpy()
        known = vals[~self.table[cols].isna().to_numpy()]
        bad = int((known == False).sum())  # noqa: E712
        return ("the calibrated city agrees with the log on every compared figure"
                if bad == 0 else f"{bad} of {len(known)} compared figures differ")


def cal_requests(cal: "Calibration", scenario: Scenario) -> Requests:
    """The log's cohort: its mapped cases created in the calibration period."""
    p = cal.period
    return log_requests(cal.log, scenario, p.start, p.end, inclusive_end=p.how != "--from/--to",
                        source=cal.source)


def cohort(cal: "Calibration", scenario: Scenario, seed: int,
           max_requests: int = MAX_REQUESTS, days: float = MAX_DAYS
           ) -> tuple[Scenario, Requests, float]:
    """(scenario to replay on, requests to replay, share of the city replayed): the window's
    first ``days`` days; beyond ``max_requests`` a city of fewer streets at the same load per
    street with the requests thinned to its share (the same requests for the same seed)."""
    req = cal_requests(cal, scenario).first_days(days)
    total = n_streets(scenario)
    if len(req) <= max_requests or total <= 1:
        return scenario, req, 1.0
    streets = max(1, min(total, math.ceil(total * max_requests / len(req))))
    small = reduced_city(scenario, streets)
    share = small.city.households / scenario.city.households
    return small, thin(req, share, seed), share


def _quantile_ci(d: np.ndarray, c: np.ndarray, q: float) -> tuple[float, float, float]:
    """KM quantile and an approximate 95% interval (the quantiles at q ± 1.96·√(q(1−q)/n));
    NaN where the follow-up does not reach them."""
    n = len(d) + len(c)
    est = km_quantile(d, c, q) if len(d) else math.nan
    if n == 0 or est != est:
        return est, math.nan, math.nan
    h = 1.96 * math.sqrt(q * (1 - q) / n)
    lo = km_quantile(d, c, max(q - h, 1e-6))
    hi = km_quantile(d, c, min(q + h, 1 - 1e-6))
    return est, lo, hi


@dataclass(frozen=True)
class Target:
    """One of the log's figures: estimate and 95% interval, or a lower bound (``value`` NaN)."""

    value: float
    lo: float
    hi: float
    bound: float = math.nan   # "> bound" when the follow-up never reaches the quantile

    @property
    def known(self) -> bool:
        return self.value == self.value

    def log_se(self) -> float:
        """Standard error of log(value) from the interval (NaN if unknown)."""
        if not self.known or not (self.lo > 0) or self.value <= 0:
            return math.nan
        hi = self.hi if self.hi == self.hi and self.hi > 0 else self.value ** 2 / self.lo
        return (math.log(hi) - math.log(self.lo)) / (2 * 1.96)


def log_targets(cal: "Calibration", req: Requests | None = None
                ) -> dict[str, dict[str, Target]]:
    """Per category the log's cases per day, median and p90 (hours) of the cohort."""
    req = req if req is not None else cal_requests(cal, Scenario())
    out: dict[str, dict[str, Target]] = {}
    for cat, fit in cal.categories.items():
        sel = req.category == cat
        d, c = req.log_h[sel], req.log_follow_h[sel]
        d, c = d[~np.isnan(d)], c[~np.isnan(c)]
        row = {"per_day": Target(fit.rate_per_day, *fit.rate_ci)}
        for key, q in (("p50", 0.5), ("p90", 0.9)):
            v, lo, hi = _quantile_ci(d, c, q) if sel.any() else (math.nan,) * 3
            bound = km(d, c, q).lower_bound if v != v and sel.any() else math.nan
            row[key] = Target(v, lo, hi, bound)
        out[cat] = row
    return out


def sim_quantiles(runs: list[Any], cats: list[str]) -> dict[str, dict[str, list[KMQuantile]]]:
    """Per category and quantile, one Kaplan–Meier quantile per replication."""
    out: dict[str, dict[str, list[KMQuantile]]] = {c: {"p50": [], "p90": []} for c in cats}
    for r in runs:
        for c in cats:
            sel = r.category == c
            if sel.any():
                out[c]["p50"].append(km(r.sim_h[sel], r.follow_h[sel], 0.5))
                out[c]["p90"].append(km(r.sim_h[sel], r.follow_h[sel], 0.9))
    return out


def _drawn_per_day(cal: "Calibration", scenario: Scenario, reps: int, seed: int
                   ) -> dict[str, tuple[float, float, float]]:
    """Cases filed per day by the scenario's drawn arrivals (from --match-cases if it ran)."""
    from sim.data.validation import mean_ci, replication_seeds
    from sim.run import run_scenario

    if cal.matching is not None:
        return {r.category: (r.after, r.after_lo, r.after_hi)
                for r in cal.matching.itertuples()}
    small = reduced_city(scenario, 2, min(max(cal.period.days, 7.0), MAX_DAYS))
    scale = scenario.city.households / small.city.households
    vals: dict[str, list[float]] = {c: [] for c in cal.categories}
    for sd in replication_seeds(seed, reps):
        r = run_scenario(small, seed=sd, keep_cases=True)
        c = r.cases
        c = c[(c.t_report_h >= r.context.warmup_h) & (c.t_report_h < r.context.end_h)]
        days = (r.context.end_h - r.context.warmup_h) / 24.0
        counts = c.groupby("category").size()
        for cat in vals:
            vals[cat].append(float(counts.get(cat, 0)) / days * scale)
    return {c: mean_ci(v) for c, v in vals.items()}


def check_calibration(cal: "Calibration", scenario: Scenario, reps: int = 3,
                      seed: int | None = None,
                      progress: Callable[[], None] | None = None) -> CheckResult:
    """Logged against simulated cases per day, median and p90 per category, with verdicts."""
    import pandas as pd

    from sim.data.validation import mean_ci

    master = scenario.run.seed if seed is None else seed
    small, req, share = cohort(cal, scenario, master)
    runs = replay(small, req, reps, master, progress=progress)
    target = log_targets(cal, cal_requests(cal, scenario))
    cats = [c for c, f in cal.categories.items() if f.requests]
    quant = sim_quantiles(runs, cats)
    per_day = _drawn_per_day(cal, scenario, reps, master)
    rows = []
    for cat in cats:
        row: dict[str, Any] = {"category": cat, "closed": cal.categories[cat].closed}
        for k in STATS:
            t = target[cat][k]
            if k == "per_day":
                m, lo, hi = per_day.get(cat, (math.nan,) * 3)
                gt = math.nan
            else:
                ks = quant[cat][k]
                vals = [q.value for q in ks if q.value is not None]
                gt = min((q.lower_bound for q in ks if q.value is None), default=math.nan)
                if ks and len(vals) == len(ks):
                    m, lo, hi = mean_ci(vals) if len(vals) >= 2 else (vals[0],) * 3
                else:
                    m = lo = hi = math.nan
            lo = max(lo, 0.0) if lo == lo else lo
            row.update({f"log_{k}": t.value, f"log_{k}_lo": t.lo, f"log_{k}_hi": t.hi,
                        f"log_{k}_gt": t.bound, f"sim_{k}": m, f"sim_{k}_lo": lo,
                        f"sim_{k}_hi": hi, f"sim_{k}_gt": gt,
                        f"{k}_ok": _agrees(t, m, lo, hi, gt)})
        rows.append(row)
    window = (req.window_h[1] - req.window_h[0]) / 24.0
    return CheckResult(table=pd.DataFrame(rows), reps=reps, days=window,
                       streets=n_streets(small), scale=1.0 / share,
                       follow_days=(req.horizon_h - req.window_h[1]) / 24.0, requests=len(req))


def _agrees(t: "Target", m: float, lo: float, hi: float, gt: float) -> float:
    """Within :data:`AGREE_WITHIN` or overlapping intervals; a lower bound on one side agrees
    with a value (or bound) at least as large on the other; NaN when nothing can be compared."""
    if not t.known:
        if t.bound != t.bound:
            return math.nan
        top = hi if hi == hi else (gt if gt == gt else math.nan)
        return math.nan if top != top else bool(top >= t.bound or gt == gt)
    if m != m:
        return bool(gt >= t.lo) if gt == gt and t.lo == t.lo else math.nan
    if t.value > 0 and abs(m / t.value - 1) <= AGREE_WITHIN:
        return True
    a_lo, a_hi = (t.lo, t.hi) if t.lo == t.lo else (t.value, t.value)
    a_hi = a_hi if a_hi == a_hi else math.inf
    b_lo, b_hi = (lo, hi) if lo == lo else (m, m)
    return bool(a_lo <= b_hi and b_lo <= a_hi)


def goals(check: CheckResult) -> dict[str, list[str]]:
    """The calibration goals per category: cases per day within 10%, median within
    :data:`MEDIAN_GOAL` × where the log has :data:`GOAL_MIN_CLOSED` closed requests. Returns the
    categories meeting and missing each."""
    out: dict[str, list[str]] = {"per_day_met": [], "per_day_missed": [], "p50_met": [],
                                 "p50_missed": []}
    for r in check.table.to_dict("records"):
        if r["log_per_day"] > 0 and r["sim_per_day"] == r["sim_per_day"]:
            ok = abs(r["sim_per_day"] / r["log_per_day"] - 1) <= 0.10
            out["per_day_met" if ok else "per_day_missed"].append(r["category"])
        if r["closed"] >= GOAL_MIN_CLOSED and r["log_p50"] == r["log_p50"] and r["log_p50"] > 0:
            m = r["sim_p50"]
            ok = m == m and m > 0 and max(m / r["log_p50"], r["log_p50"] / m) <= MEDIAN_GOAL
            out["p50_met" if ok else "p50_missed"].append(r["category"])
    return out


def match_case_rates(cal: "Calibration", scenario: Scenario, days: float = 28, reps: int = 3,
                     seed: int | None = None) -> Scenario:
    """Rescale each fitted category's rate so the scenario *files* cases at the log's rate.

    A log counts cases; the model's rates are of incidents, to which handed-down cases are
    added and of which the channels may miss some within the run. This runs the calibrated
    scenario ``reps`` times for ``days`` (its own warm-up), multiplies each category's rate by
    (log cases per day) / (simulated cases filed per day), and runs it again to check:
    ``cal.matching`` holds, per category, the log's rate, the simulated rate before and after
    (mean and 95% CI) and the factor. Filed cases are proportional to the incident rate in the
    model, so one step suffices. The checking runs also give each category's simulated time to
    close, which the report compares with the log's.
    """
    import pandas as pd

    from sim.data.validation import mean_ci, reduced, replication_seeds

    sc = reduced(scenario, days)
    seeds = replication_seeds(sc.run.seed if seed is None else seed, reps)
    cats = [c for c in cal.categories if c in sc.incidents.categories]

    ttc_mean: dict[str, list[float]] = {c: [] for c in cats}
    ttc_p90: dict[str, list[float]] = {c: [] for c in cats}

    def filed_per_day(s: Scenario, keep_ttc: bool = False) -> dict[str, list[float]]:
        from sim.run import run_scenario

        out: dict[str, list[float]] = {c: [] for c in cats}
        for sd in seeds:
            r = run_scenario(s, seed=sd)
            w0, w1 = r.context.warmup_h, r.context.end_h
            c = r.cases
            c = c[(c.t_report_h >= w0) & (c.t_report_h < w1)]
            counts = c.groupby("category").size()
            closed = c[c.t_closed_h.notna()]
            ttc = (closed.t_closed_h - closed.t_report_h).groupby(closed.category)
            for cat in cats:
                out[cat].append(float(counts.get(cat, 0)) / ((w1 - w0) / 24.0))
                if keep_ttc and cat in ttc.groups:
                    x = ttc.get_group(cat)
                    ttc_mean[cat].append(float(x.mean()))
                    ttc_p90[cat].append(float(x.quantile(0.9)))
        return out

    before = filed_per_day(sc)
    factors: dict[str, float] = {}
    over: dict[str, Any] = {}
    for cat in cats:
        sim_rate = float(sum(before[cat]) / len(before[cat]))
        target = cal.categories[cat].rate_per_day
        factors[cat] = target / sim_rate if sim_rate > 0 else 1.0
        key = f"incidents.categories.{cat}.rate_per_1000_households_per_day"
        old = scenario.incidents.categories[cat].rate_per_1000_households_per_day
        over[key] = round(old * factors[cat], 6)
    matched = scenario_with(scenario, over)
    after = filed_per_day(reduced(matched, days), keep_ttc=True)
    rows = []
    for cat in cats:
        b_m, b_lo, b_hi = mean_ci(before[cat])
        a_m, a_lo, a_hi = mean_ci(after[cat])
        t_m, t_lo, t_hi = mean_ci(ttc_mean[cat])
        p90 = mean_ci(ttc_p90[cat])[0]
        rows.append({"category": cat, "log_per_day": cal.categories[cat].rate_per_day,
                     "before": b_m, "factor": factors[cat], "after": a_m, "after_lo": a_lo,
                     "after_hi": a_hi, "sim_ttc_mean": t_m, "sim_ttc_lo": t_lo,
                     "sim_ttc_hi": t_hi, "sim_ttc_p90": p90})
    cal.matching = pd.DataFrame(rows)
    return matched
