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
