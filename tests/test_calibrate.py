"""Calibration from service-request logs (sim/data/calibrate.py, ``gridsim calibrate``): the NYC
and Open311 fixtures, the command line, the round trip from a known run, --match-cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.data.calibrate import CalibrationError, calibrate, cases_to_log, fit_lognormal
from sim.data.calreport import fit_report, scenario_text
from sim.engine.arrivals import normalised
from sim.engine.model import GridModel
from sim.run import run_scenario
from sim.scenario import Scenario, load_scenario, scenario_with

DATA = Path(__file__).parent / "data"


@pytest.fixture
def cli():
    """The gridsim command in-process (fast); one test below runs it as a real subprocess."""
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from sim.cli import app

    def invoke(*args: str):
        r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
        return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)
    return invoke
PERSONAL = ("PRIVATE LANE", "SECRET STREET", "HIDDEN AVE", "40.75", "-73.99", "37.762",
            "secret.jpg", "Huge hole", "Loud Music", "Summons issued", "Duplicate request")


def test_nyc_log_counts_every_row_it_cannot_use():
    cal, sc = calibrate(DATA / "nyc311_small.csv", "nyc311")
    log = cal.log
    assert log.rows_read == 17
    assert log.malformed == {
        "missing or unreadable Created Date": 2,            # "not a date" and empty
        "Closed Date before Created Date (kept for rates only)": 1,
        "unreadable Closed Date (kept for rates, not for time to close)": 1,
        "wrong number of fields": 1,
    }
    assert log.unmapped == {"Unicorn Sighting": 1}
    assert log.dropped == {"Taxi Complaint": 1}
    # Monday 4 January 08:15 … Sunday 10 January 19:00: the span, partial days counted
    assert cal.period.hours == pytest.approx(6 * 24 + 10.75)
    counts = {c: f.requests for c, f in cal.categories.items()}
    assert counts == {"environment_sanitation": 4, "infrastructure": 4, "market_order": 2,
                      "public_safety": 0, "resident_needs": 2, "waterlogging": 0}
    infra = cal.categories["infrastructure"]
    days = cal.profiles.exposure_h / 24
    assert infra.rate_per_1000_households_per_day == pytest.approx(4 / days / 16000 * 1000)
    assert infra.ttc_obs["mean"] == pytest.approx((24 + 72 + 48 + 24) / 4)
    # the written scenario carries exactly those rates
    rate = sc.incidents.categories["infrastructure"].rate_per_1000_households_per_day
    assert rate * cal.multiplier == pytest.approx(4 / days / 16000 * 1000, rel=1e-4)
    assert cal.multiplier > 1  # baseline zones and hotspots raise rates above the average
    # the ISO-dated row (1015) and the US-dated rows were both read
    assert cal.categories["resident_needs"].closed == 1


def test_open311_log_reads_iso_times_with_offsets_as_local_time():
    cal, _ = calibrate(DATA / "open311_small.csv", "open311")
    assert cal.log.malformed == {"missing service_request_id": 1,
                                 "missing or unreadable requested_datetime": 1}
    assert cal.log.unmapped == {"Fix My Bicycle": 1}
    assert cal.log.dropped == {"General Information Request": 1}
    env = cal.categories["environment_sanitation"]
    assert env.requests == 3 and env.closed == 2 and env.open_share == pytest.approx(1 / 3)
    # 06:37 local (-08:00) stays hour 6, not 14 UTC
    hours = cal.log.frame.created.dt.hour.tolist()
    assert 6 in hours and 14 not in hours


def test_open311_json_list_of_requests():
    """GeoReport v2 requests.json: a list of objects; non-objects counted, extra keys ignored."""
    cal, _ = calibrate(DATA / "open311_small.json", "open311")
    assert cal.log.rows_read == 4 and cal.log.malformed == {"not a request object": 1}
    counts = {c: (f.requests, f.closed) for c, f in cal.categories.items() if f.requests}
    assert counts == {"infrastructure": (2, 2), "environment_sanitation": (1, 0)}
    assert cal.categories["infrastructure"].ttc_obs["mean"] == pytest.approx((24 + 15) / 2)


def test_json_that_is_not_a_list_is_a_clear_error(tmp_path):
    p = tmp_path / "log.json"
    p.write_text('"hello"', encoding="utf-8")
    with pytest.raises(CalibrationError, match="a JSON log must be a list of request objects"):
        calibrate(p, "open311")
    p.write_text('[{"unique_key": 1}]', encoding="utf-8")
    with pytest.raises(CalibrationError, match="not a open311 log: missing column"):
        calibrate(p, "open311")
    p.write_text('[]', encoding="utf-8")
    with pytest.raises(CalibrationError, match="no request object in the file"):
        calibrate(p, "open311")


def test_wrong_format_is_a_clear_error_naming_the_missing_columns(run_cli):
    r = run_cli("calibrate", str(DATA / "nyc311_small.csv"), "--format", "open311")
    assert r.returncode == 2
    assert "nyc311_small.csv: not a open311 log: missing column(s) id (service_request_id), " \
           "created (requested_datetime), type (service_name/service_code)" in r.stderr
    assert "--format nyc311" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args,message", [
    (["missing.csv", "--format", "nyc311"], "missing.csv: file not found"),
    (["{nyc}", "--format", "xml311"],
     "unknown format 'xml311'; allowed: nyc311, open311, csv, json, jsonl"),
    (["{nyc}", "--format", "nyc311", "--column", "when=Created"],
     "column: unknown field 'when'; allowed: id, created, closed, type"),
    (["{nyc}", "--format", "nyc311", "--column", "created=Opened"],
     "column created: no column 'Opened' in the log"),
    (["{nyc}", "--format", "nyc311", "--tz", "Nowhere/Land"], "unknown time zone 'Nowhere/Land'"),
    (["{nyc}", "--format", "nyc311", "--strict"], "strict: "),
    (["{nyc}", "--format", "nyc311", "--households", "0"], "households: must be positive"),
    (["{nyc}", "--format", "nyc311", "--mapping", "{badmap}"],
     "mapping.Noise*: unknown category 'noise'; allowed:"),
    (["{empty}", "--format", "nyc311"], "the file is empty"),
    (["{unicorns}", "--format", "nyc311"],
     "no request could be mapped to a gridsim category (2 rows read); unmapped: 'Unicorn' (2)"),
])
def test_bad_input_exits_2_without_writing(cli, tmp_path, args, message):
    badmap = tmp_path / "map.yaml"
    badmap.write_text("format: nyc311\nmapping:\n  'Noise*': noise\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "out.yaml"
    unicorns = tmp_path / "unicorns.csv"
    unicorns.write_text("Unique Key,Created Date,Complaint Type\n1,01/04/2021 08:15:00 AM,"
                        "Unicorn\n2,01/04/2021 09:15:00 AM,Unicorn\n", encoding="utf-8")
    subst = {"{nyc}": str(DATA / "nyc311_small.csv"), "{badmap}": str(badmap),
             "{empty}": str(empty), "{unicorns}": str(unicorns)}
    r = cli("calibrate", *[subst.get(a, a) for a in args], "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert not out.exists() and not out.with_suffix(".fit.md").exists()


def test_cli_writes_a_valid_scenario_and_its_report(cli, tmp_path):
    out = tmp_path / "city.yaml"
    r = cli("calibrate", str(DATA / "nyc311_small.csv"), "--format", "nyc311",
                "--households", "50000", "--out", str(out))
    assert r.returncode == 0, r.stderr
    sc = load_scenario(out)
    assert sc.city.households == 50000
    assert sc.name == "calibrated_nyc311_small"
    report = out.with_suffix(".fit.md").read_text(encoding="utf-8")
    assert "| infrastructure | 4 |" in report and "Unicorn Sighting: 1" in report
    assert "| Street Light Condition | infrastructure.street_light | 1 |" in report
    assert "# Log's time to close" in out.read_text(encoding="utf-8")


def test_lognormal_fit_recovers_its_parameters():
    rng = np.random.default_rng(3)
    x = rng.lognormal(mean=1.0, sigma=0.6, size=20000)
    f = fit_lognormal(x)
    assert f["mu"] == pytest.approx(1.0, abs=0.02) and f["sigma"] == pytest.approx(0.6, abs=0.02)
    assert f["mean"] == pytest.approx(math.exp(1 + 0.18), rel=0.02)


# ------------------------------------------------------------------- round trip from a known run
def _known_scenario() -> Scenario:
    """Baseline taxonomy and profiles; residents report every incident within minutes, patrols
    find nothing."""
    every = {f"incidents.categories.{c}.resident_report_prob": 1.0
             for c in Scenario().incidents.categories}  # residents would report every kind
    return scenario_with(Scenario(), {
        "city.households": 32000, "city.hotspot_share": 0.0,
        "channels.resident_reports_per_incident_per_day": 240.0, "patrol.coverage_km2_per_h": 1e-9,
        "channels.handed_down_per_day": 0.0,
        "run.days": 28, "run.warmup_days": 1, **every})


@pytest.fixture(scope="module")
def known_run():
    sc = _known_scenario()
    return sc, run_scenario(sc, seed=11)


@pytest.mark.parametrize("fmt", ["nyc311", "open311"])
def test_log_from_a_known_run_gives_back_its_rates_within_sampling_error(known_run, fmt,
                                                                         tmp_path):
    sc, result = known_run
    log = cases_to_log(result.cases, fmt, start="2024-01-01")  # a Monday, as model t = 0
    path = tmp_path / f"known_{fmt}.csv"
    log.to_csv(path, index=False)
    mapping = tmp_path / "identity.yaml"
    match = "complaint_type" if fmt == "nyc311" else "service_code"
    rules = "\n".join(f"  {c}: {c}" for c in sc.incidents.categories)
    mapping.write_text(f"format: {fmt}\nmatch: {match}\nmapping:\n{rules}\n", encoding="utf-8")
    cal, fitted = calibrate(path, fmt, mapping, base=sc, households=sc.city.households)
    assert cal.log.malformed == {} and cal.log.unmapped == {}
    rep = result.cases.t_report_h.dropna()
    assert cal.period.hours == pytest.approx(rep.max() - rep.min(), abs=1e-3)

    city = GridModel(sc).city
    weight = float((city.households * city.incident_multiplier).sum() / city.households.sum())
    print()
    for c, cat in sc.incidents.categories.items():
        true = cat.rate_per_1000_households_per_day * weight  # per 1,000 households per day
        expected_n = true * sc.city.households / 1000 * cal.profiles.exposure_h / 24
        got = cal.categories[c]
        z = (got.requests - expected_n) / math.sqrt(expected_n)
        print(f"{fmt} {c}: generated {true:.4f}, fitted "
              f"{got.rate_per_1000_households_per_day:.4f} per 1,000 households a day (z={z:+.2f})")
        assert abs(z) < 3.5, c
        # on the same city (zones and hotspots multiply rates), the written scenario has the
        # intensity the log shows
        new = fitted.incidents.categories[c].rate_per_1000_households_per_day * weight
        assert new == pytest.approx(got.rate_per_1000_households_per_day, rel=1e-4)

    # hour-of-day profile: observed counts against the generating profile (chi-square)
    frame = cal.log.mapped
    by_hour = np.bincount(frame.created.dt.hour, minlength=24)
    p = normalised(sc.incidents.hourly_profile) / 24
    chi = stats.chisquare(by_hour, p * by_hour.sum())
    assert chi.pvalue > 1e-3, chi
    # and the fitted profile is close to the generating one where arrivals are frequent
    busy = p > 1 / 24
    np.testing.assert_allclose(np.array(cal.hourly)[busy], (p * 24)[busy], rtol=0.25)
    # every category of gridsim shares the profiles: no category's timing stands out
    assert min(f.hourly_p for f in cal.categories.values()) > 1e-3
    assert min(f.weekly_p for f in cal.categories.values()) > 1e-3
    by_day = np.bincount(frame.created.dt.day_of_week, minlength=7)
    w = normalised(sc.incidents.weekly_profile) / 7
    assert stats.chisquare(by_day, w * by_day.sum()).pvalue > 1e-3

    # time to close: the log's closed requests are the run's closed cases, to the second
    c = result.cases
    closed = c[c.t_report_h.notna() & (c.state == "closed")]
    for cat, grp in closed.groupby("category"):
        ttc = (grp.t_closed_h - grp.t_report_h).to_numpy()
        assert cal.categories[cat].closed == len(grp)
        assert cal.categories[cat].ttc_obs["mean"] == pytest.approx(ttc.mean(), abs=2e-3)


def test_export_log_then_calibrate_with_the_default_mapping(cli, tmp_path):
    """A run's case log → NYC-style CSV → calibrate: every request maps, the counts match, and
    the check run of the written scenario saturates nothing."""
    r = cli("run", "--days", "5", "--seed", "4", "--out", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    csv = tmp_path / "log.csv"
    r = cli("export-log", str(tmp_path / "run" / "cases.parquet"), "--format", "nyc311",
                "--out", str(csv))
    assert r.returncode == 0, r.stderr
    cal, _ = calibrate(csv, "nyc311")
    import pandas as pd
    cases = pd.read_parquet(tmp_path / "run" / "cases.parquet")
    reported = cases[cases.t_report_h.notna()]
    assert cal.log.unmapped == {} and cal.log.malformed == {}
    assert {c: f.requests for c, f in cal.categories.items()} == \
        reported.groupby("category").size().reindex(list(cal.categories), fill_value=0).to_dict()


@pytest.mark.parametrize("args,message", [
    (["missing.parquet", "--format", "nyc311"], "missing.parquet: file not found"),
    (["{cases}", "--format", "csv311"], "format: unknown format 'csv311'"),
    (["{cases}", "--format", "nyc311", "--start", "someday"], "start: not a date"),
    (["{notcases}", "--format", "nyc311"], "not a gridsim case log: missing column(s)"),
])
def test_export_log_bad_input_exits_2(cli, tmp_path, args, message):
    import pandas as pd
    cases = tmp_path / "cases.parquet"
    pd.DataFrame({"incident_id": [1]}).to_parquet(tmp_path / "other.parquet")
    run_scenario(scenario_with(Scenario(), {"run.days": 2, "run.warmup_days": 1}), seed=1,
                 out_dir=tmp_path)
    subst = {"{cases}": str(cases), "{notcases}": str(tmp_path / "other.parquet")}
    out = tmp_path / "log.csv"
    r = cli("export-log", *[subst.get(a, a) for a in args], "--out", str(out))
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not out.exists()


def test_match_cases_rescales_rates_so_the_scenario_files_the_logs_volume(known_run, tmp_path):
    """Cases handed down from higher levels come on top of the category rates: a base with
    many of them files more cases than the log, and matching lowers the rates until it does
    not."""
    from sim.data.closedloop import match_case_rates

    sc, result = known_run
    path = tmp_path / "known.csv"
    cases_to_log(result.cases, "nyc311").to_csv(path, index=False)
    busy = scenario_with(sc, {"channels.handed_down_per_day": 30.0})
    cal, fitted = calibrate(path, "nyc311", base=busy, households=sc.city.households, size=False)
    matched = match_case_rates(cal, fitted, days=14, reps=3)
    m = cal.matching.set_index("category")
    print()
    print(m.round(3).to_string())
    assert m.before.sum() > 1.1 * m.log_per_day.sum()
    assert m.factor.sum() < len(m)  # rates go down on the whole
    # after matching the total filed per day is the log's, within sampling error
    assert abs(m.after.sum() - m.log_per_day.sum()) < 0.06 * m.log_per_day.sum()
    for c in m.index:
        assert matched.incidents.categories[c].rate_per_1000_households_per_day == pytest.approx(
            fitted.incidents.categories[c].rate_per_1000_households_per_day * m.factor[c],
            rel=1e-4)
    assert "Cases filed by the calibrated scenario" in fit_report(cal)
    # the checking runs also compare the time to close: the log came from a run of the same
    # departments, so the simulated mean is the log's within sampling error
    env = m.loc["environment_sanitation"]
    log_mean = cal.categories["environment_sanitation"].ttc_obs["mean"]
    assert env.sim_ttc_lo - 0.25 * log_mean <= log_mean <= env.sim_ttc_hi + 0.25 * log_mean


def test_without_handed_down_cases_matching_changes_little(known_run, tmp_path):
    """Every incident of the known run is found within minutes: the fitted rates already make
    the scenario file the log's volume, so the factors stay near 1."""
    from sim.data.closedloop import match_case_rates

    sc, result = known_run
    path = tmp_path / "known.csv"
    cases_to_log(result.cases, "nyc311").to_csv(path, index=False)
    cal, fitted = calibrate(path, "nyc311", base=sc, households=sc.city.households, size=False)
    match_case_rates(cal, fitted, days=14, reps=3)
    m = cal.matching.set_index("category")
    assert abs(m.before.sum() / m.log_per_day.sum() - 1) < 0.06


def test_a_category_with_its_own_timing_is_flagged(tmp_path):
    """Noise complaints at night, street lights by day: the model's one pooled hour-of-day
    profile fits neither, and the report's chi-square test says so for both."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(600):
        day = int(rng.integers(0, 28))
        noisy = i % 2 == 0
        hour = int(rng.choice([22, 23, 0, 1])) if noisy else int(rng.integers(9, 17))
        t = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day, hours=hour,
                                                      minutes=int(rng.integers(0, 60)))
        rows.append({"unique_key": i, "created_date": t.strftime("%m/%d/%Y %I:%M:%S %p"),
                     "complaint_type": "Noise - Residential" if noisy else
                     "Street Light Condition"})
    path = tmp_path / "timing.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    cal, _ = calibrate(path, "nyc311")
    assert cal.categories["resident_needs"].hourly_p < 1e-3
    assert cal.categories["infrastructure"].hourly_p < 1e-3
    assert cal.categories["resident_needs"].weekly_p > 1e-3  # weekdays are alike
    assert "< 0.001" in fit_report(cal)


def test_subtype_rules_fit_subtype_shares_that_add_up_to_one():
    cal, sc = calibrate(DATA / "nyc311_small.csv", "nyc311")
    infra = cal.categories["infrastructure"]
    # 1002 street light, 1005 pothole (street condition), 1012 sidewalk, 1016 sewer
    assert infra.subtype_counts == {"manhole_cover": 0, "street_light": 1, "road_damage": 2,
                                    "drain_blocked": 1}
    assert infra.subtype_shares["road_damage"] == pytest.approx(2.5 / 6, abs=1e-6)
    assert infra.subtype_shares["manhole_cover"] == pytest.approx(0.5 / 6, abs=1e-6)  # unseen: > 0
    subs = sc.incidents.categories["infrastructure"].subtypes
    assert sum(s.share for s in subs.values()) == pytest.approx(1.0, abs=1e-9)
    assert subs["road_damage"].share == pytest.approx(2.5 / 6, abs=1e-6)
    assert cal.categories["public_safety"].subtype_shares is None  # no request: base shares
    assert "## Subtype shares" in fit_report(cal)


def test_unknown_subtype_in_a_mapping_names_the_allowed_ones(tmp_path):
    m = tmp_path / "map.yaml"
    m.write_text("format: nyc311\nmapping:\n  'Sewer': infrastructure.sewer\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="mapping.Sewer: unknown subtype 'sewer' of "
                                               "infrastructure; allowed: manhole_cover"):
        calibrate(DATA / "nyc311_small.csv", "nyc311", m)


def test_subtype_shares_of_a_known_run_come_back_within_sampling_error(known_run, tmp_path):
    sc, result = known_run
    path = tmp_path / "known_sub.csv"
    cases_to_log(result.cases, "open311", subtypes=True).to_csv(path, index=False)
    cal, fitted = calibrate(path, "open311", base=sc, households=sc.city.households)
    assert cal.log.unmapped == {}
    for c, cat in sc.incidents.categories.items():
        f = cal.categories[c]
        n = sum(f.subtype_counts.values())
        for s, sub in cat.subtypes.items():
            se = math.sqrt(sub.share * (1 - sub.share) / n) if sub.share < 1 else 0.01
            assert abs(f.subtype_shares[s] - sub.share) < 4 * se + 1 / n, (c, s)
