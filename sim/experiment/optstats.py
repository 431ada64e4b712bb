"""Statistics of optimisation candidates and the answer an optimisation store gives.

A candidate (one point of lever values) evaluated on replications 0…n−1 — the same seeds for
every candidate, so comparisons are paired — has, per constraint, the mean of the KPI and its
one-sided Student-t bound at the experiment's ``confidence``: for ``kpi >= b`` the lower bound
``mean − t(conf, n−1)·s/√n``, for ``kpi <= b`` the upper bound. The constraint is **met** when
that bound meets ``b``, **failed** when the opposite bound misses it, **undecided** otherwise
(more replications could settle it). A candidate is *feasible* when every constraint is met.

:func:`load_answer` reads a store and gives what a decision rests on: the best feasible
candidate with the CI of every KPI, the runner-ups within noise of it (paired CI of the
objective difference covering 0), cheaper candidates left undecided at the replication cap, the
binding constraints, the Pareto front of several objectives, and the chosen policy against the
baseline with paired CIs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiment.analysis import mean_ci, paired_differences, summarize
from sim.experiment.optspec import Constraint, Optimize
from sim.experiment.spec import ResolvedExperiment

MET, FAILED, UNDECIDED = "met", "failed", "undecided"


@dataclass(frozen=True)
class ConstraintStat:
    constraint: Constraint
    n: int
    mean: float
    bound: float          # the one-sided confidence bound compared with constraint.bound
    other: float          # the opposite one-sided bound (decides a confident failure)
    status: str           # met | failed | undecided

    @property
    def slack(self) -> float:
        """How far the bound is inside the target (positive: met with room)."""
        c = self.constraint
        return self.bound - c.bound if c.op == ">=" else c.bound - self.bound

    @property
    def optuna_value(self) -> float:
        """≤ 0 when met (Optuna's convention); finite even when the KPI is undefined."""
        v = -self.slack
        return v if math.isfinite(v) else abs(self.constraint.bound) + 1.0


@dataclass(frozen=True)
class PointStats:
    point_id: int
    n: int
    failed_runs: int
    objectives: tuple[tuple[float, float], ...]   # (mean, two-sided 95% half-width)
    constraints: tuple[ConstraintStat, ...]

    @property
    def ok(self) -> bool:
        return self.failed_runs == 0 and self.n > 0 and all(
            math.isfinite(m) for m, _ in self.objectives)

    @property
    def feasible(self) -> bool:
        return self.ok and all(c.status == MET for c in self.constraints)

    @property
    def infeasible(self) -> bool:
        return not self.ok or any(c.status == FAILED for c in self.constraints)

    @property
    def undecided(self) -> bool:
        return not self.feasible and not self.infeasible

    @property
    def status(self) -> str:
        if not self.ok:
            return "failed"
        return "feasible" if self.feasible else ("infeasible" if self.infeasible
                                                 else UNDECIDED)


def constraint_stat(c: Constraint, values: np.ndarray, confidence: float) -> ConstraintStat:
    y = values[np.isfinite(values)]
    n = len(y)
    if n == 0:
        return ConstraintStat(c, 0, float("nan"), float("nan"), float("nan"), FAILED)
    m = float(y.mean())
    sd = float(y.std(ddof=1)) if n > 1 else float("nan")
    if n > 1 and sd == 0:
        hw = 0.0
    elif n > 1:
        hw = float(stats.t.ppf(confidence, n - 1) * sd / math.sqrt(n))
    else:
        hw = math.inf
    low, high = m - hw, m + hw
    if c.op == ">=":
        bound, other = low, high
        status = MET if low >= c.bound else (FAILED if high < c.bound else UNDECIDED)
    else:
        bound, other = high, low
        status = MET if high <= c.bound else (FAILED if low > c.bound else UNDECIDED)
    return ConstraintStat(c, n, m, bound, other, status)


def point_stats(pid: int, runs: pd.DataFrame, failed_runs: int, opt: Optimize) -> PointStats:
    """Statistics of one candidate from its wide KPI rows (the replications to use)."""
    objs = []
    for o in opt.objectives:
        n, m, _, hw = mean_ci(o.per_run(runs)) if len(runs) else (0, float("nan"), 0, 0)
        objs.append((m, hw))
    cons = tuple(constraint_stat(c, runs[c.kpi].to_numpy(dtype=float) if len(runs)
                                 else np.array([]), opt.confidence) for c in opt.constraints)
    return PointStats(pid, len(runs), failed_runs, tuple(objs), cons)


def better(a: PointStats, b: PointStats, opt: Optimize) -> bool:
    """Single objective: a's mean is strictly better than b's (ties: the lower point id)."""
    o = opt.objectives[0]
    va, vb = o.sign * a.objectives[0][0], o.sign * b.objectives[0][0]
    return va < vb or (va == vb and a.point_id < b.point_id)


def dominates(a: PointStats, b: PointStats, opt: Optimize) -> bool:
    va = [o.sign * m for o, (m, _) in zip(opt.objectives, a.objectives)]
    vb = [o.sign * m for o, (m, _) in zip(opt.objectives, b.objectives)]
    return all(x <= y for x, y in zip(va, vb)) and any(x < y for x, y in zip(va, vb))


def best_feasible(all_stats: list[PointStats], opt: Optimize) -> PointStats | None:
    best = None
    for s in all_stats:
        if s.feasible and (best is None or better(s, best, opt)):
            best = s
    return best


def pareto(all_stats: list[PointStats], opt: Optimize) -> list[PointStats]:
    feas = [s for s in all_stats if s.feasible]
    return sorted((s for s in feas if not any(dominates(o, s, opt) for o in feas)),
                  key=lambda s: s.objectives[0][0] * opt.objectives[0].sign)


# --------------------------------------------------------------------------------- the answer
@dataclass
class Answer:
    exp: ResolvedExperiment
    points: pd.DataFrame                 # point_id + lever columns
    kpis: pd.DataFrame                   # wide KPI rows of the runs used (r < n per point)
    stats: dict[int, PointStats]
    trials: pd.DataFrame                 # one row per trial
    best: int | None
    front: list[int]                     # several objectives: the feasible Pareto front
    runner_ups: pd.DataFrame             # feasible candidates closest to the best
    undecided_better: list[int]          # better than the best, feasibility not settled
    binding: pd.DataFrame                # per constraint: slack at the best, what it rules out
    versus_baseline: pd.DataFrame        # paired differences best − baseline, every KPI
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # best and baseline, every KPI

    @property
    def opt(self) -> Optimize:
        assert self.exp.spec.optimize is not None
        return self.exp.spec.optimize

    def values(self, pid: int) -> dict[str, Any]:
        row = self.points.set_index("point_id").loc[pid]
        return {f: _py(row[f]) for f in self.exp.factor_names}


def short_names(names: list[str]) -> dict[str, str]:
    """Lever labels: the last part of each path, or more parts where that is ambiguous
    (``departments.sanitation.crews_per_street`` → ``sanitation.crews_per_street``)."""
    out = {}
    for n in names:
        parts = n.split(".")
        k = 1
        while k < len(parts) and sum(m.split(".")[-k:] == parts[-k:] for m in names) > 1:
            k += 1
        out[n] = ".".join(parts[-k:])
    return out


def lever_text(values: dict[str, Any]) -> str:
    short = short_names(list(values))
    return ", ".join(f"{short[k]}={v:.4g}" if isinstance(v, float) else f"{short[k]}={v}"
                     for k, v in values.items())


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def trials_frame(store) -> pd.DataFrame:  # noqa: ANN001 - a ResultsStore
    if not store._has_table("trials"):
        return pd.DataFrame(columns=["trial", "round", "point_id", "source", "duplicate",
                                     "in_space", "n", "status", "values_json"])
    return store.con.execute("SELECT * FROM trials ORDER BY trial").df()


def stored_replications(store) -> dict[int, int]:  # noqa: ANN001
    """Replications each candidate has after the last finished round."""
    if not store._has_table("replications"):
        return {}
    return {int(p): int(n) for p, n in store.con.execute(
        "SELECT point_id, max(n) FROM replications GROUP BY point_id").fetchall()}


def used_kpis(kp: pd.DataFrame, reps: dict[int, int]) -> pd.DataFrame:
    """The KPI rows each candidate's statistics rest on: replications below its count."""
    if kp.empty:
        return kp
    cap = kp.point_id.map(reps).fillna(0)
    return kp[kp.replication < cap].reset_index(drop=True)


def load_answer(store) -> Answer:  # noqa: ANN001 - a ResultsStore
    """Everything a decision rests on, from an optimisation store."""
    exp = store.experiment()
    opt = exp.spec.optimize
    if opt is None:
        raise ValueError("not an optimisation store")
    trials = trials_frame(store)
    reps = stored_replications(store)
    kp = used_kpis(store.kpis(), reps)
    failed = store.con.execute("SELECT point_id, replication FROM runs WHERE status <> 'ok'"
                               ).fetchall()
    n_failed: dict[int, int] = {}
    for p, r in failed:
        if r < reps.get(int(p), 0):
            n_failed[int(p)] = n_failed.get(int(p), 0) + 1
    by_point = {int(p): g for p, g in kp.groupby("point_id")}
    st = {p: point_stats(p, by_point.get(p, kp.iloc[0:0]), n_failed.get(p, 0), opt)
          for p in sorted(reps)}
    points = store.points()
    best = best_feasible(list(st.values()), opt)
    front = [s.point_id for s in pareto(list(st.values()), opt)] if len(opt.objectives) > 1 \
        else ([best.point_id] if best else [])
    ans = Answer(exp, points, kp, st, trials, best.point_id if best else None, front,
                 _runner_ups(kp, st, best, opt), _undecided_better(st, best, opt),
                 _binding(st, best, opt), pd.DataFrame())
    base_id = _baseline_id(trials)
    keys = [k for k in exp.spec.kpis if k in kp.columns]
    if best is not None and base_id is not None and base_id != best.point_id:
        ans.versus_baseline = paired_differences(kp, [(base_id, best.point_id)], keys)
    ids = [i for i in (base_id, ans.best) if i is not None]
    ans.summary = summarize(kp[kp.point_id.isin(ids)], keys) if ids and len(kp) else \
        pd.DataFrame()
    return ans


def _baseline_id(trials: pd.DataFrame) -> int | None:
    b = trials[trials.source == "baseline"] if len(trials) else trials
    return int(b.point_id.iloc[0]) if len(b) else None


def _runner_ups(kp: pd.DataFrame, st: dict[int, PointStats], best: PointStats | None,
                opt: Optimize, k: int = 5) -> pd.DataFrame:
    """The next feasible candidates by the (first) objective, with the paired difference to
    the best; ``within_noise`` when its 95% CI covers 0."""
    cols = ["point_id", "objective", "difference", "ci_low", "ci_high", "n_pairs",
            "within_noise"]
    if best is None:
        return pd.DataFrame(columns=cols)
    o = opt.objectives[0]
    feas = sorted((s for s in st.values() if s.feasible and s.point_id != best.point_id),
                  key=lambda s: (o.sign * s.objectives[0][0], s.point_id))[:k]
    rows = []
    by_point = {int(p): g.set_index("replication") for p, g in kp.groupby("point_id")}
    gb = by_point[best.point_id]
    yb = pd.Series(o.per_run(gb), index=gb.index)
    for s in feas:
        ga = by_point[s.point_id]
        ya = pd.Series(o.per_run(ga), index=ga.index)
        common = ya.index.intersection(yb.index)
        n, m, _, hw = mean_ci((ya[common] - yb[common]).to_numpy())
        lo, hi = m - hw, m + hw
        within = bool(n > 1 and (lo <= 0 <= hi if math.isfinite(hw) else False))
        rows.append({"point_id": s.point_id, "objective": s.objectives[0][0], "difference": m,
                     "ci_low": lo, "ci_high": hi, "n_pairs": n, "within_noise": within})
    return pd.DataFrame(rows, columns=cols)


def _undecided_better(st: dict[int, PointStats], best: PointStats | None,
                      opt: Optimize) -> list[int]:
    und = [s for s in st.values() if s.undecided]
    if best is None:
        return sorted(s.point_id for s in und)
    return sorted(s.point_id for s in und if better(s, best, opt))


def _binding(st: dict[int, PointStats], best: PointStats | None,
             opt: Optimize) -> pd.DataFrame:
    """Per constraint: its bound and slack at the best, and the better candidates it rules out
    (``alone``: the only constraint they fail). Binding = it alone rules out a better one."""
    cols = ["constraint", "mean", "bound", "slack", "rules_out", "rules_out_alone", "binding"]
    if best is None:
        return pd.DataFrame(columns=cols)
    better_ones = [s for s in st.values() if s.ok and not s.feasible and better(s, best, opt)]
    rows = []
    for j, cs in enumerate(best.constraints):
        out = [s for s in better_ones if s.constraints[j].status != MET]
        alone = [s for s in out if all(c.status == MET for i, c in enumerate(s.constraints)
                                       if i != j)]
        rows.append({"constraint": cs.constraint.label, "mean": cs.mean, "bound": cs.bound,
                     "slack": cs.slack, "rules_out": len(out), "rules_out_alone": len(alone),
                     "binding": bool(alone)})
    return pd.DataFrame(rows, columns=cols)


def trial_params(row: Any) -> dict[str, Any]:
    return json.loads(row.params_json)
