"""The columns and status values of service-request logs.

A log is read through eight *fields*: ``id``, ``created``, ``closed``, ``type``, ``status``,
``agency``, ``lat``, ``lon``. Each format names the header of each field — NYC 311 (Open Data
export or API names), Open311 GeoReport v2, or ``csv``/``json``/``jsonl``, which look for the
common names cities use (``SRNumber``, ``CreatedDate``, ``RequestType`` …). Headers are compared
without case, spaces or punctuation (``Created Date`` = ``created_date`` = ``CreatedDate``).
``--column FIELD=HEADER`` or a ``columns:`` section of the mapping file names a header
explicitly. Only these fields are ever read; ``lat``/``lon`` are recognised only so that they
are known to be discarded (no coordinate is kept).

Status values are sorted into closed / cancelled / duplicate / referred / open by a vocabulary
(wildcards, case-insensitive; extend it with a ``status:`` section of the mapping file).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

FIELDS = ("id", "created", "closed", "type", "status", "agency", "lat", "lon")
#: fields never kept, only recognised (personal data)
DISCARDED = ("lat", "lon")
CONTAINERS = ("csv", "json", "jsonl")
STATUS_CLASSES = ("closed", "cancelled", "duplicate", "referred", "open")


def header_key(name: str) -> str:
    """``"Created Date"``, ``created_date``, ``CreatedDate`` → ``createddate``."""
    return re.sub(r"[^0-9a-z]", "", str(name).strip().lower())


@dataclass(frozen=True)
class FormatSpec:
    """Header names of each field (first present wins), and which fields must be there."""

    name: str
    headers: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    container: str | None = None   # csv / json / jsonl, or None: detected from the content
    default_tz: str = "Asia/Shanghai"


_GENERIC = {
    "id": ("id", "service_request_id", "unique_key", "sr_number", "srnumber", "request_id",
           "case_id", "case_number", "ticket_id", "ticket_number", "work_order_id", "number"),
    "created": ("created", "created_date", "requested_datetime", "created_at", "date_created",
                "open_date", "opened", "opened_date", "submitted", "submitted_date",
                "request_date", "reported_date", "received_date"),
    "closed": ("closed", "closed_date", "closed_at", "close_date", "date_closed",
               "resolved_date", "resolved_at", "resolution_date", "completed_date",
               "completion_date", "updated_datetime"),
    "type": ("type", "request_type", "complaint_type", "service_name", "service_type",
             "case_type", "issue_type", "problem_type", "category", "subject", "service_code"),
    "status": ("status", "state", "request_status", "case_status", "sr_status"),
    "agency": ("agency", "agency_responsible", "department", "owner", "responsible_agency",
               "assigned_department"),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "long", "longitude", "lng", "x"),
}

FORMATS: dict[str, FormatSpec] = {
    # NYC 311 Service Requests (Open Data export "Unique Key" … or API unique_key …)
    "nyc311": FormatSpec("nyc311", {
        "id": ("unique_key",), "created": ("created_date",), "closed": ("closed_date",),
        "type": ("complaint_type",), "status": ("status",), "agency": ("agency",),
        "lat": ("latitude",), "lon": ("longitude",)},
        required=("id", "created", "type"), default_tz="America/New_York"),
    # GeoReport v2 service_request; updated_datetime of a closed request is its closing time
    "open311": FormatSpec("open311", {
        "id": ("service_request_id",), "created": ("requested_datetime",),
        "closed": ("updated_datetime",), "type": ("service_name", "service_code"),
        "status": ("status",), "agency": ("agency_responsible",), "lat": ("lat",),
        "lon": ("long",)},
        required=("id", "status", "created", "type")),
    "csv": FormatSpec("csv", _GENERIC, required=("created", "type"), container="csv"),
    "json": FormatSpec("json", _GENERIC, required=("created", "type"), container="json"),
    "jsonl": FormatSpec("jsonl", _GENERIC, required=("created", "type"), container="jsonl"),
}

#: status vocabulary, first match wins (case-insensitive wildcards)
DEFAULT_STATUS: tuple[tuple[str, str], ...] = (
    ("*duplicate*", "duplicate"), ("dup", "duplicate"), ("*重复*", "duplicate"),
    ("*cancel*", "cancelled"), ("*withdrawn*", "cancelled"), ("*void*", "cancelled"),
    ("*rejected*", "cancelled"), ("*invalid*", "cancelled"), ("*not valid*", "cancelled"),
    ("*撤销*", "cancelled"), ("*作废*", "cancelled"), ("*无效*", "cancelled"),
    ("*referred*", "referred"), ("*transferred*", "referred"), ("*forwarded*", "referred"),
    ("*转办*", "referred"), ("*移交*", "referred"),
    ("*closed*", "closed"), ("*resolved*", "closed"), ("*complete*", "closed"),
    ("*done*", "closed"), ("*fixed*", "closed"), ("*finished*", "closed"),
    ("*办结*", "closed"), ("*结案*", "closed"), ("*已处理*", "closed"),
    ("*open*", "open"), ("new", "open"), ("*pending*", "open"), ("*progress*", "open"),
    ("*assigned*", "open"), ("*started*", "open"), ("*accepted*", "open"),
    ("*acknowledged*", "open"), ("*hold*", "open"), ("*unspecified*", "open"),
    ("*received*", "open"), ("*处理中*", "open"), ("*待*", "open"),
)


@dataclass(frozen=True)
class StatusVocabulary:
    rules: tuple[tuple[str, str], ...] = DEFAULT_STATUS

    def classify(self, value: str) -> str | None:
        v = value.strip().lower()
        for pattern, cls in self.rules:
            if fnmatch.fnmatchcase(v, pattern.lower()):
                return cls
        return None


def resolve_columns(present: list[str], spec: FormatSpec, explicit: dict[str, str]
                    ) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Column index of each field found in ``present`` (the header), and the problems.

    ``explicit`` (``--column``/``columns:``) names a header per field; otherwise the format's
    names are tried in order.
    """
    keys = [header_key(h) for h in present]
    index: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for fld, header in explicit.items():
        if fld not in FIELDS:
            problems.append((f"column {fld}", "unknown field; allowed: " + ", ".join(FIELDS)))
            continue
        k = header_key(header)
        if k in keys:
            index[fld] = keys.index(k)
        else:
            problems.append((f"column {fld}", f"no column {header!r} in the log; its columns: "
                             + ", ".join(present[:30]) + (" …" if len(present) > 30 else "")))
    for fld, names in spec.headers.items():
        if fld in index or fld in explicit:
            continue
        for name in names:
            k = header_key(name)
            if k in keys and keys.index(k) not in index.values():
                index[fld] = keys.index(k)
                break
    return index, problems


def parse_column_options(items: list[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``["created=CreatedDate", …]`` → {field: header}, problems."""
    out: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for item in items:
        fld, sep, header = item.partition("=")
        fld = fld.strip().lower()
        if not sep or not header.strip():
            problems.append(("column", f"expected FIELD=HEADER, got {item!r}; fields: "
                             + ", ".join(FIELDS)))
        elif fld not in FIELDS:
            problems.append(("column", f"unknown field {fld!r}; allowed: " + ", ".join(FIELDS)))
        else:
            out[fld] = header.strip()
    return out, problems
