"""Service-request logs: reading any city's export without personal data and mapping its request
types to gridsim categories (a gridsim case log is written in the NYC 311 or Open311 form by
:mod:`sim.data.logexport`).

Formats and columns are in :mod:`sim.data.logformats`, timestamps in :mod:`sim.data.logtimes`.
The container is CSV, a JSON list of request objects (or an object wrapping one), or JSON Lines;
gzip is read transparently whatever the file is called. Only the columns of the eight fields are
ever read: addresses, coordinates, free text and media links are discarded as each line is read,
so they cannot reach any output. Rows that cannot be used are counted by reason, never fatal; a
file that is not what it claims is a :class:`CalibrationError` naming what is missing and what
it looks like instead (a headerless file, JSON given as CSV, another format).
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from sim.data.logformats import (DEFAULT_STATUS, FIELDS, FORMATS, STATUS_CLASSES, FormatSpec,
                                 StatusVocabulary, header_key, resolve_columns)
from sim.data.logtimes import YEARS_ALLOWED, TimeInfo, check_tz, read_times
from sim.scenario import Scenario, ScenarioError, read_mapping

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR = Path(__file__).resolve().parent
_DATE_LIKE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}|\d{4}/\d{2}/\d{2})")


class CalibrationError(ScenarioError):
    """A log or mapping that cannot be used; one line per problem, CLI exit 2."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        super().__init__(problems, source)
        prefix = f"{source}: " if source else ""
        self.args = ("\n".join(f"{prefix}{path + ': ' if path else ''}{msg}"
                               for path, msg in problems),)


# ----------------------------------------------------------------------------------- mapping
@dataclass(frozen=True)
class Mapping:
    """Ordered (pattern → target or None) rules matched against one column. A target is a
    category (``infrastructure``) or a subtype of one (``infrastructure.street_light``).
    ``match`` is a field (``type``, ``agency``) or a header of the log; ``columns`` names
    headers of fields; ``status`` extends the status vocabulary."""

    match: str
    rules: tuple[tuple[str, str | None], ...]
    source: str
    columns: tuple[tuple[str, str], ...] = ()
    status: StatusVocabulary = StatusVocabulary()

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
    return DATA_DIR / f"mapping_{fmt if fmt in ('nyc311', 'gridcase') else 'open311'}.yaml"


def load_mapping(path: str | Path, fmt: str, scenario: Scenario) -> Mapping:
    """Read and check a mapping file against the format and the scenario's categories."""
    data = read_mapping(path)
    src = str(path)
    problems: list[tuple[str, str]] = []
    unknown = set(data) - {"format", "match", "mapping", "columns", "status"}
    if unknown:
        problems.append((sorted(unknown)[0], "unknown field; allowed: format, match, columns, "
                                             "status, mapping"))
    declared = data.get("format", fmt)
    declared = [declared] if isinstance(declared, str) else list(declared or [fmt])
    if fmt not in declared:
        problems.append(("format", f"this mapping is for {', '.join(map(str, declared))}, "
                                   f"the log is {fmt!r}"))
    match = str(data.get("match", "type"))
    columns = data.get("columns") or {}
    if not isinstance(columns, dict):
        problems.append(("columns", "must map fields to the log's headers, e.g. "
                                    "created: CreatedDate"))
        columns = {}
    for key in columns:
        if key not in FIELDS:
            problems.append((f"columns.{key}", "unknown field; allowed: " + ", ".join(FIELDS)))
    status = data.get("status") or {}
    if not isinstance(status, dict):
        problems.append(("status", "must map status values to one of: "
                                   + ", ".join(STATUS_CLASSES)))
        status = {}
    for key, cls in status.items():
        if cls not in STATUS_CLASSES:
            problems.append((f"status.{key}", f"unknown status class {cls!r}; allowed: "
                             + ", ".join(STATUS_CLASSES)))
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
    vocab = StatusVocabulary(tuple((str(k), str(v)) for k, v in status.items()) + DEFAULT_STATUS)
    return Mapping(match=match, rules=tuple((str(k), v) for k, v in rules.items()), source=src,
                   columns=tuple((str(k), str(v)) for k, v in columns.items()), status=vocab)


# ---------------------------------------------------------------------------------- reading
@dataclass
class LogData:
    """The readable requests (no personal data) and the count of every row left out, by reason.

    ``frame`` has one row per request with a readable creation time and type: ``created``,
    ``closed`` (NaT unless a usable closing time), ``status`` (closed, cancelled, duplicate,
    referred, open), ``code`` (the matched value), ``category`` and ``subtype`` (None when the
    type is unmapped or dropped).
    """

    frame: "pd.DataFrame"
    rows_read: int
    malformed: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    has_closed: bool = True
    has_status: bool = True
    container: str = "csv"
    columns: dict[str, str] = field(default_factory=dict)   # field → header used
    match: str = ""
    times: TimeInfo | None = None
    duplicate_keys: dict[str, int] = field(default_factory=dict)
    status_unknown: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    gzip: bool = False
    placer: Any = None  # sim.data.places.PlaceIndex: coordinates → cells as each chunk is read

    @property
    def mapped(self) -> "pd.DataFrame":
        return self.frame[self.frame.category.notna()]


class _Dup(list):
    """All values of a key repeated within one JSON object."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            prev = out[k]
            out[k] = _Dup([*prev, v]) if isinstance(prev, _Dup) else _Dup([prev, v])
        else:
            out[k] = v
    return out


def _open_text(p: Path) -> tuple[io.TextIOBase, bool]:
    with open(p, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(p, "rt", encoding="utf-8-sig", errors="replace", newline=""), True
    return open(p, encoding="utf-8-sig", errors="replace", newline=""), False


def _sniff(p: Path, src: str) -> tuple[str, bool]:
    """(container, gzipped) from the content, not the name."""
    fh, gz = _open_text(p)
    try:
        head = fh.read(65536)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise CalibrationError([("", f"not a readable gzip file: {err}")], src) from None
    finally:
        fh.close()
    text = head.lstrip()
    if not text:
        raise CalibrationError([("", "the file is empty (no header line)")], src)
    if text[0] == "[":
        return "json", gz
    if text[0] == "{":
        first = text.split("\n", 1)[0].strip()
        try:
            json.loads(first)
            rest = text.split("\n", 1)[1].lstrip() if "\n" in text else ""
            return ("jsonl" if not rest or rest[0] == "{" else "json"), gz
        except json.JSONDecodeError:
            return "json", gz
    suffixes = [x.lower() for x in p.suffixes if x.lower() != ".gz"]
    if suffixes and suffixes[-1] in (".json", ".jsonl", ".ndjson"):
        return ("json" if suffixes[-1] == ".json" else "jsonl"), gz  # its error says why
    return "csv", gz


def read_log(path: str | Path, fmt: str, mapping: Mapping, *, columns: dict[str, str] | None = None,
             tz: str | None = None, chunk_rows: int = 200_000, placer: Any = None) -> LogData:
    """Read a log, keep only the eight fields, map the types and count what cannot be used.

    CSV lines are split by the csv module; a line whose number of fields differs from the
    header's is counted as malformed and skipped (its columns may be shifted). ``columns``
    (``--column``) overrides the mapping's ``columns:``; a value that is a number is a 1-based
    column position and means the file has no header line. ``tz`` converts timestamps with an
    offset to that zone (default: UTC ones to the format's zone, see :mod:`sim.data.logtimes`).
    """
    import pandas as pd

    if fmt not in FORMATS:
        raise CalibrationError([("format", f"unknown format {fmt!r}; allowed: "
                                           + ", ".join(FORMATS))], "--format")
    spec = FORMATS[fmt]
    p, src, explicit = log_source(path, mapping, columns)
    container, gz = _sniff(p, src)
    if spec.container and spec.container != container and not (
            spec.container in ("json", "jsonl") and container in ("json", "jsonl")):
        raise CalibrationError([("", f"this looks like {container.upper()}, not "
                                     f"{spec.container.upper()}: use --format {container}")], src)
    if spec.container in ("json", "jsonl"):
        container = container  # the two JSON forms are told apart by content
    info = TimeInfo(tz=tz or spec.default_tz,
                    tz_from="--tz" if tz else f"default for {fmt} logs; pass --tz to change",
                    converted_offsets=bool(tz))
    log = LogData(frame=pd.DataFrame(), rows_read=0, container=container, times=info, gzip=gz,
                  placer=placer)
    frames: list[pd.DataFrame] = []
    reader = _read_csv if container == "csv" else _read_json
    for chunk in reader(p, spec, fmt, mapping, explicit, src, log, chunk_rows):
        frames.append(_clean_chunk(chunk, mapping, log))
    log.frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"created": pd.Series(dtype="datetime64[ns]"), "closed": pd.Series(dtype="datetime64[ns]"),
         "status": [], "code": [], "category": [], "subtype": []})
    for key, n in sorted(log.duplicate_keys.items()):
        log.notes.append(f"key {key!r} appears more than once in {n:,} object(s): kept the value "
                         "that reads as a time (or the first non-empty one)")
    return log


def _resolve(names: list[str], spec: FormatSpec, fmt: str, mapping: Mapping,
             explicit: dict[str, str], src: str, first_row: list[str] | None
             ) -> dict[str, int]:
    index, problems = resolve_columns(names, spec, explicit)
    if problems:
        raise CalibrationError(problems, src)
    if mapping.match in FIELDS:
        match_idx = index.get(mapping.match)
        match_name = mapping.match
    else:
        keys = [header_key(n) for n in names]
        k = header_key(mapping.match)
        match_idx = keys.index(k) if k in keys else None
        match_name = mapping.match
    missing = [f for f in spec.required if f not in index]
    if match_idx is None and match_name not in missing:
        missing.append(match_name)
    if missing:
        wanted = ", ".join(f"{m} ({'/'.join(spec.headers.get(m, (m,))[:3])})"
                           if m in spec.headers else m for m in missing)
        msg = f"not a {fmt} log: missing column(s) {wanted}"
        looks = [c for c in names if _DATE_LIKE.match(c) or re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", c)]
        if first_row is not None and looks:
            msg += (f"; line 1 looks like data, not a header (it holds {looks[0]!r}): the file "
                    "seems to have no header line — add one, or give column numbers "
                    "(--column created=2 --column type=4 …)")
        else:
            other = next((f for f, sp in FORMATS.items() if f not in (fmt, "csv", "json", "jsonl")
                          and all(resolve_columns(names, sp, {})[0].get(r) is not None
                                  for r in sp.required)), None)
            if other:
                msg += f"; it looks like a {other} log (--format {other})"
            msg += ("; name your columns with --column FIELD=HEADER (fields: "
                    + ", ".join(FIELDS) + "); the log's columns: " + ", ".join(names[:20])
                    + (" …" if len(names) > 20 else ""))
        raise CalibrationError([("", msg)], src)
    index["match"] = match_idx  # type: ignore[assignment]
    return index


def log_source(path: str | Path, mapping: Mapping, columns: dict[str, str] | None
               ) -> tuple[Path, str, dict[str, str]]:
    """A log file that must exist, its name for messages, and the columns named for it (the
    mapping's ``columns:``, overridden by ``--column``)."""
    src = str(path)
    p = Path(path)
    if not p.is_file():
        raise CalibrationError([("", "file not found")], src)
    return p, src, {**dict(mapping.columns), **(columns or {})}


def csv_header(reader: Any, src: str) -> list[str]:
    """A CSV log's header line, or the reason it has none (unreadable, empty)."""
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise CalibrationError([("", f"not a readable CSV file: {err}")], src) from None
    if not header:
        raise CalibrationError([("", "the file is empty (no header line)")], src)
    return header


def _read_csv(p: Path, spec: FormatSpec, fmt: str, mapping: Mapping, explicit: dict[str, str],
              src: str, log: LogData, chunk_rows: int) -> Iterator[dict[str, list[str]]]:
    fh, _ = _open_text(p)
    with fh:
        reader = csv.reader(fh)
        header = csv_header(reader, src)
        positional = bool(explicit) and all(v.strip().isdigit() for v in explicit.values())
        pending: list[list[str]] = []
        if positional:
            width = len(header)
            names = [str(i + 1) for i in range(width)]
            pending = [header]
            bad = [f for f, v in explicit.items() if not 1 <= int(v) <= width]
            if bad:
                raise CalibrationError([(f"column {bad[0]}", f"column number {explicit[bad[0]]} "
                                         f"is outside 1…{width}")], src)
        else:
            names = [h.strip() for h in header]
            width = len(header)
        idx = _resolve(names, spec, fmt, mapping, explicit, src, header)
        log.columns = {f: names[i] for f, i in idx.items() if f != "match" and i is not None}
        log.match = names[idx["match"]]
        log.has_closed, log.has_status = "closed" in idx, "status" in idx
        keep = {f: i for f, i in idx.items() if f not in ("lat", "lon") or log.placer}
        buf: dict[str, list[str]] = {f: [] for f in keep}

        def rows() -> Iterator[list[str]]:
            yield from pending
            while True:
                try:
                    yield next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    yield None  # type: ignore[misc]

        for row in rows():
            if row is None:
                log.rows_read += 1
                _count(log.malformed, "unreadable CSV line", 1)
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            log.rows_read += 1
            if len(row) != width:
                _count(log.malformed, "wrong number of fields", 1)
                continue
            for f, i in keep.items():
                buf[f].append(row[i])
            if len(buf["match"]) >= chunk_rows:
                yield buf
                buf = {f: [] for f in keep}
        if buf["match"]:
            yield buf


def _read_json(p: Path, spec: FormatSpec, fmt: str, mapping: Mapping, explicit: dict[str, str],
               src: str, log: LogData, chunk_rows: int) -> Iterator[dict[str, list[str]]]:
    fh, _ = _open_text(p)
    with fh:
        text = fh.read()
    items: list[Any] = []
    if log.container == "jsonl":
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                items.append(json.loads(line, object_pairs_hook=_pairs))
            except json.JSONDecodeError:
                items.append(None)
    else:
        try:
            data = json.loads(text, object_pairs_hook=_pairs)
        except json.JSONDecodeError as err:
            raise CalibrationError([("", f"not a readable JSON file: {err}")], src) from None
        if isinstance(data, dict):  # some servers wrap the list
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if not isinstance(data, list):
            raise CalibrationError([("", "a JSON log must be a list of request objects")], src)
        items = data
    names: list[str] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, dict):
            for k in item:
                if k not in seen:
                    seen.add(k)
                    names.append(str(k))
    if not names:
        raise CalibrationError([("", "no request object in the file")], src)
    idx = _resolve(names, spec, fmt, mapping, explicit, src, None)
    log.columns = {f: names[i] for f, i in idx.items() if f != "match" and i is not None}
    log.match = names[idx["match"]]
    log.has_closed, log.has_status = "closed" in idx, "status" in idx
    keep = {f: names[i] for f, i in idx.items() if f not in ("lat", "lon") or log.placer}
    timey = {"created", "closed"}
    buf: dict[str, list[str]] = {f: [] for f in keep}
    for item in items:
        log.rows_read += 1
        if not isinstance(item, dict):
            _count(log.malformed, "not a request object" if log.container == "json"
                   else "unreadable JSON line", 1)
            continue
        for f, key in keep.items():
            v = item.get(key)
            if isinstance(v, _Dup):
                log.duplicate_keys[key] = log.duplicate_keys.get(key, 0) + 1
                v = _pick(v, f in timey)
            buf[f].append("" if v is None or isinstance(v, (dict, list)) else str(v))
        if len(buf["match"]) >= chunk_rows:
            yield buf
            buf = {f: [] for f in keep}
    if buf["match"]:
        yield buf


def _pick(values: list[Any], timey: bool) -> Any:
    """Of a repeated key's values: the one that reads as a time (for time fields), else the
    first non-empty one."""
    texts = [v for v in values if v not in (None, "") and not isinstance(v, (dict, list, bool))]
    if timey:
        for v in texts:
            if isinstance(v, str) and _DATE_LIKE.match(v):
                return v
        return None
    return texts[0] if texts else None


def _count(d: dict[str, int], key: str, n: int) -> None:
    if n:
        d[key] = d.get(key, 0) + int(n)


def _clean_chunk(chunk: dict[str, list[str]], mapping: Mapping, log: LogData) -> "pd.DataFrame":
    import numpy as np
    import pandas as pd

    cols = log.columns
    n = len(chunk["match"])
    code = pd.Series(chunk["match"], dtype=object).str.strip()
    created, created_far = read_times(pd.Series(chunk["created"], dtype=object), log.times)
    bad = pd.Series(False, index=code.index)
    checks = []
    if "id" in chunk:
        checks.append((f"missing {cols['id']}", pd.Series(chunk["id"]).str.strip() == ""))
    checks += [(f"missing {log.match}", code == ""),
               (f"{cols['created']} outside the {YEARS_ALLOWED}", created_far),
               (f"missing or unreadable {cols['created']}", created.isna())]
    for reason, mask in checks:
        mask = mask & ~bad
        _count(log.malformed, reason, mask.sum())
        bad |= mask
    closed = pd.Series(pd.NaT, index=code.index, dtype="datetime64[ns]")
    has_time = pd.Series(False, index=code.index)
    closed_far = has_time.copy()
    if "closed" in chunk:
        raw = pd.Series(chunk["closed"], dtype=object).fillna("").str.strip()
        closed, closed_far = read_times(raw, log.times)
        has_time = raw != ""
    if "status" in chunk:
        sraw = pd.Series(chunk["status"], dtype=object).fillna("").str.strip()
        memo: dict[str, str | None] = {}
        cls = []
        for v in sraw.tolist():
            if v not in memo:
                memo[v] = mapping.status.classify(v) if v else None
            cls.append(memo[v])
        status = pd.Series(cls, index=code.index, dtype=object)
        unknown = status.isna() & (sraw != "") & ~bad
        for v, k in sraw[unknown].value_counts().items():
            log.status_unknown[v] = log.status_unknown.get(v, 0) + int(k)
        status = status.where(status.notna(), np.where(has_time, "closed", "open"))
    else:
        status = pd.Series(np.where(has_time, "closed", "open"), index=code.index, dtype=object)
    if "closed" in chunk:
        name = cols["closed"]
        is_closed = status == "closed"
        far = is_closed & closed_far & ~bad
        _count(log.malformed, f"{name} outside the {YEARS_ALLOWED} (kept for rates, not for "
                              "time to close)", far.sum())
        unreadable = is_closed & has_time & closed.isna() & ~closed_far & ~bad
        _count(log.malformed, f"unreadable {name} (kept for rates, not for time to close)",
               unreadable.sum())
        no_time = is_closed & ~has_time & ~bad
        _count(log.malformed, f"closed without a {name} (kept for rates, not for time to "
                              "close)", no_time.sum())
        backwards = has_time & (closed < created) & ~bad & status.isin(["closed", "referred"])
        _count(log.malformed, f"{name} before {cols['created']} (kept for rates only)",
               backwards.sum())
        usable = status.isin(["closed", "referred"]) & ~backwards
        closed = closed.where(usable)
    keep = ~bad.to_numpy()
    cats: list[str | None] = []
    memo2: dict[str, tuple[bool, str | None]] = {}
    for v in code[keep].tolist():
        hit = memo2.get(v)
        if hit is None:
            hit = memo2[v] = mapping.category(v)
        matched, cat = hit
        if not matched:
            log.unmapped[v] = log.unmapped.get(v, 0) + 1
        elif cat is None:
            log.dropped[v] = log.dropped.get(v, 0) + 1
        cats.append(cat)
    out = pd.DataFrame({
        "created": created[keep].to_numpy(), "closed": closed[keep].to_numpy(),
        "status": status[keep].to_numpy(), "code": code[keep].to_numpy(),
        "category": [c.split(".")[0] if c else None for c in cats],
        "subtype": [c.split(".", 1)[1] if c and "." in c else None for c in cats]})
    if log.placer is not None:  # coordinates become cells here; the text is dropped with chunk
        kind, where = log.placer.place(chunk.pop("lat", None), chunk.pop("lon", None),
                                       chunk.get("unit"), n)
        out["place"], out["where"] = kind[keep], where[keep]
    return out



def _period_bound(value: str | None, name: str) -> "pd.Timestamp | None":
    import pandas as pd

    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise CalibrationError([(name, f"not a date or time: {value!r} (e.g. 2024-03-01 or "
                                       "2024-03-01T08:00)")], f"--{name}") from None


def check_read_args(fmt: str, tz: str | None, start: str | None, end: str | None
                    ) -> tuple["pd.Timestamp | None", "pd.Timestamp | None"]:
    """The options of a log read (calibrate, replay) checked before the log is opened: a known
    format, a known time zone, and ``--from``/``--to`` dates in order (returned as timestamps,
    ``None`` passing through)."""
    if fmt not in FORMATS:
        raise CalibrationError([("format", f"unknown format {fmt!r}; allowed: "
                                           + ", ".join(FORMATS))], "--format")
    if tz is not None and (msg := check_tz(tz)):
        raise CalibrationError([("tz", msg)], "--tz")
    t0, t1 = _period_bound(start, "from"), _period_bound(end, "to")
    if t0 is not None and t1 is not None and t1 <= t0:
        raise CalibrationError([("to", f"must be later than --from ({t0})")], "--to")
    return t0, t1
