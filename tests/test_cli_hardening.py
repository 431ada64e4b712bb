"""The commands as users try them outside the happy path: reruns, empty files, narrow
terminals, pipes, oversized scenarios. Each ends in a result or one clear message (exit 2),
never a traceback."""

from __future__ import annotations

from pathlib import Path

from sim.experiment.store import ResultsStore

from tests.conftest import TINY_SWEEP, gridsim
from tests.test_sweep import store_tables


def test_rerunning_a_finished_sweep_reports_it_complete_and_changes_nothing(tmp_path):
    exp = tmp_path / "tiny.yaml"
    exp.write_text(TINY_SWEEP, encoding="utf-8")
    store = tmp_path / "tiny.duckdb"
    first = gridsim("sweep", str(exp), "--store", str(store), "--backend", "serial")
    assert first.returncode == 0, first.stderr
    before = store_tables(store)
    again = gridsim("sweep", str(exp), "--store", str(store))  # default: worker processes
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "12 runs planned, 12 already in the store, 0 ok, 0 failed" in again.stdout
    for a, b in zip(before, store_tables(store)):
        assert a.equals(b)
    with ResultsStore(store, read_only=True) as st:
        sessions = st.con.execute("SELECT status, runs_ok FROM sessions ORDER BY session_id").fetchall()
    assert sessions == [("finished", 12), ("finished", 0)]


def cli(*args: str):
    """The command in this process with the Typer app built once (about 5 ms a call)."""
    from tests.props_util import invoke

    return invoke(*args)


def test_an_empty_scenario_file_is_an_error_and_an_explicit_empty_mapping_is_the_baseline(
        tmp_path):
    cases = {"zero.yaml": b"", "blank.yaml": b"\n  \n", "comments.yaml": b"# saved too early\n",
             "null.yaml": b"null\n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        for cmd in (("validate",), ("run", "--days", "1")):
            r = cli(*cmd, str(tmp_path / name))
            assert r.returncode == 2, (name, cmd, r.stdout)
            assert "write {} for a file of all defaults" in r.stderr
            assert ("is empty" if name != "null.yaml" else "holds null") in r.stderr
    (tmp_path / "defaults.yaml").write_text("{}\n")
    r = cli("validate", str(tmp_path / "defaults.yaml"))
    assert r.returncode == 0 and "baseline" in r.stdout
    exp = tmp_path / "empty_experiment.yaml"
    exp.write_bytes(b"")
    r = cli("sweep", str(exp), "--dry-run")
    assert r.returncode == 2 and "is empty" in r.stderr


def test_hostile_yaml_is_refused_with_a_message(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(8))  # nine to the ninth values once expanded
    cases = {"bomb.yaml": (bomb, "values once its YAML aliases are expanded"),
             "loop.yaml": ("a: &a [*a]\n", "refers to itself"),
             "deep.yaml": ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
             "tag.yaml": ("a: !!python/object:os.system ls\n", "YAML tags are not allowed"),
             "twice.yaml": ("name: a\nname: b\n", "duplicate key"),
             "latin1.yaml": ("name: caf\xe9\n".encode("latin-1"), "is not UTF-8"),
             "keys.yaml": ("1: 2\n", "a field name must be text")}
    for name, (text, message) in cases.items():
        f = tmp_path / name
        f.write_bytes(text if isinstance(text, bytes) else text.encode())
        r = cli("validate", str(f))
        assert r.returncode == 2 and message in r.stderr, (name, r.stderr)
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(17 * 2**20)
    r = cli("validate", str(big))
    assert r.returncode == 2 and "at most 16 MB" in r.stderr


def _report_store(tmp_path: Path, kpis: list[str] | None) -> Path:
    from sim.experiment.backends import SerialBackend
    from sim.experiment.engine import sweep
    from sim.experiment.spec import validate_experiment

    import yaml

    data = yaml.safe_load(TINY_SWEEP)
    if kpis is None:
        data.pop("kpis")  # every KPI
    else:
        data["kpis"] = kpis
    exp = validate_experiment(data, "tiny", tmp_path)
    path = tmp_path / "r.duckdb"
    sweep(exp, SerialBackend(), path)
    return path


def test_the_report_fits_any_terminal_width_and_never_cuts_a_figure(tmp_path):
    import io

    from rich.console import Console

    from sim.experiment.report import build_report, fmt_ci, print_report, wide_summary

    path = _report_store(tmp_path, None)
    with ResultsStore(path, read_only=True) as st:
        data = build_report(st)
    ws = wide_summary(data)
    figures = {fmt_ci(r[k], r[f"{k}_ci95"], k) for r in ws.to_dict("records") for k in data.keys}
    assert len(data.keys) >= 16
    for width in (40, 60, 80, 120, 200, 400):
        buf = io.StringIO()
        print_report(data, Console(file=buf, width=width, color_system=None))
        text = buf.getvalue()
        lines = text.splitlines()
        assert "…" not in text, width
        assert max(len(ln) for ln in lines) <= width
        missing = [f for f in figures if not any(f in ln for ln in lines)]
        assert not missing, (width, missing[:3])  # each figure whole, on one line


def test_report_formats_for_pipes_carry_every_figure_in_full(tmp_path):
    import csv
    import io
    import json

    path = _report_store(tmp_path, ["incidents_total", "on_time_rate", "monthly_staff_cost"])
    with ResultsStore(path, read_only=True) as st:
        kp = st.kpis()
    r = cli("report", str(path), "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [p["point_id"] for p in doc["points"]] == list(range(6))
    p0 = doc["points"][0]
    rows = kp[kp.point_id == 0].on_time_rate
    assert p0["kpis"]["on_time_rate"]["mean"] == rows.mean()
    assert p0["kpis"]["on_time_rate"]["n"] == len(rows) == p0["replications"] == 2
    assert doc["runs"] == {"ok": 12, "failed": 0}
    r = cli("report", str(path), "--format", "csv", "--csv", str(tmp_path / "out"))
    table = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(table) == 6 and float(table[0]["on_time_rate"]) == rows.mean()
    assert "wrote" not in r.stdout and "wrote" in r.stderr  # stdout stays a clean table
    r = cli("report", str(path), "--format", "markdown")
    assert r.stdout.count("\n| ") >= 6 and "|---:|" in r.stdout
    r = cli("report", str(path), "--format", "xml")
    assert r.returncode == 2 and "allowed: table, csv, json, markdown" in r.stderr


def test_values_that_validate_but_cannot_run_are_refused_saying_by_how_much(tmp_path,
                                                                             monkeypatch):
    from sim.scenario import Scenario, ScenarioError, scenario_with
    from sim.scenario.size import check_fits, estimate

    huge = scenario_with(Scenario(), {"city.households": 20_000_000,
                                      "city.households_per_grid": 10, "city.cell_m2": 500})
    est = estimate(huge)
    assert est.grids == 2_240_000  # counted by the city builder's own code
    coarse = scenario_with(huge, {"city.cell_m2": 10000})
    assert estimate(coarse).grids == 208_334  # at most one grid per land cell, as built
    try:
        check_fits(huge, limit=16e9)
    except ScenarioError as err:
        (field, msg), = err.problems
    assert field == "city.households_per_grid"
    assert f"{est.bytes / 16e9:.1f}× too much" in msg and "this machine has 16.0 GB" in msg
    assert check_fits(Scenario(), limit=16e9).grids == 45
    r = cli("run", "--set", "city.households=20000000", "--set", "city.households_per_grid=10",
            "--set", "city.cell_m2=500", "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "too large for this machine" in r.stderr  # 38.7 GB
    monkeypatch.setenv("GRIDSIM_MEMORY_LIMIT", "1G")
    r = cli("run", "--set", "channels.handed_down_per_day=1e6", "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "channels.handed_down_per_day: too large" in r.stderr
    assert not (tmp_path / "out").exists()
    r = cli("validate", "scenarios/city_large.yaml")
    assert r.returncode == 2 and "× too much" in r.stderr
    monkeypatch.setenv("GRIDSIM_MEMORY_LIMIT", "300M")  # one tiny run fits, two at once do not
    exp = tmp_path / "tiny.yaml"
    exp.write_text(TINY_SWEEP, encoding="utf-8")
    r = cli("sweep", str(exp), "--store", str(tmp_path / "s.duckdb"), "--workers", "2")
    assert r.returncode == 2 and "2 runs at once" in r.stderr and "fewer --workers" in r.stderr
    assert not (tmp_path / "s.duckdb").exists()
    # no number is infinite or beyond 1e15; periods are at least a day (or 6 minutes)
    for path, value, message in (("staffing.pay.grid_worker", float("inf"), "finite"),
                                 ("staffing.pay.grid_worker", 1e300, "at most 1e+15"),
                                 ("appraisal.cycle_days", 1e-9, "greater than or equal to 1"),
                                 ("run.timeseries_interval_h", 1e-5, "greater than or equal"),
                                 ("incidents.hourly_profile", [1e300] * 24, "at most 1e6")):
        try:
            scenario_with(Scenario(), {path: value})
            raise AssertionError(path)
        except ScenarioError as err:
            assert message in str(err), (path, str(err))
