"""中文 is complete: every string the app shows comes from one catalogue in both languages, and
a pass over every page in 中文 finds no English-only text (proper nouns and code aside)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from app_pages import i18n, kpi_view
from app_pages.schema_widgets import all_specs, groups
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import Scenario, load_scenario
from tests.apptest_util import ROOT, open_app

SCENARIOS = [Scenario()] + [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
#: The project's content, not the app's text: scenario and experiment names and descriptions
#: (written in the files, in English) are shown as they are.
DATA = {s.description for s in SCENARIOS} | {s.name for s in SCENARIOS} | {
    p.stem for p in (ROOT / "experiments").glob("*.yaml")}
#: Words that stay as they are in 中文: names, units, codes.
PROPER = {"gridsim", "yaml", "kpi", "kpis", "duckdb", "holm", "zip", "csv", "json", "ci", "iv",
          "iii", "ii", "i", "km", "min", "ai", "iot", "wechat", "app", "id", "p", "pp", "mm", "cm",
          "h", "s", "mb", "kb", "odd", "sobol", "morris", "erlang", "open311", "nyc", "sd"}
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']+")


def english_words(text: str) -> list[str]:
    """ASCII words of ``text`` that are not proper nouns, code (`…`) or field paths."""
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\d(?:\.\d+)?e[-+]?\d+", " ", text)        # numbers such as p=1e-07
    text = re.sub(r"[\w/\-]+(?:\.[\w]+)+", " ", text)            # dotted paths, file names
    text = re.sub(r"\b[a-z]+(?:_[a-z0-9]+)+\b", " ", text)     # identifiers
    return [w for w in _WORD.findall(text) if w.lower() not in PROPER]


def test_every_catalogue_entry_has_both_languages_with_the_same_placeholders():
    def fields(s: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(s) if f}

    for key, (en, zh) in i18n.TEXT.items():
        assert en.strip() and zh.strip(), key
        assert fields(en) == fields(zh), key
        assert _CJK.search(zh) or not english_words(zh), (key, zh)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
def test_every_lever_section_label_and_option_has_chinese(sc):
    for g in groups(sc):
        assert g in i18n.SECTION_ZH, g
    for path, spec in all_specs(sc).items():
        for part in path.split("."):
            assert part in i18n.FIELD_ZH, (path, part)
        for opt in spec.options:
            assert str(opt) in i18n.OPTION_ZH, (path, opt)


def test_every_kpi_has_a_chinese_definition_and_unit():
    for key, (_, zh, unit, _) in KPI_DEFINITIONS.items():
        assert _CJK.search(zh), key
        assert key in i18n.KPI_FORMULA_ZH and _CJK.search(i18n.KPI_FORMULA_ZH[key]), key
        assert unit in i18n.UNIT_ZH, (key, unit)
        assert kpi_view.definition(key, "zh") == i18n.KPI_FORMULA_ZH[key]


def _visible(at) -> list[str]:
    out: list[str] = []
    for kind in ("header", "subheader", "caption", "markdown", "info", "warning", "error",
                 "success"):
        out += [e.value for e in getattr(at, kind)]
    for kind in ("button", "selectbox", "multiselect", "number_input", "text_input", "slider",
                 "checkbox", "toggle", "radio"):
        out += [w.label for w in getattr(at, kind)]
    for kind in ("selectbox", "radio"):
        for w in getattr(at, kind):
            out += [str(o) for o in w.options]
    out += [m.label for m in at.metric]
    out += [t.label for t in at.tabs] + [e.label for e in at.expander]
    return out


def test_a_chinese_pass_over_every_page_finds_no_english_only_text():
    at = open_app(lang="zh")
    at.button(key="lab_run").click().run()
    bad: dict[str, list[str]] = {}
    for page in ("lab", "compare", "sweeps", "drill", "model"):
        at.sidebar.radio(key="page").set_value(page).run()
        if page == "drill":
            at.button(key="dr_start").click().run()
            at.button(key="dr_step").click().run()
        for text in _visible(at):
            if text in DATA or text in (i18n.LANG_NAMES["en"],) or text.startswith("English"):
                continue
            words = english_words(text)
            if words and not _CJK.search(text):
                bad.setdefault(page, []).append(text)
    assert not bad, bad
