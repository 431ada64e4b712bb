"""Calibration from real service-request logs (``gridsim calibrate``).

Reads a log (:mod:`sim.data.servicelog`: NYC 311, Open311 GeoReport v2, or any CSV / JSON /
JSON Lines export with its columns named), maps each request type to a gridsim category through
an editable mapping file (``sim/data/mapping_*.yaml``), and fits:

* the period the log covers (:mod:`sim.data.logtimes`: the actual span with partial days, a
  sparse tail left out and reported, or ``--from``/``--to``) and its exposure under the profiles;
* each category's arrival rate, per 1,000 households per day, with its exact Poisson 95%
  interval and the dispersion of daily counts;
* the hour-of-day and weekday profiles, shrunk towards the base scenario's shape where the log
  has little data (the report shows the requests behind each);
* each category's time to close (:mod:`sim.data.ttcfit`): Kaplan–Meier quantiles with open
  requests censored, and a hurdle lognormal checked against them;
* platform operators, department crews and shifts sized for the log's volume
  (:mod:`sim.data.sizing`).

It writes a scenario — the base scenario with these values — and a fit report
(:mod:`sim.data.calreport`). The log's requests reach the calibrated city as they reached the log's: reported by residents,
never found on patrol or fixed on the spot (:func:`sim.data.replay.cohort_overrides`).
``--check`` and ``--fit`` close the loop (:mod:`sim.data.closedloop`, :mod:`sim.data.cohortfit`):
replay the log's own cohort on the calibrated city, compare its cases per day and
time-to-close quantiles with the log's, and fit each department's handling time, scheduling
lead and spread until they match.

Rates come from *logged requests* (cases, cancelled and duplicate ones left out); the model's
category rates are of incidents. ``--match-cases`` (:func:`match_case_rates`) runs the calibrated
scenario and rescales each rate so that it files cases at the log's rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.data.logtimes import Period, Profiles, find_period, fit_profiles, hour_bins
from sim.data.logexport import cases_to_log  # noqa: F401 - re-exported
from sim.data.servicelog import (CalibrationError, LogData, Mapping,  # noqa: F401
                                 check_read_args, default_mapping_path, load_mapping, read_log)
from sim.data.ttcfit import TTCFit, fit_ttc
from sim.scenario import Scenario, scenario_with

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: unmapped share of the log's requests above which calibrate warns (an error with --strict)
UNMAPPED_WARN = 0.20
#: closed requests (all mapped categories) from which calibrate fits time to close by default
FIT_MIN_CLOSED = 50
#: ... with at least this many in one category
FIT_MIN_CLOSED_CATEGORY = 20
#: statuses that are not cases (screened out by a platform): out of the rates and the time fit
NOT_CASES = ("cancelled", "duplicate")


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
    ttc: TTCFit
    hourly_p: float = float("nan")
    weekly_p: float = float("nan")
    subtype_counts: dict[str, int] | None = None
    subtype_shares: dict[str, float] | None = None

    @property
    def ttc_fit(self) -> dict[str, float]:
        return self.ttc.fit

    @property
    def ttc_obs(self) -> dict[str, float]:
        return self.ttc.observed


@dataclass
class Calibration:
    """Everything fitted from one log, how well it fits, and what to be warned about."""

    source: str
    fmt: str
    mapping: str
    households: float
    households_from: str
    period: Period
    profiles: Profiles
    log: LogData
    categories: dict[str, CategoryFit]
    kept_from_base: tuple[str, ...]
    counts: dict[str, int]                         # requests by fate (see fit_log)
    type_table: "pd.DataFrame"                     # request type → target, count
    warnings: list[str] = field(default_factory=list)
    multiplier: float = 1.0
    matching: "pd.DataFrame | None" = None
    sizing: Any = None                             # sim.data.sizing.Sizing
    check: Any = None                              # sim.data.closedloop.CheckResult
    check_before: Any = None                       # the same, before --fit
    fitted: Any = None                             # sim.data.cohortfit.FitResult
    routing: dict[str, Any] = field(default_factory=dict)  # the log's requests as residents'
    steps: Any = None                              # sim.data.stepfit.StepFit (gridcase)
    used: Any = None                               # mask of the frame's rows behind the rates
    places: Any = None                             # sim.data.places.Places (a real map)

    @property
    def hourly(self) -> tuple[float, ...]:
        return tuple(round(float(v), 4) for v in self.profiles.hourly)

    @property
    def weekly(self) -> tuple[float, ...]:
        return tuple(round(float(v), 4) for v in self.profiles.weekly)

    @property
    def days(self) -> float:
        return self.period.days

    @property
    def unmapped_share(self) -> float:
        n = self.counts.get("readable", 0)
        return self.counts.get("unmapped", 0) / n if n else float("nan")

    def overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {"city.households": int(round(self.households)),
                               "incidents.hourly_profile": list(self.hourly),
                               "incidents.weekly_profile": list(self.weekly)}
        for c, f in self.categories.items():
            out[f"incidents.categories.{c}.rate_per_1000_households_per_day"] = round(
                f.rate_per_1000_households_per_day / self.multiplier, 6)
            for sub, share in (f.subtype_shares or {}).items():
                out[f"incidents.categories.{c}.subtypes.{sub}.share"] = share
        out.update(self.routing)
        if self.sizing is not None:
            out.update(self.sizing.overrides)
        if self.steps is not None:
            out.update(self.steps.overrides)
        return out


def _poisson_ci(n: int, days: float) -> tuple[float, float]:
    from scipy import stats

    lo = stats.chi2.ppf(0.025, 2 * n) / 2 if n > 0 else 0.0
    hi = stats.chi2.ppf(0.975, 2 * n + 2) / 2
    return float(lo / days), float(hi / days)


def fit_lognormal(hours: "np.ndarray", censored: "np.ndarray | None" = None) -> dict[str, float]:
    """Lognormal time to close (hurdle at 0 h, censoring, checked): see :func:`fit_ttc`."""
    return fit_ttc(hours, censored).fit


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


def _profile_p(counts: "np.ndarray", expected: "np.ndarray") -> float:
    """Chi-square p-value of one category's counts against the pooled profile (scaled to them);
    NaN when fewer than 5 are expected in some merged cell (the test would not be valid)."""
    import numpy as np
    from scipy import stats

    n = counts.sum()
    p = np.asarray(expected, dtype=float)
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


def _type_table(frame: "pd.DataFrame", log: LogData) -> "pd.DataFrame":
    import pandas as pd

    rows = []
    mapped = frame[frame.category.notna()]
    if len(mapped):
        target = mapped.category + mapped.subtype.fillna("").map(lambda s: f".{s}" if s else "")
        g = pd.DataFrame({"code": mapped.code, "target": target}).value_counts()
        rows += [{"type": c, "target": t, "requests": int(n)} for (c, t), n in g.items()]
    rows += [{"type": k, "target": "(unmapped)", "requests": v} for k, v in log.unmapped.items()]
    rows += [{"type": k, "target": "(dropped)", "requests": v} for k, v in log.dropped.items()]
    df = pd.DataFrame(rows, columns=["type", "target", "requests"])
    return df.sort_values(["requests", "type"], ascending=[False, True], ignore_index=True)


def fit_log(log: LogData, households: float, households_from: str, mapping: Mapping,
            scenario: Scenario, source: str, fmt: str, start: "pd.Timestamp | None" = None,
            end: "pd.Timestamp | None" = None) -> Calibration:
    """Fit the period, rates, profiles and times to close from the mapped requests."""
    import numpy as np
    import pandas as pd

    df = log.frame
    if df.empty and log.malformed:  # no row was readable: say why, not "none mapped"
        why = "; ".join(f"{k}: {v:,}" for k, v in sorted(log.malformed.items(),
                                                         key=lambda kv: -kv[1])[:4])
        raise CalibrationError([("", f"no readable request ({log.rows_read:,} rows read; "
                                     f"rows left out: {why})")], source)
    if df.empty or df.category.notna().sum() == 0:
        top = sorted(log.unmapped.items(), key=lambda kv: -kv[1])[:8]
        seen = ("; unmapped: " + ", ".join(f"{k!r} ({v:,})" for k, v in top)) if top else ""
        raise CalibrationError([("", f"no request could be mapped to a gridsim category "
                                     f"({log.rows_read:,} rows read){seen}; add them to the "
                                     "mapping (--mapping FILE)")], source)
    period = find_period(df.created, start, end)
    t = df.created
    inside = (t >= period.start) & ((t < period.end) if period.how == "--from/--to"
                                    else (t <= period.end))
    if not inside.any():
        raise CalibrationError([("from", f"no request between {period.start} and {period.end} "
                                         f"(the log runs from {t.min()} to {t.max()})")], source)
    is_case = ~df.status.isin(NOT_CASES)
    use = inside & is_case & df.category.notna()
    counts = {"rows": log.rows_read, "readable": int(len(df)), "outside": int((~inside).sum()),
              "unmapped": int(sum(log.unmapped.values())),
              "dropped": int(sum(log.dropped.values())),
              "cancelled": int((inside & (df.status == "cancelled") & df.category.notna()).sum()),
              "duplicate": int((inside & (df.status == "duplicate") & df.category.notna()).sum()),
              "malformed": int(sum(log.malformed.values())), "used": int(use.sum())}
    d = df[use]
    prof = fit_profiles(d.created, period, np.asarray(scenario.incidents.hourly_profile),
                        np.asarray(scenario.incidents.weekly_profile))
    exposure_days = prof.exposure_h / 24.0
    extracted = max(df.created.max(), df.closed.max()) if df.closed.notna().any() \
        else df.created.max()
    frac, hod, dow = hour_bins(period.start, period.end)
    exp_h = np.bincount(hod, weights=frac * prof.weekly[dow], minlength=24) * prof.hourly
    exp_w = np.bincount(dow, weights=frac * prof.hourly[hod], minlength=7) * prof.weekly
    full_days = pd.date_range(period.start.ceil("D"), period.end.floor("D"), freq="D")
    hours = d.created.dt.hour.to_numpy()
    wdays = d.created.dt.day_of_week.to_numpy()
    fits: dict[str, CategoryFit] = {}
    warnings: list[str] = []
    for cat in sorted(mapping.targets):
        sel = (d.category == cat).to_numpy()
        n = int(sel.sum())
        c = d[sel]
        disp = float("nan")
        if n and len(full_days) > 2:
            day = c.created.dt.normalize()
            daily = day[day.isin(full_days[:-1])].value_counts().reindex(full_days[:-1],
                                                                          fill_value=0)
            if daily.mean() > 0:
                disp = float(daily.var(ddof=1) / daily.mean())
        done = (c.status == "closed") & c.closed.notna()
        ttc = ((c.closed[done] - c.created[done]) / pd.Timedelta(hours=1)).to_numpy(float)
        ref = (c.status == "referred") & c.closed.notna()
        still = (c.status == "open") | ((c.status == "referred") & c.closed.isna())
        ages = np.concatenate([
            ((extracted - c.created[still]) / pd.Timedelta(hours=1)).to_numpy(float),
            ((c.closed[ref] - c.created[ref]) / pd.Timedelta(hours=1)).to_numpy(float)])
        tf = fit_ttc(ttc, ages, name=cat) if log.has_closed else TTCFit(0, 0, 0, {})
        if tf.warning and n:
            warnings.append(tf.warning)
        fits[cat] = CategoryFit(
            category=cat, requests=n, rate_per_day=n / exposure_days,
            rate_ci=_poisson_ci(n, exposure_days),
            rate_per_1000_households_per_day=n / exposure_days / households * 1000.0,
            dispersion=disp, closed=int(done.sum()),
            open_share=float(still.mean()) if n else float("nan"), ttc=tf,
            hourly_p=_profile_p(np.bincount(hours[sel], minlength=24), exp_h),
            weekly_p=_profile_p(np.bincount(wdays[sel], minlength=7), exp_w))
        fits[cat].subtype_counts, fits[cat].subtype_shares = _subtype_shares(
            c.subtype, list(scenario.incidents.categories[cat].subtypes))
        if n == 0:
            warnings.append(f"{cat}: no request of the log maps to it; its rate is written as 0 "
                            "(map the log's types to it, or remove its rules to keep the base "
                            "rate)")
    kept = tuple(sorted(set(scenario.incidents.categories) - mapping.targets))
    cal = Calibration(source=source, fmt=fmt, mapping=mapping.source, households=households,
                      households_from=households_from, period=period, profiles=prof, log=log,
                      categories=fits, kept_from_base=kept, counts=counts,
                      type_table=_type_table(df[inside], log))
    cal.warnings = _log_warnings(cal) + warnings
    cal.used = use.to_numpy()
    return cal


def _log_warnings(cal: Calibration) -> list[str]:
    log, p, out = cal.log, cal.period, []
    share = cal.unmapped_share
    if share == share and share > UNMAPPED_WARN:
        top = sorted(log.unmapped.items(), key=lambda kv: -kv[1])[:5]
        out.append(f"{100 * share:.0f}% of the log's requests are unmapped (above "
                   f"{100 * UNMAPPED_WARN:.0f}%): their categories' rates are too low; top "
                   "unmapped: " + ", ".join(f"{k!r} ({v:,})" for k, v in top)
                   + " — add them to the mapping (--mapping FILE)")
    if p.how.startswith("dense"):
        out.append(f"sparse tail: {p.outside:,} request(s) spread over {p.outside_span_days:.0f} "
                   f"days outside the dense window {p.start:%Y-%m-%d %H:%M} – "
                   f"{p.end:%Y-%m-%d %H:%M} were left out of the rates (use --from/--to to "
                   "choose the period yourself)")
    elif p.how == "--from/--to" and p.outside:
        out.append(f"{p.outside:,} request(s) outside --from/--to were left out")
    if p.days < 7:
        out.append(f"the log covers {p.days * 24:.1f} hours: hour-of-day and weekday factors it "
                   "saw little of keep the base scenario's shape (see the profile tables)")
    t = log.times
    if t is not None and t.utc and t.tz_from != "--tz":
        out.append(f"{t.utc:,} timestamp(s) are in UTC and were converted to {t.tz} (the "
                   f"default for {cal.fmt} logs): pass --tz with the city's zone if that is wrong")
    if log.status_unknown:
        top = sorted(log.status_unknown.items(), key=lambda kv: -kv[1])[:5]
        out.append("status value(s) not in the vocabulary (read as closed when a closing time "
                   "is given, else open): " + ", ".join(f"{k!r} ({v:,})" for k, v in top)
                   + " — add them to the mapping's status: section")
    out += log.notes
    return out


def fit_by_default(cal: Calibration) -> tuple[bool, str]:
    """Whether the log has enough closed requests to fit time to close (and why not): at
    least :data:`FIT_MIN_CLOSED` in all, :data:`FIT_MIN_CLOSED_CATEGORY` in one category."""
    if not cal.log.has_closed:
        return False, "the log has no closing times"
    closed = [f.closed for f in cal.categories.values()]
    if sum(closed) < FIT_MIN_CLOSED or max(closed, default=0) < FIT_MIN_CLOSED_CATEGORY:
        return False, (f"{sum(closed):,} closed request(s), at most {max(closed, default=0):,} "
                       f"in a category (needs {FIT_MIN_CLOSED} in all and "
                       f"{FIT_MIN_CLOSED_CATEGORY} in one)")
    return True, ""


def city_multiplier(scenario: Scenario) -> float:
    """Household-weighted mean of the per-grid incident multipliers (zones × hotspots)."""
    from sim.engine.seeding import Streams
    from sim.world.city import build_city

    city = build_city(scenario.city, Streams(scenario.run.seed)["city"])
    return float((city.households * city.incident_multiplier).sum() / city.households.sum())


def calibrate(log_path: str | Path, fmt: str, mapping_path: str | Path | None = None,
              base: Scenario | None = None, households: float | None = None, *,
              columns: dict[str, str] | None = None, tz: str | None = None,
              start: str | None = None, end: str | None = None, strict: bool = False,
              size: bool = True, crs: str | None = None,
              surfaces: str | Path | None = None) -> tuple[Calibration, Scenario]:
    """Read, map and fit a log; return the fit and the calibrated scenario (validated).

    ``strict`` turns every warning into a :class:`CalibrationError`; ``size`` sizes operators,
    crews and shifts for the log's volume (:mod:`sim.data.sizing`). On a base scenario with
    ``city.geometry`` the requests are placed on the map (``crs``: of the log's lat/lon) and
    each category's surface is written to ``surfaces`` (default: a temporary file), which the
    calibrated scenario names (:mod:`sim.data.places`).
    """
    t0, t1 = check_read_args(fmt, tz, start, end)
    base = base or Scenario()
    mapping = load_mapping(mapping_path or default_mapping_path(fmt), fmt, base)
    index = None
    if crs is not None and base.city.geometry is None:
        raise CalibrationError([("crs", "places requests on a real map: the base scenario has "
                                        "no city.geometry (pass --scenario with a map)")], "--crs")
    if base.city.geometry is not None:
        from sim.data.places import PlaceIndex

        index = PlaceIndex.for_scenario(base, crs)
    log = read_log(log_path, fmt, mapping, columns=columns, tz=tz, placer=index)
    hh, hh_from = (float(households), "--households") if households else (
        float(base.city.households), f"base scenario {base.name!r} (pass --households)")
    cal = fit_log(log, hh, hh_from, mapping, base, str(log_path), fmt, t0, t1)
    from sim.data.replay import cohort_overrides

    cal.routing = cohort_overrides(base, {c for c, f in cal.categories.items() if f.requests})
    if fmt == "gridcase":  # per-step case export: each step, channels, on-time rate, seasons
        from sim.data.stepfit import fit_case_log

        cal.steps = fit_case_log(log_path, mapping, base, columns=columns, tz=tz)
        cal.warnings += cal.steps.warnings
    city = scenario_with(base, {"city.households": int(round(hh)), **cal.routing,  # sized for
                                **(cal.steps.overrides if cal.steps is not None else {})})  # steps
    cal.multiplier = city_multiplier(city)
    if size:
        from sim.data.sizing import size_for_log

        cal.sizing = size_for_log(cal, city)
        cal.warnings += cal.sizing.warnings
    if strict and cal.warnings:
        raise CalibrationError([("strict", w) for w in cal.warnings], str(log_path))
    over = cal.overrides()
    if index is not None:
        over.update(_places(cal, index, sorted(mapping.targets), surfaces))
    over["name"] = f"calibrated_{Path(log_path).stem.split('.')[0]}"
    over["description"] = (f"{base.name} with arrival rates, profiles and capacity fitted from "
                           f"{Path(log_path).name} ({fmt}, {cal.days:.2f} days from "
                           f"{cal.period.start:%Y-%m-%d %H:%M}, {cal.counts['used']:,} requests)")
    return cal, scenario_with(base, over)


def _places(cal: Calibration, index: Any, categories: list[str],
            surfaces: str | Path | None) -> dict[str, Any]:
    """Place the used requests on the map, fit and write each category's surface: the
    override naming the surfaces file (none when no request has a place)."""
    import tempfile

    from sim.data.places import fit_surfaces
    from sim.scenario.surfaces import write_surfaces

    frame = cal.log.frame[cal.used]
    cal.places = fit_surfaces(frame, index, categories)
    if not cal.places.surfaces:
        cal.warnings.append("no request of the log has a place on the map (coordinates in it, "
                            "or a unit code of it): incidents arise where households are")
        return {}
    path = Path(surfaces) if surfaces else Path(tempfile.mkdtemp(prefix="gridsim-")) \
        / "surfaces.parquet"
    write_surfaces(path, cal.places.weights())
    return {"city.geometry.surfaces": str(path.resolve())}
