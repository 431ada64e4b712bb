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

Privacy: only the columns listed in :data:`FORMATS` are ever read; addresses, coordinates, free
text (description, descriptor, status_notes, resolution text) and media links are never loaded,
so they cannot end up in the outputs. Rows that cannot be used are counted by reason, never
fatal; a file that is not in the stated format is a :class:`CalibrationError` naming the
missing columns (CLI exit 2).

Rates come from *logged requests*, i.e. cases; the model's category rates are rates of
incidents. The two differ by the cases handed down from higher levels (added on top of the
category rates), by incidents no channel can notice, and by incidents still undiscovered when a
short run ends. ``--match-cases`` (:func:`match_case_rates`) runs the calibrated scenario and
rescales each rate so that it files cases at the log's rate.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from sim.scenario import (Scenario, ScenarioError, dump_yaml, load_scenario, read_mapping,
                          scenario_with)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"


class CalibrationError(ScenarioError):
    """A log or mapping that cannot be used; one line per problem, CLI exit 2."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        super().__init__(problems, source)
        prefix = f"{source}: " if source else ""
        self.args = ("\n".join(f"{prefix}{path + ': ' if path else ''}{msg}"
                               for path, msg in problems),)


@dataclass(frozen=True)
class FormatSpec:
    """The columns gridsim reads from one log format (nothing else is ever loaded)."""

    id: str
    created: str
    closed: str | None
    status: str | None
    match_columns: tuple[str, ...]
    required: tuple[str, ...]

    @property
    def wanted(self) -> tuple[str, ...]:
        cols = [self.id, self.created, self.closed, self.status, *self.match_columns]
        return tuple(dict.fromkeys(c for c in cols if c))


FORMATS: dict[str, FormatSpec] = {
    # GeoReport v2 service_request: required service_request_id, status, service_code,
    # requested_datetime; updated_datetime of a closed request is its closing time.
    "open311": FormatSpec(id="service_request_id", created="requested_datetime",
                          closed="updated_datetime", status="status",
                          match_columns=("service_code", "service_name"),
                          required=("service_request_id", "status", "service_code",
                                    "requested_datetime")),
    # NYC 311 Service Requests (Open Data export or API names, normalised).
    "nyc311": FormatSpec(id="unique_key", created="created_date", closed="closed_date",
                         status="status", match_columns=("complaint_type",),
                         required=("unique_key", "created_date", "complaint_type")),
}

_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_US_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def normalise_column(name: str) -> str:
    """``"Unique Key"`` → ``unique_key`` (NYC export headers and API names agree after this)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


# ----------------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class Mapping:
    """Ordered (pattern → target or None) rules matched against one column. A target is a
    category (``infrastructure``) or a subtype of one (``infrastructure.street_light``)."""

    match: str
    rules: tuple[tuple[str, str | None], ...]
    source: str

    def category(self, value: str) -> tuple[bool, str | None]:
        """(matched, category); a matched rule with a null category drops the value on purpose."""
        v = value.strip().lower()
        for pattern, cat in self.rules:
            if fnmatch.fnmatchcase(v, pattern.lower()):
                return True, cat
        return False, None

    @property
    def targets(self) -> set[str]:
        """The categories the rules map to."""
        return {c.split(".")[0] for _, c in self.rules if c}


def default_mapping_path(fmt: str) -> Path:
    return DATA_DIR / f"mapping_{fmt}.yaml"


def load_mapping(path: str | Path, fmt: str, scenario: Scenario) -> Mapping:
    """Read and check a mapping file against the format and the scenario's categories."""
    data = read_mapping(path)
    src = str(path)
    problems: list[tuple[str, str]] = []
    spec = FORMATS[fmt]
    unknown = set(data) - {"format", "match", "mapping"}
    if unknown:
        problems.append((sorted(unknown)[0], "unknown field; allowed: format, match, mapping"))
    if data.get("format", fmt) != fmt:
        problems.append(("format", f"this mapping is for {data['format']!r}, the log is {fmt!r}"))
    match = data.get("match", spec.match_columns[0])
    if match not in spec.match_columns:
        problems.append(("match", f"must be one of: {', '.join(spec.match_columns)} "
                                  f"(got {match!r})"))
    rules = data.get("mapping")
    if not isinstance(rules, dict) or not rules:
        problems.append(("mapping", "must be a non-empty mapping of pattern: category"))
        rules = {}
    cats = scenario.incidents.categories
    for key, target in rules.items():
        if target is None:
            continue
        cat, _, sub = str(target).partition(".")
        if cat not in cats:
            problems.append((f"mapping.{key}", f"unknown category {cat!r}; allowed: "
                             + ", ".join(sorted(cats)) + ", or null to drop"))
        elif sub and sub not in cats[cat].subtypes:
            problems.append((f"mapping.{key}", f"unknown subtype {sub!r} of {cat}; allowed: "
                             + ", ".join(cats[cat].subtypes)))
    if problems:
        raise CalibrationError(problems, src)
    return Mapping(match=match, rules=tuple((str(k), v) for k, v in rules.items()), source=src)


# ---------------------------------------------------------------------------------- reading
@dataclass
class LogData:
    """The usable requests (no personal data) and the count of every row left out, by reason."""

    frame: "pd.DataFrame"  # columns: created, closed (NaT if open or unknown), open, code, category
    rows_read: int
    malformed: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    has_closed: bool = True


def parse_times(values: "pd.Series") -> "pd.Series":
    """Local wall-clock times from ISO 8601 (offset dropped) or NYC's ``MM/DD/YYYY hh:mm:ss AM``."""
    import pandas as pd

    s = values.fillna("").astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    us = s.str.contains("/", regex=False)  # NYC exports; everything else is tried as ISO 8601
    if us.any():
        out[us] = pd.to_datetime(s[us], format=_US_FORMAT, errors="coerce")
    iso = ~us & (s != "")
    if iso.any():
        out[iso] = pd.to_datetime(s[iso].str.replace(_TZ, "", regex=True), format="ISO8601",
                                  errors="coerce")
    return out


def _check_columns(present: set[str], spec: FormatSpec, fmt: str, mapping: Mapping,
                   src: str) -> None:
    missing = [c for c in spec.required if c not in present]
    if mapping.match not in present and mapping.match not in missing:
        missing.append(mapping.match)
    if missing:
        other = next((f for f, sp in FORMATS.items()
                      if f != fmt and all(c in present for c in sp.required)), None)
        hint = f"; it looks like a {other} log (--format {other})" if other else ""
        raise CalibrationError([("", f"not a {fmt} log: missing column(s) "
                                     f"{', '.join(missing)}{hint}")], src)


def read_log(path: str | Path, fmt: str, mapping: Mapping, chunk_rows: int = 200_000) -> LogData:
    """Read a log (CSV, or JSON: a list of request objects), keep only the needed columns, map
    them, and count what cannot be used.

    CSV lines are split by the csv module; only the fields of :data:`FORMATS` are kept, the
    others are discarded at once. A line whose number of fields differs from the header's is
    counted as malformed and skipped (its columns may be shifted). JSON is what a GeoReport v2
    ``requests.json`` or the NYC Open Data API returns; only the needed keys of each object are
    copied, and an item that is not an object is counted as malformed.
    """
    import pandas as pd

    spec = FORMATS[fmt]
    src = str(path)
    p = Path(path)
    if not p.is_file():
        raise CalibrationError([("", "file not found")], src)
    malformed: dict[str, int] = {}
    unmapped: dict[str, int] = {}
    dropped: dict[str, int] = {}
    frames: list[pd.DataFrame] = []
    state = {"rows": 0, "names": [], "buf": []}

    def start(names: list[str]) -> None:
        state["names"] = names
        state["buf"] = [[] for _ in names]

    def flush() -> None:
        buf = state["buf"]
        if buf and buf[0]:
            chunk = pd.DataFrame(dict(zip(state["names"], buf)))
            frames.append(_clean_chunk(chunk, spec, mapping, malformed, unmapped, dropped))
            for col in buf:
                col.clear()

    if p.suffix.lower() == ".json":
        _read_json(p, spec, fmt, mapping, src, state, start, flush, malformed, chunk_rows)
    else:
        _read_csv(p, spec, fmt, mapping, src, state, start, flush, malformed, chunk_rows)
    flush()
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["created", "closed", "open", "code", "category", "subtype"])
    return LogData(frame=frame, rows_read=state["rows"], malformed=malformed, unmapped=unmapped,
                   dropped=dropped, has_closed=spec.closed in state["names"])


def _read_csv(p: Path, spec: FormatSpec, fmt: str, mapping: Mapping, src: str, state: dict,
              start: Any, flush: Any, malformed: dict[str, int], chunk_rows: int) -> None:
    import csv

    with open(p, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
        except csv.Error as err:
            raise CalibrationError([("", f"not a readable CSV file: {err}")], src) from None
        if not header:
            raise CalibrationError([("", "the file is empty (no header line)")], src)
        present = {normalise_column(c): i for i, c in enumerate(header)}
        _check_columns(set(present), spec, fmt, mapping, src)
        names = [c for c in spec.wanted if c in present]
        start(names)
        idx = [present[c] for c in names]
        width = len(header)
        buf = state["buf"]
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                state["rows"] += 1
                _count(malformed, "unreadable CSV line", 1)
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            state["rows"] += 1
            if len(row) != width:
                _count(malformed, "wrong number of fields", 1)
                continue
            for col, i in zip(buf, idx):
                col.append(row[i])
            if len(buf[0]) >= chunk_rows:
                flush()


def _read_json(p: Path, spec: FormatSpec, fmt: str, mapping: Mapping, src: str, state: dict,
               start: Any, flush: Any, malformed: dict[str, int], chunk_rows: int) -> None:
    import json

    try:
        data = json.loads(p.read_text(encoding="utf-8-sig", errors="replace"))
    except json.JSONDecodeError as err:
        raise CalibrationError([("", f"not a readable JSON file: {err}")], src) from None
    if isinstance(data, dict):  # some servers wrap the list
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list):
        raise CalibrationError([("", "a JSON log must be a list of request objects")], src)
    present: set[str] = set()
    for item in data:
        if isinstance(item, dict):
            present |= {normalise_column(str(k)) for k in item}
    _check_columns(present, spec, fmt, mapping, src)
    names = [c for c in spec.wanted if c in present]
    start(names)
    buf = state["buf"]
    for item in data:
        state["rows"] += 1
        if not isinstance(item, dict):
            _count(malformed, "not a request object", 1)
            continue
        rec = {normalise_column(str(k)): v for k, v in item.items()}
        for col, name in zip(buf, names):
            v = rec.get(name)
            col.append("" if v is None else str(v))
        if len(buf[0]) >= chunk_rows:
            flush()


def _count(d: dict[str, int], key: str, n: int) -> None:
    if n:
        d[key] = d.get(key, 0) + int(n)


def _clean_chunk(chunk: "pd.DataFrame", spec: FormatSpec, mapping: Mapping,
                 malformed: dict[str, int], unmapped: dict[str, int],
                 dropped: dict[str, int]) -> "pd.DataFrame":
    import pandas as pd

    ids = chunk[spec.id].str.strip()
    code = chunk[mapping.match].str.strip()
    created = parse_times(chunk[spec.created])
    bad = pd.Series(False, index=chunk.index)
    for reason, mask in ((f"missing {spec.id}", ids == ""),
                         (f"missing {mapping.match}", code == ""),
                         (f"missing or unreadable {spec.created}", created.isna())):
        mask = mask & ~bad
        _count(malformed, reason, mask.sum())
        bad |= mask
    closed = pd.Series(pd.NaT, index=chunk.index, dtype="datetime64[ns]")
    is_open = pd.Series(True, index=chunk.index)
    if spec.closed and spec.closed in chunk:
        raw = chunk[spec.closed].str.strip()
        parsed = parse_times(raw)
        is_closed = raw != ""
        if spec.status and spec.status in chunk:
            is_closed &= chunk[spec.status].str.strip().str.lower() == "closed"
        unreadable = is_closed & parsed.isna() & ~bad
        _count(malformed, f"unreadable {spec.closed} (kept for rates, not for time to close)",
               unreadable.sum())
        backwards = is_closed & (parsed < created) & ~bad
        _count(malformed, f"{spec.closed} before {spec.created} (kept for rates only)",
               backwards.sum())
        closed = parsed.where(is_closed & ~backwards)
        is_open = ~is_closed
    keep = chunk.index[~bad]
    cats: list[str | None] = []
    memo: dict[str, tuple[bool, str | None]] = {}
    for v in code[keep].tolist():
        hit = memo.get(v)
        if hit is None:
            hit = memo[v] = mapping.category(v)
        matched, cat = hit
        if not matched:
            unmapped[v] = unmapped.get(v, 0) + 1
        elif cat is None:
            dropped[v] = dropped.get(v, 0) + 1
        cats.append(cat)
    cat_col = [c.split(".")[0] if c else None for c in cats]
    sub_col = [c.split(".", 1)[1] if c and "." in c else None for c in cats]
    out = pd.DataFrame({"created": created[keep].values, "closed": closed[keep].values,
                        "open": is_open[keep].values, "code": code[keep].values,
                        "category": cat_col, "subtype": sub_col})
    return out[out.category.notna()]


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
    from sim.city import build_city
    from sim.seeding import Streams

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

    from sim.validation import mean_ci, reduced, replication_seeds

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
             "read; no address, coordinates, free text or media link was loaded or written.", "",
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


# ------------------------------------------------------------------------------- generator
def cases_to_log(cases: "pd.DataFrame", fmt: str, start: str = "2024-01-01",
                 codes: dict[str, str] | None = None, subtypes: bool = False) -> "pd.DataFrame":
    """Turn a gridsim case log into an Open311- or NYC-311-style request log.

    One row per reported case (its first report is the request); a closed case carries its
    closing time, an open or parked one is "Open". ``codes`` maps a category (or, with
    ``subtypes``, a ``category.subtype``) to the service code / complaint type written (default:
    that name itself). Times are ``start`` + model hours (t = 0 is a Monday in the model: choose
    a Monday to keep weekdays aligned).
    """
    import pandas as pd

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    c = cases[cases.t_report_h.notna()].sort_values("t_report_h")
    t0 = pd.Timestamp(start)
    created = t0 + pd.to_timedelta(c.t_report_h.to_numpy(), unit="h")
    closed_h = c.t_closed_h.where(c.state == "closed")
    closed = t0 + pd.to_timedelta(closed_h.to_numpy(), unit="h")
    names = (c.category + "." + c.subtype) if subtypes else c.category
    code = names.map(lambda x: (codes or {}).get(x, x)).to_numpy()
    is_closed = closed_h.notna().to_numpy()
    if fmt == "open311":
        iso = lambda ts: ts.strftime("%Y-%m-%dT%H:%M:%S+08:00")  # noqa: E731
        return pd.DataFrame({
            "service_request_id": c.incident_id.astype(str).to_numpy(),
            "status": ["closed" if x else "open" for x in is_closed],
            "service_code": code, "service_name": code,
            "requested_datetime": iso(created),
            "updated_datetime": [iso(pd.DatetimeIndex([t]))[0] if k else ""
                                 for t, k in zip(closed, is_closed)],
        })
    us = lambda ts: ts.strftime(_US_FORMAT)  # noqa: E731
    return pd.DataFrame({
        "Unique Key": c.incident_id.astype(str).to_numpy(),
        "Created Date": us(created),
        "Closed Date": [us(pd.DatetimeIndex([t]))[0] if k else ""
                        for t, k in zip(closed, is_closed)],
        "Agency": c.department.to_numpy(), "Complaint Type": code,
        "Status": ["Closed" if x else "Open" for x in is_closed],
    })


# -------------------------------------------------------------------------------------- CLI
def calibrate_command(
    log: Annotated[Path, typer.Argument(
        help="Service-request log: CSV, or JSON (a list of request objects).")],
    format_: Annotated[str, typer.Option(
        "--format", help="Log format: open311 (GeoReport v2) or nyc311.")],
    mapping: Annotated[Optional[Path], typer.Option(
        help="Mapping file (default: sim/data/mapping_<format>.yaml).")] = None,
    scenario: Annotated[Optional[Path], typer.Option(
        help="Base scenario the fitted values go into (default: the baseline).")] = None,
    households: Annotated[Optional[float], typer.Option(
        help="Households the log's city has (default: the base scenario's).")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Write the calibrated scenario here (and the fit report beside it, .fit.md).")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Write the fit report here.")] = None,
    match_cases: Annotated[bool, typer.Option(
        help="Run the calibrated scenario and rescale the rates so that it files cases at the "
             "log's rate (the log counts cases, the model's rates are incidents).")
    ] = False,
    match_days: Annotated[float, typer.Option(help="Days per matching run.")] = 28,
    match_reps: Annotated[int, typer.Option(help="Replications per matching step.")] = 3,
) -> None:
    """Fit arrival rates, profiles and times to close from an Open311 or NYC 311 log."""
    from rich.console import Console
    from rich.markdown import Markdown

    err = Console(stderr=True)
    try:
        if households is not None and not households > 0:
            raise CalibrationError([("households", f"must be positive (got {households:g})")],
                                   "--households")
        if match_cases and (match_reps < 2 or not match_days > 0):
            raise CalibrationError([("match-reps", "needs at least 2 replications and positive "
                                                   "--match-days")], "--match-cases")
        base = load_scenario(scenario) if scenario else None
        cal, sc = calibrate(log, format_, mapping, base, households)
        if match_cases:
            err.print(f"matching cases filed: 2 × {match_reps} runs of {match_days:g} days…",
                      highlight=False)
            sc = match_case_rates(cal, sc, days=match_days, reps=match_reps)
    except ScenarioError as e:
        from sim.cli import fail

        fail(e)
        return
    text = fit_report(cal)
    rep = report or (out.with_suffix(".fit.md") if out else None)
    if out:
        _write(out, scenario_text(cal, sc))
    if rep:
        _write(rep, text)
    err.print(Markdown(text))
    if out:
        err.print(f"calibrated scenario written to {out}" + (f", fit report to {rep}" if rep
                                                               else ""), highlight=False)
    else:
        print("# scenario fragment (use --out FILE for a whole scenario)")
        frag = cal.overrides()
        for key in frag:
            if key.startswith("incidents.categories."):
                cat = key.split(".")[2]
                frag[key] = sc.incidents.categories[cat].rate_per_1000_households_per_day
        print(dump_yaml(_nest(frag)), end="")


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, v in flat.items():
        node = out
        parts = dotted.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def _write(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def export_log_command(
    cases: Annotated[Path, typer.Argument(
        help="A run's case log (cases.parquet, from `gridsim run --out DIR`).")],
    format_: Annotated[str, typer.Option(
        "--format", help="Log format to write: open311 or nyc311.")],
    out: Annotated[Path, typer.Option(help="CSV file to write.")],
    start: Annotated[str, typer.Option(
        help="Calendar date of model time 0 (a Monday keeps weekdays aligned).")] = "2024-01-01",
    subtypes: Annotated[bool, typer.Option(
        help="Write category.subtype as the service code / complaint type.")] = False,
) -> None:
    """Write a run's case log as an Open311- or NYC-311-style request log (for calibration)."""
    import pandas as pd

    from sim.cli import fail

    problems = []
    if format_ not in FORMATS:
        problems.append(("format", f"unknown format {format_!r}; allowed: {', '.join(FORMATS)}"))
    try:
        t0 = pd.Timestamp(start)
    except ValueError:
        problems.append(("start", f"not a date: {start!r}"))
    if not cases.is_file():
        problems.append(("", f"{cases}: file not found"))
    if problems:
        fail(CalibrationError(problems, "gridsim export-log"))
        return
    try:
        frame = pd.read_parquet(cases)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user error here
        fail(CalibrationError([("", f"not a readable case log: {err}")], str(cases)))
        return
    missing = [c for c in ("incident_id", "category", "subtype", "department", "t_report_h",
                           "t_closed_h", "state") if c not in frame.columns]
    if missing:
        fail(CalibrationError([("", "not a gridsim case log: missing column(s) "
                                    + ", ".join(missing))], str(cases)))
        return
    log = cases_to_log(frame, format_, start=str(t0.date()), subtypes=subtypes)
    tmp = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    log.to_csv(tmp, index=False)
    tmp.replace(out)
    print(f"wrote {len(log):,} requests to {out}")
