"""Calibration from real service-request logs: Open311 GeoReport v2 or NYC 311 (facts.md).

``gridsim calibrate LOG.csv --format open311|nyc311`` reads a log (CSV, or JSON: a list of
request objects as a GeoReport v2 server or the NYC Open Data API returns), maps each
request's service (code or name) or complaint type to a gridsim incident category through an
editable mapping file (``sim/data/mapping_*.yaml``), and fits:

* the arrival rate of each category, per 1,000 households per day (count / days observed /
  households × 1,000), with its exact Poisson 95% interval and the dispersion of daily counts
  (variance / mean: about 1 for a Poisson process, larger when days differ more than chance);
* the hour-of-day and day-of-week profiles (pooled over mapped requests, normalised to mean 1),
  exactly the separable form the model's arrival process uses;
* the time to close of each category as a lognormal (maximum likelihood on log hours, requests
  still open at the log's end right-censored), with observed against fitted mean, median and
  90th percentile and the Kolmogorov–Smirnov distance.

It writes a scenario — the base scenario with the fitted rates and profiles — and a fit report.
In gridsim the time to close is an *outcome* of the workflow, not an input, so the fitted
time-to-close distributions go to the report (and as comments into the scenario) as targets to
compare a run against, not into a field.

Reading, mapping and the log formats are in :mod:`sim.data.servicelog`. Privacy: only the columns
listed in ``sim.data.servicelog.FORMATS`` are ever kept; addresses, coordinates, free text
(description, descriptor, status_notes, resolution text) and media links are discarded as each
line or object is read, so they cannot end up in the outputs. Rows that cannot be used are counted by reason, never
fatal; a file that is not in the stated format is a :class:`CalibrationError` naming the
missing columns (CLI exit 2).

Rates come from *logged requests*, i.e. cases; the model's category rates are rates of
incidents. The two differ by the cases handed down from higher levels (added on top of the
category rates), by incidents no channel can notice, and by incidents still undiscovered when a
short run ends. ``--match-cases`` (:func:`match_case_rates`) runs the calibrated scenario and
rescales each rate so that it files cases at the log's rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.data.servicelog import (
    FORMATS,
    CalibrationError,
    LogData,
    Mapping,
    default_mapping_path,
    load_mapping,
    read_log,
)
from sim.scenario import Scenario, scenario_with

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


# ---------------------------------------------------------------------------------- fitting
@dataclass
class CategoryFit:
    category: str
    requests: int
    rate_per_day: float
    rate_ci: tuple[float, float]
    rate_per_1000_households_per_day: float
    dispersion: float
    closed: int
    open_share: float
    ttc_obs: dict[str, float]
    ttc_fit: dict[str, float]
    ks: float
    #: chi-square p-values of this category's hour-of-day and weekday counts against the pooled
    #: profiles the model uses for every category (NaN when too few requests to test)
    hourly_p: float = float("nan")
    weekly_p: float = float("nan")
    #: requests mapped to each subtype, and the fitted shares (None: no subtype-level rule)
    subtype_counts: dict[str, int] | None = None
    subtype_shares: dict[str, float] | None = None


@dataclass
class Calibration:
    """Everything fitted from one log, and how well it fits."""

    source: str
    fmt: str
    mapping: str
    households: float
    households_from: str
    start: datetime
    days: int
    log: LogData
    categories: dict[str, CategoryFit]
    hourly: tuple[float, ...]
    weekly: tuple[float, ...]
    kept_from_base: tuple[str, ...]
    #: household-weighted mean incident multiplier (zones, hotspots) of the base city: the
    #: written category rates are divided by it so the calibrated city reproduces the log's rate
    multiplier: float = 1.0
    #: per-category check of cases filed by the calibrated scenario (see match_case_rates)
    matching: "pd.DataFrame | None" = None

    def overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {"city.households": int(round(self.households)),
                               "incidents.hourly_profile": list(self.hourly),
                               "incidents.weekly_profile": list(self.weekly)}
        for c, f in self.categories.items():
            out[f"incidents.categories.{c}.rate_per_1000_households_per_day"] = round(
                f.rate_per_1000_households_per_day / self.multiplier, 6)
            for sub, share in (f.subtype_shares or {}).items():
                out[f"incidents.categories.{c}.subtypes.{sub}.share"] = share
        return out


def _poisson_ci(n: int, days: float) -> tuple[float, float]:
    from scipy import stats

    lo = stats.chi2.ppf(0.025, 2 * n) / 2 if n > 0 else 0.0
    hi = stats.chi2.ppf(0.975, 2 * n + 2) / 2
    return float(lo / days), float(hi / days)


def _lognormal_summary(mu: float, s: float) -> dict[str, float]:
    return {"mean": math.exp(mu + s * s / 2), "cv": math.sqrt(math.expm1(s * s)),
            "median": math.exp(mu), "p90": math.exp(mu + 1.2815515655446004 * s),
            "mu": mu, "sigma": s}


def fit_lognormal(hours: "np.ndarray", censored: "np.ndarray | None" = None) -> dict[str, float]:
    """Maximum-likelihood lognormal of positive durations: mean, cv, median, p90 (hours).

    ``censored`` are the ages of requests still open when the log was extracted: their time to
    close is only known to exceed that age (right-censoring). Leaving them out biases the fit
    towards quick closures; with them the likelihood is Σ log f(closed) + Σ log S(open).
    """
    import numpy as np

    x = np.asarray(hours, dtype=float)
    x = x[x > 0]
    if len(x) < 2:
        return {}
    logs = np.log(x)
    mu, s = float(logs.mean()), float(logs.std(ddof=0))
    if s == 0:
        return {"mean": float(x[0]), "cv": 0.0, "median": float(x[0]), "p90": float(x[0]),
                "mu": mu, "sigma": 0.0}
    c = np.asarray(censored if censored is not None else [], dtype=float)
    c = c[c > 0]
    if len(c) == 0:
        return _lognormal_summary(mu, s)
    from scipy import optimize, stats

    logc = np.log(c)

    def nll(theta: "np.ndarray") -> float:
        m, log_s = theta
        sd = math.exp(log_s)
        return -(float(stats.norm.logpdf((logs - m) / sd).sum()) - len(logs) * log_s
                 + float(stats.norm.logsf((logc - m) / sd).sum()))

    res = optimize.minimize(nll, np.array([mu, math.log(s)]), method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    out = _lognormal_summary(float(res.x[0]), math.exp(float(res.x[1])))
    out["censored"] = float(len(c))
    return out


def _subtype_shares(subs: "pd.Series", names: list[str]
                    ) -> tuple[dict[str, int] | None, dict[str, float] | None]:
    """Shares of a category's subtypes from the requests mapped to a subtype: (n_s + ½) /
    (N + ½·k), so a subtype the log never shows keeps a small share (the schema needs > 0);
    rounded to 6 decimals with the last one taking the remainder, so they add up to 1."""
    known = subs.dropna()
    if known.empty:
        return None, None
    counts = {n: int((known == n).sum()) for n in names}
    total = sum(counts.values()) + 0.5 * len(names)
    shares = {n: round((counts[n] + 0.5) / total, 6) for n in names}
    last = names[-1]
    shares[last] = round(1.0 - sum(v for k, v in shares.items() if k != last), 6)
    return counts, shares


def _profile_p(counts: "np.ndarray", pooled: "np.ndarray") -> float:
    """Chi-square p-value of one category's counts against the pooled profile (scaled to them);
    NaN when fewer than 5 are expected in some cell (the test would not be valid)."""
    import numpy as np
    from scipy import stats

    n = counts.sum()
    p = np.asarray(pooled, dtype=float)
    c = np.asarray(counts, dtype=float)
    if n == 0 or p.sum() <= 0:
        return float("nan")
    expected = p / p.sum() * n
    obs_bins, exp_bins, o_acc, e_acc = [], [], 0.0, 0.0
    for o, e in zip(c, expected):  # merge neighbouring sparse cells (e.g. night hours)
        o_acc, e_acc = o_acc + o, e_acc + e
        if e_acc >= 5:
            obs_bins.append(o_acc)
            exp_bins.append(e_acc)
            o_acc = e_acc = 0.0
    if e_acc and exp_bins:
        obs_bins[-1] += o_acc
        exp_bins[-1] += e_acc
    if len(exp_bins) < 2:
        return float("nan")
    return float(stats.chisquare(obs_bins, exp_bins).pvalue)


def fit_log(log: LogData, households: float, households_from: str, mapping: Mapping,
            scenario: Scenario, source: str, fmt: str) -> Calibration:
    """Fit rates, profiles and time-to-close distributions from the mapped requests."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    df = log.frame
    if df.empty:
        top = sorted(log.unmapped.items(), key=lambda kv: -kv[1])[:8]
        seen = ("; unmapped: " + ", ".join(f"{k!r} ({v:,})" for k, v in top)) if top else ""
        raise CalibrationError([("", f"no request could be mapped to a gridsim category "
                                     f"({log.rows_read:,} rows read){seen}; add them to the "
                                     "mapping (--mapping FILE)")], source)
    start = df.created.min().normalize()
    end = df.created.max().normalize() + pd.Timedelta(days=1)
    # the log's extraction time is not recorded: its latest timestamp stands in for it
    extracted = max(df.created.max(), df.closed.max()) if df.closed.notna().any() \
        else df.created.max()
    days = int((end - start) / pd.Timedelta(days=1))
    day_index = ((df.created - start) / pd.Timedelta(days=1)).astype(int).to_numpy()
    hours = df.created.dt.hour.to_numpy()
    weekday = df.created.dt.day_of_week.to_numpy()
    all_days = pd.date_range(start, periods=days, freq="D")
    weekday_days = np.bincount(all_days.day_of_week, minlength=7).astype(float)
    hourly = np.bincount(hours, minlength=24) / days
    weekly = np.bincount(weekday, minlength=7) / np.maximum(weekday_days, 1)
    weekly = np.where(weekday_days > 0, weekly, np.nan)
    weekly = np.where(np.isnan(weekly), np.nanmean(weekly), weekly)
    hourly_n = hourly / hourly.mean() if hourly.mean() > 0 else np.ones(24)
    weekly_n = weekly / weekly.mean() if weekly.mean() > 0 else np.ones(7)
    # an hour or weekday never seen in the log gets a tiny floor rather than exactly zero
    hourly_n = np.maximum(hourly_n, 1e-3)
    weekly_n = np.maximum(weekly_n, 1e-3)

    fits: dict[str, CategoryFit] = {}
    for cat in sorted(mapping.targets):
        sel = (df.category == cat).to_numpy()
        n = int(sel.sum())
        daily = np.bincount(day_index[sel], minlength=days)
        disp = float(daily.var(ddof=1) / daily.mean()) if n and days > 1 else float("nan")
        closed = df.closed[sel].notna()
        ttc = ((df.closed[sel][closed] - df.created[sel][closed])
               / pd.Timedelta(hours=1)).to_numpy(dtype=float)
        still_open = df.open[sel].to_numpy(dtype=bool)
        ages = ((extracted - df.created[sel][still_open])
                / pd.Timedelta(hours=1)).to_numpy(dtype=float)
        obs = {}
        fit = fit_lognormal(ttc, censored=ages)
        ks = float("nan")
        if len(ttc):
            obs = {"mean": float(ttc.mean()), "median": float(np.median(ttc)),
                   "p90": float(np.quantile(ttc, 0.9))}
        if fit.get("sigma") and not fit.get("censored"):
            pos = ttc[ttc > 0]
            ks = float(stats.kstest(pos, "lognorm", args=(fit["sigma"], 0, math.exp(fit["mu"])))
                       .statistic)
        fits[cat] = CategoryFit(
            category=cat, requests=n, rate_per_day=n / days, rate_ci=_poisson_ci(n, days),
            rate_per_1000_households_per_day=n / days / households * 1000.0, dispersion=disp,
            closed=int(closed.sum()),
            open_share=float(df.open[sel].mean()) if n else float("nan"),
            ttc_obs=obs, ttc_fit=fit, ks=ks,
            hourly_p=_profile_p(np.bincount(hours[sel], minlength=24), hourly),
            weekly_p=_profile_p(np.bincount(weekday[sel], minlength=7), weekly * weekday_days))
        fits[cat].subtype_counts, fits[cat].subtype_shares = _subtype_shares(
            df.subtype[sel], list(scenario.incidents.categories[cat].subtypes))
    kept = tuple(sorted(set(scenario.incidents.categories) - mapping.targets))
    return Calibration(source=source, fmt=fmt, mapping=mapping.source, households=households,
                       households_from=households_from, start=start.to_pydatetime(), days=days,
                       log=log, categories=fits,
                       hourly=tuple(round(float(v), 4) for v in hourly_n),
                       weekly=tuple(round(float(v), 4) for v in weekly_n), kept_from_base=kept)


def city_multiplier(scenario: Scenario) -> float:
    """Household-weighted mean of the per-grid incident multipliers (zones × hotspots)."""
    from sim.engine.seeding import Streams
    from sim.world.city import build_city

    city = build_city(scenario.city, Streams(scenario.run.seed)["city"])
    return float((city.households * city.incident_multiplier).sum() / city.households.sum())


def calibrate(log_path: str | Path, fmt: str, mapping_path: str | Path | None = None,
              base: Scenario | None = None, households: float | None = None
              ) -> tuple[Calibration, Scenario]:
    """Read, map and fit a log; return the fit and the calibrated scenario (validated)."""
    if fmt not in FORMATS:
        raise CalibrationError([("format", f"unknown format {fmt!r}; allowed: "
                                           + ", ".join(FORMATS))], "--format")
    base = base or Scenario()
    mapping = load_mapping(mapping_path or default_mapping_path(fmt), fmt, base)
    log = read_log(log_path, fmt, mapping)
    hh, hh_from = (float(households), "--households") if households else (
        float(base.city.households), f"base scenario {base.name!r} (pass --households)")
    cal = fit_log(log, hh, hh_from, mapping, base, str(log_path), fmt)
    cal.multiplier = city_multiplier(scenario_with(base, {"city.households": int(round(hh))}))
    over = cal.overrides()
    over["name"] = f"calibrated_{Path(log_path).stem}"
    over["description"] = (f"{base.name} with arrival rates and profiles fitted from "
                           f"{Path(log_path).name} ({fmt}, {cal.days} days from "
                           f"{cal.start:%Y-%m-%d}, {len(log.frame):,} mapped requests)")
    return cal, scenario_with(base, over)


def match_case_rates(cal: Calibration, scenario: Scenario, days: float = 28, reps: int = 3,
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


# ---------------------------------------------------------------------------------- reports
def _p(v: float) -> str:
    if v != v:
        return "–"
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def _f(v: float, nd: int = 2) -> str:
    return "–" if v is None or v != v else f"{v:,.{nd}f}"


def fit_report(cal: Calibration) -> str:
    """The fit report (Markdown): observed against fitted, by category, and what was left out."""
    log = cal.log
    lines = [f"# Calibration fit report: {Path(cal.source).name}", "",
             f"- format: {cal.fmt}; mapping: {cal.mapping}",
             f"- period: {cal.days} days from {cal.start:%Y-%m-%d} (whole days spanned by the "
             "mapped requests)",
             f"- rows read: {log.rows_read:,}; mapped requests used: {len(log.frame):,}; "
             f"malformed: {sum(log.malformed.values()):,}; unmapped: "
             f"{sum(log.unmapped.values()):,}; dropped by the mapping: "
             f"{sum(log.dropped.values()):,}",
             f"- households: {cal.households:,.0f} (from {cal.households_from}); the base "
             f"city's zones and hotspots multiply incident rates by {cal.multiplier:.4g} on "
             "average, so the scenario's category rates are the per-household rates below "
             "divided by that",
             "- personal data: only identifier, times, status and service/complaint type were "
             "kept; no address, coordinates, free text or media link was kept or written.", "",
             "## Arrival rates by category", "",
             "Observed count over the period against the fitted Poisson rate (exact 95% interval)."
             " Dispersion = variance / mean of daily counts: about 1 for a Poisson process; well"
             " above 1 means days differ more than chance (weather, campaigns, weekly cycle).", "",
             "| category | requests | per day (95% CI) | per 1,000 households per day | "
             "dispersion | hour-of-day p | weekday p |", "|---|---:|---:|---:|---:|---:|---:|"]
    for c, f in cal.categories.items():
        lines.append(f"| {c} | {f.requests:,} | {_f(f.rate_per_day)} ({_f(f.rate_ci[0])} – "
                     f"{_f(f.rate_ci[1])}) | {_f(f.rate_per_1000_households_per_day, 4)} | "
                     f"{_f(f.dispersion)} | {_p(f.hourly_p)} | {_p(f.weekly_p)} |")
    lines += ["", "The model gives every category the same hour-of-day and weekday profile (the "
              "pooled ones below). The p columns test each category's own pattern against them "
              "(chi-square; sparse neighbouring cells merged; – = too few requests to test): "
              "a p below 0.001 means this "
              "category's timing differs, and its arrivals will be spread over the day and week "
              "as the pooled profile says, not as the log shows."]
    if cal.kept_from_base:
        lines += ["", "Categories no mapping rule targets keep the base scenario's rate: "
                  + ", ".join(cal.kept_from_base) + "."]
    with_subs = {c: f for c, f in cal.categories.items() if f.subtype_shares}
    if with_subs:
        lines += ["", "## Subtype shares", "",
                  "From the requests a rule maps to a subtype (`category.subtype` in the "
                  "mapping); requests mapped to the category only count for its rate. Shares are "
                  "(n + ½) / (N + ½·k), so a subtype the log never shows keeps a small share. "
                  "Subtypes carry the deadlines and departments.", "",
                  "| category | subtype | requests | fitted share |", "|---|---|---:|---:|"]
        for c, f in with_subs.items():
            for sub, share in f.subtype_shares.items():
                lines.append(f"| {c} | {sub} | {f.subtype_counts[sub]:,} | {share:.3f} |")
    if cal.matching is not None:
        m = cal.matching
        lines += ["", "## Cases filed by the calibrated scenario (--match-cases)", "",
                  "The log counts cases; the model's rates are of incidents, to which cases "
                  "handed down from higher levels are added and of which the channels may miss "
                  "some within a run. Each rate was multiplied by the factor so that the "
                  "scenario files cases at the log's rate (simulated per day, mean and 95% CI "
                  "over replications).", "",
                  "| category | log per day | simulated before | factor | "
                  "simulated after (95% CI) |",
                  "|---|---:|---:|---:|---:|"]
        for _, r in m.iterrows():
            lines.append(f"| {r['category']} | {_f(r['log_per_day'])} | {_f(r['before'])} | "
                         f"{_f(r['factor'], 3)} | {_f(r['after'])} ({_f(r['after_lo'])} – "
                         f"{_f(r['after_hi'])}) |")
    if cal.matching is not None and "sim_ttc_mean" in cal.matching:
        lines += ["", "## Time to close: the log against the calibrated scenario", "",
                  "Simulated: closed cases of the checking runs (mean over replications, 95% CI)."
                  " The model's time to close comes from its departments (crews, shifts, handling"
                  " times) and deadlines, which the log does not set: where the two differ, those"
                  " are the fields to adjust.", "",
                  "| category | log mean (fitted) | simulated mean (95% CI) | log p90 (closed) | "
                  "simulated p90 |", "|---|---:|---:|---:|---:|"]
        for _, r in cal.matching.iterrows():
            fit = cal.categories[r["category"]].ttc_fit
            obs = cal.categories[r["category"]].ttc_obs
            lines.append(f"| {r['category']} | {_f(fit.get('mean', math.nan), 1)} | "
                         f"{_f(r['sim_ttc_mean'], 1)} ({_f(r['sim_ttc_lo'], 1)} – "
                         f"{_f(r['sim_ttc_hi'], 1)}) | {_f(obs.get('p90', math.nan), 1)} | "
                         f"{_f(r['sim_ttc_p90'], 1)} |")
    lines += ["", "## Time to close by category (lognormal fit, hours)", "",
              "Observed: closed requests only. Fitted: maximum likelihood, with requests still "
              "open treated as right-censored at their age when the log ends (its latest "
              "timestamp), so a large open share does not bias the fit towards quick closures. "
              "KS = Kolmogorov–Smirnov distance between the closed requests and the fit (0 = "
              "perfect; shown only when nothing is open).", "",
              "| category | closed | open share | observed mean / median / p90 | "
              "fitted mean / median / p90 | fitted cv | KS |", "|---|---:|---:|---|---|---:|---:|"]
    if not log.has_closed:
        lines.append("| (the log has no closing-time column) | | | | | | |")
    for c, f in cal.categories.items():
        o, t = f.ttc_obs, f.ttc_fit
        lines.append(
            f"| {c} | {f.closed:,} | {_f(100 * f.open_share, 1)}% | "
            f"{_f(o.get('mean', math.nan), 1)} / {_f(o.get('median', math.nan), 1)} / "
            f"{_f(o.get('p90', math.nan), 1)} | {_f(t.get('mean', math.nan), 1)} / "
            f"{_f(t.get('median', math.nan), 1)} / {_f(t.get('p90', math.nan), 1)} | "
            f"{_f(t.get('cv', math.nan))} | {_f(f.ks, 3)} |")
    lines += ["", "In gridsim the time to close is an outcome of the workflow (queues, shifts, "
              "deadlines), so these fits are targets to compare a run's `mean_time_to_close_h`"
              " and `p90_time_to_close_h` with, not inputs.", "",
              "## Profiles (normalised to mean 1)", "",
              "- hour of day 0–23: " + ", ".join(f"{v:g}" for v in cal.hourly),
              "- Monday … Sunday: " + ", ".join(f"{v:g}" for v in cal.weekly)]
    for title, d in (("Malformed rows (counted, not fatal)", log.malformed),
                     ("Unmapped types (add them to the mapping to use them)", log.unmapped),
                     ("Dropped on purpose by the mapping (null)", log.dropped)):
        if d:
            lines += ["", f"## {title}", ""]
            for k, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:25]:
                lines.append(f"- {k}: {v:,}")
            if len(d) > 25:
                lines.append(f"- … and {len(d) - 25} more")
    if cal.matching is None:
        lines += ["", "Rates are rates of *logged requests* (cases); gridsim's category rates are "
                  "of incidents, to which cases handed down from higher levels are added and of "
                  "which the channels may miss some. Pass --match-cases to rescale the rates so "
                  "that the scenario files cases at the log's rate."]
    return "\n".join(lines) + "\n"


def scenario_text(cal: Calibration, scenario: Scenario) -> str:
    """The calibrated scenario as YAML, with provenance and time-to-close targets as comments."""
    head = [f"# Calibrated by `gridsim calibrate {Path(cal.source).name} --format {cal.fmt}`",
            f"# mapping: {cal.mapping}; {cal.days} days from {cal.start:%Y-%m-%d}; "
            f"{len(cal.log.frame):,} mapped requests; households from {cal.households_from}.",
            "# Fitted: city.households, incidents.hourly_profile, incidents.weekly_profile and "
            "each mapped category's rate_per_1000_households_per_day.",
            "# Observed time to close (lognormal fit; targets for the run's KPIs, not inputs):"]
    if cal.matching is not None:
        head.insert(3, "# Rates rescaled so that the scenario files cases at the log's rate "
                       "(--match-cases): " + ", ".join(
                           f"{r.category} ×{r.factor:.3f}" for r in cal.matching.itertuples()))
    for c, f in cal.categories.items():
        t = f.ttc_fit
        if t:
            head.append(f"#   {c}: mean {t['mean']:.1f} h, cv {t['cv']:.2f}, median "
                        f"{t['median']:.1f} h, p90 {t['p90']:.1f} h ({f.closed:,} closed)")
    return "\n".join(head) + "\n" + scenario.to_yaml()
