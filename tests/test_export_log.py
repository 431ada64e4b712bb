"""``gridsim export-log``: a run's case log as a per-step case export (中文 or English headers) or
a 311-style request log; bad input exits 2 and writes nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.data.gridcase import CHANNEL_NAMES, HEADERS, cases_to_gridcase
from sim.run import run_scenario
from sim.scenario import Scenario, scenario_with
from tests.conftest import gridsim, gridsim_inproc
from tests.test_residents_platform import _personal


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    sc = scenario_with(Scenario(), {"run.days": 4, "run.warmup_days": 1,
                                    "channels.video_coverage": 0.5})
    run_scenario(sc, seed=3, out_dir=d)
    return d


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_gridcase_export_has_a_row_per_reported_case_and_each_steps_time(run_dir, tmp_path, lang):
    out = tmp_path / f"{lang}.csv"
    r = gridsim_inproc("export-log", str(run_dir), "--format", "gridcase", "--lang", lang,
                       "--out", str(out))
    assert r.returncode == 0, r.stderr
    cases = pd.read_parquet(run_dir / "cases.parquet")
    rep = cases[cases.t_report_h.notna()].sort_values(["t_report_h", "incident_id"])
    log = pd.read_csv(out, dtype=str, keep_default_na=False)
    h = HEADERS[lang]
    assert list(log.columns) == [h[k] for k in (
        "id", "created", "filed", "dispatched", "handled", "closed", "type", "agency", "status",
        "channel", "channel_code", "deadline", "extended", "unit")]
    assert len(log) == len(rep) and f"wrote {len(rep):,} cases" in r.stdout
    assert log[h["id"]].tolist() == rep.incident_id.astype(str).tolist()
    t0 = pd.Timestamp("2024-01-01")
    for field, col in (("created", "t_report_h"), ("dispatched", "t_dispatch_h"),
                       ("handled", "t_handled_h"), ("deadline", "t_due_h")):
        got = (pd.to_datetime(log[h[field]].replace("", None)) - t0) / pd.Timedelta(hours=1)
        assert ((got - rep[col].to_numpy()).abs().fillna(0) <= 1 / 3600).all(), field
        assert (got.isna().to_numpy() == rep[col].isna().to_numpy()).all(), field
    closed = rep.state.to_numpy() == "closed"
    assert ((log[h["closed"]] != "").to_numpy() == closed).all()
    names = CHANNEL_NAMES[lang]
    assert log[h["channel"]].tolist() == [names[c] for c in rep.channel]
    assert log[h["channel_code"]].tolist() == rep.channel.tolist()
    assert set(log[h["channel_code"]]) >= {"patrol", "video"}
    assert log[h["type"]].tolist() == (rep.category + "." + rep.subtype).tolist()


def test_export_writes_no_coordinate_address_or_free_text(run_dir):
    cases = pd.read_parquet(run_dir / "cases.parquet")
    for lang in ("zh", "en"):
        log = cases_to_gridcase(cases, lang)
        assert not [c for c in log.columns if _personal(c)], list(log.columns)
        assert not {"cell", "lat", "lon", "经度", "纬度", "地址", "address", "描述"} & set(
            log.columns)
        # the only place written is the grid's number
        unit = HEADERS[lang]["unit"]
        assert set(log[unit]) <= set(cases.grid.astype(str))


def test_case_log_file_and_311_formats_still_export(run_dir, tmp_path):
    out = tmp_path / "nyc.csv"
    r = gridsim_inproc("export-log", str(run_dir / "cases.parquet"), "--format", "nyc311",
                       "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Complaint Type" in out.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("args,message", [
    (["{run}", "--format", "gridcase", "--lang", "fr"],
     "lang: unknown language 'fr'; allowed: zh, en"),
    (["{run}", "--format", "excel"], "format: unknown format 'excel'; allowed: gridcase, "
                                     "open311, nyc311"),
    (["{empty}", "--format", "gridcase"], "cases.parquet: file not found (a run folder holds "
                                          "cases.parquet)"),
])
def test_bad_input_exits_2_and_writes_nothing(run_dir, tmp_path, args, message):
    out = tmp_path / "log.csv"
    subst = {"{run}": str(run_dir), "{empty}": str(tmp_path)}
    r = gridsim_inproc("export-log", *[subst.get(a, a) for a in args], "--out", str(out))
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not out.exists() and not (tmp_path / "log.csv.partial").exists()


def test_the_real_command_exits_2_without_a_traceback(tmp_path):
    r = gridsim("export-log", str(tmp_path), "--format", "gridcase", "--lang", "de", "--out",
                str(tmp_path / "x.csv"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "lang: unknown language 'de'" in r.stderr
