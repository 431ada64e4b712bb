"""Service-request logs: the Open311 GeoReport v2 and NYC 311 formats (facts.md), reading them
without personal data, mapping their service codes / complaint types to gridsim categories, and
writing a gridsim case log in those formats.

Only the columns listed in :data:`FORMATS` are ever kept: addresses, coordinates, free text
(description, descriptor, status_notes, resolution text) and media links are discarded as each
line is read, so they cannot reach any output. Rows that cannot be used are counted by reason,
never fatal; a file that is not in the stated format is a :class:`CalibrationError` naming the
missing columns. Fitting is in :mod:`sim.data.calibrate`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario import Scenario, ScenarioError, read_mapping

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR = Path(__file__).resolve().parent


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
