"""Generated docs cannot drift: docs/kpis.md and docs/scenario-fields.md match the code."""

from __future__ import annotations

from pathlib import Path

from sim.cli.docs import (
    FACT_NOTES,
    FALLBACK_DESCRIPTIONS,
    field_rows,
    kpis_markdown,
    scenario_fields_markdown,
    stale_docs,
    write_docs,
)
from sim.metrics import KPI_DEFINITIONS
from sim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_committed_generated_docs_match_the_code():
    stale = stale_docs(DOCS)
    assert not stale, f"{', '.join(stale)} out of date: run `gridsim docs` (or `make docs`) " \
                      "and commit the result"


def _leaf_paths(data, prefix=""):
    """Dotted paths of every value in a dumped scenario, user-chosen keys replaced by <key>."""
    keyed = {"city.zones", "incidents.categories", "departments"}
    out = set()
    for k, v in data.items():
        path = f"{prefix}{k}"
        out.add(path)
        if isinstance(v, dict) and (path in keyed or path.endswith(".subtypes")):
            for item in v.values():
                if isinstance(item, dict):
                    out |= _leaf_paths(item, f"{path}.<key>.")
        elif isinstance(v, dict) and not {"dist"} & set(v) and not {"start_h"} & set(v):
            out |= _leaf_paths(v, f"{path}.")
    return out


def test_every_field_of_the_baseline_is_documented_with_its_default():
    documented = {row[0] for row in field_rows(Scenario)}
    dumped = _leaf_paths(Scenario().model_dump(mode="json", by_alias=True))
    core = {p for p in dumped if p.split(".")[0] in {
        "name", "description", "city", "calendar", "staffing", "patrol", "incidents",
        "channels", "departments", "platform", "run"}}
    missing = sorted(p for p in core if p not in documented)
    assert not missing, missing
    text = scenario_fields_markdown()
    assert "| `staffing.workers_per_grid` | int | 2 | ≥ 1, ≤ 50 |" in text
    assert "| `platform.dispatch_time` | distribution: fixed, exponential, lognormal or uniform " \
           "| lognormal(mean=0.08, cv=0.5) |" in text
    assert "| `patrol.hours` | window (start_h, end_h, days) | 08:00–18:00 every day |" in text


def test_every_kpi_is_documented_with_its_formula():
    text = kpis_markdown()
    for key, (en, zh, unit, formula) in KPI_DEFINITIONS.items():
        assert f"| `{key}` | {en} | {zh} | {unit} | {formula.replace('|', chr(92) + '|')} |" in text


def test_sources_mark_facts_and_assumptions():
    rows = {r[0]: r for r in field_rows(Scenario)}
    assert rows["city.households_per_grid"][5].startswith("facts.md")
    assert rows["staffing.skill_sd"][5] == "assumption"
    assert rows["incidents.categories.<key>.subtypes.<key>.deadline.unit"][5].startswith(
        "facts.md: deadlines")


def test_fallback_descriptions_and_fact_notes_name_real_fields():
    documented = {row[0] for row in field_rows(Scenario)}
    assert not [p for p in FALLBACK_DESCRIPTIONS if p not in documented]
    import fnmatch
    assert all(any(fnmatch.fnmatchcase(d, pat) for d in documented) for pat in FACT_NOTES)


def test_check_detects_a_hand_edited_doc(tmp_path):
    write_docs(tmp_path)
    assert stale_docs(tmp_path) == []
    p = tmp_path / "kpis.md"
    p.write_text(p.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    assert stale_docs(tmp_path) == ["kpis.md"]


def test_docs_check_command_exit_codes(run_cli, tmp_path):
    r = run_cli("docs", "--check", "--out", str(tmp_path))
    assert r.returncode == 1 and "out of date" in r.stdout
    assert run_cli("docs", "--out", str(tmp_path)).returncode == 0
    assert run_cli("docs", "--check", "--out", str(tmp_path)).returncode == 0
