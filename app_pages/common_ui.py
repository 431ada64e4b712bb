"""Streamlit pieces shared by the pages: scenario picker, lever editor, runs with progress."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import streamlit as st

from app_pages import deploy, limits
from app_pages.i18n import field_help, field_label, option_label, section_label, tr
from app_pages.runner import RunCache, RunPool, cached_run, pool_size, run_batch
from app_pages.schema_widgets import WidgetSpec, changed, coerce, groups, specs_for_group
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_yaml, validate_scenario

if TYPE_CHECKING:  # sim.run imports Mesa (over a second): only when a run is asked for
    from sim.run import RunResult

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
UPLOAD = "__upload__"
MAP_UPLOAD = "__map_upload__"
BASELINE = "baseline"


@st.cache_resource(show_spinner=False)
def shared_cache() -> RunCache:
    """One run cache per server process, shared by every session."""
    return RunCache()


@st.cache_resource(show_spinner=False)
def shared_pool() -> RunPool:
    """One pool of worker processes per server, started on the first multi-seed run."""
    return RunPool(pool_size())


def select(label: str, options: list, key: str, lang: str, format_func: Callable = str,
           index: int = 0, where: Any = None, help: str | None = None) -> Any:  # noqa: A002
    """A selectbox whose option labels follow the language switch.

    The widget is keyed per language (a browser keeps a keyed widget's option labels otherwise);
    the choice is remembered under ``key`` so it survives the switch.
    """
    remembered = st.session_state.get(key)
    if remembered in options:
        index = options.index(remembered)
    value = (where or st).selectbox(label, options, index=index, key=f"{key}@{lang}",
                                    format_func=format_func, help=help)
    st.session_state[key] = value
    return value


def multiselect(label: str, options: list, key: str, lang: str, format_func: Callable = str,
                default: list | None = None, placeholder: str | None = None) -> list:
    """A multiselect whose option labels follow the language switch (see :func:`select`)."""
    remembered = st.session_state.get(key)
    chosen = [o for o in remembered if o in options] if remembered is not None else default
    value = st.multiselect(label, options, default=chosen, key=f"{key}@{lang}",
                           format_func=format_func, placeholder=placeholder)
    st.session_state[key] = value
    return value


def ready_scenarios() -> list[str]:
    """``baseline`` (the schema's defaults, as ``gridsim run`` without a file) and the other
    ready scenarios in ``scenarios/*.yaml`` (``baseline.yaml`` is a dump of those defaults)."""
    return [BASELINE] + sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml") if p.stem != BASELINE)


def scenario_label(sc: Any, lang: str) -> str:
    """A scenario's (or an experiment's) name for people: ``label_zh`` / ``label`` from its
    file, the catalogue's for the embedded baseline, else its name."""
    if getattr(sc, "name", "") == BASELINE and not getattr(sc, "label", ""):
        return tr("source_baseline", lang)
    zh = getattr(sc, "label_zh", "") if lang == "zh" else ""
    return zh or getattr(sc, "label", "") or sc.name


def scenario_description(sc: Any, lang: str) -> str:
    """Its description in ``lang``: ``description_zh`` in 中文 when the file has one (the
    catalogue's for the embedded baseline's own words), else the English."""
    if lang != "zh":
        return sc.description
    if getattr(sc, "description_zh", ""):
        return sc.description_zh
    if sc.description == Scenario.model_fields["description"].default:
        return tr("baseline_description", lang)
    return sc.description


def show_problems(title: str, lines: list[str]) -> None:
    """One error box: the title, then one line per problem (no server path in any of them)."""
    lines = [deploy.scrub(ln) for ln in lines]
    st.error(title + "\n\n" + "\n".join(f"- `{ln}`" if "`" not in ln else f"- {ln}"
                                        for ln in lines))


@st.cache_data(show_spinner=False, max_entries=64)
def _load_ready(name: str, mtime: float) -> Scenario | str:
    try:
        return load_scenario(SCENARIO_DIR / f"{name}.yaml")
    except ScenarioError as err:
        return str(err)


def scenario_from_upload(data: bytes, filename: str, lang: str) -> Scenario:
    """Parse an uploaded file safely; every problem becomes a ScenarioError for the user."""
    if not data.strip():
        raise ScenarioError([("", tr("upload_empty", lang))], filename)
    if len(data) > limits.MAX_UPLOAD_KB * 1024:
        raise ScenarioError([("", tr("upload_too_big", lang, kb=len(data) / 1024,
                                     limit=limits.MAX_UPLOAD_KB))], filename)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError([("", tr("upload_not_utf8", lang))], filename) from None
    parsed = parse_yaml(text, filename)
    if parsed is None:  # nothing but blanks and comments: not a scenario (`{}` is all defaults)
        raise ScenarioError([("", tr("upload_empty", lang))], filename)
    return validate_scenario(parsed, filename)


def scenario_picker(lang: str, prefix: str,
                    extra: dict[str, tuple[str, Scenario]] | None = None) -> Scenario | None:
    """Pick a ready scenario or upload one; show every problem; None when there is none.

    ``extra`` adds options ahead of the ready ones: key → (label, scenario).
    """
    extra = extra or {}
    options = list(extra) + ready_scenarios() + [UPLOAD, MAP_UPLOAD]
    large = too_large_ready()

    def label(n: str) -> str:
        if n == UPLOAD:
            return tr("source_upload", lang)
        if n == MAP_UPLOAD:
            return tr("source_map_upload", lang)
        if n in extra:
            return extra[n][0]
        if n == BASELINE:
            return tr("source_baseline", lang)
        path = SCENARIO_DIR / f"{n}.yaml"
        sc = _load_ready(n, path.stat().st_mtime if path.exists() else 0.0)
        shown = n if isinstance(sc, str) else scenario_label(sc, lang)
        return tr("too_large_option", lang, name=shown) if n in large else shown

    choice = select(tr("source", lang), options, f"{prefix}_source", lang, format_func=label)
    if choice in extra:
        loaded = extra[choice][1]
        st.caption(scenario_description(loaded, lang))
        return loaded
    if choice == BASELINE:
        loaded = Scenario()
        st.caption(scenario_description(loaded, lang))
        return loaded
    if choice == MAP_UPLOAD:
        from app_pages.map_upload import upload_map_scenario

        loaded = upload_map_scenario(Scenario(), prefix, lang)
        if loaded is None or refuse_if_too_large(loaded, lang):
            return None
        return loaded
    if choice != UPLOAD:
        path = SCENARIO_DIR / f"{choice}.yaml"
        loaded = _load_ready(choice, path.stat().st_mtime if path.exists() else 0.0)
        if isinstance(loaded, str):
            show_problems(tr("scenario_invalid", lang), loaded.splitlines())
            return None
        st.caption(scenario_description(loaded, lang))
        if refuse_if_too_large(loaded, lang, cli=f"gridsim run scenarios/{choice}.yaml"):
            return None
        return loaded
    up = st.file_uploader(tr("upload", lang, mb=limits.MAX_UPLOAD_MB), type=["yaml", "yml"],
                          key=f"{prefix}_upload", max_upload_size=limits.MAX_UPLOAD_MB)
    kept = st.session_state.get(f"{prefix}_uploaded")
    if up is None:
        if kept is not None:  # the browser forgets an upload on another page; the session not
            st.caption(tr("upload_kept", lang, name=kept[0]))
            return kept[1]
        st.info(tr("upload_hint", lang))
        return None
    try:
        sc = scenario_from_upload(up.getvalue(), up.name, lang)
    except ScenarioError as err:
        st.session_state.pop(f"{prefix}_uploaded", None)
        show_problems(tr("scenario_invalid", lang), str(err).splitlines())
        return None
    st.session_state[f"{prefix}_uploaded"] = (up.name, sc)
    st.caption(scenario_description(sc, lang))
    return sc


def never_acts(sc: Scenario, lang: str) -> list[str]:
    """The periodic policies switched on that ``sc``'s run length never lets act, in ``lang``
    (:meth:`Scenario.warnings`; ``gridsim run`` prints the same)."""
    return [msg if lang != "zh" else tr("never_acts", lang, field=field_label(field, lang),
                                        days=sc.run.days) for field, msg in sc.warnings()]


def warn_never_acts(named: list[tuple[str, Scenario]], lang: str, where: Any = None) -> None:
    """One warning per periodic policy that never acts, naming the scenarios (variants) it
    concerns when there are several."""
    seen: dict[str, list[str]] = {}
    for name, sc in named:
        for text in never_acts(sc, lang):
            seen.setdefault(text, []).append(name)
    for text, names in seen.items():
        (where or st).warning((", ".join(n for n in names if n) + ": " if any(names) else "")
                              + text)


def too_large_ready() -> set[str]:
    """Ready scenarios the app refuses to run (they are labelled so in the picker)."""
    out = set()
    for name in ready_scenarios():
        if name == BASELINE:
            continue
        path = SCENARIO_DIR / f"{name}.yaml"
        sc = _load_ready(name, path.stat().st_mtime if path.exists() else 0.0)
        if not isinstance(sc, str) and limits.check_scenario(sc):
            out.add(name)
    return out


def refuse_if_too_large(sc: Scenario, lang: str, cli: str = "") -> bool:
    """Show why ``sc`` is too large for the app (and the command that runs it); True when it
    is."""
    problems = limits.check_scenario(sc)
    if problems:
        lines = [p.text(lang) for p in problems]
        if cli:
            lines.append(tr("too_large_cli", lang, cmd=cli))
        show_problems(tr("too_large", lang), lines)
    return bool(problems)


# ---------------------------------------------------------------------------- lever widgets
def _entity(spec: WidgetSpec, group: str) -> str:
    """The expander a lever is drawn in: one per department, per subtype, per nested model."""
    parts = spec.path.split(".")
    if group == "departments":
        return ".".join(parts[:2])
    if group == "deadlines":
        return ".".join(parts[:5])
    return spec.parent


def _entity_label(sc: Scenario, entity: str, group: str, lang: str) -> str:
    node: Any = sc
    for part in entity.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part, None)
    if node is not None and hasattr(node, "label_en"):
        return node.label_zh if lang == "zh" else node.label_en
    parts = entity.split(".")
    if len(parts) == 1:
        return section_label(parts[0], lang)
    return " · ".join(field_label(p, lang) for p in parts[1:])


def _widget_label(spec: WidgetSpec, entity: str, lang: str) -> str:
    rest = spec.path[len(entity) + 1:] if spec.path.startswith(entity + ".") else spec.name
    return " · ".join(field_label(p, lang) for p in rest.split("."))


def lever_widget(spec: WidgetSpec, label: str, key: str, current: Any) -> Any:
    """Draw one generated widget and return its value (coerced to the schema's type)."""
    lang = st.session_state.get("lang", "zh")
    code = tr("field_code", lang, path=spec.path)   # the help in words, the code path after
    help_ = f"{field_help(spec.help, lang)} ({code})" if spec.help else code
    keep = "session"  # the value survives a visit to another page
    if spec.kind == "bool":
        return st.checkbox(label, value=bool(current), key=key, help=help_, persist_state=keep)
    if spec.kind == "choice":
        opts = list(spec.options)
        return st.selectbox(label, opts, index=opts.index(current), key=f"{key}@{lang}",
                            help=help_, format_func=lambda v: option_label(v, lang),
                            persist_state=keep)
    lo, hi = spec.widget_bounds()
    if spec.kind == "float" and lo is not None and hi is not None and hi - lo <= 1:
        return coerce(spec, st.slider(label, min_value=float(lo), max_value=float(hi),
                                      value=float(current), step=0.01, key=key, help=help_,
                                      persist_state=keep))
    if spec.kind == "int":
        return coerce(spec, st.number_input(label, min_value=lo, max_value=hi, value=int(current),
                                            step=1, key=key, help=help_, persist_state=keep))
    return coerce(spec, st.number_input(label, min_value=lo, max_value=hi, value=float(current),
                                        step=float(spec.step), format="%g", key=key, help=help_,
                                        persist_state=keep))


def lever_editor(sc: Scenario, lang: str, prefix: str) -> dict[str, Any]:
    """Widgets generated from the schema for the levers of ``sc``; returns the edits by path.

    Edits live in the session (per loaded scenario), so those of a group not on screen are kept.
    """
    h = sc.hash()
    all_edits: dict[str, dict[str, Any]] = st.session_state.setdefault(f"{prefix}_edits", {})
    edits = all_edits.setdefault(h, {})
    gen = st.session_state.setdefault(f"{prefix}_gen", 0)
    group = select(tr("section", lang), groups(sc), f"{prefix}_group", lang,
                   format_func=lambda g: section_label(g, lang))
    specs = specs_for_group(sc, group)
    by_entity: dict[str, list[WidgetSpec]] = {}
    for spec in specs:
        by_entity.setdefault(_entity(spec, group), []).append(spec)
    for entity, items in by_entity.items():
        box = st.container() if entity == group or entity == specs[0].path.split(".")[0] \
            else st.expander(_entity_label(sc, entity, group, lang))
        with box:
            cols = st.columns(3)
            for i, spec in enumerate(items):
                with cols[i % 3]:
                    label = _widget_label(spec, entity, lang)
                    v = lever_widget(spec, label, f"{prefix}:{h}:{gen}:{spec.path}",
                                     edits.get(spec.path, spec.value))
                if changed(spec, v):
                    edits[spec.path] = v
                else:
                    edits.pop(spec.path, None)
    c1, c2 = st.columns([3, 1])
    c1.caption(tr("edits", lang, n=len(edits)) + (": " + ", ".join(
        f"`{p}` = {v!r}" for p, v in edits.items()) if edits else ""))
    if edits and c2.button(tr("reset", lang), key=f"{prefix}_reset"):
        all_edits[h] = {}
        st.session_state[f"{prefix}_gen"] = gen + 1
        st.rerun()
    return dict(edits)


def progress_reporter(lang: str, n_runs: int = 1) -> tuple[Callable[[int], Callable], Any]:
    """A progress bar and a factory of ``progress(now_h, horizon_h)`` callbacks for run i."""
    bar = st.progress(0.0, text=tr("running", lang, d=0, n=0))

    def for_run(i: int) -> Callable[[float, float, int], None]:
        def cb(now_h: float, horizon_h: float, events: int = 0) -> None:
            frac = (i + min(1.0, now_h / horizon_h if horizon_h else 1.0)) / n_runs
            bar.progress(min(1.0, frac), text=tr("running", lang, d=now_h / 24, n=horizon_h / 24))
        return cb

    return for_run, bar


def run_with_progress(sc: Scenario, seed: int, cb: Callable[[float, float, int], None]) -> RunResult:
    return cached_run(shared_cache(), sc, seed, progress=cb)


def run_many(pairs: list[tuple[Scenario, int]], lang: str) -> list[RunResult]:
    """Results of each (scenario, seed), from the cache or run on this server's cores, with a
    progress bar from the first moment (runs done of runs to do; within a run when one is left)."""
    bar = st.progress(0.0, text=tr("running_runs", lang, i=0, n=len(pairs)))

    total = [len(pairs)]

    def on_done(done: int, n: int) -> None:
        total[0] = n
        bar.progress(done / n if n else 1.0, text=tr("running_runs", lang, i=done, n=n))

    def fine(done: int) -> Callable[[float, float, int], None]:
        def cb(now_h: float, horizon_h: float, events: int = 0) -> None:
            frac = min(1.0, now_h / horizon_h if horizon_h else 1.0)
            bar.progress(min(1.0, (done + frac) / max(total[0], 1)),
                         text=tr("running_seed", lang, i=done + 1, n=total[0], d=now_h / 24,
                                 days=horizon_h / 24))
        return cb

    try:
        return run_batch(shared_cache(), pairs, shared_pool(), on_done=on_done, progress=fine)
    finally:
        bar.empty()
