"""``gridsim optimize``: the cheapest policy that meets the targets, with its confidence.

The search runs in **rounds**. Round k builds a fresh Optuna study whose sampler is seeded from
``SeedSequence(seed, (OPT, k))`` — seeded TPE for one objective, NSGA-II for several —, replays
every trial of the earlier rounds into it (parameters, objective means, constraint values and
the sampler's own attributes) and asks ``batch`` new candidates. The candidates are evaluated
together on the backend (serial, local processes or Dask): replication r of every candidate
runs on the same seed (common random numbers). Replications are then added in stages where a
constraint is still *undecided* (its one-sided confidence bound straddles the target) and the
candidate could still beat the best feasible one — doubling up to ``max_replications``.

Everything the search decides is a function of the run results, which are a pure function of
(scenario, seed): the same experiment gives the same trials and the same answer on every
backend and with any number of workers, and a search killed at any moment resumes to the same
answer (the unfinished round is asked again, identically, and its finished runs are reused).

The store is the sweep store (``sim.experiment.store``) plus a ``trials`` table: one row per
trial (round, candidate point, parameters, replications, objective and constraint values,
status, the sampler's attributes); :func:`load_study` rebuilds the Optuna study from it.
"""

from __future__ import annotations

import json
import math
import time
import warnings
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np
import pandas as pd

from sim.experiment.analysis import mean_ci
from sim.experiment.backends import Backend
from sim.experiment.design import DesignPoint, run_seed
from sim.experiment.optspec import Optimize
from sim.experiment.optstats import (UNDECIDED, PointStats, best_feasible, better, dominates,
                                     lever_text, point_stats, stored_replications)
from sim.experiment.spec import ResolvedExperiment
from sim.experiment.store import ResultsStore
from sim.experiment.worker import RunOutcome, RunTask

_OPT = zlib.crc32(b"optimize")

TRIALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials(trial INTEGER PRIMARY KEY, round INTEGER, point_id INTEGER,
    source VARCHAR, duplicate BOOLEAN, in_space BOOLEAN, n INTEGER, status VARCHAR,
    values_json VARCHAR, constraints_json VARCHAR, params_json VARCHAR,
    system_attrs_json VARCHAR, finished_utc VARCHAR, session_id INTEGER);
CREATE TABLE IF NOT EXISTS replications(point_id INTEGER, round INTEGER, n INTEGER);
"""


# ------------------------------------------------------------------------------ lever space
def lever_space(exp: ResolvedExperiment) -> dict[str, Any]:
    """Optuna distributions of the levers (integer fields: IntDistribution; lists: choices)."""
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)

    out: dict[str, Any] = {}
    for name, f in exp.spec.factors.items():
        if f.values is not None:
            out[name] = CategoricalDistribution(list(f.values))
            continue
        lo, hi = float(f.low), float(f.high)  # type: ignore[arg-type]
        step = f.step if f.step is not None else (
            (hi - lo) / (f.num - 1) if f.num is not None else None)
        if exp.integer[name]:
            ilo, ihi = math.ceil(lo), math.floor(hi)
            istep = max(1, int(round(step))) if step else 1
            ihi = ilo + (ihi - ilo) // istep * istep
            out[name] = IntDistribution(ilo, ihi, step=istep, log=f.log and istep == 1)
        else:
            if step is not None:
                hi = lo + math.floor((hi - lo) / step + 1e-9) * step
            out[name] = FloatDistribution(lo, hi, step=step, log=f.log and step is None)
    return out


def in_space(values: dict[str, Any], dists: dict[str, Any]) -> bool:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    for name, d in dists.items():
        v = values.get(name)
        if isinstance(d, CategoricalDistribution):
            if v not in d.choices:
                return False
        elif not isinstance(v, (int, float)) or isinstance(v, bool) or not d.low <= v <= d.high:
            return False
        elif isinstance(d, IntDistribution) and (v != int(v) or (int(v) - d.low) % d.step):
            return False
        elif getattr(d, "step", None) and abs(((v - d.low) / d.step) - round(
                (v - d.low) / d.step)) > 1e-9:
            return False
    return True


def base_values(exp: ResolvedExperiment) -> dict[str, Any]:
    """The levers' values in the base scenario (the baseline candidate)."""
    data = exp.base.model_dump(mode="json", by_alias=True)
    out = {}
    for name in exp.factor_names:
        node: Any = data
        for part in name.split("."):
            node = node[part]
        out[name] = node
    return out


def _key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def _coords(values: dict[str, Any], dists: dict[str, Any]) -> tuple[float, ...]:
    out = []
    for name, d in dists.items():
        v = values[name]
        choices = getattr(d, "choices", None)
        if choices is not None:
            out.append(float(choices.index(v)) if v in choices else -1.0)
        else:
            out.append(float(v))
    return tuple(out)


def round_seed(root: int, k: int) -> int:
    ss = np.random.SeedSequence(root, spawn_key=(_OPT, k))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def make_sampler(opt: Optimize, seed: int):  # noqa: ANN201 - an optuna sampler
    import optuna

    kind = opt.sampler
    if kind == "auto":
        kind = "tpe" if len(opt.objectives) == 1 else "nsga2"
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=opt.startup_trials,
                                          constant_liar=True)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=opt.population)
    return optuna.samplers.RandomSampler(seed=seed)


def study_trials(trials: pd.DataFrame, st: dict[int, PointStats], dists: dict[str, Any],
                 opt: Optimize) -> list:
    """The finished trials as Optuna FrozenTrials, with each candidate's current statistics."""
    import optuna
    from optuna.trial import TrialState

    out = []
    for row in trials.itertuples():
        if not row.in_space:
            continue
        params = json.loads(row.params_json)
        attrs = json.loads(row.system_attrs_json or "{}")
        s = st.get(int(row.point_id))
        if s is None or not s.ok:
            out.append(optuna.trial.create_trial(state=TrialState.FAIL, params=params,
                                                 distributions=dists, system_attrs=attrs))
            continue
        cons = {str(j): c.optuna_value for j, c in enumerate(s.constraints)} or None
        out.append(optuna.trial.create_trial(
            values=[m for m, _ in s.objectives], params=params, distributions=dists,
            system_attrs=attrs, constraints=cons))
    return out


def load_study(store: ResultsStore):  # noqa: ANN201 - optuna.Study
    """The Optuna study of an optimisation store, rebuilt in memory (optuna.visualization)."""
    import optuna

    from sim.experiment.optstats import load_answer

    ans = load_answer(store)
    study = optuna.create_study(directions=[o.direction for o in ans.opt.objectives],
                                study_name=ans.exp.spec.name)
    study.add_trials(study_trials(ans.trials, ans.stats, lever_space(ans.exp), ans.opt))
    return study


# --------------------------------------------------------------------------------- reporting
class OptReporter(Protocol):
    def start(self, rounds: int, trials: int, label: str) -> None: ...

    def run(self, outcome: RunOutcome) -> None: ...

    def round(self, k: int, trials: int, best: str) -> None: ...

    def stop(self) -> None: ...


class _Silent:
    def start(self, rounds: int, trials: int, label: str) -> None: ...

    def run(self, outcome: RunOutcome) -> None: ...

    def round(self, k: int, trials: int, best: str) -> None: ...

    def stop(self) -> None: ...


@dataclass
class OptimizeSummary:
    store: Path
    rounds: int = 0
    rounds_done: int = 0          # in this invocation
    trials: int = 0
    points: int = 0
    ok: int = 0
    failed: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0
    best: int | None = None

    @property
    def executed(self) -> int:
        return self.ok + self.failed


def default_store_path(exp: ResolvedExperiment) -> Path:
    return Path("out") / "optimize" / f"{exp.spec.name}.duckdb"


# ------------------------------------------------------------------------------- the search
@dataclass
class _Trial:
    trial: int
    round: int
    point_id: int
    source: str
    duplicate: bool
    in_space: bool
    params: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)


class _Search:
    def __init__(self, exp: ResolvedExperiment, opt: Optimize, store: ResultsStore,
                 backend: Backend, reporter: OptReporter, summary: OptimizeSummary, start: Any):
        self.exp, self.opt, self.store, self.backend = exp, opt, store, backend
        self.reporter, self.summary, self._start = reporter, summary, start
        self.dists = lever_space(exp)
        self.points: dict[str, int] = {}
        self.values: dict[int, dict[str, Any]] = {}
        for row in store.con.execute("SELECT point_id, factors_json FROM points").fetchall():
            self.points[_key(json.loads(row[1]))] = int(row[0])
            self.values[int(row[0])] = json.loads(row[1])
        self.trials = store.con.execute("SELECT * FROM trials ORDER BY trial").df()
        self.reps = stored_replications(store)
        self.status = store.status()
        self.kpis: dict[tuple[int, int], dict[str, float]] = {}
        long = store.con.execute("SELECT point_id, replication, kpi, value FROM kpis").fetchall()
        for p, r, k, v in long:
            self.kpis.setdefault((int(p), int(r)), {})[k] = np.nan if v is None else v
        self.stats: dict[int, PointStats] = {p: self._stats(p, n) for p, n in self.reps.items()}

    # -- statistics
    def _stats(self, pid: int, n: int) -> PointStats:
        rows = [dict(self.kpis[(pid, r)], replication=r) for r in range(n)
                if self.status.get((pid, r)) == "ok" and (pid, r) in self.kpis]
        failed = sum(1 for r in range(n) if self.status.get((pid, r)) == "failed")
        df = pd.DataFrame(rows, columns=["replication", *self.exp.spec.kpis])
        return point_stats(pid, df, failed, self.opt)

    def best(self) -> PointStats | None:
        return best_feasible(list(self.stats.values()), self.opt)

    # -- rounds
    @property
    def rounds_done(self) -> int:
        return int(self.trials["round"].max()) + 1 if len(self.trials) else 0

    def run(self, rounds: int) -> None:
        for k in range(self.rounds_done, rounds):
            self.round(k)
            self.summary.rounds_done += 1

    def round(self, k: int) -> None:
        asked = self._ask(k)
        n0 = len(self.trials)
        cands: list[_Trial] = []
        seen: set[int] = set()
        if k == 0 and self.opt.baseline:
            asked = [("baseline", base_values(self.exp), {})] + asked
        before = set(self.trials.point_id) if len(self.trials) else set()
        for source, params, attrs in asked:
            pid = self._point(params)
            dup = pid in before or pid in seen  # the same candidate as an earlier trial
            seen.add(pid)
            cands.append(_Trial(n0 + len(cands), k, pid, source, dup,
                                source != "baseline" or in_space(params, self.dists),
                                params, attrs))
        self._evaluate(sorted(seen))
        self._record(cands)

    def _ask(self, k: int) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        import optuna
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-feature notices of the samplers
            sampler = make_sampler(self.opt, round_seed(self.exp.spec.seed, k))
            study = optuna.create_study(sampler=sampler,
                                        directions=[o.direction for o in self.opt.objectives])
            study.add_trials(study_trials(self.trials, self.stats, self.dists, self.opt))
            out = []
            for _ in range(self.opt.batch):
                t = study.ask(self.dists)
                frozen = [f for f in study.get_trials(deepcopy=False,
                                                      states=(TrialState.RUNNING,))
                          if f.number == t.number][0]
                attrs = {a: v for a, v in frozen.system_attrs.items()
                         if not a.startswith("constraints")}
                out.append(("sampler", {n: t.params[n] for n in self.dists}, attrs))
        return out

    def _point(self, values: dict[str, Any]) -> int:
        """The design point of these lever values (appended to the store when new)."""
        key = _key(values)
        if key in self.points:
            return self.points[key]
        pid = max(self.values, default=-1) + 1
        problems = self.exp.check_point(values)
        h = "" if problems else self.exp.scenario(values).hash()
        self.store.con.execute("INSERT INTO points VALUES (?, ?, ?, ?)",
                               [pid, h, json.dumps(values),
                                json.dumps(_coords(values, self.dists))])
        self.points[key], self.values[pid] = pid, values
        self.summary.points += 1
        return pid

    # -- evaluation with adaptive replications
    def _evaluate(self, pids: list[int]) -> None:
        best = self.best()  # of the earlier rounds: the racing reference
        group = pids + ([best.point_id] if best is not None and best.point_id not in pids
                        else [])
        valid = [p for p in group if not self.exp.check_point(self.values[p])]
        need = {p: max(self.reps.get(p, 0), self.exp.spec.replications) if p in valid
                else self.reps.get(p, 0) for p in group}
        while True:
            todo = [(p, r) for r in range(max(need.values(), default=0)) for p in valid
                    if r < need[p] and (p, r) not in self.status]
            if todo:
                self._start()
                self._execute(todo)
            new = {p: self._next_n(p, need, best) if p in valid else need[p] for p in group}
            if best is not None:  # the best keeps pace with its ties (paired comparisons)
                new[best.point_id] = max([new[best.point_id]] + [
                    new[p] for p in valid if p != best.point_id and new[p] > need[p]
                    and self._stats(p, need[p]).feasible])
            if new == need:
                break
            need = new
        self.changed = {p: n for p, n in need.items() if n != self.reps.get(p)}
        self.reps.update(need)
        for p in group:
            self.stats[p] = self._stats(p, need[p])

    def _next_n(self, pid: int, need: dict[int, int], best: PointStats | None) -> int:
        n, cap = need[pid], self.opt.max_replications
        s = self._stats(pid, n)
        if n >= cap or not s.ok or s.infeasible:
            return n
        if s.feasible:  # a tie with the best: more replications to tell them apart
            if best is not None and pid != best.point_id and len(self.opt.objectives) == 1 \
                    and self._tied(pid, n, best.point_id, need[best.point_id]):
                return min(cap, 2 * n)
            return n
        if best is not None and not self._could_win(s, best):
            return n
        needed = n + 1
        for c in s.constraints:
            if c.status != UNDECIDED or not math.isfinite(c.bound):
                continue
            hw, gap = abs(c.bound - c.mean), abs(c.mean - c.constraint.bound)
            needed = max(needed, math.ceil(n * (hw / gap) ** 2) if gap > 0 else cap)
        return int(min(cap, max(n + 1, min(2 * n, needed))))

    def _objective_runs(self, pid: int, n: int) -> dict[int, float]:
        o = self.opt.objectives[0]
        rows = {r: self.kpis[(pid, r)] for r in range(n)
                if self.status.get((pid, r)) == "ok" and (pid, r) in self.kpis}
        if not rows:
            return {}
        v = o.per_run(pd.DataFrame(list(rows.values()), columns=list(self.exp.spec.kpis)))
        return dict(zip(rows, v))

    def _tied(self, pid: int, n: int, best: int, nb: int) -> bool:
        """The paired 95% CI of the objective difference to the best covers 0."""
        m = min(n, nb)
        a, b = self._objective_runs(pid, m), self._objective_runs(best, m)
        d = [a[r] - b[r] for r in a if r in b and np.isfinite(a[r] - b[r])]
        k, mean, sd, hw = mean_ci(d)
        return k >= 2 and sd > 0 and mean - hw <= 0 <= mean + hw

    def _could_win(self, s: PointStats, best: PointStats) -> bool:
        if len(self.opt.objectives) == 1:
            return better(s, best, self.opt)
        return not any(dominates(o, s, self.opt) for o in self.stats.values() if o.feasible)

    def _execute(self, todo: list[tuple[int, int]]) -> None:
        exp, h = self.exp, self.exp.hash

        def tasks() -> Iterator[RunTask]:
            for pid, r in todo:
                yield RunTask(pid, r, run_seed(exp.spec.seed, pid, r,
                                               exp.spec.common_random_numbers),
                              exp.scenario(self.values[pid]), exp.spec.kpis, exp.spec.timeseries)

        def on_result(o: RunOutcome) -> None:
            self.store.record(o, h)
            self.status[(o.point_id, o.replication)] = o.status
            if o.status == "ok":
                self.kpis[(o.point_id, o.replication)] = {
                    k: (np.nan if v is None else v) for k, v in o.kpis.items()}
                self.summary.ok += 1
            else:
                self.summary.failed += 1
            self.reporter.run(o)

        self.backend.run(tasks(), on_result)

    def _record(self, cands: list[_Trial]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        rows = []
        for c in cands:
            s = self.stats[c.point_id]
            status = "invalid" if self.exp.check_point(self.values[c.point_id]) else s.status
            rows.append({
                "trial": c.trial, "round": c.round, "point_id": c.point_id, "source": c.source,
                "duplicate": c.duplicate, "in_space": c.in_space, "n": s.n,
                "status": status, "values_json": json.dumps([m for m, _ in s.objectives]),
                "constraints_json": json.dumps([[c2.mean, c2.bound, c2.status]
                                                for c2 in s.constraints]),
                "params_json": json.dumps(c.params), "system_attrs_json": json.dumps(c.attrs),
                "finished_utc": now, "session_id": self.store.session_id})
        df = pd.DataFrame(rows)
        reps = pd.DataFrame([(p, cands[-1].round, n) for p, n in sorted(self.changed.items())],
                            columns=["point_id", "round", "n"])
        con = self.store.con
        con.execute("BEGIN")
        con.execute("INSERT INTO trials SELECT * FROM df")
        if len(reps):
            con.execute("INSERT INTO replications SELECT * FROM reps")
        con.execute("COMMIT")
        self.trials = pd.concat([self.trials, df], ignore_index=True) if len(self.trials) \
            else df
        self.summary.trials = len(self.trials)
        best = self.best()
        self.summary.best = best.point_id if best else None
        self.reporter.round(cands[-1].round, len(self.trials), self.describe(best))

    def describe(self, best: PointStats | None) -> str:
        if best is None:
            return "no feasible candidate yet"
        v = self.values[best.point_id]
        levers = lever_text(v)
        o = self.opt.objectives[0]
        m, hw = best.objectives[0]
        ci = f" ± {hw:,.4g}" if math.isfinite(hw) and hw > 0 else ""
        return f"point {best.point_id} ({levers}): {o.label} {m:,.6g}{ci} (n={best.n})"


def optimize(exp: ResolvedExperiment, backend: Backend, store_path: str | Path | None = None,
             *, trials: int | None = None, reporter: OptReporter | None = None,
             command: str = "") -> OptimizeSummary:
    """Run (or resume) the optimisation into its store; return what was done."""
    opt = exp.spec.optimize
    if opt is None:
        raise ValueError(f"{exp.spec.name} has no optimize section")
    if trials is not None:
        opt = opt.model_copy(update={"trials": trials})
    path = Path(store_path) if store_path else default_store_path(exp)
    reporter = reporter or _Silent()
    summary = OptimizeSummary(store=path, rounds=opt.rounds)
    t0 = time.perf_counter()
    with ResultsStore(path) as store, ExitStack() as stack:
        base = base_values(exp)
        pts = [DesignPoint(0, base, _coords(base, lever_space(exp)))] if opt.baseline else []
        store.attach(exp, pts)
        store.con.execute(TRIALS_SCHEMA)
        store._set_meta({"optimize_json": json.dumps(opt.model_dump(mode="json"))})
        store.begin_session(command, backend.label, getattr(backend, "workers", 1))
        started: list[Backend] = []

        def start() -> None:
            if not started:
                started.append(stack.enter_context(backend))
                store.set_session_workers(getattr(backend, "workers", 1))

        search = _Search(exp, opt, store, backend, reporter, summary, start)
        reporter.start(opt.rounds, 1 + opt.rounds * opt.batch if opt.baseline
                       else opt.rounds * opt.batch, f"{exp.spec.name} ({backend.label})")
        outcome = "finished"
        try:
            search.run(opt.rounds)
        except KeyboardInterrupt:
            summary.interrupted, outcome = True, "interrupted"
            abort = getattr(backend, "abort", None)
            if started and abort is not None:
                abort()
        except BaseException:
            outcome = "error"
            raise
        finally:
            reporter.stop()
            summary.trials = len(search.trials)
            summary.elapsed_s = time.perf_counter() - t0
            store.end_session(summary.ok, summary.failed, outcome)
    return summary


class RichOptReporter:
    """Rich progress: trials done/total, runs (failed), best feasible so far with its CI."""

    def __init__(self, console=None, disable: bool = False):  # noqa: ANN001
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("trials · {task.fields[runs]} runs ([red]{task.fields[failed]} failed[/])"),
            TimeElapsedColumn(), TextColumn("\n  best feasible: {task.fields[best]}"),
            console=console, disable=disable, transient=False)
        self.task = None
        self.runs = self.failed = 0

    def start(self, rounds: int, trials: int, label: str) -> None:
        self.progress.start()
        self.task = self.progress.add_task(label, total=trials, runs=0, failed=0,
                                           best="–")

    def run(self, outcome: RunOutcome) -> None:
        self.runs += 1
        self.failed += outcome.status != "ok"
        self.progress.update(self.task, runs=self.runs, failed=self.failed)

    def round(self, k: int, trials: int, best: str) -> None:
        from rich.markup import escape

        self.progress.update(self.task, completed=trials, best=escape(best))

    def stop(self) -> None:
        self.progress.stop()


class LineOptReporter:
    """Plain progress for logs and pipes: one line per round, flushed."""

    def __init__(self, stream=None):  # noqa: ANN001
        import sys

        self.stream = stream or sys.stderr
        self.rounds = self.total = self.runs = self.failed = 0
        self.t0 = time.perf_counter()

    def start(self, rounds: int, trials: int, label: str) -> None:
        self.rounds, self.total = rounds, trials
        print(f"{label}: {rounds} rounds, {trials} trials", file=self.stream, flush=True)

    def run(self, outcome: RunOutcome) -> None:
        self.runs += 1
        self.failed += outcome.status != "ok"

    def round(self, k: int, trials: int, best: str) -> None:
        print(f"[round {k + 1}/{self.rounds}] trials {trials}/{self.total} · {self.runs} runs "
              f"({self.failed} failed) · {time.perf_counter() - self.t0:.1f} s · best feasible: "
              f"{best}", file=self.stream, flush=True)

    def stop(self) -> None:
        return None
