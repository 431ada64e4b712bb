"""Property tests of the experiment-file and calibration-log boundaries: any file either
checks out or fails with a clear message and exit code 2, never a traceback, nothing written."""

from __future__ import annotations

import csv
import io

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.props_util import invoke
from tests.test_props_scenario import documents, keys

SMOKE = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text(encoding="utf-8"))
FIELDS = ["name", "base", "overrides", "factors", "design", "replications", "seed", "kpis",
          "timeseries", "common_random_numbers", "precision", "description"]


@settings(max_examples=25)
@given(changes=st.dictionaries(st.one_of(st.sampled_from(FIELDS), keys), documents, max_size=3),
       drop=st.lists(st.sampled_from(FIELDS), max_size=2))
def test_any_experiment_file_checks_out_or_fails_with_a_message(tmp_path_factory, changes, drop):
    data = {k: v for k, v in {**SMOKE, **changes}.items() if k not in drop}
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    folder = tmp_path_factory.mktemp("e")
    f = folder / "e.yaml"
    f.write_text(text, encoding="utf-8")
    store = folder / "e.duckdb"
    r = invoke("sweep", str(f), "--dry-run", "--store", str(store))
    assert r.returncode in (0, 2), r.stdout
    assert r.returncode == 0 or r.stderr.startswith("error:")
    assert not store.exists()  # a dry run writes nothing


OPEN311 = ["service_request_id", "status", "service_name", "service_code", "requested_datetime",
           "updated_datetime", "agency_responsible", "lat", "long"]
cells = st.one_of(st.text(max_size=12), st.sampled_from(
    ["", "2010-04-12T06:37:38-08:00", "2010-13-45T99:00:00", "01/04/2021 08:15:00 AM", "closed",
     "open", "Pothole in Street", "nan", "1e400", "-1", "网格"]))


@settings(max_examples=25)
@given(rows=st.lists(st.lists(cells, min_size=len(OPEN311), max_size=len(OPEN311)),
                     max_size=20),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "gb18030"]),
       header=st.booleans())
def test_any_calibration_log_calibrates_or_fails_with_a_message(tmp_path_factory, rows,
                                                                encoding, header):
    buf = io.StringIO()
    w = csv.writer(buf)
    if header:
        w.writerow(OPEN311)
    w.writerows(rows)
    folder = tmp_path_factory.mktemp("c")
    log = folder / "log.csv"
    try:
        log.write_bytes(buf.getvalue().encode(encoding))
    except UnicodeEncodeError:
        return
    out = folder / "fit.yaml"
    r = invoke("calibrate", str(log), "--format", "open311", "--households", "20000",
               "--out", str(out))
    assert r.returncode in (0, 2), r.stdout
    if r.returncode == 2:
        assert r.stderr.startswith("error:") and not out.exists()
