"""Time in service-request logs: reading timestamps as the city's local time, the period a log
covers (partial days counted, sparse tails detected, ``--from``/``--to``), the exposure of that
period under the arrival profiles, and the hour-of-day and weekday profiles fitted from it.

The model's arrivals are separable: rate × hour-of-day factor × weekday factor (each profile of
mean 1). A log of N requests over a window W therefore estimates the daily rate as
N / E(W) × 24, where E(W) = ∫_W hourly(t)·weekly(t) dt (hours) is the window's *exposure*: a
12-hour window of busy daytime hours has more than half a day's exposure. The profiles are
fitted by shrinking the log's counts towards the base scenario's shape, with a prior worth
:data:`PRIOR_REQUESTS` requests in every hour (and weekday) cell: a cell the log saw often is
the log's; a cell it never saw keeps the base shape, never zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: strength of the base profile's shape, in requests per cell (hour of day or weekday)
PRIOR_REQUESTS = 20.0
#: a sparse tail: the days at least this busy relative to a typical request's day ...
EXTEND_DENSITY = 0.1
#: ... cover less than this share of the whole span
TAIL_SPAN_SHARE = 0.5

US_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_SLASH_FORMATS = (US_FORMAT, "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                  "%m/%d/%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
_UTC = re.compile(r"(?:Z|[+-]00:?00)$", re.IGNORECASE)

#: the years a timestamp may have: whole years inside the range of nanosecond times
#: (1677-09-21 … 2262-04-11) that the period, profiles and times to close are computed in
FIRST_YEAR, LAST_YEAR = 1678, 2261
_EARLIEST = pd.Timestamp(f"{FIRST_YEAR}-01-01")
_LATEST = pd.Timestamp(f"{LAST_YEAR + 1}-01-01")
YEARS_ALLOWED = f"years {FIRST_YEAR} to {LAST_YEAR}"


@dataclass
class TimeInfo:
    """How the timestamps of a log were read (for the report)."""

    tz: str
    tz_from: str
    utc: int = 0        # timestamps in UTC (…Z, +00:00), converted to ``tz``
    offset: int = 0     # with another offset: converted to ``tz`` with --tz, else read as written
    local: int = 0      # without an offset: already local time
    converted_offsets: bool = False

    def add(self, other: "TimeInfo") -> None:
        self.utc += other.utc
        self.offset += other.offset
        self.local += other.local

    def describe(self) -> str:
        parts = []
        if self.local:
            parts.append(f"{self.local:,} without an offset, read as local time")
        if self.utc:
            parts.append(f"{self.utc:,} in UTC, converted to {self.tz}")
        if self.offset:
            parts.append(f"{self.offset:,} with a UTC offset, "
                         + (f"converted to {self.tz}" if self.converted_offsets
                            else "read as the local time they state"))
        return f"{self.tz} ({self.tz_from}); timestamps: " + ("; ".join(parts) or "none")


def check_tz(name: str) -> str | None:
    """None if ``name`` is an IANA time zone, else the message to show."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return (f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai, "
                "America/New_York or UTC")
    return None


_CN_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?\s*")
_CN_TIME = re.compile(r"(\d{1,2})\s*[时點点:]\s*(\d{1,2})\s*分?(?:\s*(\d{1,2})\s*秒)?")


def chinese_to_iso(values: pd.Series) -> pd.Series:
    """Stripped text, with ``2024年3月1日 8时5分`` (Chinese exports) as ``2024-03-01 08:05:00``."""
    s = values.fillna("").astype(str).str.strip()
    cn = s.str.contains("年", regex=False)
    if cn.any():
        d = s[cn].str.replace(_CN_DATE, lambda m: f"{int(m[1]):04d}-{int(m[2]):02d}-"
                              f"{int(m[3]):02d} ", regex=True)
        d = d.str.replace(_CN_TIME, lambda m: f"{int(m[1]):02d}:{int(m[2]):02d}:"
                          f"{int(m[3] or 0):02d}", regex=True)
        s[cn] = d.str.strip()
    return s


def read_times(values: pd.Series, info: TimeInfo | None = None) -> tuple[pd.Series, pd.Series]:
    """Naive local wall-clock times from the forms real exports use, and the mask of the values
    that read as a time outside :data:`YEARS_ALLOWED` (year -1, 9999: NaT in the times).

    ``MM/DD/YYYY hh:mm:ss AM`` (NYC exports) and other slash forms; ISO 8601 with or without
    an offset; ``2024年3月1日 8时5分`` (:func:`chinese_to_iso`). A timestamp in UTC (``Z``/``+00:00``) is converted to ``info.tz``; one with another
    offset is converted when ``info.converted_offsets`` (``--tz`` given), else read as the local
    time it states; one without an offset is local already. Unreadable values give NaT.
    """
    s = chinese_to_iso(values)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    far = pd.Series(False, index=s.index)

    def put(got: pd.Series) -> pd.Series:
        """Write the readable values of ``got`` into ``out`` (those outside the years allowed
        are marked in ``far`` instead); return the mask of the values that read as a time."""
        ok = got.notna()
        outside = ok & ((got < _EARLIEST) | (got >= _LATEST))
        far[got.index[outside]] = True
        inside = ok & ~outside
        out[got.index[inside]] = got[inside].astype("datetime64[ns]")
        return ok

    slash = s.str.contains("/", regex=False)
    todo = slash.copy()
    for fmt in _SLASH_FORMATS:
        if not todo.any():
            break
        ok = put(pd.to_datetime(s[todo], format=fmt, errors="coerce"))
        todo[ok.index[ok]] = False
    iso = ~slash & (s != "")
    if not iso.any():
        return out, far
    has_off = iso & s.str.contains(_OFFSET, regex=True)
    naive = iso & ~has_off
    if naive.any():
        put(pd.to_datetime(s[naive], format="ISO8601", errors="coerce"))
    if has_off.any():
        utc = has_off & s.str.contains(_UTC, regex=True)
        other = has_off & ~utc
        if info is not None:
            info.utc += int(utc.sum())
            info.offset += int(other.sum())
            info.local += int(naive.sum())
        tz = info.tz if info is not None else "UTC"
        convert = utc | (other if info is not None and info.converted_offsets else False)
        if convert.any():
            inst = pd.to_datetime(s[convert].str.upper().str.replace("Z", "+00:00", regex=False),
                                  format="ISO8601", utc=True, errors="coerce")
            put(inst.dt.tz_convert(tz).dt.tz_localize(None))
        keep = has_off & ~convert
        if keep.any():
            put(pd.to_datetime(s[keep].str.replace(_OFFSET, "", regex=True), format="ISO8601",
                               errors="coerce"))
    elif info is not None:
        info.local += int(naive.sum())
    return out, far


# ------------------------------------------------------------------------------------ period
@dataclass
class Period:
    """The window the rates are measured over, and the rows outside it."""

    start: pd.Timestamp
    end: pd.Timestamp
    how: str                      # "span", "--from/--to", "dense window (sparse tail)"
    outside: int = 0              # rows left out (sparse tail, or outside --from/--to)
    outside_span_days: float = 0.0
    full_start: pd.Timestamp | None = None
    full_end: pd.Timestamp | None = None

    @property
    def hours(self) -> float:
        return (self.end - self.start) / pd.Timedelta(hours=1)

    @property
    def days(self) -> float:
        return self.hours / 24.0


def find_period(created: pd.Series, start: pd.Timestamp | None = None,
                end: pd.Timestamp | None = None) -> Period:
    """The measurement window: ``--from``/``--to`` when given; otherwise the span from the first
    to the last request, unless that span is mostly a sparse tail — the days at least a tenth as
    busy as a typical request's day cover less than half of it — in which case the window from
    the first to the last request of those days."""
    t = np.sort(created.dropna().to_numpy(dtype="datetime64[ns]"))
    if len(t) == 0:
        raise ValueError("no timestamps")
    first, last = pd.Timestamp(t[0]), pd.Timestamp(t[-1])
    if start is not None or end is not None:
        a = start if start is not None else first
        b = end if end is not None else last + pd.Timedelta(seconds=1)
        inside = (t >= a.to_datetime64()) & (t < b.to_datetime64())
        return Period(a, b, "--from/--to", outside=int((~inside).sum()),
                      full_start=first, full_end=last)
    span = last - first
    if span < pd.Timedelta(hours=1):  # one instant: at least an hour, so rates stay finite
        return Period(first, first + pd.Timedelta(hours=1), "span (at least 1 hour)")
    dense = _dense_days(t)
    if dense is not None:
        a, b = dense
        if (b - a) < TAIL_SPAN_SHARE * (t[-1] - t[0]):
            inside = (t >= a) & (t <= b)
            out = t[~inside]
            out_span = float((out.max() - out.min()) / np.timedelta64(1, "D")) if len(out) else 0
            return Period(pd.Timestamp(a), pd.Timestamp(b), "dense window (sparse tail left out)",
                          outside=int(len(out)), outside_span_days=out_span,
                          full_start=first, full_end=last)
    return Period(first, last, "span of the log")


def _dense_days(t: np.ndarray) -> tuple[np.datetime64, np.datetime64] | None:
    """First and last request of the days at least :data:`EXTEND_DENSITY` as busy as the day of
    a typical request (half the requests fall on days at least that busy); None if < 50 rows."""
    if len(t) < 50:
        return None
    days = t.astype("datetime64[D]")
    uniq, counts = np.unique(days, return_counts=True)
    order = np.sort(counts)[::-1]
    typical = order[np.searchsorted(np.cumsum(order), len(t) / 2)]
    busy = uniq[counts >= EXTEND_DENSITY * typical]
    sel = (days >= busy.min()) & (days <= busy.max())
    return t[sel].min(), t[sel].max()


# ---------------------------------------------------------------------------- exposure, profiles
def hour_bins(start: pd.Timestamp, end: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fraction of each clock hour inside the window, its hour of day, its weekday)."""
    h0 = start.floor("h")
    edges = pd.date_range(h0, end.ceil("h") if end > h0 else h0 + pd.Timedelta(hours=1),
                          freq="h")
    if len(edges) < 2:
        edges = pd.DatetimeIndex([h0, h0 + pd.Timedelta(hours=1)])
    lo, hi = edges[:-1], edges[1:]
    a = np.maximum(lo.to_numpy(), start.to_datetime64())
    b = np.minimum(hi.to_numpy(), end.to_datetime64())
    frac = np.clip((b - a) / np.timedelta64(1, "h"), 0, 1)
    return frac.astype(float), lo.hour.to_numpy(), lo.day_of_week.to_numpy()


@dataclass
class Profiles:
    hourly: np.ndarray            # 24 factors, mean 1
    weekly: np.ndarray            # 7 factors, mean 1
    hour_counts: np.ndarray       # requests seen in each hour of day
    hour_exposure_h: np.ndarray   # hours of each hour of day inside the window
    weekday_counts: np.ndarray
    weekday_exposure_d: np.ndarray
    exposure_h: float             # ∫ hourly·weekly over the window (hours)
    notes: list[str] = field(default_factory=list)


def fit_profiles(created: pd.Series, period: Period, prior_hourly: np.ndarray,
                 prior_weekly: np.ndarray, prior: float = PRIOR_REQUESTS) -> Profiles:
    """Hour-of-day and weekday factors shrunk towards the base shape, and the window's exposure.

    Each cell's factor is (n + prior·p) / (λ·E + prior), where n is the requests in the cell, E
    its exposure, p the base factor and λ the overall rate; iterated to a fixed point (the
    factors and the rate depend on each other), then scaled to mean 1.
    """
    ph = np.asarray(prior_hourly, dtype=float)
    ph = ph / ph.mean()
    pw = np.asarray(prior_weekly, dtype=float)
    pw = pw / pw.mean()
    frac, hod, dow = hour_bins(period.start, period.end)
    hours = created.dt.hour.to_numpy()
    wdays = created.dt.day_of_week.to_numpy()
    nh = np.bincount(hours, minlength=24).astype(float)
    nw = np.bincount(wdays, minlength=7).astype(float)
    n = nh.sum()
    eh_raw = np.bincount(hod, weights=frac, minlength=24)
    ew_raw = np.bincount(dow, weights=frac, minlength=7) / 24.0
    rho, omega = ph.copy(), pw.copy()
    for _ in range(200):
        w_bin = omega[dow]
        lam = n / max(float((frac * rho[hod] * w_bin).sum()), 1e-12)  # per hour
        eh = np.bincount(hod, weights=frac * w_bin, minlength=24)
        new_rho = (nh + prior * ph) / (lam * eh + prior)
        new_rho /= new_rho.mean()
        eo = np.bincount(dow, weights=frac * new_rho[hod], minlength=7)
        new_omega = (nw + prior * pw) / (lam * eo + prior)
        new_omega /= new_omega.mean()
        done = np.abs(new_rho - rho).max() < 1e-9 and np.abs(new_omega - omega).max() < 1e-9
        rho, omega = new_rho, new_omega
        if done:
            break
    exposure = float((frac * rho[hod] * omega[dow]).sum())
    return Profiles(hourly=rho, weekly=omega, hour_counts=nh, hour_exposure_h=eh_raw,
                    weekday_counts=nw, weekday_exposure_d=ew_raw, exposure_h=exposure)
