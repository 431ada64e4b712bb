"""Results in words, in English and 中文 (plain Python, no Streamlit): levers by the schema's
labels, KPIs by the catalogue's, values in their units; limits of scenario discovery as
sentences ("where workers per grid is 3 or more, on-time closure falls below 96.2% in 2 of 2
runs"), optimisation problems and constraints as sentences; and how a KPI is drawn on an axis
(d3 format, ¥ on money, the unit in the title)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app_pages import kpi_view
from app_pages.i18n import field_label, section_label, unit_label
from sim.metrics import KPI_DEFINITIONS


def _l(en: str, zh: str, lang: str) -> str:
    return zh if lang == "zh" else en


def lever_label(path: str, lang: str) -> str:
    """A lever by the schema's names: ``staffing.workers_per_grid`` → "Staffing · Workers per
    grid" (人员配置 · 每格网格员数)."""
    parts = path.split(".")
    return " · ".join([section_label(parts[0], lang), *(field_label(p, lang) for p in parts[1:])])


def lever_short(path: str, lang: str) -> str:
    """A lever inside a sentence: its own name, lower case in English ("workers per grid"),
    with the department or entity before it where the path has one."""
    parts = path.split(".")
    name = field_label(parts[-1], lang)
    if lang != "zh":
        name = name[:1].lower() + name[1:]
    if len(parts) > 2:   # departments.sanitation.crews_per_street → sanitation: crews …
        owner = field_label(parts[-2], lang)
        return f"{owner} · {name}" if lang == "zh" else f"{owner.lower()} {name}"
    return name


def fmt_value(v: object) -> str:
    """A lever's level for people: thousands separated, at most four significant digits."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    if float(v).is_integer() and abs(float(v)) < 1e15:
        return f"{int(v):,}"
    return f"{float(v):,.4g}"


def kpi_value(key: str, v: float, lang: str = "en") -> str:
    """A KPI's value formatted in its unit (the catalogue's formatter); "–" when undefined."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return kpi_view.fmt(key, v, lang) if key in KPI_DEFINITIONS else f"{v:,.4g}"


def kpi_delta(key: str, v: float, lang: str = "en") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return (kpi_view.fmt_delta(key, v, lang) or "0") if key in KPI_DEFINITIONS else f"{v:+,.4g}"


def kpi_name(key: str, lang: str, lower: bool = True) -> str:
    """A KPI inside a sentence (its catalogue label; lower case in English)."""
    name = kpi_view.label(key, lang)
    return name[:1].lower() + name[1:] if lower and lang != "zh" else name


# ------------------------------------------------------------------------- discovery limits
def limit_sentence(lim: Any, lang: str) -> str:
    """One limit of a box (``sim.experiment.discover.Limit``) as words."""
    name = lever_short(lim.lever, lang)
    if lim.values is not None:
        vals = [fmt_value(v) for v in lim.values]
        if len(vals) == 1:
            return _l(f"{name} is {vals[0]}", f"{name}为 {vals[0]}", lang)
        return _l(f"{name} is {', '.join(vals[:-1])} or {vals[-1]}",
                  f"{name}为 {'、'.join(vals)} 之一", lang)
    lo, hi = lim.low, lim.high
    if lo is not None and hi is not None:
        return _l(f"{name} is between {fmt_value(lo)} and {fmt_value(hi)}",
                  f"{name}在 {fmt_value(lo)} 至 {fmt_value(hi)} 之间", lang)
    if lo is not None:
        return _l(f"{name} is {fmt_value(lo)} or more", f"{name}不少于 {fmt_value(lo)}", lang)
    return _l(f"{name} is {fmt_value(hi)} or less", f"{name}不超过 {fmt_value(hi)}", lang)


def target_words(kpi: str, op: str, threshold: float, lang: str) -> str:
    """The failure a discovery looks for: "on-time closure rate falls below 96.2%"."""
    v = kpi_value(kpi, threshold, lang)
    if op in ("<", "<="):
        return _l(f"{kpi_name(kpi, lang)} falls below {v}", f"{kpi_name(kpi, lang)}低于 {v}", lang)
    return _l(f"{kpi_name(kpi, lang)} rises above {v}", f"{kpi_name(kpi, lang)}高于 {v}", lang)


def cases_word(unit: str, lang: str) -> str:
    """What discovery counts: design points (means over replications) or runs."""
    return _l("design points" if unit == "point" else "runs",
              "个设计点" if unit == "point" else "次运行", lang)


def _zh_noun(unit: str) -> tuple[str, str]:
    """The 中文 noun and its measure word: (设计点, 个) or (运行, 次)."""
    return ("设计点", "个") if unit == "point" else ("运行", "次")


def box_sentence(box: Any, d: Any, lang: str) -> str:
    """A box of scenario discovery as one sentence; a box without limits is "everywhere"."""
    fails = target_words(d.kpi, d.op, d.threshold, lang)
    cases = cases_word(d.unit, lang)
    if box.limits:
        where = _l(" and ", "，且", lang).join(limit_sentence(x, lang) for x in box.limits)
        head = _l(f"Where {where}, {fails}", f"当{where} 时，{fails}", lang)
    else:
        head = _l(f"Everywhere in this store (no lever singles the failures out), {fails}",
                  f"在该结果库的所有设计下（没有哪个杠杆能区分出未达标的情形），{fails}", lang)
    noun, mw = _zh_noun(d.unit)
    return head + _l(
        f" in {box.failing} of {box.n} {cases} ({box.density:.0%}). These are {box.coverage:.0%}"
        f" of all the failures and {box.mass:.0%} of all {cases}.",
        f"：{box.n} {cases}中有 {box.failing} {mw}（{box.density:.0%}）；占全部未达标情形的 "
        f"{box.coverage:.0%}、全部{noun}的 {box.mass:.0%}。", lang)


def rule_card(i: int, box: Any, d: Any, lang: str) -> dict[str, Any]:
    """A box as a short rule card: a title, one line per limit, and what it covers."""
    cases = cases_word(d.unit, lang)
    title = _l(f"Rule {i}", f"规则 {i}", lang)
    conds = [limit_sentence(x, lang) for x in box.limits] or [
        _l("everywhere: no lever singles the failures out",
           "所有情形：没有哪个杠杆能区分出未达标的情形", lang)]
    noun, mw = _zh_noun(d.unit)
    then = _l(f"then {target_words(d.kpi, d.op, d.threshold, lang)} in {box.failing} of "
              f"{box.n} {cases} ({box.density:.0%})",
              f"则{target_words(d.kpi, d.op, d.threshold, lang)}：{box.n} {cases}中有 "
              f"{box.failing} {mw}（{box.density:.0%}）", lang)
    share = _l(f"{box.coverage:.0%} of all the failures, {box.mass:.0%} of all {cases}",
               f"占全部未达标情形的 {box.coverage:.0%}，占全部{noun}的 {box.mass:.0%}", lang)
    return {"title": title, "if": conds, "then": then, "share": share}


# ------------------------------------------------------------------------------ optimisation
def objective_name(o: Any, lang: str) -> str:
    return kpi_name(o.kpi, lang) if o.kpi in KPI_DEFINITIONS else o.label


def constraint_words(c: Any, lang: str) -> str:
    """``on_time_rate >= 0.95`` → "on-time closure rate at least 95.0%" (按期结案率不低于 95.0%)."""
    v = kpi_value(c.kpi, c.bound, lang)
    if c.op == ">=":
        return _l(f"{kpi_name(c.kpi, lang)} at least {v}", f"{kpi_name(c.kpi, lang)}不低于 {v}",
                  lang)
    return _l(f"{kpi_name(c.kpi, lang)} at most {v}", f"{kpi_name(c.kpi, lang)}不高于 {v}", lang)


def problem_words(opt: Any, lang: str) -> str:
    """The optimisation problem as a sentence."""
    objs = _l("; ", "；", lang).join(
        _l(f"the {'lowest' if o.direction == 'minimize' else 'highest'} {objective_name(o, lang)}",
           f"{objective_name(o, lang)}{'最低' if o.direction == 'minimize' else '最高'}", lang)
        for o in opt.objectives)
    cons = _l(" and ", "，且", lang).join(constraint_words(c, lang) for c in opt.constraints)
    conf = f"{100 * opt.confidence:g}%"
    if not cons:
        return _l(f"Find {objs}.", f"寻找{objs}的方案。", lang)
    return _l(f"Find {objs} with {cons}, each shown at {conf} confidence (the one-sided "
              "bound of the mean over replications).",
              f"寻找{objs}的方案，且{cons}；每项约束以 {conf} 置信度成立（各次重复均值的单侧置信界）。",
              lang)


def levers_words(values: dict[str, Any], lang: str) -> str:
    return _l("; ", "；", lang).join(f"{lever_label(k, lang)} {fmt_value(v)}"
                                    for k, v in values.items())


# ------------------------------------------------------------------------------------- axes
def axis_format(key: str) -> str:
    """d3 format of a KPI on an axis: shares as %, money and counts with separators."""
    u = kpi_view.unit(key)
    return ".0%" if u == "share" else ",.0f" if u in ("yuan", "count") else ",.3~g"


def axis_label_expr(key: str) -> str | None:
    """A Vega label expression that puts ¥ before money (d3 formats have no ¥)."""
    if kpi_view.unit(key) == "yuan":
        return "(datum.value < 0 ? '−¥' : '¥') + format(abs(datum.value), ',.0f')"
    return None


def axis_title(key: str, lang: str) -> str:
    """A KPI's axis title with its unit where the tick labels do not show it."""
    u = kpi_view.unit(key)
    if u in ("share", "yuan", "count", "") or key not in KPI_DEFINITIONS:
        return kpi_view.label(key, lang)
    if lang == "zh":
        return f"{kpi_view.label(key, lang)}（{unit_label(u, lang)}）"
    return f"{kpi_view.label(key, lang)} ({unit_label(u, lang)})"


def kpi_axis(key: str, lang: str, **kw: Any) -> Any:
    """An Altair axis for ``key``: title with unit, format, ¥, at most about six ticks."""
    import altair as alt

    expr = axis_label_expr(key)
    return alt.Axis(title=axis_title(key, lang), format=axis_format(key), tickCount=6,
                    **({"labelExpr": expr} if expr else {}), **kw)
