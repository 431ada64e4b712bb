"""Per-step case exports (数字城管 / 12345): reading them, and writing one from a run.

A platform's case export has one row per case and a timestamp per step — 上报 reported
(``created``), 立案 filed, 派遣 dispatched, 处置 handled, 反馈 feedback, 核查 verified, 结案
``closed`` — with the source (来源: 监督员 / 热线 / 视频 / 传感器 …), the deadline (处置时限 or
应结时间), an extension (延期) and a satisfaction score. The headers each city uses are in
:data:`sim.data.logformats.FORMATS` (``gridcase``), in Chinese and English; ``--column`` names
others. :func:`read_case_log` reads only these columns: coordinates are not read at all, the
``unit`` column (网格) is recognised and not kept, free text never (a column not named above is
skipped as each line is read).

Bad input: a missing ``created`` or ``type`` column, or a step column whose unreadable share is
above :data:`UNREADABLE_MAX`, is a :class:`CalibrationError` (exit 2). Steps out of order (a
case dispatched before it was filed) are counted per step and the case leaves the step fits;
only a log in which every case with two steps is out of order is refused.

:func:`cases_to_gridcase` writes such a log from a run's case log, with Chinese or English
headers and channel names (the channel's code in a column of its own). The model records no
feedback or verification time of its own, so those two columns are written only when the case
log holds them (``t_feedback_h``, ``t_verified_h``); the handled → closed step then stands for
both.
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.data.logformats import FORMATS, STEP_FIELDS, header_key, resolve_columns
from sim.data.logtimes import TimeInfo, chinese_to_iso, read_times
from sim.data.servicelog import CalibrationError, csv_header, log_source

if TYPE_CHECKING:
    from sim.data.servicelog import Mapping

#: the time columns in the order a case passes them
STEPS: tuple[str, ...] = ("created",) + STEP_FIELDS + ("closed",)
#: a time column with more unreadable values than this share (of its non-empty ones) is refused
UNREADABLE_MAX = 0.10
#: the model's channels and their names in each language
CHANNEL_NAMES: dict[str, dict[str, str]] = {
    "zh": {"patrol": "监督员", "resident": "热线", "sensor": "传感器", "video": "视频",
           "handed_down": "上级交办"},
    "en": {"patrol": "supervisor", "resident": "hotline", "sensor": "sensor", "video": "video",
           "handed_down": "handed down"},
}
#: source values → channel (case-insensitive wildcards, first match wins)
CHANNEL_WORDS: tuple[tuple[str, str], ...] = (
    ("patrol", "patrol"), ("resident", "resident"), ("sensor", "sensor"), ("video", "video"),
    ("handed_down", "handed_down"),
    ("*上级*", "handed_down"), ("*交办*", "handed_down"), ("*督办*", "handed_down"),
    ("*handed*", "handed_down"),
    ("*视频*", "video"), ("*智能识别*", "video"), ("*ai识别*", "video"), ("*video*", "video"),
    ("*camera*", "video"), ("*cctv*", "video"),
    ("*传感*", "sensor"), ("*物联*", "sensor"), ("*感知*", "sensor"), ("*sensor*", "sensor"),
    ("*iot*", "sensor"),
    ("*监督员*", "patrol"), ("*网格员*", "patrol"), ("*巡查*", "patrol"), ("*巡检*", "patrol"),
    ("*城管通*", "patrol"), ("*supervisor*", "patrol"), ("*inspector*", "patrol"),
    ("*grid worker*", "patrol"),
    ("*热线*", "resident"), ("*12345*", "resident"), ("*12319*", "resident"),
    ("*市民*", "resident"), ("*公众*", "resident"), ("*群众*", "resident"), ("*微信*", "resident"),
    ("*app*", "resident"), ("*网站*", "resident"), ("*电话*", "resident"), ("*随手拍*", "resident"),
    ("*hotline*", "resident"), ("*phone*", "resident"), ("*citizen*", "resident"),
    ("*public*", "resident"), ("*wechat*", "resident"), ("*web*", "resident"), ("311", "resident"),
)
#: headers of the channel-code column written beside the names (read in preference to them)
CODE_HEADERS = ("来源代码", "channel_code")
_TRUE = {"是", "已延期", "延期", "yes", "y", "true", "1", "extended"}
_FALSE = {"", "否", "无", "未延期", "no", "n", "false", "0", "none"}
_PARKED = ("*挂账*", "parked")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(个)?\s*(工作日|工作小时|工作时|小时|天|日|h|hours?|"
                       r"d|days?|working\s*days?|working\s*hours?)?\s*$", re.IGNORECASE)

HEADERS: dict[str, dict[str, str]] = {
    "zh": {"id": "案卷编号", "created": "上报时间", "filed": "立案时间", "dispatched": "派遣时间",
           "handled": "处置时间", "feedback": "反馈时间", "verified": "核查时间",
           "closed": "结案时间", "type": "问题类型", "agency": "处置部门", "status": "案件状态",
           "channel": "来源", "channel_code": "来源代码", "deadline": "应结时间",
           "extended": "延期", "unit": "网格编码"},
    "en": {"id": "case_id", "created": "reported", "filed": "filed", "dispatched": "dispatched",
           "handled": "handled", "feedback": "feedback", "verified": "verified",
           "closed": "closed", "type": "type", "agency": "department", "status": "status",
           "channel": "channel", "channel_code": "channel_code", "deadline": "deadline",
           "extended": "extended", "unit": "unit"},
}
_STATUS = {"zh": {"closed": "已结案", "open": "处置中", "parked": "挂账"},
           "en": {"closed": "closed", "open": "open", "parked": "parked"}}
_YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}


def classify_channel(value: str) -> str | None:
    v = value.strip().lower()
    if not v:
        return None
    for pattern, code in CHANNEL_WORDS:
        if fnmatch.fnmatchcase(v, pattern):
            return code
    return None


@dataclass
class CaseSteps:
    """The readable cases of a per-step export and what was left out, by reason.

    ``frame``: ``created`` … ``closed`` (the :data:`STEPS` present), ``status`` (closed, open,
    parked, cancelled, duplicate, referred), ``category`` and ``subtype`` (through the mapping;
    None when unmapped), ``channel`` (a code or None),
    ``channel_raw``, ``due``, ``extended``, ``satisfaction``, and ``ordered`` (False: some step
    before an earlier one).
    """

    frame: pd.DataFrame
    rows_read: int
    steps: tuple[str, ...]                           # time columns present, in step order
    columns: dict[str, str]                          # field → header used
    extracted: pd.Timestamp                          # latest time in the log
    unreadable: dict[str, int] = field(default_factory=dict)   # header → values
    out_of_order: dict[str, int] = field(default_factory=dict)  # "a → b" → cases
    skipped: dict[str, int] = field(default_factory=dict)      # reason → rows
    channel_unknown: dict[str, int] = field(default_factory=dict)
    deadline_unreadable: int = 0
    extension_unreadable: int = 0
    satisfaction_unreadable: int = 0


def _open(p: Path):  # noqa: ANN202 - a text file object
    with open(p, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if gz:
        return gzip.open(p, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return open(p, encoding="utf-8-sig", errors="replace", newline="")


def read_case_log(path: str | Path, mapping: "Mapping", *, columns: dict[str, str] | None = None,
                  tz: str | None = None) -> CaseSteps:
    """Read a per-step case export (CSV, gzip read transparently): see the module's doc."""
    spec = FORMATS["gridcase"]
    p, src, explicit = log_source(path, mapping, columns)
    with _open(p) as fh:
        reader = csv.reader(fh)
        header = csv_header(reader, src)
        names = [h.strip() for h in header]
        index, problems = resolve_columns(names, spec, explicit)
        if problems:
            raise CalibrationError(problems, src)
        missing = [f for f in spec.required if f not in index]
        if missing:
            raise CalibrationError([("", "not a gridcase log: missing column(s) " + ", ".join(
                f"{m} ({'/'.join(spec.headers[m][:3])})" for m in missing)
                + "; name them with --column FIELD=HEADER; the log's columns: "
                + ", ".join(names[:20]) + (" …" if len(names) > 20 else ""))], src)
        keys = [header_key(n) for n in names]
        code_at = next((keys.index(header_key(h)) for h in CODE_HEADERS
                        if header_key(h) in keys), None)
        if code_at is not None and "channel" not in explicit:
            index["channel"] = code_at
        keep = {f: i for f, i in index.items() if f not in ("lat", "lon", "unit", "id")}
        buf: dict[str, list[str]] = {f: [] for f in keep}
        rows = skipped = 0
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            rows += 1
            if len(row) != len(names):
                skipped += 1
                continue
            for f, i in keep.items():
                buf[f].append(row[i])
    used = {f: names[i] for f, i in index.items()}
    out = _frame(buf, used, mapping, tz, src)
    out.rows_read = rows
    if skipped:
        out.skipped["wrong number of fields"] = skipped
    return out


def _frame(buf: dict[str, list[str]], used: dict[str, str], mapping: "Mapping",
           tz: str | None, src: str) -> CaseSteps:
    info = TimeInfo(tz=tz or "Asia/Shanghai", tz_from="--tz" if tz else "default",
                    converted_offsets=bool(tz))
    steps = tuple(s for s in STEPS if s in buf and any(v.strip() for v in buf[s]))
    if "created" not in steps:
        raise CalibrationError([(used["created"], "the column has no value: every case needs "
                                                  "its report time")], src)
    df = pd.DataFrame(index=pd.RangeIndex(len(buf["created"])))
    unreadable: dict[str, int] = {}
    problems = []
    for s in steps:
        raw = chinese_to_iso(pd.Series(buf[s], dtype=object))
        t, _ = read_times(raw, info)
        bad = (raw != "") & t.isna()
        given = int((raw != "").sum())
        if bad.any():
            unreadable[used[s]] = int(bad.sum())
            if bad.sum() > UNREADABLE_MAX * given:
                examples = ", ".join(repr(v) for v in raw[bad].unique()[:3])
                problems.append((used[s], f"{100 * bad.sum() / given:.0f}% of its {given:,} "
                                 f"values are not readable times (at most "
                                 f"{100 * UNREADABLE_MAX:.0f}% allowed), e.g. {examples}; "
                                 "expected e.g. 2024-03-01 08:05:00, 2024/03/01 08:05 or "
                                 "2024年3月1日 8时5分"))
        df[s] = t
    if problems:
        raise CalibrationError(problems, src)
    keep = df["created"].notna().to_numpy()
    skipped = {}
    if (~keep).sum():
        skipped[f"missing or unreadable {used['created']}"] = int((~keep).sum())
    code = pd.Series(buf["type"], dtype=object).fillna("").str.strip()
    memo: dict[str, str | None] = {}
    for v in code.unique():
        matched, cat = mapping.category(v) if v else (False, None)
        memo[v] = cat if matched else None
    target = code.map(memo)
    df["category"] = target.map(lambda c: c.split(".")[0] if c else None)
    df["subtype"] = target.map(lambda c: c.split(".", 1)[1] if c and "." in c else None)
    sraw = pd.Series(buf.get("status", [""] * len(df)), dtype=object).fillna("").str.strip()
    status = sraw.map({v: ("parked" if any(fnmatch.fnmatchcase(v.lower(), p) for p in _PARKED)
                           else mapping.status.classify(v)) if v else None
                       for v in sraw.unique()})
    has_closed = df["closed"].notna() if "closed" in df else pd.Series(False, index=df.index)
    df["status"] = status.where(status.notna(), np.where(has_closed, "closed", "open"))
    craw = pd.Series(buf.get("channel", [""] * len(df)), dtype=object).fillna("").str.strip()
    df["channel_raw"] = craw
    df["channel"] = craw.map({v: classify_channel(v) for v in craw.unique()})
    ordered, out_of_order = _order(df, steps)
    df["ordered"] = ordered
    extracted = max(df[s].max() for s in steps)
    cs = CaseSteps(frame=df, rows_read=0, steps=steps, columns=used, extracted=extracted,
                   unreadable=unreadable, out_of_order=out_of_order, skipped=skipped)
    for v, n in craw[(craw != "") & df["channel"].isna() & keep].value_counts().items():
        cs.channel_unknown[str(v)] = int(n)
    start = df["dispatched"].fillna(df["created"]) if "dispatched" in df else df["created"]
    due, bad_due = _deadlines(pd.Series(buf.get("deadline", [""] * len(df)), dtype=object),
                              start, info)
    ext_due, flag, cs.extension_unreadable = _extensions(pd.Series(buf.get("extended", [""] * len(df)), dtype=object),
                                   info)
    df["due"] = ext_due.where(ext_due.notna(), due)
    df["extended"] = flag
    sat = pd.Series(buf.get("satisfaction", [""] * len(df)), dtype=object).fillna("").str.strip()
    num = pd.to_numeric(sat.str.rstrip("%"), errors="coerce")
    cs.satisfaction_unreadable = int(((sat != "") & num.isna() & keep).sum())
    df["satisfaction"] = num
    cs.deadline_unreadable = int((bad_due & keep).sum())
    cs.frame = df[keep].reset_index(drop=True)
    if len(steps) >= 2:
        multi = cs.frame[list(steps)].notna().sum(axis=1) >= 2
        if multi.any() and not cs.frame["ordered"][multi].any():
            raise CalibrationError([("", "every case with two or more step times has its steps "
                                         "out of order (" + ", ".join(
                                             f"{k}: {v:,}" for k, v in out_of_order.items())
                                     + "): are the columns named right? (--column FIELD=HEADER)")
                                    ], src)
    return cs


def _order(df: pd.DataFrame, steps: tuple[str, ...]) -> tuple[np.ndarray, dict[str, int]]:
    """Whether each case's present steps are in order; cases out of order by the first step
    that comes before an earlier one (``"filed → dispatched"``: dispatched before filed)."""
    t = np.column_stack([df[s].to_numpy("datetime64[ns]").astype("int64").astype(float)
                         for s in steps]) if steps else np.empty((len(df), 0))
    t[t == float(np.iinfo("int64").min)] = np.nan
    ok = np.ones(len(df), bool)
    counts: dict[str, int] = {}
    last_name = np.array([steps[0]] * len(df), dtype=object) if steps else None
    prev = t[:, 0].copy() if steps else None
    for j in range(1, len(steps)):
        bad = t[:, j] < prev  # NaN compares False
        fresh = bad & ok
        for name, n in pd.Series(last_name[fresh]).value_counts().items():
            counts[f"{steps[j]} before {name}"] = counts.get(f"{steps[j]} before {name}", 0) + int(n)
        ok &= ~bad
        has = ~np.isnan(t[:, j])
        last_name = np.where(has & (np.isnan(prev) | (t[:, j] >= prev)), steps[j], last_name)
        prev = np.fmax(prev, t[:, j])
    return ok, counts


def _deadlines(raw: pd.Series, start: pd.Series, info: TimeInfo) -> tuple[pd.Series, pd.Series]:
    """Due times: a timestamp as given, or a duration (``4小时``, ``2天``, ``3 working days``)
    counted from dispatch (from the report when the case has no dispatch time, as the model
    counts a case not yet dispatched); working units count Monday–Friday 08:30–17:30."""
    from sim.scenario import CalendarConfig
    from sim.world.calendar import due_time

    s = chinese_to_iso(raw)
    due, _ = read_times(s, info)
    todo = (s != "") & due.isna()
    bad = pd.Series(False, index=s.index)
    if todo.any():
        cal = CalendarConfig()
        origin = start.min().normalize() - pd.Timedelta(days=int(start.min().day_of_week))
        kinds = {v: _deadline(v) for v in s[todo].unique()}
        hours = ((start - origin) / pd.Timedelta(hours=1)).to_numpy(float)
        texts = s.to_numpy(object)
        due_h = np.full(len(s), np.nan)
        for text, d in kinds.items():
            rows = todo.to_numpy() & (texts == text)
            if d is None:
                continue
            if d.unit in ("hours", "days"):  # the clock: one vectorised step
                due_h[rows] = hours[rows] + due_time(0.0, d, cal)
            else:
                due_h[rows] = [due_time(h, d, cal) if h == h else np.nan for h in hours[rows]]
        got = todo.to_numpy() & ~np.isnan(due_h)
        bad[todo.to_numpy() & ~got] = True
        due[got] = origin + pd.to_timedelta(due_h[got], unit="h")
    return due, bad


def _deadline(text: str):  # noqa: ANN202 - a Deadline or None
    """``4小时`` → Deadline(4, hours); ``3工作日`` → Deadline(3, working_days); None if not one."""
    from sim.scenario import Deadline

    m = _DURATION.match(text)
    if m is None or float(m[1]) <= 0:
        return None
    unit = (m[3] or "h").lower()
    kind = ("working_days" if unit.startswith("工作日") or unit.startswith("working d")
            else "working_hours" if unit.startswith("工作") or unit.startswith("working")
            else "days" if unit[0] in "天日d" else "hours")
    return Deadline(value=float(m[1]), unit=kind)


def _extensions(raw: pd.Series, info: TimeInfo) -> tuple[pd.Series, np.ndarray, int]:
    """(new due time where the column gives one, extended flag, unreadable values)."""
    s = chinese_to_iso(raw)
    t, _ = read_times(s, info)
    low = s.str.lower()
    flag = t.notna() | low.isin(_TRUE)
    unknown = int((~flag & ~low.isin(_FALSE)).sum())
    return t, flag.to_numpy(), unknown


# ------------------------------------------------------------------------------------ writing
def cases_to_gridcase(cases: pd.DataFrame, lang: str = "zh", start: str = "2024-01-01"
                      ) -> pd.DataFrame:
    """A run's case log as a per-step case export (one row per reported case).

    Times are ``start`` + model hours (model time 0 is a Monday: choose a Monday). ``type`` is
    ``category.subtype``; the deadline is the due time (应结时间); 延期 says whether a district
    team granted an extension (the case is then deferred: no new deadline).
    No coordinate, address or free text is written: the only place is the grid's number.
    """
    if lang not in HEADERS:
        raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(HEADERS)}")
    h = HEADERS[lang]
    c = cases[cases.t_report_h.notna()].sort_values(["t_report_h", "incident_id"])
    t0 = pd.Timestamp(start)

    def stamp(col: str, where: pd.Series | None = None) -> list[str]:
        v = c[col] if where is None else c[col].where(where)
        ts = t0 + pd.to_timedelta(v.to_numpy(float), unit="h")
        return [x.strftime("%Y-%m-%d %H:%M:%S") if x == x else "" for x in ts]

    closed = c.state == "closed"
    out = {h["id"]: c.incident_id.astype(str).to_numpy(), h["created"]: stamp("t_report_h"),
           h["filed"]: stamp("t_filed_h"), h["dispatched"]: stamp("t_dispatch_h"),
           h["handled"]: stamp("t_handled_h")}
    for fld, col in (("feedback", "t_feedback_h"), ("verified", "t_verified_h")):
        if col in c:
            out[h[fld]] = stamp(col)
    out[h["closed"]] = stamp("t_closed_h", closed)
    out[h["type"]] = (c.category + "." + c.subtype).to_numpy()
    out[h["agency"]] = c.department.to_numpy()
    state = np.where(closed, "closed", np.where(c.state == "parked", "parked", "open"))
    out[h["status"]] = [_STATUS[lang][s] for s in state]
    names = CHANNEL_NAMES[lang]
    out[h["channel"]] = [names.get(x, x) for x in c.channel]
    out[h["channel_code"]] = c.channel.to_numpy()
    out[h["deadline"]] = stamp("t_due_h")
    ext = c["extension"].to_numpy() == True if "extension" in c else np.zeros(len(c), bool)  # noqa: E712
    out[h["extended"]] = [_YES_NO[lang][0 if e else 1] for e in ext]
    out[h["unit"]] = c.grid.astype(str).to_numpy()
    return pd.DataFrame(out)

