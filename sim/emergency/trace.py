"""The event trace of emergencies: tidy rows, the bilingual narrative, and trace files.

Every row carries what its narrative line needs (labels in both languages, distances, levels), so
:func:`narrate` turns a trace read back from disk into exactly the narrative printed live. Files
are JSON lines (``.jsonl``) or Parquet (``.parquet``); columns are :data:`TRACE_COLUMNS`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

TRACE_COLUMNS: tuple[str, ...] = (
    "time_h", "elapsed_s", "emergency", "kind", "actor", "responder", "label_en", "label_zh",
    "action", "level", "grid", "x_km", "y_km", "to_grid", "to_x_km", "to_y_km", "distance_km",
    "value", "unit", "detail")

#: action -> (中文, English verb phrase). Rows of action ``hazard`` are snapshots for animation.
ACTIONS: dict[str, tuple[str, str]] = {
    "occurred": ("发生", "occurred"),
    "alarm": ("接警", "alarm received"),
    "warning": ("预警", "warning raised"),
    "level_declared": ("启动响应", "response level declared"),
    "notified": ("通知", "notified"),
    "queued": ("待派", "no unit free, request queued"),
    "dispatched": ("出动", "dispatched"),
    "arrived": ("到场", "arrived on scene"),
    "stood_down": ("取消", "stood down"),
    "full_joint_response": ("联动到位", "all required responders on scene"),
    "spread": ("蔓延", "spread"),
    "ignited": ("爆燃", "exploded and ignited"),
    "contained": ("处置完毕", "contained"),
    "returning": ("返回", "returning"),
    "back": ("归队", "back at station"),
    "withdrawn": ("撤离", "withdrawn"),
    "preempted": ("中断", "routine case pre-empted"),
    "out_of_service": ("停用", "out of service"),
    "back_in_service": ("恢复", "back in service"),
    "held": ("受阻", "held at the perimeter"),
    "supply_cut": ("切断气源电源", "cut off its supply"),
    "reignited": ("复燃", "flared up again"),
    "people": ("人员", "people"),
    "hazard": ("态势", "hazard update"),
}


def clock(elapsed_s: float) -> str:
    s = int(round(elapsed_s))
    sign = "-" if s < 0 else ""
    s = abs(s)
    return f"{sign}{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def narrate(row: dict, verbose: bool = False) -> str | None:
    """One narrative line for a trace row (None for hazard snapshots unless ``verbose``)."""
    a = row["action"]
    if a == "hazard" and not verbose:
        return None
    zh, en = ACTIONS.get(a, (a, a))
    who_zh, who_en = row["label_zh"], row["label_en"]
    actor = row["actor"]
    d = row["detail"] or ""
    val, unit = _num(row["value"]), row["unit"] or ""
    dist = _num(row["distance_km"])
    head = f"{clock(row['elapsed_s'])} "
    if a == "dispatched":
        ma = " — mutual aid 跨区域联动" if "mutual_aid" in d else ""
        station = d.split(";")[0]
        text = (f"{who_zh} {who_en} unit {actor} {zh} dispatched from {station} "
                f"({dist:.1f} km, grid {row['to_grid']}){ma}")
    elif a == "supply_cut":
        text = f"{who_zh} {who_en} {zh} {en}" + (f" ({d})" if d else "")
    elif a == "people":
        text = f"{zh} {en}: {d}"
    elif a in ("arrived", "returning", "back", "stood_down", "withdrawn", "out_of_service",
               "back_in_service", "queued", "held"):
        where = f" at grid {row['grid']}" if a == "arrived" and row["grid"] >= 0 else ""
        text = f"{who_zh} {who_en} unit {actor} {zh} {en}{where}" + (f" ({d})" if d else "")
        if row["responder"] == "grid_worker":
            text = f"{who_zh} {who_en} ({actor}) {zh} {en}{where}" + (f" ({d})" if d else "")
        elif actor in ("", "-"):
            text = f"{who_zh} {who_en} {zh} {en}" + (f" ({d})" if d else "")
    elif a == "level_declared":
        text = (f"{who_zh} {who_en}: {zh} {row['level']} — level {row['level']} declared "
                f"({d}; {val:,.0f} {unit})")
    elif a == "warning":
        text = f"{who_zh} {who_en}: {d} {zh} warning at grid {row['grid']} ({val:,.1f} {unit})"
    elif a == "notified":
        text = f"{who_zh} {who_en} {zh} notified" + (f" ({d})" if d else "")
    elif a in ("occurred", "alarm", "spread", "ignited", "contained", "full_joint_response",
               "reignited"):
        extra = f" ({val:,.0f} {unit})" if not math.isnan(val) and unit else ""
        where = f"at grid {row['grid']}" if row["grid"] >= 0 else "city-wide 全域"
        text = f"{who_zh} {who_en} {zh} {en} {where}{extra}" + (
            f"; {d}" if d else "")
    elif a == "preempted":
        text = f"{who_zh} {who_en} {zh} {en}: {d}"
    else:
        text = f"{who_zh} {who_en} {zh} {en} grid {row['grid']} {val:,.1f} {unit}"
    return head + text


def narrative(rows: Iterable[dict], verbose: bool = False) -> list[str]:
    return [line for line in (narrate(r, verbose) for r in rows) if line is not None]


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def write_trace(rows: list[dict], path: str | Path) -> None:
    """Write the trace as JSON lines or Parquet (by extension), atomically."""
    p = Path(path)
    tmp = p.with_name(p.name + ".partial")
    if p.suffix == ".parquet":
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(TRACE_COLUMNS))
        frame.to_parquet(tmp, index=False)
    elif p.suffix in (".jsonl", ".json"):
        with open(tmp, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({k: _clean(r[k]) for k in TRACE_COLUMNS},
                                   ensure_ascii=False) + "\n")
    else:
        raise ValueError("the trace file must end in .jsonl or .parquet")
    os.replace(tmp, p)


def read_trace(path: str | Path) -> list[dict]:
    """Rows of a trace file written by :func:`write_trace` (missing numbers come back as NaN)."""
    p = Path(path)
    if p.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(p)
        rows = frame.to_dict("records")
    else:
        with open(p, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    out = []
    for r in rows:
        row = {k: r.get(k) for k in TRACE_COLUMNS}
        for k in ("time_h", "x_km", "y_km", "to_x_km", "to_y_km", "distance_km", "value"):
            row[k] = _num(row[k])
        for k in ("emergency", "grid", "to_grid"):
            row[k] = int(row[k]) if row[k] is not None else -1
        for k in ("elapsed_s",):
            row[k] = float(row[k])
        for k in ("kind", "actor", "responder", "label_en", "label_zh", "action", "level", "unit",
                  "detail"):
            row[k] = "" if row[k] is None else str(row[k])
        out.append(row)
    return out
