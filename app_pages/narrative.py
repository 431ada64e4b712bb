"""The drill's narrative in one language (plain Python): ``sim.emergency.trace.narrate`` writes
each line in 中文 and English together, as the CLI prints it; a trainer's screen shows the 中文
alone or the English alone, from the same trace rows."""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

from sim.emergency.trace import ACTIONS, clock, narrate

_CJK = re.compile(r"[\u3400-\u9fff]")
#: English-only details written by the emergency manager, and their 中文
_DETAIL_ZH: tuple[tuple[re.Pattern, Any], ...] = (
    (re.compile(r"^waiting at (\S+)$"), lambda m: f"在 {m[1]} 等待"),
    (re.compile(r"^sequential, step (\d+)$"), lambda m: f"依次派遣第 {m[1]} 步"),
    (re.compile(r"^(\d+) grids$"), lambda m: f"{m[1]} 个网格"),
    (re.compile(r"^(\w+): trigger ([\d.e+\-]+) crossed$"),
     lambda m: f"{_WHY.get(m[1], m[1])}：超过启动阈值 {m[2]}"),
    (re.compile(r"^(\w+): (\d+) grids affected$"),
     lambda m: f"{_WHY.get(m[1], m[1])}：{m[2]} 个网格受影响"),
    (re.compile(r"^(alarm|platform|lead)$"), lambda m: _WHY[m[1]]),
    (re.compile(r"^case (\d+) at (\S+) 案卷 \d+$"), lambda m: f"{m[2]} 的日常案卷 {m[1]}"),
)
_WHY = {"alarm": "接警", "platform": "平台研判", "lead": "牵头单位研判"}


def zh_only(text: str) -> str:
    """The 中文 of a detail: a known English template translated, else the 中文 words of a
    bilingual "English 中文" detail (ids and numbers kept)."""
    text = (text or "").strip()
    for pattern, fn in _DETAIL_ZH:
        m = pattern.match(text)
        if m:
            return fn(m)
    parts = []
    for chunk in re.split(r"(\([^)]*\)|;)", text):
        chunk = chunk.strip()
        if not chunk or chunk == ";":
            continue
        if chunk.startswith("("):
            inner = zh_only(chunk[1:-1])
            parts.append(f"（{inner}）" if inner else "")
            continue
        keep = [t for t in chunk.split() if _CJK.search(t) or re.fullmatch(r"[\d.,×:+\-/%]+", t)]
        parts.append(" ".join(keep))
    return re.sub(r"\s+（", "（", " ".join(p for p in parts if p).strip())


def _dispatch_zh(detail: str) -> str:
    bits = [b.strip() for b in (detail or "").split(";")]
    where = bits[0].split()
    place = ("街道驻点 " if where[:2] == ["street", "depot"] else "驻地 ") + where[-1] if where else ""
    extra = "（跨区域增援）" if "mutual_aid" in bits else ""
    extra += "（后备）" if "backup" in bits else ""
    return place + extra


def narrate_zh(row: dict) -> str | None:
    """One narrative line in 中文 (None for hazard snapshots)."""
    a = row["action"]
    if a == "hazard":
        return None
    zh = ACTIONS.get(a, (a, a))[0]
    who = row["label_zh"]
    actor = row["actor"] or ""
    d = row["detail"] or ""
    val = float("nan") if row["value"] is None else float(row["value"])
    unit = row["unit"] or ""
    grid = row["grid"]
    where = f"{grid} 号网格" if grid is not None and grid >= 0 else "全域"
    amount = f"（{val:,.0f} {unit}）" if not math.isnan(val) and unit else ""
    head = f"{clock(row['elapsed_s'])} "
    if a == "dispatched":
        dist = float(row["distance_km"] or 0.0)
        return head + (f"{who} {actor} 号单位{zh}：{_dispatch_zh(d)} → {row['to_grid']} 号网格"
                       f"（{dist:.1f} 公里）")
    if a in ("arrived", "returning", "back", "stood_down", "withdrawn", "out_of_service",
             "back_in_service", "queued"):
        if row["responder"] == "grid_worker":
            n = actor.split()[0] if actor.split() and actor.split()[0].isdigit() else actor
            text = f"{who}（{n} 名）{zh}"
        elif actor in ("", "-"):
            text = f"{who}{zh}"
        else:
            text = f"{who} {actor} 号单位{zh}"
        if a == "arrived" and grid is not None and grid >= 0:
            text += f"：{where}"
        extra = zh_only(d)
        return head + text + (f"（{extra}）" if extra else "")
    if a == "level_declared":
        return head + f"{who}：启动 {row['level']} 级响应（{zh_only(d)}；{val:,.0f} {unit}）"
    if a == "warning":
        return head + f"{who}：{zh_only(d)}{zh}，{where}（{val:,.1f} {unit}）"
    if a == "occurred":
        what = zh_only(d)
        size = f"{val:,.0f} {unit}" if not math.isnan(val) and unit else ""
        inner = " ".join(x for x in (what, size) if x)
        return head + f"{who}{zh}，{where}" + (f"（{inner}）" if inner else "")
    if a == "notified":
        extra = zh_only(d)
        return head + f"{who}已{zh}" + (f"（{extra}）" if extra else "")
    extra = zh_only(d)
    return head + f"{who}{zh}，{where}{amount}" + (f"；{extra}" if extra else "")


def en_only(text: str) -> str:
    """The English of a bilingual "English 中文" text: 中文 characters dropped, and the brackets
    and separators they leave empty (ids and numbers kept)."""
    text = re.sub(r"[\u3400-\u9fff\u3000-\u303f\uff08\uff09\uff0c\uff1a\uff1b]+", " ", text)
    text = re.sub(r"\(\s*\)", " ", text)
    text = re.sub(r"\s+([,;:)])", r"\1", re.sub(r"\(\s+", "(", text))
    return re.sub(r"\s{2,}", " ", text).strip(" —;:")


def narrate_en(row: dict) -> str | None:
    """One narrative line in English alone (None for hazard snapshots)."""
    line = narrate(row)
    return None if line is None else en_only(line)


def narrative(rows: Iterable[dict], lang: str) -> list[str]:
    """The narrative of ``rows`` in ``lang``, one language per line: 中文 alone or English
    alone (the CLI prints both together)."""
    if lang != "zh":
        return [ln for ln in (narrate_en(r) for r in rows) if ln is not None]
    return [ln for ln in (narrate_zh(r) for r in rows) if ln is not None]
