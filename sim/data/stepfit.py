"""Fitting a per-step case export (:mod:`sim.data.gridcase`): each step's duration, the channel
mix, the on-time rate, satisfaction, and monthly seasonality and holidays of a year-long log.

Each step (report → filed → dispatched → handled → feedback → verified → closed, the columns the
log has) is fitted on its own: a case with both times gives a duration; a case still open whose
later steps are all missing is right-censored at its age when the log was extracted (the latest
time in it); a case whose next step is missing but a later one is there (the step was not
recorded) leaves that step out. Cases closed without a dispatch (fixed on the spot, answered on
the call) are counted and leave the step fits. The fit is :func:`sim.data.ttcfit.fit_ttc` — the
Kaplan–Meier quantiles (:func:`sim.data.ttcfit.km_quantiles`) and a hurdle lognormal by censored
maximum likelihood checked against them — as for time to close.

The fitted steps go to the scenario fields that hold them (:data:`STEP_FIELDS`); the
dispatched → handled step is fitted per department (its categories' department through the
mapping). The model adds its own crew waiting and travel to the handling time, so the written
handling time is an upper start that ``--fit`` corrects. The lognormal written is the one of the
positive durations (the model's step distributions have no mass at 0; a zero share above 5% is
a warning).

Channel shares, the on-time rate (closed by the due time, extended where the log extends it,
among the cases decided: closed, parked, or past due at extraction — as ``on_time_rate`` in
:mod:`sim.metrics`), satisfaction, monthly seasonality and holidays are targets to match and are
reported; the scenario has no field that sets them directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.data.gridcase import CaseSteps
from sim.data.ttcfit import TTCFit, fit_ttc

if TYPE_CHECKING:
    from sim.scenario import Scenario

#: step → the scenario field its fitted duration goes to (``handled`` per department)
STEP_FIELDS: dict[tuple[str, str], str] = {
    ("created", "filed"): "platform.screening_time",
    ("filed", "dispatched"): "platform.dispatch_time",
    ("dispatched", "handled"): "departments.{department}.handling_time",
    ("handled", "feedback"): "platform.feedback_delay",
    ("feedback", "verified"): "patrol.verification_time",
}
#: fewer durations than this: the step (or a department's handling) keeps the base value
MIN_DURATIONS = 30
#: a log spanning at least this many days gives monthly seasonality and holidays
YEAR_DAYS = 330
#: a day this unlikely low under its month and weekday (Poisson) is a holiday candidate
HOLIDAY_P = 0.001
NOT_CASES = ("cancelled", "duplicate")
_Z = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float, float]:
    """Share k/n and its Wilson 95% interval."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p = k / n
    den = 1 + _Z * _Z / n
    mid = (p + _Z * _Z / (2 * n)) / den
    half = _Z * math.sqrt(p * (1 - p) / n + _Z * _Z / (4 * n * n)) / den
    return p, max(0.0, mid - half), min(1.0, mid + half)


@dataclass
class StepStat:
    """One step's durations (hours) and fit; ``target`` is the scenario field written (or None)."""

    a: str
    b: str
    fit: TTCFit
    target: str | None
    group: str = ""            # department, for the handling step
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.a} → {self.b}" + (f" ({self.group})" if self.group else "")


@dataclass
class StepFit:
    cases: CaseSteps
    steps: list[StepStat]
    channels: dict[str, tuple[int, float, float, float]]   # code → n, share, lo, hi
    on_time: tuple[int, int, float, float, float] | None   # decided, on time, rate, lo, hi
    extended_share: float
    satisfaction: tuple[int, float, float, float] | None   # n, mean, lo, hi
    closed_directly: int
    monthly: pd.DataFrame | None = None
    holidays: list[tuple[str, int, float]] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def step(self, a: str, b: str, group: str = "") -> StepStat | None:
        return next((s for s in self.steps if (s.a, s.b, s.group) == (a, b, group)), None)

    def report_lines(self) -> list[str]:
        return _report(self)


def _hours(x: pd.Series) -> np.ndarray:
    return (x / pd.Timedelta(hours=1)).to_numpy(float)


def step_durations(cs: CaseSteps, a: str, b: str, rows: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(durations, censored ages) in hours of step a → b among ``rows`` (a boolean mask)."""
    df = cs.frame
    later = [s for s in cs.steps[cs.steps.index(b) + 1:]]
    has_a, has_b = df[a].notna().to_numpy(), df[b].notna().to_numpy()
    any_later = df[later].notna().any(axis=1).to_numpy() if later else np.zeros(len(df), bool)
    still_open = ~df.status.isin(["closed", "parked", *NOT_CASES]).to_numpy()
    done = rows & has_a & has_b
    cens = rows & has_a & ~has_b & ~any_later & still_open
    d = _hours(df[b][done] - df[a][done])
    c = _hours(cs.extracted - df[a][cens])
    return d, np.maximum(c, 0.0)


def _lognormal(f: TTCFit) -> dict[str, Any] | None:
    if not f.fit:
        return None
    mu, s = f.fit["mu"], f.fit["sigma"]
    mean = math.exp(mu + s * s / 2)
    cv = min(max(math.sqrt(math.expm1(s * s)), 0.01), 10.0)
    if not (mean > 0 and math.isfinite(mean)):
        return None
    return {"dist": "lognormal", "mean": round(mean, 6), "cv": round(cv, 4)}


def fit_steps(cs: CaseSteps, scenario: "Scenario") -> StepFit:
    """Fit every step of a per-step export, its channel mix, on-time rate and seasons."""
    df = cs.frame
    warnings: list[str] = []
    case = (~df.status.isin(NOT_CASES)).to_numpy()
    use = case & df.ordered.to_numpy()
    direct = np.zeros(len(df), bool)
    if "dispatched" in cs.steps and "closed" in cs.steps:
        direct = case & df.closed.notna().to_numpy() & df.dispatched.isna().to_numpy()
    use &= ~direct
    out = StepFit(cases=cs, steps=[], channels={}, on_time=None, extended_share=float("nan"),
                  satisfaction=None, closed_directly=int(direct.sum()))
    dept = _departments(df, scenario)
    pairs = list(zip(cs.steps[:-1], cs.steps[1:]))
    for a, b in pairs:
        target = STEP_FIELDS.get((a, b))
        rows = use
        note = ""
        if (a, b) == ("created", "filed"):
            not_patrol = use & df.channel.notna().to_numpy() & (df.channel != "patrol").to_numpy()
            if not_patrol.sum() >= MIN_DURATIONS:
                rows, note = not_patrol, "cases not reported by patrol (the model adds the " \
                                         "worker's report time to patrol cases)"
            elif "channel" in cs.columns:
                note = (f"patrol cases included (only {int(not_patrol.sum())} others): the "
                        "worker's report time is in it")
        if (a, b) == ("dispatched", "handled"):
            _fit_handling(cs, use, dept, scenario, out, warnings)
        d, c = step_durations(cs, a, b, rows)
        st = StepStat(a, b, fit_ttc(d, c, name=f"{a} → {b}"),
                      None if "{" in (target or "") else target, note=note)
        out.steps.append(st)
        _write(st, out, warnings)
    if not cs.steps or len(cs.steps) < 2:
        warnings.append("the log has fewer than two step times: no step could be fitted")
    _channels(cs, case, out, warnings)
    _on_time(cs, case, out)
    sat = df.satisfaction[case & df.satisfaction.notna().to_numpy()]
    if len(sat) >= 2:
        half = _Z * float(sat.std(ddof=1)) / math.sqrt(len(sat))
        out.satisfaction = (len(sat), float(sat.mean()), float(sat.mean()) - half,
                            float(sat.mean()) + half)
    _seasons(cs, case, out)
    warnings += _input_warnings(cs)
    out.warnings = warnings
    return out


def fit_case_log(path: Any, mapping: Any, scenario: "Scenario", *,
                 columns: dict[str, str] | None = None, tz: str | None = None) -> StepFit:
    """Read a per-step case export (:func:`sim.data.gridcase.read_case_log`) and fit it."""
    from sim.data.gridcase import read_case_log

    return fit_steps(read_case_log(path, mapping, columns=columns, tz=tz), scenario)


def _departments(df: pd.DataFrame, scenario: "Scenario") -> pd.Series:
    """Each case's department: its subtype's, else its category's (None when unmapped)."""
    cats = scenario.incidents.categories

    def one(c: str | None, s: str | None) -> str | None:
        if c not in cats:
            return None
        sub = cats[c].subtypes.get(s) if s else None
        return (sub.department if sub is not None and sub.department else cats[c].department)

    return pd.Series([one(c, s) for c, s in zip(df.category, df.subtype)], index=df.index,
                     dtype=object)


def _fit_handling(cs: CaseSteps, use: np.ndarray, dept: pd.Series, scenario: "Scenario",
                  out: StepFit, warnings: list[str]) -> None:
    for code in sorted(set(dept.dropna())):
        rows = use & (dept == code).to_numpy()
        d, c = step_durations(cs, "dispatched", "handled", rows)
        target = f"departments.{code}.handling_time" if code in scenario.departments else None
        st = StepStat("dispatched", "handled", fit_ttc(d, c, name=f"handling ({code})"), target,
                      group=code, note="crew waiting and travel included")
        out.steps.append(st)
        _write(st, out, warnings)


def _write(st: StepStat, out: StepFit, warnings: list[str]) -> None:
    f = st.fit
    if st.target is None:
        return
    if f.closed < MIN_DURATIONS:
        st.note = (st.note + "; " if st.note else "") + f"base value kept ({f.closed} durations, " \
                                                        f"fewer than {MIN_DURATIONS})"
        st.target = None
        return
    ln = _lognormal(f)
    if ln is None:
        warnings.append(f.warning or f"{st.name}: not fitted; the base value is kept")
        st.target = None
        return
    if f.warning:
        warnings.append(f.warning)
    if f.fit.get("p0", 0) > 0.05:
        warnings.append(f"{st.name}: {100 * f.fit['p0']:.0f}% of the durations are 0 h; the "
                        "lognormal written is the one of the positive durations")
    out.overrides[st.target] = ln


def _channels(cs: CaseSteps, case: np.ndarray, out: StepFit, warnings: list[str]) -> None:
    df = cs.frame
    if "channel" not in cs.columns:
        return
    ch = df.channel[case]
    known = ch.dropna()
    for code, k in known.value_counts().items():
        out.channels[str(code)] = (int(k), *wilson(int(k), len(known)))
    unknown = int(ch.isna().sum())
    if unknown > 0.05 * max(len(ch), 1):
        top = sorted(cs.channel_unknown.items(), key=lambda kv: -kv[1])[:5]
        warnings.append(f"{100 * unknown / len(ch):.0f}% of the cases have a source the "
                        "channel vocabulary does not know (left out of the shares): "
                        + ", ".join(f"{k!r} ({v:,})" for k, v in top))


def _on_time(cs: CaseSteps, case: np.ndarray, out: StepFit) -> None:
    df = cs.frame
    due = df.due
    has = case & due.notna().to_numpy()
    if not has.any():
        return
    closed = (df.status == "closed").to_numpy() & df.closed.notna().to_numpy() \
        if "closed" in df else np.zeros(len(df), bool)
    decided = has & (closed | (df.status == "parked").to_numpy()
                     | (due <= cs.extracted).to_numpy())
    on_time = decided & closed & (df.closed <= due).to_numpy() if "closed" in df else decided & False
    out.on_time = (int(decided.sum()), int(on_time.sum()),
                   *wilson(int(on_time.sum()), int(decided.sum())))
    out.extended_share = float(df.extended[has].mean())


def _seasons(cs: CaseSteps, case: np.ndarray, out: StepFit) -> None:
    from scipy import stats

    t = cs.frame.created[case & cs.frame.category.notna().to_numpy()]
    if t.empty:
        return
    days = pd.date_range(t.min().normalize() + pd.Timedelta(days=1), t.max().normalize(),
                         freq="D", inclusive="left")  # whole days only
    if len(days) < YEAR_DAYS:
        return
    daily = t.dt.normalize().value_counts().reindex(days, fill_value=0)
    mean = daily.mean()
    by_month = daily.groupby(daily.index.month)
    n, nd = by_month.sum(), by_month.size()
    lo = stats.chi2.ppf(0.025, 2 * n) / 2 / nd / mean
    hi = stats.chi2.ppf(0.975, 2 * n + 2) / 2 / nd / mean
    out.monthly = pd.DataFrame({"requests": n, "days": nd, "index": n / nd / mean,
                                "lo": np.nan_to_num(lo), "hi": hi})
    month_f = daily.index.month.map(out.monthly["index"]).to_numpy(float)
    base = daily.to_numpy(float) / np.maximum(month_f, 1e-9)
    dow = pd.Series(base).groupby(daily.index.day_of_week).mean().to_numpy() / base.mean()
    expected = mean * month_f * dow[daily.index.day_of_week]
    p = stats.poisson.cdf(daily.to_numpy(), expected)
    low = (p < HOLIDAY_P) & (daily.to_numpy() < 0.6 * expected)
    out.holidays = [(f"{d:%Y-%m-%d}", int(k), float(e))
                    for d, k, e in zip(daily.index[low], daily[low], expected[low])]


def _input_warnings(cs: CaseSteps) -> list[str]:
    out = []
    for col, n in cs.unreadable.items():
        out.append(f"{n:,} unreadable time(s) in {col!r}: read as missing")
    bad = sum(cs.out_of_order.values())
    if bad:
        out.append(f"{bad:,} case(s) with steps out of order left the step fits: "
                   + ", ".join(f"{k} ({v:,})" for k, v in cs.out_of_order.items()))
    for reason, n in cs.skipped.items():
        out.append(f"{n:,} row(s) left out: {reason}")
    if cs.deadline_unreadable:
        out.append(f"{cs.deadline_unreadable:,} deadline(s) neither a time nor a duration "
                   "(e.g. 4小时, 2天, 3工作日): left out of the on-time rate")
    if cs.extension_unreadable:
        out.append(f"{cs.extension_unreadable:,} extension value(s) neither a time nor yes/no "
                   "(是/否): read as not extended")
    if cs.satisfaction_unreadable:
        out.append(f"{cs.satisfaction_unreadable:,} satisfaction value(s) not a number: left out")
    return out


def _f(v: float, nd: int = 2) -> str:
    return "–" if v is None or v != v else f"{v:,.{nd}f}"


def _report(sf: StepFit) -> list[str]:
    cs = sf.cases
    cols = ", ".join(f"{k} = {v!r}" for k, v in cs.columns.items() if k not in ("lat", "lon"))
    lines = ["", "## Case steps (per-step case export)", "",
             f"Columns read: {cols}. Coordinates are not read; the unit column is recognised "
             "and not kept; no free text is read. "
             f"{len(cs.frame):,} cases; {sf.closed_directly:,} closed without a dispatch (on "
             "the spot or on the call) leave the step fits. Durations in hours: Kaplan–Meier "
             "median and p90 (cases still open censored at the log's end, "
             f"{cs.extracted:%Y-%m-%d %H:%M}), the lognormal fitted, and the field written.", "",
             "| step | durations | censored | KM median | KM p90 | fitted median | fitted p90 | "
             "written to | note |", "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for s in sf.steps:
        f = s.fit
        lines.append(f"| {s.name} | {f.closed:,} | {f.censored:,} | {_f(f.km.get('p50'))} | "
                     f"{_f(f.km.get('p90'))} | {_f(f.fit.get('median', float('nan')))} | "
                     f"{_f(f.fit.get('p90', float('nan')))} | "
                     f"{'`' + s.target + '`' if s.target else '–'} | {s.note} |")
    if sf.channels:
        lines += ["", "Channel shares (target for the run's reports by channel; Wilson 95% "
                  "interval):", "", "| channel | cases | share | 95% CI |", "|---|---:|---:|---|"]
        for code, (k, p, lo, hi) in sorted(sf.channels.items(), key=lambda kv: -kv[1][0]):
            lines.append(f"| {code} | {k:,} | {100 * p:.1f}% | {100 * lo:.1f}–{100 * hi:.1f}% |")
    if sf.on_time is not None:
        n, k, p, lo, hi = sf.on_time
        lines += ["", f"On-time rate (target for `on_time_rate`): {k:,} of {n:,} decided cases "
                  f"closed by their due time = {100 * p:.1f}% (95% CI {100 * lo:.1f}–"
                  f"{100 * hi:.1f}%); {100 * sf.extended_share:.1f}% of the cases with a "
                  "deadline were extended."]
    if sf.satisfaction is not None:
        n, m, lo, hi = sf.satisfaction
        lines += ["", f"Satisfaction: mean {m:.2f} over {n:,} scores (95% CI {lo:.2f}–{hi:.2f})."]
    if sf.monthly is not None:
        lines += ["", "Monthly seasonality (requests per day relative to the year's mean, exact "
                  "Poisson 95% interval; the scenario has no seasonal field: a target for a "
                  "sweep over rates):", "", "| month | requests | days | index | 95% CI |",
                  "|---:|---:|---:|---:|---|"]
        for m, r in sf.monthly.iterrows():
            lines.append(f"| {m} | {int(r.requests):,} | {int(r.days)} | {r['index']:.3f} | "
                         f"{r.lo:.3f}–{r.hi:.3f} |")
        lines += ["", f"Holiday candidates (days with far fewer requests than their month and "
                  f"weekday predict, Poisson p < {HOLIDAY_P}): "
                  + (", ".join(f"{d} ({k} vs {e:.0f})" for d, k, e in sf.holidays[:40])
                     + (f" … and {len(sf.holidays) - 40} more" if len(sf.holidays) > 40 else "")
                     if sf.holidays else "none") + "."]
    return lines
