"""Generated reference documentation, so it cannot drift from the code.

* ``docs/kpis.md`` from :data:`sim.metrics.KPI_DEFINITIONS` (and the measurement-window rules in
  the ``sim.metrics`` docstring);
* ``docs/scenario-fields.md`` from the pydantic :class:`sim.scenario.Scenario` schema: every
  field's path, type, default, allowed range, description, and where its value comes from —
  ``facts.md`` (with the fact) or an assumption.

``gridsim docs`` (or ``make docs``) rewrites both; ``gridsim docs --check`` exits 1 when the
committed files differ from what the code produces, and ``tests/test_docs.py`` does the same in
the test suite. Fields added later are picked up automatically; a field whose description
mentions ``facts`` or that :data:`FACT_NOTES` names is marked as coming from facts.md, every
other value is marked as an assumption.
"""

from __future__ import annotations

import fnmatch
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"

#: Where a field's baseline value comes from, when facts.md has it (glob on the dotted path).
FACT_NOTES: dict[str, str] = {
    "city.households_per_grid": "facts.md: urban grids of 300–500 households",
    "city.resident_propensity_spread": "facts.md: reporting differs up to 3× between "
                                       "neighbourhoods (Liu, Bhandaram & Garg)",
    "staffing.workers_total": "facts.md: Dongcheng 2004, 350 supervisors over 1,593 grids "
                              "(used by scenarios/dongcheng_2009.yaml; default off)",
    "patrol.hours": "assumption; facts.md gives Chengdu 07:30–22:30 every day as an example",
    "calendar.working_hours": "assumption; facts.md: deadlines are set in working hours or "
                              "working days, city by city",
    "incidents.categories.<key>.subtypes.<key>.deadline*": "facts.md: deadlines table (Jiyuan "
                                                           "and another city; manhole 3 h)",
    "incidents.categories.<key>.subtypes.<key>.minor": "facts.md/seed S1.4: workers fix minor "
                                                       "problems on the spot",
    "incidents.categories": "facts.md: components and events classification (CJ/T 214); "
                            "the baseline's categories and all rates are assumptions",
    "platform.auto_dispatch_share": "assumption 0 in the baseline; facts.md: Dongcheng 2015 "
                                    ">70% auto-dispatched",
    "platform.misroute_prob": "assumption; facts.md: out-of-remit cases are sent back (回退)",
    "platform.auto_misroute_prob": "assumption; facts.md: Dongcheng 2015 > 70% of cases "
                                   "auto-dispatched correctly (the share misrouted is not given)",
    "platform.max_reworks": "assumption; facts.md: unsolvable overdue cases are parked (挂账)",
    "platform.handoff_delay": "assumption; 0 on a shared platform; used by "
                              "scenarios/dongcheng_before.yaml",
    "channels.handed_down_per_day": "assumption; facts.md: cases handed down from higher levels "
                                    "are an intake channel",
    "emergency.responders.<key>.station_district_km2": "facts.md: fire station district ≤ 7 km² "
                                                       "(class 1), ≤ 4 (class 2), ≤ 2 (small)",
    "emergency.rules.micro_fire_stations*": "facts.md: micro fire stations '1-3-5' (1 min own "
                                            "micro station, 3 min area team, 5 min brigade)",
    "emergency.kinds.<key>.plan.levels": "facts.md: response levels IV (lowest) to I (highest); "
                                         "waterlogging warnings blue/yellow/orange/red",
}

#: names and descriptions for people: no source to cite
NAME_FIELDS = ("name", "label", "label_zh", "description", "description_zh")


#: Descriptions for schema fields that carry none in sim/scenario/ (the schema's own
#: description wins when present; tests/test_docs.py checks every path here still exists).
FALLBACK_DESCRIPTIONS: dict[str, str] = {
    "name": "short name of the scenario (in result files and tables)",
    "description": "one-line description of the scenario",
    "city.households": "households in the whole simulated area",
    "city.persons_per_household": "residents per household (population = households × this); "
                                  "in the model it sets flood em_people_affected and the grid "
                                  "table's population only (emergency sites are drawn by "
                                  "population shares, which a city-wide factor leaves alone)",
    "city.communities_per_street": "communities per sub-district (街道); crews and depots are "
                                   "per sub-district",
    "city.streets_per_district": "sub-districts per district (区)",
    "city.zones": "kinds of area and their share of the households",
    "city.zones.<key>.households_per_km2": "household density; sets the zone's area (cells)",
    "city.zones.<key>.incident_multiplier": "multiplies incident rates in this zone's grids",
    "city.zones.<key>.difficulty": "> 1 shrinks grids (households_per_grid / difficulty) and "
                                   "slows patrols (effective area × difficulty)",
    "city.hotspot_share": "share of the land cells that are hotspots",
    "city.hotspot_multiplier": "incident-rate multiplier in hotspot cells",
    "calendar.working_hours": "working time in which deadlines in working hours or working days "
                              "are counted",
    "staffing.workers_per_grid": "grid workers (网格员) on each basic grid",
    "staffing.managers_per_grid": "grid managers (网格管理员) coordinating complex cases; 0 = the "
                                  "community team coordinates",
    "staffing.assistants_per_grid": "grid assistants (网格协管员), each adding "
                                    "patrol.assistant_coverage_factor of a worker's coverage",
    "staffing.level_teams.community": "members of each community's management team",
    "staffing.level_teams.street": "members of each sub-district's management team",
    "staffing.level_teams.district": "members of each district's management team",
    "staffing.skill_sd": "spread of worker skill between workers (clipped to 0.05–1)",
    "staffing.pay.grid_worker": "monthly pay of a grid worker (yuan)",
    "staffing.pay.grid_manager": "monthly pay of a grid manager (yuan)",
    "staffing.pay.grid_assistant": "monthly pay of a grid assistant (yuan)",
    "staffing.pay.level_team_member": "monthly pay of a level-team member (yuan)",
    "staffing.pay.platform_operator": "monthly pay of a platform operator (yuan)",
    "patrol.hours": "daily patrol window: patrol discovery and verification happen inside it",
    "patrol.assistant_coverage_factor": "an assistant's patrol coverage as a share of a worker's",
    "patrol.on_spot_fix_time": "worker time to fix a minor problem on the spot (h)",
    "patrol.report_time": "time from a worker finding a problem to its report reaching the "
                          "platform (h)",
    "patrol.verification_time": "worker time for the on-site check of a fix (h)",
    "incidents.categories": "the incident taxonomy: categories, each with subtypes",
    "incidents.categories.<key>.label_en": "English name",
    "incidents.categories.<key>.label_zh": "中文名称",
    "incidents.categories.<key>.department": "department handling the category (a subtype may "
                                             "override it)",
    "incidents.categories.<key>.rate_per_1000_households_per_day":
        "incidents per 1,000 households per day, before zone and hotspot multipliers and the "
        "hour/day profiles (profiles have mean 1)",
    "incidents.categories.<key>.patrol_visibility": "multiplies the patrol discovery hazard",
    "incidents.categories.<key>.resident_salience": "multiplies residents' reporting hazard",
    "incidents.categories.<key>.sensor_detectable": "IoT sensors can detect it",
    "incidents.categories.<key>.video_detectable": "video analytics can detect it",
    "incidents.categories.<key>.subtypes": "subtypes; their shares add up to 1",
    "incidents.categories.<key>.subtypes.<key>.label_en": "English name",
    "incidents.categories.<key>.subtypes.<key>.label_zh": "中文名称",
    "incidents.categories.<key>.subtypes.<key>.deadline": "time allowed, counted from dispatch "
                                                          "(处置时限)",
    "incidents.categories.<key>.subtypes.<key>.deadline.value": "amount of time allowed",
    "incidents.categories.<key>.subtypes.<key>.deadline.unit":
        "working hours / working days count calendar.working_hours; hours / days are calendar "
        "time",
    "channels.sensor_delay": "time from occurrence to a sensor alert (h)",
    "channels.sensor_detect_prob": "chance a sensor in a covered grid detects a detectable "
                                   "incident",
    "channels.video_delay": "time from occurrence to a video alert (h)",
    "channels.video_detect_prob": "chance video in a covered grid detects a detectable incident",
    "departments": "functional departments (职能部门), with crews in every sub-district",
    "departments.<key>.label_en": "English name",
    "departments.<key>.label_zh": "中文名称",
    "departments.<key>.crews_per_street": "crews in each sub-district",
    "departments.<key>.shift": "crew working window: handling starts only inside it",
    "departments.<key>.handling_time": "on-site work per visit, travel excluded (h)",
    "departments.<key>.travel_speed_kmh": "crew travel speed over the grid graph",
    "departments.<key>.cost_per_crew_month": "monthly cost of one crew (yuan)",
    "platform.screening_time": "operator time to screen and file a report (h)",
    "platform.dispatch_time": "dispatcher time to dispatch a case (h)",
    "platform.auto_dispatch_share": "share of cases dispatched automatically (no dispatcher "
                                    "time)",
    "platform.return_delay": "time for a misrouted case to come back to dispatch (h)",
    "platform.manager_coordination_time": "grid manager's time coordinating a complex case (h)",
    "platform.feedback_delay": "time from the end of handling to the platform being told (h)",
    "run.days": "simulated days, warm-up included",
    "run.warmup_days": "days at the start left out of every KPI",
    "run.seed": "master random seed; every stream derives from it",
    "run.timeseries_interval_h": "interval between time-series samples (h)",
}


# ------------------------------------------------------------------------------------------ KPIs
def kpis_markdown() -> str:
    """``docs/kpis.md``: every KPI with its label, unit and exact formula."""
    from sim import metrics

    doc = (metrics.__doc__ or "").strip()
    rules = doc.split("\n\n", 1)[1] if "\n\n" in doc else ""
    lines = ["<!-- GENERATED by `gridsim docs` from sim/metrics.py (KPI_DEFINITIONS); "
             "do not edit by hand. -->", "",
             "# Key performance indicators (关键绩效指标)", "",
             "Every KPI gridsim reports, defined once in `sim.metrics.KPI_DEFINITIONS` and "
             "computed from the case log by `sim.metrics`. Shares are between 0 and 1 (shown as "
             "percentages); times are in hours.", ""]
    if rules:
        lines += ["## Measurement window", "", " ".join(rules.split()), ""]
    lines += ["## Definitions", "", "| key | KPI | 指标 | unit | formula |", "|---|---|---|---|---|"]
    for key, (en, zh, unit, formula) in metrics.KPI_DEFINITIONS.items():
        lines.append(f"| `{key}` | {en} | {zh} | {unit} | {_cell(formula)} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- scenario fields
def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _dist_names() -> set[str]:
    from sim.scenario import distributions as d

    return {d.Fixed.__name__, d.Exponential.__name__, d.LogNormal.__name__, d.Uniform.__name__}


def _strip(annotation: Any) -> Any:
    if typing.get_origin(annotation) is Annotated:
        return typing.get_args(annotation)[0]
    return annotation


def type_name(annotation: Any) -> str:
    """A reader's name for a field type."""
    a = _strip(annotation)
    origin = typing.get_origin(a)
    args = typing.get_args(a)
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(x) for x in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        members = [x for x in args if x is not type(None)]
        if {getattr(_strip(m), "__name__", "") for m in members} == _dist_names():
            return "distribution: fixed, exponential, lognormal or uniform"
        inner = " or ".join(type_name(m) for m in members)
        return inner + (" or null" if len(members) < len(args) else "")
    if origin is dict:
        k, v = args
        return f"mapping {type_name(k)} → {type_name(v)}"
    if origin in (tuple, list):
        return f"list of {type_name(args[0])}" if args else "list"
    if _is_model(a):
        return "window (start_h, end_h, days)" if a.__name__ == "Window" else a.__name__
    return getattr(a, "__name__", str(a))


def _fmt_window(w: Any) -> str:
    days = tuple(w.days)
    names = "Mon Tue Wed Thu Fri Sat Sun".split()
    span = ("every day" if len(days) == 7 else
            f"{names[days[0]]}–{names[days[-1]]}" if days == tuple(range(days[0], days[-1] + 1))
            else ", ".join(names[d] for d in days))
    hm = lambda h: f"{int(h):02d}:{int(round((h % 1) * 60)):02d}"  # noqa: E731
    return f"{hm(w.start_h)}–{hm(w.end_h)} {span}"


def fmt_default(value: Any) -> str:
    """A default value as it would be written in a scenario file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, BaseModel):
        name = type(value).__name__
        if name == "Window":
            return _fmt_window(value)
        if name in _dist_names():
            data = value.model_dump(by_alias=True)
            kind = data.pop("dist")
            return f"{kind}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in data.items()) + ")"
        return "(section)"
    if isinstance(value, dict):
        if not value:
            return "{}"
        if all(isinstance(v, BaseModel) for v in value.values()):
            return "entries: " + ", ".join(str(k) for k in value)
        return "{" + ", ".join(f"{k}: {fmt_default(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        if not value:
            return "[]"
        if all(isinstance(v, BaseModel) for v in value):
            return f"{len(value)} entries"
        return "[" + ", ".join(fmt_default(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fmt_range(info: FieldInfo) -> str:
    parts = []
    for m in info.metadata:
        for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"),
                          ("min_length", "min items"), ("max_length", "max items")):
            v = getattr(m, attr, None)
            if v is not None:
                parts.append(f"{sym} {fmt_default(v)}")
    return ", ".join(parts)


def _has_note(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in FACT_NOTES)


def source_of(path: str, description: str) -> str:
    for pattern, note in FACT_NOTES.items():
        if fnmatch.fnmatchcase(path, pattern):
            return note
    if "facts" in description.lower():
        return "facts.md (see description)"
    return "assumption"


def _default(info: FieldInfo) -> Any:
    if info.is_required():
        return "required"
    return fmt_default(info.get_default(call_default_factory=True))


def field_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, ...]]:
    """(path, type, default, range, description, source) for every field, depth first."""
    rows: list[tuple[str, ...]] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}{key}"
        ann = _strip(info.annotation)
        children = _children(ann, path)
        desc = info.description or FALLBACK_DESCRIPTIONS.get(path, "")
        if not desc and children and len(children) == 1:
            desc = " ".join((children[0][1].__doc__ or "").split())
        src = "—" if path in NAME_FIELDS or (children and not _has_note(path)) \
            else source_of(path, desc)
        rows.append((path, type_name(ann), _default(info), fmt_range(info), desc, src))
        for sub_prefix, sub in children:
            rows += field_rows(sub, sub_prefix)
    return rows


def _children(ann: Any, path: str) -> list[tuple[str, type[BaseModel]]]:
    """Nested models to document below a field (windows and distributions are leaves)."""
    ann = _strip(ann)
    origin = typing.get_origin(ann)
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if _is_model(ann):
        if ann.__name__ == "Window" or ann.__name__ in _dist_names():
            return []
        return [(f"{path}.", ann)]
    if origin is dict and _is_model(_strip(args[1])):
        return _children(args[1], f"{path}.<key>")
    if origin in (tuple, list) and args and _is_model(_strip(args[0])):
        return _children(args[0], f"{path}[]")
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        models = [_strip(a) for a in args if _is_model(_strip(a))]
        if {m.__name__ for m in models} == _dist_names():
            return []
        out: list[tuple[str, type[BaseModel]]] = []
        for m in models:
            out += _children(m, path) if len(models) == 1 else [(f"{path}({m.__name__}).", m)]
        return out
    return []


def scenario_fields_markdown() -> str:
    """``docs/scenario-fields.md``: every scenario field, grouped by top-level section."""
    from sim.scenario import Scenario

    rows = field_rows(Scenario)
    base = Scenario()
    lines = ["<!-- GENERATED by `gridsim docs` from the pydantic schema in sim/scenario/; "
             "do not edit by hand. -->", "",
             "# Scenario fields (情景参数)", "",
             "Every field of a scenario file, from the schema itself. The defaults form the "
             "baseline scenario (`scenarios/baseline.yaml`, the same values spelled out). Times "
             "are in hours unless the name says otherwise (`_days`, `_min`, `_km2`…). "
             "`<key>` stands for a user-chosen key (a department, category, subtype, zone…); "
             "`[]` for an item of a list; `(Name).` for one variant of a section that has "
             "several kinds.", "",
             "**Source** says where the baseline value comes from: `facts.md` (the shared "
             "collection of published figures, with the fact) or `assumption` (a plausible "
             "value to replace with your city's). Override any field with "
             "`--set path=value`; check a file with `gridsim validate FILE`.", "",
             f"The baseline has {base.city.households:,} households, "
             f"{len(base.incidents.categories)} incident categories "
             f"({', '.join(base.incidents.categories)}) and {len(base.departments)} departments "
             f"({', '.join(base.departments)}).", ""]
    top = None
    for path, typ, default, rng, desc, src in rows:
        section = path.split(".")[0].split("[")[0]
        if section != top:
            top = section
            lines += ["", f"## `{section}`", "",
                      "| field | type | default | allowed | description | source |",
                      "|---|---|---|---|---|---|"]
        lines.append(f"| `{_cell(path)}` | {_cell(typ)} | {_cell(default)} | {_cell(rng)} | "
                     f"{_cell(desc)} | {_cell(src)} |")
    return "\n".join(lines) + "\n"


GENERATED: dict[str, Any] = {"kpis.md": kpis_markdown,
                             "scenario-fields.md": scenario_fields_markdown}


# ------------------------------------------------------------------ generated sections of docs
# A measured table inside a hand-written doc sits between two markers that name it and the
# command that writes it (sim.experiment.doc_tables); nothing between them is edited by hand.
_BEGIN = "<!-- generated: {name} -->"
_END = "<!-- end generated: {name} -->"


def section_text(name: str, command: str, body: str) -> str:
    return (f"{_BEGIN.format(name=name)}\n*Generated by {command}; do not edit by hand.*\n\n"
            f"{body.rstrip()}\n{_END.format(name=name)}")


def generated_sections(text: str) -> dict[str, str]:
    """name → the whole marked section (markers included) of every generated section."""
    out = {}
    for m in re.finditer(r"<!-- generated: ([\w-]+) -->.*?<!-- end generated: \1 -->", text,
                         flags=re.S):
        out[m.group(1)] = m.group(0)
    return out


def replace_section(text: str, name: str, new: str) -> str:
    old = generated_sections(text).get(name)
    if old is None:
        raise KeyError(f"no generated section {name!r}: add its markers "
                       f"({_BEGIN.format(name=name)} … {_END.format(name=name)})")
    return text.replace(old, new)


def write_generated_section(path: Path, name: str, command: str, body: str) -> None:
    """Rewrite section ``name`` of ``path`` (the doc is created with it if missing)."""
    new = section_text(name, command, body)
    if not path.exists():
        path.write_text(new + "\n", encoding="utf-8")
        return
    path.write_text(replace_section(path.read_text(encoding="utf-8"), name, new),
                    encoding="utf-8")


def _fast_sections() -> list[tuple[str, str, str]]:
    """(doc, name, section text) of the measured tables ``gridsim docs`` writes."""
    from sim.experiment.doc_tables import fast_tables
    return [(t.doc, t.name, section_text(t.name, t.command, t.make("full")[0]))
            for t in fast_tables()]


def stale_docs(docs_dir: Path = DOCS_DIR) -> list[str]:
    """Names of generated docs (or sections, ``doc#name``) whose committed text differs from
    what the code produces."""
    out = []
    for name, make in GENERATED.items():
        p = docs_dir / name
        if not p.exists() or p.read_text(encoding="utf-8") != make():
            out.append(name)
    for doc, name, text in _fast_sections():
        p = docs_dir / doc
        if not p.exists():  # a hand-written doc that holds the section (not in this folder)
            continue
        if generated_sections(p.read_text(encoding="utf-8")).get(name) != text:
            out.append(f"{doc}#{name}")
    return out


def write_docs(docs_dir: Path = DOCS_DIR) -> list[Path]:
    docs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in GENERATED.items():
        p = docs_dir / name
        p.write_text(make(), encoding="utf-8")
        written.append(p)
    for doc, name, text in _fast_sections():
        p = docs_dir / doc
        if p.exists() and name in generated_sections(p.read_text(encoding="utf-8")):
            p.write_text(replace_section(p.read_text(encoding="utf-8"), name, text),
                         encoding="utf-8")
            written.append(p)
    return written


def docs_command(
    check: Annotated[bool, typer.Option(
        help="Only check that the committed docs match the code (exit 1 if not).")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Docs folder (default: docs/).")] = None,
) -> None:
    """Regenerate docs/kpis.md, docs/scenario-fields.md and the measured tables that are quick
    to make (docs/validation.md's Dongcheng structure) from the code."""
    folder = out or DOCS_DIR
    if check:
        stale = stale_docs(folder)
        if stale:
            print("out of date: " + ", ".join(stale) + " — run `gridsim docs` and commit")
            raise typer.Exit(code=1)
        print("docs are up to date")
        return
    for p in write_docs(folder):
        print(f"wrote {p}")
