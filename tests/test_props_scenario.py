"""Property tests of the scenario boundary: files, ``--set`` values and values at the schema's
bounds. Each input either runs or fails with a clear message and exit code 2 — never a
traceback (an exception escaping the command fails the test), never a hang, nothing written."""

from __future__ import annotations

import json
import math
import signal

import yaml
from hypothesis import given, note, settings
from hypothesis import strategies as st

from sim.scenario import Scenario, ScenarioError, scenario_with

from tests.props_util import invoke, leaves

LEAVES = leaves()
PATHS = [lf.path for lf in LEAVES]
KEYS = sorted({part for p in PATHS for part in p.split(".")})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["1e400", "-0", ".nan", ".inf", "-.inf", "0x1F", "2026-01-01", "~", "yes",
                     "网格", "\u202e", "\x00"]))
keys = st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=12))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=6)), max_leaves=40)


def _baseline_with(path: str, value: object) -> dict:
    data = Scenario().model_dump(mode="json", by_alias=True)
    node = data
    parts = path.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return data


@given(path=st.sampled_from(PATHS), value=documents)
def test_any_value_in_any_field_of_the_baseline_validates_or_names_the_field(path, value):
    from sim.scenario import validate_scenario

    try:
        validate_scenario(_baseline_with(path, value), "baseline")
    except ScenarioError as err:
        assert err.problems and all(isinstance(f, str) and m for f, m in err.problems)


@settings(max_examples=60)  # each example writes and checks a file: about 0.5 s here
@given(doc=st.dictionaries(keys, documents, max_size=6), huge_list=st.booleans())
def test_any_scenario_file_validates_or_fails_with_a_message(tmp_path_factory, doc, huge_list):
    if huge_list:
        doc = {**doc, "incidents": {"hourly_profile": [1.0] * 2_000}}
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        return
    f = tmp_path_factory.mktemp("s") / "s.yaml"
    f.write_text(text, encoding="utf-8")
    r = invoke("validate", str(f))
    assert r.returncode in (0, 2), r.stdout
    if r.returncode == 2:
        assert r.stderr.startswith("error:") and "Traceback" not in r.stderr


@given(text=st.text(max_size=300))
def test_any_text_as_a_scenario_file_validates_or_fails_with_a_message(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("t") / "t.yaml"
    f.write_bytes(text.encode("utf-8", "surrogatepass"))
    r = invoke("validate", str(f))
    assert r.returncode in (0, 2)
    assert r.returncode == 0 or r.stderr.startswith("error:")


def _yaml_text(v: object) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return json.dumps(v)


@given(path=st.one_of(st.sampled_from(PATHS), st.text(max_size=20)),
       value=st.one_of(scalars.map(_yaml_text), st.text(max_size=30)))
def test_any_set_value_is_checked_like_the_file(tmp_path_factory, path, value):
    out = tmp_path_factory.mktemp("o") / "out"
    # the size of the run is set last, so it stays a tiny run whatever the value
    r = invoke("run", "--set", f"{path}={value}", "--set", "city.households=300",
               "--set", "run.days=1", "--set", "run.warmup_days=0", "--out", str(out))
    assert r.returncode in (0, 2), r.stdout
    if r.returncode == 2:
        assert r.stderr.startswith("error:") and not out.exists()
    else:
        assert sorted(p.name for p in out.iterdir()) == [
            "cases.parquet", "grids.geojson", "grids.parquet", "kpis.json", "manifest.json",
            "timeseries.parquet"]


# ------------------------------------------------------------- valid values at the bounds run
SIZE = ("city.households", "run.", "rate_per_1000", "incident_multiplier", "handed_down",
        "invalid_reports", "resident_reports", "hotspot_multiplier", "workers_total",
        "households_per_grid", "emergency.")  # bounded by the size guard; tested there
NUMERIC = [lf for lf in LEAVES if lf.numeric and not any(s in lf.path for s in SIZE)]
FLAGS = [lf for lf in LEAVES if isinstance(lf.value, bool) and not lf.path.startswith("emergency")]
SMALL = {"city.households": 600, "run.days": 1.5, "run.warmup_days": 0.5}


def _edges(lf):
    lo = lf.lo if lf.lo is not None else 0.0
    hi = lf.hi if lf.hi is not None else max(1e6, abs(lf.value) * 1e3)
    if isinstance(lf.value, int):
        return [int(lo) + lf.lo_open, int(hi) - lf.hi_open, int((lo + hi) // 2)]
    eps = 1e-9
    return [lo + eps if lf.lo_open else lo, hi - eps if lf.hi_open else hi, (lo + hi) / 2]


@st.composite
def extremes(draw):
    out = {}
    for lf in draw(st.lists(st.sampled_from(NUMERIC), min_size=1, max_size=6,
                            unique_by=lambda lf: lf.path)):
        out[lf.path] = draw(st.sampled_from(_edges(lf)))
    for lf in draw(st.lists(st.sampled_from(FLAGS), max_size=3, unique_by=lambda lf: lf.path)):
        out[lf.path] = not lf.value
    return out


class Hung(Exception):
    pass


def _alarm(signum, frame):  # noqa: ANN001
    raise Hung("a tiny run did not finish within 15 s")


@settings(max_examples=40)
@given(overrides=extremes())
def test_valid_values_at_the_bounds_run_to_kpis_in_bounded_time(overrides):
    """Zero staff of a kind, probabilities 0 and 1, the longest and shortest times, flags
    flipped: a tiny city still runs to the end, with rates in [0, 1] and no infinite KPI."""
    from sim.run import run_scenario

    try:
        sc = scenario_with(Scenario(), {**overrides, **SMALL})
    except ScenarioError:
        return  # refused with a message: also fine
    note(repr(overrides))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(15)
    try:
        result = run_scenario(sc, 1, keep_cases=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    for k, v in result.kpis.items():
        assert v is None or not math.isinf(v), (k, v)
        if k.endswith(("_rate", "_share")) and v is not None and v == v:
            assert -1e-9 <= v <= 1 + 1e-9, (k, v)
