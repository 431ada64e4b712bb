"""Bad input: one clear message naming the field path and what is allowed, exit 2, no traceback."""

from __future__ import annotations

import json

import pytest

from sim.scenario import Scenario, load_scenario
from tests.conftest import SCENARIOS, gridsim, gridsim_inproc

BAD = {
    "wrong_type.yaml": ("city:\n  households: lots\n",
                        "city.households: Input should be a valid integer"),
    "out_of_range.yaml": ("staffing:\n  workers_per_grid: 0\n",
                          "staffing.workers_per_grid: Input should be greater than or equal to 1"),
    "unknown_key.yaml": ("staffing:\n  wokers_per_grid: 3\n",
                         "staffing.wokers_per_grid: unknown field; allowed: workers_per_grid"),
    "unknown_department.yaml": (
        "incidents:\n  categories:\n    x:\n      label_en: X\n      label_zh: X\n"
        "      department: nowhere\n      rate_per_1000_households_per_day: 1\n"
        "      subtypes:\n        y: {label_en: Y, label_zh: Y, share: 1,"
        " deadline: {value: 1, unit: hours}}\n",
        "incidents.categories.x.department: unknown department 'nowhere'; allowed: city_management"),
    "malformed.yaml": ("city: [1, 2\n", "malformed YAML"),
    "tagged.yaml": ("name: !!python/object:os.system x\n", "YAML tags are not allowed"),
    "plain_tag.yaml": ("name: !!str hello\n", "YAML tags are not allowed"),
    "duplicate.yaml": ("name: a\nname: b\n", "duplicate key 'name'"),
    "not_mapping.yaml": ("- 1\n- 2\n", "mapping"),
    "bad_window.yaml": ("patrol:\n  hours: {start_h: 18, end_h: 8}\n",
                        "patrol.hours: end_h must be later than start_h"),
    "bad_shares.yaml": ("city:\n  zones:\n    residential: {share: 0.5, households_per_km2: 1000}\n",
                        "city.zones: zone shares must add up to 1"),
    "bad_dist.yaml": ("platform:\n  screening_time: {dist: gamma, mean: 1}\n",
                      "platform.screening_time"),
    "markup_like.yaml": ('city: {households: "[red]x[/red]"}\n',
                         "(got '[red]x[/red]')"),
    "warmup.yaml": ("run: {days: 2, warmup_days: 3}\n",
                    "run: warmup_days (3) must be shorter than days (2)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_is_refused_clearly(tmp_path, name):
    text, expected = BAD[name]
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    for cmd in (["validate", str(f)], ["run", str(f), "--out", str(tmp_path / "out")]):
        r = gridsim_inproc(*cmd)
        assert r.returncode == 2, r.stdout + r.stderr
        assert expected in r.stderr, r.stderr
        assert r.stderr.count("error:") == r.stderr.count("\n"), "one problem per line, unwrapped"
        assert str(f) in r.stderr
        assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "out").exists(), "nothing is written on error"


def test_bad_file_through_the_real_command(tmp_path):
    """The installed command: exit status 2, the message, no traceback, nothing written."""
    f = tmp_path / "bad.yaml"
    f.write_text("staffing:\n  workers_per_grid: 0\n")
    r = gridsim("run", str(f), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert "staffing.workers_per_grid" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path):
    r = gridsim_inproc("run", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "file not found" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("override, expected", [
    ("staffing.wrokers=3", "staffing.wrokers: unknown field; allowed: workers_per_grid"),
    ("staffing.workers_per_grid=-1", "staffing.workers_per_grid: Input should be greater than"),
    ("run.days=abc", "run.days: Input should be a valid number"),
    ("noequals", "an override must look like path.to.field=value"),
    ("departments.police.crews_per_street=0",
     "departments.police.crews_per_street: department 'police' handles"),
    # valid field by field, but 1e15 land cells: refused before any array is allocated
    ("city.zones.residential.households_per_km2=1e-9", "at most 10,000,000 are allowed"),
])
def test_bad_set_override(override, expected):
    r = gridsim_inproc("run", "--set", override)
    assert r.returncode == 2, r.stdout
    assert expected in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_all_errors_reported_at_once(tmp_path):
    f = tmp_path / "two.yaml"
    f.write_text("city: {households: -5, households_per_community: 0}\n")
    r = gridsim_inproc("validate", str(f))
    assert "city.households" in r.stderr and "city.households_per_community" in r.stderr


def test_baseline_file_equals_embedded_defaults():
    assert load_scenario(SCENARIOS / "baseline.yaml") == Scenario()


def test_every_ready_scenario_validates():
    r = gridsim_inproc("validate", *sorted(str(p) for p in SCENARIOS.glob("*.yaml")))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok") == len(list(SCENARIOS.glob("*.yaml")))


def test_schema_command_emits_json_schema():
    r = gridsim_inproc("schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["additionalProperties"] is False
    assert "staffing" in schema["properties"]


def test_set_override_applies():
    from sim.scenario import scenario_with

    s = scenario_with(Scenario(), {"staffing.workers_per_grid": 4,
                                   "departments.police.crews_per_street": 5})
    assert s.staffing.workers_per_grid == 4
    assert s.departments["police"].crews_per_street == 5
    assert s.departments["fire"] == Scenario().departments["fire"]
