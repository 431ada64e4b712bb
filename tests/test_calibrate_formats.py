"""Reading real cities' logs: their own column names, JSON with a repeated key, JSON Lines,
gzip, headerless files, UTC timestamps and status vocabularies (sim/data/servicelog.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim.data.calibrate import CalibrationError, calibrate
from sim.data.calreport import fit_report, scenario_text
from tests.conftest import gridsim

DATA = Path(__file__).parent / "data"
PERSONAL = ("PRIVATE LANE", "SECRET STREET", "HIDDEN AVE", "40.75", "-73.99", "34.05", "-118.24",
            "secret.jpg", "Huge hole", "Loud Music", "Summons issued", "Duplicate request",
            "Lamp flickering")


def _km(cal, cat):
    return cal.categories[cat].ttc.km


def test_own_column_names_are_found_by_their_common_names():
    """SRNumber, CreatedDate, ClosedDate, RequestType, Status: a Los Angeles–style export."""
    cal, _ = calibrate(DATA / "own_columns.csv", "csv")
    log = cal.log
    assert log.columns["id"] == "SRNumber" and log.columns["created"] == "CreatedDate"
    assert log.columns["closed"] == "ClosedDate" and log.columns["type"] == "RequestType"
    assert log.columns["status"] == "Status" and log.match == "RequestType"
    assert log.unmapped == {"Feedback": 1, "Report Water Waste": 1}
    assert cal.period.hours == pytest.approx(36.0)          # 03-04 08:00 … 03-05 20:00
    assert cal.counts["cancelled"] == 1 and cal.counts["duplicate"] == 1
    env = cal.categories["environment_sanitation"]
    # graffiti ×2, bulky ×2 (one more cancelled), dumping (one more duplicate), dead animal,
    # appliance (open), e-waste (referred out)
    assert env.requests == 8 and env.closed == 6 and env.ttc.zero == 1
    assert env.rate_per_day * cal.profiles.exposure_h / 24 == pytest.approx(8)
    # Kaplan–Meier by hand: 0, 2, 2+ (referred), 12, 24, 48, 70+ (open), 72 → S(24) = 0.45
    assert _km(cal, "environment_sanitation")["p50"] == 24.0
    assert _km(cal, "environment_sanitation")["p90"] == 72.0
    assert cal.categories["infrastructure"].requests == 2
    assert _km(cal, "infrastructure")["p50"] == 12.0
    assert cal.categories["public_safety"].requests == 1   # Homeless Encampment
    table = cal.type_table.set_index("type")
    assert table.loc["Bulky Items", "target"] == "environment_sanitation.exposed_garbage"
    assert table.loc["Bulky Items", "requests"] == 3
    assert table.loc["Feedback", "target"] == "(unmapped)"


def test_column_option_and_mapping_columns_name_headers(tmp_path):
    src = (DATA / "own_columns.csv").read_text(encoding="utf-8")
    odd = tmp_path / "odd.csv"
    odd.write_text(src.replace("CreatedDate", "Opened On").replace("RequestType", "Problem"),
                   encoding="utf-8")
    with pytest.raises(CalibrationError, match="missing column"):
        calibrate(odd, "csv")
    cal, _ = calibrate(odd, "csv", columns={"created": "Opened On", "type": "Problem"})
    assert cal.counts["used"] == 11
    mapping = tmp_path / "map.yaml"
    text = (Path(__file__).parent.parent / "sim" / "data" / "mapping_open311.yaml").read_text(
        encoding="utf-8")
    mapping.write_text(text.replace("match: type\n", "match: type\ncolumns:\n  created: Opened On"
                                                     "\n  type: Problem\n"), encoding="utf-8")
    cal2, _ = calibrate(odd, "csv", mapping)
    assert cal2.counts == cal.counts
    with pytest.raises(CalibrationError, match="column created: no column 'Nope' in the log"):
        calibrate(odd, "csv", columns={"created": "Nope"})


def test_gzip_is_read_whatever_the_file_is_called(tmp_path):
    plain, _ = calibrate(DATA / "own_columns.csv", "csv")
    gz, _ = calibrate(DATA / "own_columns.csv.gz", "csv")
    disguised = tmp_path / "export.csv"
    shutil.copy(DATA / "own_columns.csv.gz", disguised)
    again, _ = calibrate(disguised, "csv")
    for c in (gz, again):
        assert c.log.gzip and c.counts == plain.counts
        assert {k: f.requests for k, f in c.categories.items()} == \
            {k: f.requests for k, f in plain.categories.items()}


def test_headerless_file_is_named_in_the_error_and_readable_by_column_numbers():
    with pytest.raises(CalibrationError, match="line 1 looks like data, not a header .*no "
                                               "header line"):
        calibrate(DATA / "headerless.csv", "csv")
    cal, _ = calibrate(DATA / "headerless.csv", "csv",
                       columns={"id": "1", "created": "2", "closed": "3", "type": "4",
                                "status": "5"})
    assert cal.log.rows_read == 4 and cal.counts["used"] == 4
    env = cal.categories["environment_sanitation"]
    assert env.requests == 3 and env.closed == 2
    assert cal.categories["infrastructure"].ttc.km["p50"] == 6.0


def test_open311_json_with_a_repeated_key_keeps_the_closing_time():
    """``updated_datetime`` twice per object, once holding "true": the time is kept, and said."""
    cal, _ = calibrate(DATA / "open311_dupkey.json", "open311")
    assert cal.log.duplicate_keys == {"updated_datetime": 4}
    assert any("appears more than once in 4 object(s)" in w for w in cal.warnings)
    infra = cal.categories["infrastructure"]
    assert infra.closed == 2 and infra.ttc.observed["mean"] == pytest.approx((24 + 12) / 2)
    env = cal.categories["environment_sanitation"]
    assert env.requests == 2 and env.closed == 1 and env.ttc.observed["mean"] == 4.0
    assert "kept the value that reads as a time" in fit_report(cal)


def test_json_lines_with_generic_names():
    cal, _ = calibrate(DATA / "requests.jsonl", "jsonl")
    assert cal.log.container == "jsonl" and cal.log.rows_read == 6
    assert cal.log.malformed == {"unreadable JSON line": 1}
    assert cal.log.unmapped == {"Potluck Party": 1}
    infra = cal.categories["infrastructure"]
    assert infra.requests == 2 and infra.ttc.observed["median"] == pytest.approx(14.0)
    assert cal.categories["resident_needs"].open_share == 1.0


def test_nyc_api_csv_status_vocabulary():
    """API column names and ISO times; Closed - Duplicate, Cancelled, In Progress, Pending."""
    cal, _ = calibrate(DATA / "nyc311_api.csv", "nyc311")
    assert cal.counts["duplicate"] == 1 and cal.counts["cancelled"] == 1
    assert cal.period.hours == pytest.approx(12.0)
    env = cal.categories["environment_sanitation"]
    assert (env.requests, env.closed, env.ttc.zero) == (3, 3, 1)  # the cancelled one is out
    assert env.ttc.km == {"p50": 12.0, "p90": 12.0, "p99": 12.0}
    assert cal.categories["market_order"].requests == 1           # the duplicate is out
    rn = cal.categories["resident_needs"]
    assert rn.requests == 2 and rn.closed == 0                    # pending with a date: open
    assert cal.log.times.tz == "America/New_York"


def test_utc_timestamps_are_converted_to_the_citys_zone():
    cal, _ = calibrate(DATA / "utc_timestamps.json", "open311")
    hours = sorted(cal.log.frame.created.dt.hour.tolist())
    assert hours == [7, 8, 9, 10]  # 23:15Z, 00:30Z, 01:30Z, 02:45Z in Asia/Shanghai (+8)
    assert cal.log.times.utc == 8 and cal.log.times.tz == "Asia/Shanghai"
    assert any("in UTC and were converted to Asia/Shanghai" in w for w in cal.warnings)
    ny, _ = calibrate(DATA / "utc_timestamps.json", "open311", tz="America/New_York")
    assert sorted(ny.log.frame.created.dt.hour.tolist()) == [18, 19, 20, 21]
    assert not any("in UTC" in w for w in ny.warnings)
    assert ny.categories["infrastructure"].ttc.observed["mean"] == pytest.approx(15.0)
    assert "America/New_York (--tz)" in fit_report(ny)
    with pytest.raises(CalibrationError, match="tz: unknown time zone 'Mars/Olympus'"):
        calibrate(DATA / "utc_timestamps.json", "open311", tz="Mars/Olympus")


def test_dates_outside_the_years_allowed_are_counted_and_a_log_of_only_those_fails(tmp_path):
    """Year -1 (or 9999) reads as a date pandas cannot hold: such a row is malformed, with the
    column and the years allowed in the reason; a log of nothing else is an error saying so."""
    from sim.data.logtimes import YEARS_ALLOWED

    lines = (DATA / "open311_small.csv").read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    created, closed = (lines[0].split(",").index(c) for c in ("requested_datetime",
                                                               "updated_datetime"))
    far = first.copy()
    far[created], far[closed] = "-0001-01-01T00:00:00", "-0001-01-02T00:00:00"
    late = lines[2].split(",")
    late[closed] = "9999-04-13T10:00:00-08:00"  # closed in year 9999: kept for rates only
    log = tmp_path / "far.csv"
    log.write_text("\n".join([lines[0], ",".join(far), ",".join(late), *lines[3:]]),
                   encoding="utf-8")
    cal, _ = calibrate(log, "open311")
    assert cal.log.malformed[f"requested_datetime outside the {YEARS_ALLOWED}"] == 1
    assert cal.log.malformed[f"updated_datetime outside the {YEARS_ALLOWED} (kept for rates, "
                             "not for time to close)"] == 1
    orig, _ = calibrate(DATA / "open311_small.csv", "open311")
    assert cal.counts["readable"] == orig.counts["readable"] - 1
    only = tmp_path / "only_far.csv"
    only.write_text(f"{lines[0]}\n{','.join(far)}\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=f"requested_datetime outside the {YEARS_ALLOWED}"):
        calibrate(only, "open311")
    r = gridsim("calibrate", str(only), "--format", "open311", "--households", "20000",
                "--out", str(tmp_path / "fit.yaml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "requested_datetime outside the years 1678 to 2261" in r.stderr
    assert not (tmp_path / "fit.yaml").exists()


def test_a_json_file_given_as_csv_says_what_it_is():
    with pytest.raises(CalibrationError, match="this looks like JSON, not CSV: use --format json"):
        calibrate(DATA / "open311_dupkey.json", "csv")


@pytest.mark.parametrize("fmt,name", [("nyc311", "nyc311_small.csv"),
                                      ("nyc311", "nyc311_api.csv"),
                                      ("csv", "own_columns.csv"), ("csv", "own_columns.csv.gz"),
                                      ("open311", "open311_small.json"),
                                      ("open311", "open311_dupkey.json"),
                                      ("jsonl", "requests.jsonl")])
def test_personal_data_is_never_copied(fmt, name):
    cal, sc = calibrate(DATA / name, fmt)
    text = fit_report(cal) + scenario_text(cal, sc) + cal.log.frame.to_csv()
    for s in PERSONAL:
        assert s not in text, s
    assert set(cal.log.frame.columns) == {"created", "closed", "status", "code", "category",
                                          "subtype"}


def test_many_unmapped_requests_warn_and_strict_refuses(tmp_path):
    p = tmp_path / "mostly_unknown.csv"
    rows = ["id,created,type"] + [f"{i},2024-01-0{1 + i % 5} 10:00:00,"
                                  f"{'Pothole' if i < 3 else 'Mystery ' + str(i % 4)}"
                                  for i in range(20)]
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cal, _ = calibrate(p, "csv")
    assert cal.unmapped_share == pytest.approx(17 / 20)
    assert any(w.startswith("85% of the log's requests are unmapped") for w in cal.warnings)
    with pytest.raises(CalibrationError, match="strict: 85% of the log's requests are unmapped"):
        calibrate(p, "csv", strict=True)
