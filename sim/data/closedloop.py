"""Closing the loop: does the calibrated city close cases like the real one?

:func:`check_calibration` runs the calibrated scenario for the log's period over a few
replications (on a city of a few streets at the same load per street, volumes scaled back) and
compares, per category, the cases filed per day and the Kaplan–Meier median and p90 of the time
to close (open cases censored at the run's end) with the log's, each with a 95% interval and a
verdict.

:func:`fit_departments` is simulation-based calibration: Optuna's TPE sampler (seeded) searches
each department's handling time (mean, cv) — with crews re-sized for each candidate so the
departments keep up — to minimise the squared log-ratios of simulated to logged median and p90
over the categories, every candidate on the same replication seeds (common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from sim.data.sizing import (department_load, mean_travel_h, n_streets, reduced_city,
                             size_for_log)
from sim.data.ttcfit import km_quantile
from sim.scenario import Scenario, scenario_with

if TYPE_CHECKING:
    import pandas as pd

    from sim.data.calibrate import Calibration

#: relative difference always accepted as agreement (intervals aside)
AGREE_WITHIN = 0.10
#: the longest check or fit run (days of measurement)
MAX_DAYS = 28.0
#: departments with at least this share of the log's requests get a handling time of their own
MAIN_SHARE = 0.05


@dataclass
class CheckResult:
    table: "pd.DataFrame"   # per category: log and simulated volume, p50, p90, with intervals
    reps: int
    days: float
    streets: int
    scale: float

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


@dataclass
class FitResult:
    handling: dict[str, tuple[float, float]]     # department → (mean h, cv)
    crews: dict[str, int]
    loss: float
    start_loss: float
    trials: int
    overrides: dict[str, Any] = field(default_factory=dict)


def _quantile_ci(d: np.ndarray, c: np.ndarray, q: float) -> tuple[float, float, float]:
    """KM quantile and an approximate 95% interval (the quantiles at q ± 1.96·√(q(1−q)/n))."""
    n = len(d) + len(c)
    est = km_quantile(d, c, q)
    if n == 0:
        return est, float("nan"), float("nan")
    h = 1.96 * math.sqrt(q * (1 - q) / n)
    lo = km_quantile(d, c, max(q - h, 1e-6))
    hi = km_quantile(d, c, min(q + h, 1 - 1e-6))
    return est, lo, hi


def log_targets(cal: "Calibration") -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per category the log's (estimate, lo, hi) of cases per day, p50 and p90 (hours)."""
    import pandas as pd

    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    f = cal.log.frame
    t_end = max(f.created.max(), f.closed.max()) if f.closed.notna().any() else f.created.max()
    p = cal.period
    inside = (f.created >= p.start) & (f.created <= p.end) & ~f.status.isin(
        ["cancelled", "duplicate"])
    for cat, fit in cal.categories.items():
        c = f[inside & (f.category == cat)]
        done = (c.status == "closed") & c.closed.notna()
        d = ((c.closed[done] - c.created[done]) / pd.Timedelta(hours=1)).to_numpy(float)
        still = ~done
        ages = np.where(c.closed[still].notna(), (c.closed[still] - c.created[still])
                        / pd.Timedelta(hours=1), (t_end - c.created[still])
                        / pd.Timedelta(hours=1)).astype(float)
        out[cat] = {"per_day": (fit.rate_per_day, *fit.rate_ci),
                    "p50": _quantile_ci(d, ages, 0.5), "p90": _quantile_ci(d, ages, 0.9)}
    return out


def _sim_stats(cases: "pd.DataFrame", w0: float, w1: float, cats: list[str]
               ) -> dict[str, dict[str, float]]:
    c = cases[(cases.t_report_h >= w0) & (cases.t_report_h < w1)]
    out = {}
    for cat in cats:
        x = c[c.category == cat]
        closed = x.t_closed_h.notna().to_numpy()
        d = (x.t_closed_h - x.t_report_h).to_numpy(float)[closed]
        cens = (w1 - x.t_report_h).to_numpy(float)[~closed]
        # after the window the model runs on: a case still open at w1 is censored at w1
        out[cat] = {"per_day": len(x) / ((w1 - w0) / 24.0), "p50": km_quantile(d, cens, 0.5),
                    "p90": km_quantile(d, cens, 0.9)}
    return out


def simulate(scenario: Scenario, cats: list[str], seeds: list[int],
             progress: Callable[[], None] | None = None) -> dict[str, dict[str, list[float]]]:
    """Per category and statistic, one value per replication."""
    from sim.run import run_scenario

    out: dict[str, dict[str, list[float]]] = {c: {"per_day": [], "p50": [], "p90": []}
                                              for c in cats}
    for sd in seeds:
        r = run_scenario(scenario, seed=sd)
        for cat, st in _sim_stats(r.cases, r.context.warmup_h, r.context.end_h, cats).items():
            for k, v in st.items():
                out[cat][k].append(v)
        if progress:
            progress()
    return out


def check_days(cal: "Calibration") -> float:
    return float(min(max(cal.period.days, 0.5), MAX_DAYS))


def _run_scenario_for(cal: "Calibration", scenario: Scenario, streets: int,
                      days: float | None) -> tuple[Scenario, float]:
    """The reduced city run for the log's period (after the base warm-up), and the volume
    scale back to the full city."""
    d = days if days is not None else check_days(cal)
    warm = scenario.run.warmup_days
    small = reduced_city(scenario, streets)
    small = scenario_with(small, {"run.days": d + warm, "run.warmup_days": warm})
    return small, scenario.city.households / small.city.households


def check_calibration(cal: "Calibration", scenario: Scenario, reps: int = 3,
                      days: float | None = None, seed: int | None = None, streets: int = 2,
                      progress: Callable[[], None] | None = None) -> CheckResult:
    """Simulated against logged volume, median and p90 per category, with verdicts."""
    import pandas as pd

    from sim.data.validation import mean_ci, replication_seeds

    small, scale = _run_scenario_for(cal, scenario, streets, days)
    seeds = replication_seeds(scenario.run.seed if seed is None else seed, reps)
    cats = [c for c, f in cal.categories.items() if f.requests]
    sim = simulate(small, cats, seeds, progress)
    target = log_targets(cal)
    rows = []
    for cat in cats:
        row: dict[str, Any] = {"category": cat}
        for k in ("per_day", "p50", "p90"):
            vals = np.asarray(sim[cat][k], dtype=float) * (scale if k == "per_day" else 1.0)
            m, lo, hi = mean_ci(vals[~np.isnan(vals)]) if (~np.isnan(vals)).sum() >= 2 else (
                float(np.nanmean(vals)) if (~np.isnan(vals)).any() else float("nan"),
                float("nan"), float("nan"))
            lo = max(lo, 0.0) if lo == lo else lo  # counts and durations are never negative
            t, tlo, thi = target[cat][k]
            row.update({f"log_{k}": t, f"log_{k}_lo": tlo, f"log_{k}_hi": thi,
                        f"sim_{k}": m, f"sim_{k}_lo": lo, f"sim_{k}_hi": hi,
                        f"{k}_ok": _agrees(t, tlo, thi, m, lo, hi)})
        rows.append(row)
    return CheckResult(table=pd.DataFrame(rows), reps=reps, days=small.run.days
                       - small.run.warmup_days, streets=streets, scale=scale)


def _agrees(t: float, tlo: float, thi: float, m: float, lo: float, hi: float) -> float:
    if t != t or m != m:
        return float("nan")
    if t > 0 and abs(m / t - 1) <= AGREE_WITHIN:
        return True
    a_lo, a_hi = (tlo, thi) if tlo == tlo else (t, t)
    b_lo, b_hi = (lo, hi) if lo == lo else (m, m)
    return bool(a_lo <= b_hi and b_lo <= a_hi)


def _clip(v: float, lo: float, hi: float) -> float:
    return float(min(max(v, lo), hi))


def _span(target: dict, cats: list[str]) -> float:
    """The longest logged p90 (or median) of a department's categories: the search's scale."""
    vals = [target[c][k][0] for c in cats for k in ("p90", "p50") if target[c][k][0] ==
            target[c][k][0]]
    return max(vals + [1.0])


def _median_of(target: dict, cats: list[str], default: float) -> float:
    vals = [target[c]["p50"][0] for c in cats if target[c]["p50"][0] == target[c]["p50"][0]]
    return float(np.mean(vals)) if vals else default


def _hi(key: str, span: dict[str, float], rest: list[str]) -> float:
    if key == "rest.mean":
        return max(span[d] for d in rest)
    return span[key.rsplit(".", 1)[0]]


def _lognormal(mean: float, cv: float) -> dict[str, Any]:
    return {"dist": "lognormal", "mean": round(float(mean), 4), "cv": round(float(cv), 4)}


def _departments(cal: "Calibration", scenario: Scenario) -> dict[str, list[str]]:
    """Department → the categories (with requests) whose subtypes it handles."""
    out: dict[str, list[str]] = {}
    for c, f in cal.categories.items():
        if not f.requests:
            continue
        cat = scenario.incidents.categories[c]
        for sub in cat.subtypes.values():
            dep = sub.department or cat.department
            if c not in out.setdefault(dep, []):
                out[dep].append(c)
    return out


def fit_departments(cal: "Calibration", scenario: Scenario, trials: int = 30, reps: int = 2,
                    days: float | None = None, seed: int | None = None, streets: int = 1,
                    progress: Callable[[int, int, float], None] | None = None
                    ) -> tuple[FitResult, Scenario]:
    """Fit department handling times (and re-sized crews) so the simulated median and p90 of
    time to close match the log's; returns the fit and the scenario with it.

    The scenario as given is evaluated first (the loss to beat). Then two phases on one budget
    of ``trials`` runs of ``reps`` replications (same seeds for all):
    a few multiplicative fixed-point steps (each main department's handling mean times the
    ratio of logged to simulated medians of its categories; the common spread from the ratio of
    p90/median spreads), then Optuna's TPE sampler (seeded) in a box of ×/÷ 2 around the best
    point so far. Departments with less than :data:`MAIN_SHARE` of the cases share one mean.
    """
    import optuna

    from sim.data.validation import replication_seeds

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    target = log_targets(cal)
    cats = [c for c in cal.categories
            if cal.categories[c].requests and target[c]["p50"][0] == target[c]["p50"][0]
            and target[c]["p50"][0] > 0]
    deps = {d: [c for c in cs if c in cats] for d, cs in _departments(cal, scenario).items()}
    deps = {d: cs for d, cs in deps.items() if cs}
    if not cats or not deps:
        raise ValueError("no category with a known, positive median time to close to fit")
    fitter = _Fitter(cal, scenario, target, cats, deps, streets, days,
                     replication_seeds(scenario.run.seed if seed is None else seed, reps))
    master = scenario.run.seed if seed is None else seed
    start_loss = fitter.loss_of(scenario)
    n_fixed = min(5, max(1, trials // 2))
    values = fitter.start_values()
    history: list[tuple[float, dict[str, float]]] = []
    for _ in range(n_fixed):
        loss, stats = fitter.evaluate(values)
        history.append((loss, values))
        if progress:
            progress(len(history), trials, min(h[0] for h in history))
        values = fitter.step(values, stats)
    best_loss, best = min(history, key=lambda h: h[0])
    if trials > n_fixed:
        dists = {k: optuna.distributions.FloatDistribution(
            max(v / 2, fitter.lo(k)), min(v * 2, fitter.hi(k)), log=True) for k, v in best.items()}
        sampler = optuna.samplers.TPESampler(seed=master % (2**32), n_startup_trials=3)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.enqueue_trial({k: min(max(v, dists[k].low), dists[k].high) for k, v in best.items()})
        for _ in range(trials - n_fixed):
            trial = study.ask(dists)
            loss, _ = fitter.evaluate(dict(trial.params))
            study.tell(trial, loss)
            history.append((loss, dict(trial.params)))
            if progress:
                progress(len(history), trials, min(h[0] for h in history))
        best_loss, best = min(history, key=lambda h: h[0])
    params = fitter.params_of(best)
    fitted = fitter.build(params)
    crews = {d: fitted.departments[d].crews_per_street for d in params}
    over: dict[str, Any] = {f"departments.{d}.handling_time": _lognormal(m, cv)
                            for d, (m, cv) in params.items()}
    over.update({f"departments.{d}.crews_per_street": n for d, n in crews.items()})
    return FitResult(handling=params, crews=crews, loss=float(best_loss),
                     start_loss=float(start_loss), trials=len(history),
                     overrides=over), fitted


class _Fitter:
    """The simulation-based loss of one candidate, and the fixed-point step."""

    def __init__(self, cal: "Calibration", scenario: Scenario, target: dict, cats: list[str],
                 deps: dict[str, list[str]], streets: int, days: float | None,
                 seeds: list[int]):
        self.cal, self.scenario, self.target, self.cats = cal, scenario, target, cats
        self.deps, self.streets, self.days, self.seeds = deps, streets, days, seeds
        self.travel = mean_travel_h(scenario)
        self.streets_full = n_streets(scenario)
        self.weight = {c: math.sqrt(cal.categories[c].requests) for c in cats}
        load = department_load(cal, scenario)
        total = sum(load.get(d, 0.0) for d in deps) or 1.0
        share = {d: load.get(d, 0.0) / total for d in deps}
        self.main = [d for d in deps if share[d] >= MAIN_SHARE] or [max(deps, key=share.get)]
        self.rest = [d for d in deps if d not in self.main]
        self.span = {d: _span(target, cs) for d, cs in deps.items()}

    def lo(self, key: str) -> float:
        return 0.2 if key == "cv" else 0.02

    def hi(self, key: str) -> float:
        if key == "cv":
            return 4.0
        if key == "rest.mean":
            return 3 * max(self.span[d] for d in self.rest)
        return 3 * self.span[key[:-5]]

    def start_values(self) -> dict[str, float]:
        """Each main department's handling mean = the mean logged median of its categories."""
        v = {f"{d}.mean": _median_of(self.target, self.deps[d], 1.0) for d in self.main}
        if self.rest:
            v["rest.mean"] = float(np.mean([_median_of(self.target, self.deps[d], 1.0)
                                            for d in self.rest]))
        v["cv"] = 1.0
        return {k: _clip(x, self.lo(k), self.hi(k)) for k, x in v.items()}

    def params_of(self, values: dict[str, float]) -> dict[str, tuple[float, float]]:
        cv = values["cv"]
        out = {d: (values[f"{d}.mean"], cv) for d in self.main}
        out.update({d: (values["rest.mean"], cv) for d in self.rest})
        return out

    def build(self, params: dict[str, tuple[float, float]]) -> Scenario:
        sz = size_for_log(self.cal, self.scenario, {d: m for d, (m, _) in params.items()},
                          self.travel, self.streets_full)
        over = dict(sz.overrides)
        for d, (m, cv) in params.items():
            over[f"departments.{d}.handling_time"] = _lognormal(m, cv)
        return scenario_with(self.scenario, over)

    def evaluate(self, values: dict[str, float]) -> tuple[float, dict[str, dict[str, float]]]:
        return self.loss_and_stats(self.build(self.params_of(values)))

    def loss_of(self, scenario: Scenario) -> float:
        return self.loss_and_stats(scenario)[0]

    def loss_and_stats(self, scenario: Scenario) -> tuple[float, dict[str, dict[str, float]]]:
        small, _ = _run_scenario_for(self.cal, scenario, self.streets, self.days)
        sim = simulate(small, self.cats, self.seeds)
        stats = {c: {k: (float(np.nanmean(sim[c][k])) if not np.all(np.isnan(sim[c][k]))
                         else math.nan) for k in ("p50", "p90")} for c in self.cats}
        total, wsum = 0.0, 0.0
        for c in self.cats:
            for k in ("p50", "p90"):
                t, m = self.target[c][k][0], stats[c][k]
                if t != t or t <= 0:
                    continue
                r = math.log(max(m, 1e-3) / t) if m == m else math.log(1e3)
                total += self.weight[c] * r * r
                wsum += self.weight[c]
        return (total / wsum if wsum else math.inf), stats

    def step(self, values: dict[str, float], stats: dict[str, dict[str, float]]
             ) -> dict[str, float]:
        """Scale each mean by the logged/simulated median ratio of its categories; the spread
        by the ratio of log(p90/median) spreads."""
        def ratio(cs: list[str]) -> float:
            r = [math.log(self.target[c]["p50"][0] / stats[c]["p50"]) for c in cs
                 if stats[c]["p50"] == stats[c]["p50"] and stats[c]["p50"] > 0]
            return math.exp(float(np.mean(r))) if r else 1.0

        new = dict(values)
        for d in self.main:
            new[f"{d}.mean"] = values[f"{d}.mean"] * ratio(self.deps[d])
        if self.rest:
            new["rest.mean"] = values["rest.mean"] * ratio(
                sorted({c for d in self.rest for c in self.deps[d]}))
        spreads = []
        for c in self.cats:
            t50, t90 = self.target[c]["p50"][0], self.target[c]["p90"][0]
            s50, s90 = stats[c]["p50"], stats[c]["p90"]
            if all(x == x and x > 0 for x in (t50, t90, s50, s90)) and t90 > t50 and s90 > s50:
                spreads.append(math.log(t90 / t50) / math.log(s90 / s50))
        if spreads:
            sigma = math.sqrt(math.log1p(values["cv"] ** 2)) * float(np.median(spreads))
            new["cv"] = math.sqrt(math.expm1(min(sigma, 2.0) ** 2))
        return {k: _clip(v, self.lo(k), self.hi(k)) for k, v in new.items()}


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
