"""Fitting the departments to a log's time to close, with the log's own cohort as the inner loop.

Each candidate is a scenario; its loss is the weighted mean (weights √requests) over categories
of the squared log-ratios of the replayed cohort's Kaplan–Meier median and p90 to the log's
(:mod:`sim.data.closedloop`; durations below :data:`MIN_H` count as :data:`MIN_H`; a quantile one
side never reaches counts by its lower bound), one value per replication on the same seeds
(common random numbers), so every loss has a 95% interval.

Parameters, per department with at least :data:`MAIN_SHARE` of the log's cases (the others
share one set): the crew's **handling time** (mean, hours), the **scheduling lead** (mean hours
from dispatch to the crew's visit: an appointment) and one **spread** (the cv of both). Crews
per street are re-sized for each candidate's handling time (:mod:`sim.data.sizing`). Bounds, from
the log's volume (:func:`bounds`): handling 0.05 – :data:`MAX_HANDLING_H` h (a visit is at most
a working day; a longer time to close is a lead or a queue); lead 0 – twice the longest logged
p90 of the department's categories (at least a day); cv 0.2 – 3; crews per street at most the
department's busiest day of requests per street in the log (a crew more would have nothing to do
on any day of the log).

The search (:func:`fit_departments`): the scenario as given is the first candidate (the base);
then fixed-point steps (each department's handling + lead moved by the difference of logged and
simulated medians, handling kept at the base's mean and the rest given to the lead; the spread
from the ratio of log(p90/median) spreads); then Optuna's TPE sampler (seeded) in a box around
the best point. The best point *including the base* is kept, so the fit cannot make things
worse. It stops early when the best loss is within the log's own sampling error (:func:`floor`:
the loss a perfect model would have from the log's interval widths alone). Finally
:func:`identification` perturbs each parameter of the best point: a parameter whose effect on
the residuals is below the log's sampling error is *not identified*, and two whose effects are
collinear trade off (only their combination is identified).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from sim.data.closedloop import Target, cal_requests, cohort, log_targets, sim_quantiles
from sim.data.replay import replay
from sim.data.sizing import department_load, mean_travel_h, n_streets, size_for_log
from sim.scenario import Scenario, scenario_with

if TYPE_CHECKING:
    from sim.data.calibrate import Calibration

#: departments with at least this share of the log's cases get parameters of their own
MAIN_SHARE = 0.05
#: the longest mean handling time (hours): a crew's visit is at most a working day
MAX_HANDLING_H = 24.0
#: durations below this (hours) count as this in the log-ratios
MIN_H = 0.25
#: a parameter's effect on the residuals below this many log standard errors: not identified
IDENTIFY_SE = 1.0
#: two parameters whose residual effects have |cosine| above this trade off
TRADE_OFF_COS = 0.9


@dataclass
class FitResult:
    handling: dict[str, tuple[float, float]]     # department → (mean h, cv)
    lead: dict[str, float]                       # department → mean scheduling lead (h)
    crews: dict[str, int]
    loss: float
    loss_ci: tuple[float, float]
    start_loss: float
    start_loss_ci: tuple[float, float]
    floor: float                                 # the log's sampling error, as a loss
    trials: int
    kept_base: bool = False
    stopped: str = ""
    not_identified: list[str] = field(default_factory=list)
    trade_offs: list[tuple[str, str]] = field(default_factory=list)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    crew_bounds: dict[str, int] = field(default_factory=dict)
    candidate_losses: list[float] = field(default_factory=list)  # every candidate but the base
    overrides: dict[str, Any] = field(default_factory=dict)


def _lognormal(mean: float, cv: float) -> dict[str, Any]:
    return {"dist": "lognormal", "mean": round(float(mean), 4), "cv": round(float(cv), 4)}


def _departments(cal: "Calibration", scenario: Scenario, cats: list[str]) -> dict[str, list[str]]:
    """Department → the categories (of ``cats``) whose subtypes it handles."""
    out: dict[str, list[str]] = {}
    for c in cats:
        cat = scenario.incidents.categories[c]
        for sub in cat.subtypes.values():
            dep = sub.department or cat.department
            if c not in out.setdefault(dep, []):
                out[dep].append(c)
    return out


def crew_bounds(cal: "Calibration", scenario: Scenario) -> dict[str, int]:
    """Per department, the most crews per street the log's volume can keep busy: its busiest
    day's requests per street (at least 1)."""
    import pandas as pd

    f = cal.log.frame
    p = cal.period
    sel = (f.created >= p.start) & (f.created <= p.end) & f.category.notna()
    days = f.created[sel].dt.normalize()
    load = department_load(cal, scenario)
    streets = n_streets(scenario)
    out: dict[str, int] = {}
    for dep, per_day in load.items():
        daily: "pd.Series" = pd.Series(0.0, index=sorted(set(days)))
        for c, fit in cal.categories.items():
            if not fit.requests:
                continue
            cat = scenario.incidents.categories[c]
            share = sum((fit.subtype_shares or {}).get(s, sub.share)
                        for s, sub in cat.subtypes.items()
                        if (sub.department or cat.department) == dep)
            if share:
                daily = daily.add(days[f.category[sel] == c].value_counts() * share,
                                  fill_value=0.0)
        peak = float(daily.max()) if len(daily) > 2 else 2.0 * per_day
        out[dep] = max(1, math.ceil(max(peak, per_day) / streets - 1e-9))
    return out


def floor(target: dict[str, dict[str, Target]], weight: dict[str, float]) -> float:
    """The loss a model matching the log's true quantiles would show from the log's sampling
    error alone: the weighted mean squared standard error of log(median) and log(p90)."""
    tot = wsum = 0.0
    for c, w in weight.items():
        for k in ("p50", "p90"):
            se = target[c][k].log_se()
            if se == se:
                tot += w * se * se
                wsum += w
    return tot / wsum if wsum else 0.0


class Loss:
    """The loss of candidate scenarios on the log's cohort (same requests, same seeds)."""

    def __init__(self, cal: "Calibration", scenario: Scenario, reps: int, seed: int):
        from sim.data.validation import replication_seeds

        self.cal, self.seed, self.reps = cal, seed, reps
        self.target = log_targets(cal, cal_requests(cal, scenario))
        self.cats = [c for c, f in cal.categories.items()
                     if f.requests and (self.target[c]["p50"].known
                                        or self.target[c]["p50"].bound > 0)]
        self.weight = {c: math.sqrt(cal.categories[c].requests) for c in self.cats}
        self.master = replication_seeds(seed, 1)[0]
        self.evaluations = 0

    def residuals(self, scenario: Scenario) -> np.ndarray:
        """reps × figures: √w · log(sim / log) per category and quantile (see the module)."""
        small, req, _ = cohort(self.cal, scenario, self.master)
        runs = replay(small, req, self.reps, self.seed)
        self.evaluations += 1
        quant = sim_quantiles(runs, self.cats)
        out = np.zeros((self.reps, 2 * len(self.cats)))
        for j, c in enumerate(self.cats):
            for i, k in enumerate(("p50", "p90")):
                t = self.target[c][k]
                for r, q in enumerate(quant[c][k][: self.reps]):
                    out[r, 2 * j + i] = math.sqrt(self.weight[c]) * _ratio(t, q)
        return out

    def value(self, res: np.ndarray) -> tuple[float, float, float]:
        """Mean loss over replications and its 95% interval."""
        from sim.data.validation import mean_ci

        wsum = 2 * sum(self.weight.values()) or 1.0
        per_rep = (res ** 2).sum(axis=1) / wsum
        if len(per_rep) < 2:
            return float(per_rep[0]), float(per_rep[0]), float(per_rep[0])
        m, lo, hi = mean_ci(per_rep)
        return float(m), max(0.0, float(lo)), float(hi)

    def sim_medians(self, res: np.ndarray) -> dict[str, tuple[float, float]]:
        """Per category (simulated/logged) ratio of median and p90 (geometric mean over reps)."""
        mean = res.mean(axis=0)
        return {c: tuple(math.exp(mean[2 * j + i] / math.sqrt(self.weight[c]))
                         for i in range(2)) for j, c in enumerate(self.cats)}  # type: ignore


def _ratio(t: Target, q: Any) -> float:
    """log(sim / log) of one figure; with a lower bound on a side, only a shortfall counts."""
    if t.known:
        tv = max(t.value, MIN_H)
        if q.value is not None:
            return math.log(max(q.value, MIN_H) / tv)
        return max(0.0, math.log(max(q.lower_bound, MIN_H) / tv))
    if q.value is None:
        return 0.0
    return min(0.0, math.log(max(q.value, MIN_H) / max(t.bound, MIN_H)))


class Space:
    """The parameters: per main department handling, lead and cv (the rest share one set)."""

    def __init__(self, cal: "Calibration", scenario: Scenario, loss: Loss):
        self.cal, self.scenario = cal, scenario
        deps = _departments(cal, scenario, loss.cats)
        load = department_load(cal, scenario)
        total = sum(load.get(d, 0.0) for d in deps) or 1.0
        share = {d: load.get(d, 0.0) / total for d in deps}
        self.main = [d for d in deps if share[d] >= MAIN_SHARE] or [max(deps, key=share.get)]
        self.rest = [d for d in deps if d not in self.main]
        self.deps = deps
        self.groups = {d: [d] for d in self.main}
        if self.rest:
            self.groups["rest"] = self.rest
        self.travel = mean_travel_h(scenario)
        self.streets = n_streets(scenario)
        self.crew_max = crew_bounds(cal, scenario)
        t = loss.target
        self.lead_max: dict[str, float] = {}
        for g, ds in self.groups.items():
            p90 = [t[c][k].value if t[c][k].known else t[c][k].bound
                   for d in ds for c in deps[d] if c in t for k in ("p90", "p50")]
            p90 = [v for v in p90 if v == v]
            self.lead_max[g] = max(24.0, 2.0 * max(p90, default=24.0))

    def bounds(self, key: str) -> tuple[float, float]:
        g, kind = key.rsplit(".", 1)
        if kind == "cv":
            return 0.2, 3.0
        if kind == "handling":
            return 0.05, MAX_HANDLING_H
        return 0.0, self.lead_max[g]

    def clip(self, values: dict[str, float]) -> dict[str, float]:
        return {k: float(min(max(v, self.bounds(k)[0]), self.bounds(k)[1]))
                for k, v in values.items()}

    def of_scenario(self, sc: Scenario) -> dict[str, float]:
        """The parameters as they are in a scenario (a group: its first department's)."""
        v: dict[str, float] = {}
        for g, ds in self.groups.items():
            d = sc.departments[ds[0]]
            v[f"{g}.handling"] = d.handling_time.mean
            v[f"{g}.lead"] = d.scheduling_lead.mean
            v[f"{g}.cv"] = float(getattr(d.handling_time, "cv", 1.0))
        return v

    def params(self, values: dict[str, float]) -> dict[str, tuple[float, float, float]]:
        out = {}
        for g, ds in self.groups.items():
            for d in ds:
                out[d] = (values[f"{g}.handling"], values[f"{g}.lead"], values[f"{g}.cv"])
        return out

    def build(self, values: dict[str, float]) -> tuple[Scenario, dict[str, Any]]:
        p = self.params(values)
        sz = size_for_log(self.cal, self.scenario, {d: h for d, (h, _, _) in p.items()},
                          self.travel, self.streets)
        over = dict(sz.overrides)
        for d, (h, lead, cv) in p.items():
            over[f"departments.{d}.handling_time"] = _lognormal(h, cv)
            over[f"departments.{d}.scheduling_lead"] = (
                _lognormal(lead, cv) if lead >= 0.01 else {"dist": "fixed", "value": 0.0})
        for d, n in self.crew_max.items():
            key = f"departments.{d}.crews_per_street"
            if key in over:
                over[key] = min(over[key], n)
        return scenario_with(self.scenario, over), over


def fit_departments(cal: "Calibration", scenario: Scenario, trials: int = 30, reps: int = 2,
                    seed: int | None = None, identify: bool = True, stop_at_floor: bool = True,
                    progress: Callable[[int, int, float], None] | None = None
                    ) -> tuple[FitResult, Scenario]:
    """Fit handling time, scheduling lead and spread per department (see the module); returns
    the fit and the scenario with it (the scenario as given when nothing beats it).
    ``stop_at_floor=False`` spends every trial even within the log's sampling error."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    master = scenario.run.seed if seed is None else seed
    loss = Loss(cal, scenario, reps, master)
    if not loss.cats:
        raise ValueError("no category with a known median time to close (or a lower bound) to "
                         "fit")
    space = Space(cal, scenario, loss)
    noise = floor(loss.target, loss.weight)
    base_res = loss.residuals(scenario)
    base_val = loss.value(base_res)
    history: list[tuple[float, dict[str, float] | None, np.ndarray]] = [
        (base_val[0], None, base_res)]
    stopped = ""

    def note(values: dict[str, float] | None, res: np.ndarray) -> bool:
        history.append((loss.value(res)[0], values, res))
        best = min(h[0] for h in history)
        if progress:
            progress(len(history) - 1, trials, best)
        return stop_at_floor and best <= noise

    values = space.clip(space.of_scenario(scenario))
    res = base_res
    n_fixed = min(5, max(1, trials // 2))
    done = stop_at_floor and base_val[0] <= noise
    if done:
        stopped = "the base scenario is already within the log's sampling error"
    for _ in range(n_fixed if not done else 0):
        values = _step(space, loss, values, res)
        res = loss.residuals(space.build(values)[0])
        if note(values, res):
            stopped = "within the log's sampling error"
            break
    if not stopped and trials > n_fixed:
        stopped = _tpe(space, loss, history, trials - n_fixed, master, note)
    best_loss, best, best_res = min(history, key=lambda h: h[0])
    kept = best is None
    fitted, over = (scenario, {}) if kept else space.build(best)
    vals = best if best is not None else space.clip(space.of_scenario(scenario))
    p = space.params(vals)
    bl = loss.value(best_res)
    result = FitResult(
        handling={d: (h, cv) for d, (h, _, cv) in p.items()},
        lead={d: lead for d, (_, lead, _) in p.items()},
        crews={d: fitted.departments[d].crews_per_street for d in p},
        loss=bl[0], loss_ci=(bl[1], bl[2]), start_loss=base_val[0],
        start_loss_ci=(base_val[1], base_val[2]), floor=noise, trials=len(history) - 1,
        kept_base=kept, stopped=stopped or f"{len(history) - 1} trials",
        bounds={k: space.bounds(k) for k in vals}, crew_bounds=dict(space.crew_max),
        candidate_losses=[h[0] for h in history[1:]], overrides=over)
    if identify and not kept:
        result.not_identified, result.trade_offs = identification(space, loss, vals, best_res,
                                                                  noise)
    return result, fitted


def _step(space: Space, loss: Loss, values: dict[str, float], res: np.ndarray
          ) -> dict[str, float]:
    """Move each group's handling + lead by the (logged − simulated) median difference, the
    handling kept at most at its current mean; the spread by the ratio of spreads."""
    ratios = loss.sim_medians(res)
    new = dict(values)
    for g, ds in space.groups.items():
        cats = sorted({c for d in ds for c in space.deps[d]})
        diffs, spreads = [], []
        for c in cats:
            t50, t90 = loss.target[c]["p50"], loss.target[c]["p90"]
            t = t50.value if t50.known else t50.bound
            r50, r90 = ratios[c]
            if t == t and t > 0:
                s50 = max(t, MIN_H) * r50
                diffs.append(t - s50)
                if t90.known and t90.value > t > 0 and r50 > 0:
                    s90 = max(t90.value, MIN_H) * r90
                    if s90 > s50 > 0:
                        spreads.append(math.log(t90.value / t) / math.log(s90 / s50))
        total = values[f"{g}.handling"] + values[f"{g}.lead"]
        want = max(total + (float(np.mean(diffs)) if diffs else 0.0), 0.1)
        h = min(values[f"{g}.handling"], want)
        new[f"{g}.handling"], new[f"{g}.lead"] = h, want - h
        if spreads:
            sigma = math.sqrt(math.log1p(values[f"{g}.cv"] ** 2)) * float(np.median(spreads))
            new[f"{g}.cv"] = math.sqrt(math.expm1(min(sigma, 2.0) ** 2))
    return space.clip(new)


def _tpe(space: Space, loss: Loss, history: list, n: int, seed: int,
         note: Callable[[dict[str, float], np.ndarray], bool]) -> str:
    import optuna

    _, best, _ = min(history, key=lambda h: h[0])
    best = best if best is not None else space.clip(space.of_scenario(space.scenario))
    dists = {}
    for k, v in best.items():
        lo, hi = space.bounds(k)
        if k.endswith(".lead"):
            dists[k] = optuna.distributions.FloatDistribution(lo, min(hi, max(3 * v, 24.0)))
        else:
            dists[k] = optuna.distributions.FloatDistribution(
                max(lo, v / 3), min(hi, max(v * 3, lo * 1.01)), log=True)
    sampler = optuna.samplers.TPESampler(seed=seed % (2**32), n_startup_trials=3)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.enqueue_trial({k: min(max(v, dists[k].low), dists[k].high) for k, v in best.items()})
    for _ in range(n):
        trial = study.ask(dists)
        res = loss.residuals(space.build(dict(trial.params))[0])
        study.tell(trial, loss.value(res)[0])
        if note(dict(trial.params), res):
            return "within the log's sampling error"
    return ""


def identification(space: Space, loss: Loss, best: dict[str, float], best_res: np.ndarray,
                   noise: float) -> tuple[list[str], list[tuple[str, str]]]:
    """Perturb each parameter of the best point (×1.5; a lead near 0 by half the department's
    handling + lead, at least an hour): those whose effect on the residuals (root mean square,
    in units of the weighted residuals) is below the log's sampling error are not identified;
    pairs of identified ones whose effects are collinear trade off."""
    base = best_res.mean(axis=0)
    effects: dict[str, np.ndarray] = {}
    se = math.sqrt(noise) if noise > 0 else 0.0
    wmean = math.sqrt(float(np.mean(list(loss.weight.values()))))
    for k, v in best.items():
        lo, hi = space.bounds(k)
        if k.endswith(".lead") and v < 1.0:
            g = k.rsplit(".", 1)[0]
            new = min(hi, max(1.0, 0.5 * (best[f"{g}.handling"] + v)))
        else:
            new = v * 1.5 if v * 1.5 <= hi else v / 1.5
        moved = dict(best, **{k: new})
        effects[k] = loss.residuals(space.build(moved)[0]).mean(axis=0) - base
    weak = [k for k, e in effects.items()
            if math.sqrt(float(np.mean(e ** 2))) < IDENTIFY_SE * se * wmean]
    strong = [k for k in effects if k not in weak]
    pairs = []
    for i, a in enumerate(strong):
        for b in strong[i + 1:]:
            na, nb = np.linalg.norm(effects[a]), np.linalg.norm(effects[b])
            if na > 0 and nb > 0 and abs(float(effects[a] @ effects[b]) / (na * nb)) > \
                    TRADE_OFF_COS:
                pairs.append((a, b))
    return weak, pairs
