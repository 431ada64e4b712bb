"""The columns and status values of service-request logs.

A log is read through eight *fields*: ``id``, ``created``, ``closed``, ``type``, ``status``,
``agency``, ``lat``, ``lon``. Each format names the header of each field — NYC 311 (Open Data
export or API names), Open311 GeoReport v2, or ``csv``/``json``/``jsonl``, which look for the
common names cities use (``SRNumber``, ``CreatedDate``, ``RequestType`` …). Headers are compared
without case, spaces or punctuation (``Created Date`` = ``created_date`` = ``CreatedDate``);
Chinese characters are kept (``上报时间``).

``gridcase`` is a platform's per-step case export (数字城管 / 12345): besides those fields it
names the step times (:data:`STEP_FIELDS`: 立案 filed, 派遣 dispatched, 处置 handled, 反馈
feedback, 核查 verified) and :data:`CASE_FIELDS` (来源 channel, 处置时限 deadline, 延期 extended,
满意度 satisfaction, 网格 unit), with Chinese and English headers recognised
(:mod:`sim.data.gridcase` reads and writes them).
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

#: the steps between ``created`` (上报) and ``closed`` (结案) of a per-step case export
STEP_FIELDS = ("filed", "dispatched", "handled", "feedback", "verified")
#: the other columns of a per-step case export
CASE_FIELDS = ("channel", "deadline", "extended", "satisfaction", "unit")
FIELDS = ("id", "created", "closed", "type", "status", "agency", "lat", "lon") + STEP_FIELDS \
    + CASE_FIELDS
#: fields never kept, only recognised (personal data)
DISCARDED = ("lat", "lon")
CONTAINERS = ("csv", "json", "jsonl")
STATUS_CLASSES = ("closed", "cancelled", "duplicate", "referred", "open")


def header_key(name: str) -> str:
    """``"Created Date"``, ``created_date``, ``CreatedDate`` → ``createddate``."""
    return re.sub(r"[^0-9a-z\u3400-\u9fff]", "", str(name).strip().lower())


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

#: a per-step case export: Chinese (数字城管 / 12345 platforms) and English headers
_GRIDCASE = {
    "id": ("案卷编号", "案件编号", "案卷号", "案件号", "工单编号", "工单号", "编号", "case_id",
           "case_number", "id"),
    "created": ("上报时间", "上报", "受理时间", "来电时间", "创建时间", "created", "reported",
                "reported_at", "created_at"),
    "filed": ("立案时间", "立案", "filed", "filed_at"),
    "dispatched": ("派遣时间", "派遣", "派单时间", "派单", "dispatched", "dispatched_at"),
    "handled": ("处置时间", "处置完成时间", "处置", "办理完成时间", "handled", "handled_at"),
    "feedback": ("反馈时间", "反馈", "回复时间", "feedback", "feedback_at"),
    "verified": ("核查时间", "核查", "回访时间", "verified", "verified_at"),
    "closed": ("结案时间", "结案", "办结时间", "closed", "closed_at"),
    "type": ("问题类型", "案件类型", "事件类型", "问题小类", "小类", "问题大类", "大类", "诉求类型",
             "type", "category", "case_type"),
    "status": ("案件状态", "案卷状态", "状态", "工单状态", "status", "state"),
    "agency": ("处置部门", "责任部门", "承办单位", "部门", "department", "agency"),
    "channel": ("来源", "渠道", "案件来源", "问题来源", "来源渠道", "上报渠道", "channel", "source"),
    "deadline": ("处置时限", "时限", "应结时间", "截止时间", "办理时限", "deadline", "due",
                 "due_at"),
    "extended": ("延期", "延期时限", "延期至", "是否延期", "extended", "extension"),
    "satisfaction": ("满意度", "评价", "回访满意度", "satisfaction"),
    "unit": ("网格", "网格编码", "单元网格", "社区", "街道", "unit", "grid"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
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
    "gridcase": FormatSpec("gridcase", _GRIDCASE, required=("created", "type"), container="csv"),
}

#: status vocabulary, first match wins (case-insensitive wildcards)
DEFAULT_STATUS: tuple[tuple[str, str], ...] = (
    ("*duplicate*", "duplicate"), ("dup", "duplicate"), ("*重复*", "duplicate"),
    ("*cancel*", "cancelled"), ("*withdrawn*", "cancelled"), ("*void*", "cancelled"),
    ("*rejected*", "cancelled"), ("*invalid*", "cancelled"), ("*not valid*", "cancelled"),
    ("*撤销*", "cancelled"), ("*作废*", "cancelled"), ("*无效*", "cancelled"),
    ("*不予立案*", "cancelled"), ("*不立案*", "cancelled"),
    ("*referred*", "referred"), ("*transferred*", "referred"), ("*forwarded*", "referred"),
    ("*转办*", "referred"), ("*移交*", "referred"),
    ("*closed*", "closed"), ("*resolved*", "closed"), ("*complete*", "closed"),
    ("*done*", "closed"), ("*fixed*", "closed"), ("*finished*", "closed"),
    ("*办结*", "closed"), ("*结案*", "closed"), ("*已处理*", "closed"),
    ("*open*", "open"), ("new", "open"), ("*pending*", "open"), ("*progress*", "open"),
    ("*assigned*", "open"), ("*started*", "open"), ("*accepted*", "open"),
    ("*acknowledged*", "open"), ("*hold*", "open"), ("*unspecified*", "open"),
    ("*received*", "open"), ("*处理中*", "open"), ("*待*", "open"), ("*处置中*", "open"),
    ("*核查中*", "open"), ("*挂账*", "open"), ("*已派遣*", "open"), ("*已立案*", "open"),
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
