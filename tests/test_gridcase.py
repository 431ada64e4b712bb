"""Per-step case exports read and fitted (``--format gridcase``): censored steps, Chinese headers
and times, deadlines and extensions, a city's own headers, seasons and holidays, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.data.calibrate import calibrate
from sim.data.calreport import fit_report, scenario_text
from sim.data.logformats import FORMATS, header_key, parse_column_options
from sim.data.servicelog import CalibrationError, default_mapping_path, load_mapping, read_log
from sim.scenario import Scenario
from tests.conftest import gridsim_inproc

T0 = pd.Timestamp("2024-03-04")  # a Monday


def _fmt(ts) -> list[str]:
    return ["" if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S") for t in ts]


def _log(n: int, rng: np.random.Generator, days: float = 10.0, dispatch_median_h: float = 24.0,
         extracted: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """A 数字城管 export made in code: report → filed (median 0.5 h) → dispatched (lognormal,
    median ``dispatch_median_h``, σ = 1) → handled (median 3 h) → closed (+1 h); steps after
    the extraction time are not there yet."""
    created = T0 + pd.to_timedelta(np.sort(rng.uniform(0, days * 24, n)), unit="h")
    filed = created + pd.to_timedelta(rng.lognormal(math.log(0.5), 0.5, n), unit="h")
    disp = filed + pd.to_timedelta(rng.lognormal(math.log(dispatch_median_h), 1.0, n), unit="h")
    handled = disp + pd.to_timedelta(rng.lognormal(math.log(3.0), 0.6, n), unit="h")
    closed = handled + pd.Timedelta(hours=1)
    end = extracted or T0 + pd.Timedelta(days=days)
    cols = {}
    for name, t in (("上报时间", created), ("立案时间", filed), ("派遣时间", disp),
                    ("处置时间", handled), ("结案时间", closed)):
        cols[name] = _fmt(pd.Series(t).where(pd.Series(t) <= end))
    df = pd.DataFrame({"案卷编号": [f"A{i}" for i in range(n)], **cols})
    df["问题类型"] = rng.choice(["暴露垃圾", "占道经营", "道路破损"], n)
    df["案件状态"] = np.where(df["结案时间"] != "", "已结案", "处置中")
    df["来源"] = rng.choice(["监督员上报", "12345热线", "视频监控"], n, p=[0.6, 0.3, 0.1])
    return df, end


def test_a_step_with_open_cases_is_censored_not_biased(tmp_path):
    """Dispatch takes a day (median) and the log stops after ten: the cases not yet dispatched
    are censored at their age, and the fitted median is the true one within sampling error,
    while the median of the completed durations alone is far too short."""
    df, _ = _log(3000, np.random.default_rng(1))
    p = tmp_path / "cases.csv"
    df.to_csv(p, index=False)
    cal, sc = calibrate(p, "gridcase", size=False)
    st = cal.steps.step("filed", "dispatched")
    assert st.fit.censored > 100
    n = st.fit.closed + st.fit.censored
    se = 1.2533 * 1.0 / math.sqrt(n)
    assert abs(math.log(sc.platform.dispatch_time.ppf(0.5) / 24.0)) < 3.5 * se
    assert abs(math.log(st.fit.km["p50"] / 24.0)) < 3.5 * se
    f = pd.to_datetime(df["立案时间"])
    d = (pd.to_datetime(df["派遣时间"]) - f).dt.total_seconds() / 3600
    assert math.log(24.0 / d.dropna().median()) > 6 * se  # what ignoring the open cases gives
    # the other steps: report → filed through the screening time, handled → closed report only
    assert sc.platform.screening_time.ppf(0.5) == pytest.approx(0.5, rel=0.08)
    assert cal.steps.step("handled", "closed").target is None
    assert cal.steps.step("handled", "closed").fit.km["p50"] == pytest.approx(1.0, abs=1e-3)


def test_chinese_times_deadlines_extensions_and_satisfaction(tmp_path):
    """2024年3月4日 9时0分 reads as a time; a deadline given as 4小时 or 2工作日 counts from
    dispatch (working days Monday–Friday 08:30–17:30); an extension with a new due time moves
    the deadline; the on-time rate counts exactly the cases closed by their due time."""
    rows = [  # dispatched Monday 09:00 in every row
        # deadline, extended, closed, satisfaction, on time?
        ("4小时", "否", "2024年3月4日 12时30分", "100", True),
        ("4小时", "否", "2024年3月4日 13时30分", "80", False),
        ("2工作日", "否", "2024年3月6日 9时0分", "90", True),      # due Wed 09:00
        ("2工作日", "否", "2024年3月6日 10时0分", "", False),
        ("2024-03-05 09:00", "2024-03-08 09:00", "2024年3月7日 9时0分", "60", True),  # extended
        ("1天", "是", "", "", False),  # still open, due Tuesday 09:00: late at extraction
    ]
    df = pd.DataFrame({
        "上报时间": ["2024年3月4日 8时0分"] * len(rows),
        "派遣时间": ["2024年3月4日 9时0分"] * len(rows),
        "结案时间": [r[2] for r in rows], "问题类型": ["暴露垃圾"] * len(rows),
        "处置时限": [r[0] for r in rows], "延期": [r[1] for r in rows],
        "满意度": [r[3] for r in rows], "来源": ["热线"] * len(rows)})
    p = tmp_path / "cn.csv"
    df.to_csv(p, index=False)
    cal, _ = calibrate(p, "gridcase", size=False)
    n, k, rate, lo, hi = cal.steps.on_time
    assert (n, k) == (6, sum(r[4] for r in rows))
    assert cal.steps.extended_share == pytest.approx(2 / 6)
    assert cal.steps.satisfaction[:2] == (4, pytest.approx(82.5))
    assert cal.steps.cases.unreadable == {}
    assert cal.steps.channels == {"resident": (6, 1.0, pytest.approx(0.61, abs=0.01), 1.0)}


def test_a_citys_own_headers_by_column(tmp_path):
    """Headers gridcase does not know are named with --column FIELD=HEADER (Chinese too)."""
    df, _ = _log(400, np.random.default_rng(2), dispatch_median_h=2.0)
    df = df.rename(columns={"上报时间": "发现时间", "派遣时间": "交办时间", "来源": "信息渠道",
                            "问题类型": "事项"})
    p = tmp_path / "own.csv"
    df.to_csv(p, index=False)
    cols, problems = parse_column_options(["created=发现时间", "dispatched=交办时间",
                                           "channel=信息渠道", "type=事项"])
    assert problems == []
    cal, sc = calibrate(p, "gridcase", columns=cols, size=False)
    assert cal.steps.cases.steps == ("created", "filed", "dispatched", "handled", "closed")
    assert set(cal.steps.channels) == {"patrol", "resident", "video"}
    assert sc.platform.dispatch_time.ppf(0.5) == pytest.approx(2.0, rel=0.15)
    r = gridsim_inproc("calibrate", str(p), "--format", "gridcase", "--no-size",
                       "--column", "created=发现时间", "--column", "dispatched=交办时间",
                       "--column", "type=事项")
    assert r.returncode == 0, r.stderr
    assert "dispatch_time" in r.stdout


def test_headers_keep_chinese_characters():
    assert header_key("上报 时间") == "上报时间" and header_key("Created Date") == "createddate"
    assert "gridcase" in FORMATS


def test_gridcase_is_a_registered_format_for_every_reader(tmp_path):
    """read_log (what calibrate and replay read through) reads created, closed and type."""
    df, _ = _log(50, np.random.default_rng(3), dispatch_median_h=1.0, days=3)
    p = tmp_path / "c.csv"
    df.to_csv(p, index=False)
    m = load_mapping(default_mapping_path("gridcase"), "gridcase", Scenario())
    log = read_log(p, "gridcase", m)
    assert len(log.frame) == 50 and log.unmapped == {} and log.malformed == {}
    assert log.columns["created"] == "上报时间" and log.columns["closed"] == "结案时间"
    assert (log.frame.status == "closed").sum() == (df["结案时间"] != "").sum()


def _year_log(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.Series, set[str]]:
    """A year of requests: a sine over the months, weekends at 70%, five holidays at 20%;
    returns the log, the expected requests of every day, and the holidays."""
    holidays = {"2023-01-23", "2023-01-24", "2023-05-01", "2023-10-02", "2023-10-03"}
    days = pd.date_range("2023-01-01", "2023-12-31", freq="D")
    lam = pd.Series([150 * (1.0 + 0.4 * math.sin(2 * math.pi * (d.month - 1) / 12))
                     * (0.7 if d.day_of_week >= 5 else 1.0)
                     * (0.2 if f"{d:%Y-%m-%d}" in holidays else 1.0) for d in days], index=days)
    times = [d + pd.to_timedelta(rng.uniform(0, 24, rng.poisson(v)), unit="h")
             for d, v in lam.items()]
    created = pd.DatetimeIndex(np.sort(np.concatenate([t.values for t in times])))
    df = pd.DataFrame({"上报时间": _fmt(created), "问题类型": "暴露垃圾", "来源": "热线",
                       "结案时间": _fmt(created + pd.Timedelta(hours=5))})
    return df, lam, holidays


def test_monthly_seasonality_and_holidays_from_a_year(tmp_path):
    """Each month's index (requests per day over the year's mean, whole days only) has the
    true value in its 95% interval (at least 11 of 12), and the holidays — and at most one
    ordinary day — are found as days far below their month and weekday."""
    df, lam, holidays = _year_log(np.random.default_rng(4))
    p = tmp_path / "year.csv"
    df.to_csv(p, index=False)
    cal, _ = calibrate(p, "gridcase", size=False)
    mo = cal.steps.monthly
    assert len(mo) == 12
    inner = lam.iloc[1:-1]  # the first and last day are partial: not counted
    truth = inner.groupby(inner.index.month).mean() / inner.mean()
    covered = [mo.lo[m] <= truth[m] <= mo.hi[m] for m in mo.index]
    assert sum(covered) >= 11
    assert max(abs(mo["index"] - truth)) < 0.08
    found = {d for d, _, _ in cal.steps.holidays}
    assert holidays <= found and len(found - holidays) <= 1
    assert "Holiday candidates" in fit_report(cal) and "2023-10-02" in fit_report(cal)


def test_a_short_log_reports_no_seasons(tmp_path):
    df, _ = _log(200, np.random.default_rng(5), dispatch_median_h=1.0)
    p = tmp_path / "short.csv"
    df.to_csv(p, index=False)
    cal, _ = calibrate(p, "gridcase", size=False)
    assert cal.steps.monthly is None and cal.steps.holidays == []


# ------------------------------------------------------------------------------- bad input
def _write(tmp_path, df: pd.DataFrame) -> str:
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    return str(p)


def test_missing_required_column_exits_2(tmp_path):
    df, _ = _log(20, np.random.default_rng(6), dispatch_median_h=1.0)
    p = _write(tmp_path, df.drop(columns=["上报时间"]))
    r = gridsim_inproc("calibrate", p, "--format", "gridcase", "--no-size")
    assert r.returncode == 2
    assert "missing column(s) created (created/created_date/requested_datetime)" in r.stderr \
        or "missing column(s) created" in r.stderr
    assert "Traceback" not in r.stderr


def test_unreadable_times_above_the_threshold_exit_2_naming_the_column(tmp_path):
    df, _ = _log(100, np.random.default_rng(7), dispatch_median_h=1.0,
                 extracted=T0 + pd.Timedelta(days=30))
    df.loc[:19, "派遣时间"] = "昨天下午"
    r = gridsim_inproc("calibrate", _write(tmp_path, df), "--format", "gridcase", "--no-size")
    assert r.returncode == 2
    assert "派遣时间: 20% of its 100 values are not readable times (at most 10% allowed), " \
           "e.g. '昨天下午'" in r.stderr


def test_a_few_unreadable_times_are_counted_and_read_as_missing(tmp_path):
    df, _ = _log(100, np.random.default_rng(8), dispatch_median_h=1.0)
    df.loc[:4, "派遣时间"] = "n/a"
    cal, _ = calibrate(_write(tmp_path, df), "gridcase", size=False)
    assert cal.steps.cases.unreadable == {"派遣时间": 5}
    assert any("5 unreadable time(s) in '派遣时间'" in w for w in cal.warnings)


def test_steps_out_of_order_are_counted_and_left_out(tmp_path):
    df, _ = _log(200, np.random.default_rng(9), dispatch_median_h=1.0)
    swap = df.index[:15]
    df.loc[swap, ["立案时间", "派遣时间"]] = df.loc[swap, ["派遣时间", "立案时间"]].to_numpy()
    cal, _ = calibrate(_write(tmp_path, df), "gridcase", size=False)
    assert cal.steps.cases.out_of_order == {"dispatched before filed": 15}
    assert int((~cal.steps.cases.frame.ordered).sum()) == 15
    assert cal.steps.step("filed", "dispatched").fit.closed == 185
    assert any("15 case(s) with steps out of order" in w for w in cal.warnings)


def test_a_log_with_every_case_out_of_order_exits_2(tmp_path):
    df, _ = _log(30, np.random.default_rng(10), dispatch_median_h=1.0)
    df[["上报时间", "结案时间"]] = df[["结案时间", "上报时间"]].to_numpy()
    df = df[df["上报时间"] != ""]
    r = gridsim_inproc("calibrate", _write(tmp_path, df), "--format", "gridcase", "--no-size")
    assert r.returncode == 2
    assert "every case with two or more step times has its steps out of order" in r.stderr


def test_unknown_sources_are_counted_and_warned(tmp_path):
    df, _ = _log(100, np.random.default_rng(11), dispatch_median_h=1.0)
    df.loc[:19, "来源"] = "其他"
    cal, _ = calibrate(_write(tmp_path, df), "gridcase", size=False)
    assert cal.steps.cases.channel_unknown == {"其他": 20}
    assert sum(v[0] for v in cal.steps.channels.values()) == 80
    assert any("source the channel vocabulary does not know" in w for w in cal.warnings)


# --------------------------------------------------------------------------------- privacy
SECRETS = ("116.40371", "39.91520", "东城区和平里七区3号楼", "13800138000", "张三反映楼下有人")


def test_gridcase_reads_no_coordinate_address_or_free_text(tmp_path):
    """Coordinates, addresses, phone numbers and descriptions in the export never reach the
    report, the scenario or the frames: the columns are not read at all."""
    df, _ = _log(120, np.random.default_rng(12), dispatch_median_h=1.0)
    df["经度"], df["纬度"] = SECRETS[0], SECRETS[1]
    df["地址"], df["联系电话"], df["问题描述"] = SECRETS[2], SECRETS[3], SECRETS[4]
    df["网格"] = "110101001"
    cal, sc = calibrate(_write(tmp_path, df), "gridcase", size=False)
    text = fit_report(cal) + scenario_text(cal, sc) + cal.log.frame.to_csv() \
        + cal.steps.cases.frame.to_csv()
    for s in SECRETS + ("110101001",):
        assert s not in text, s
    assert set(cal.steps.cases.frame.columns) == {
        "created", "filed", "dispatched", "handled", "closed", "category", "subtype", "status",
        "channel_raw", "channel", "ordered", "due", "extended", "satisfaction"}
    assert "unit" not in cal.steps.cases.frame and "lat" not in cal.log.frame


# ------------------------------------------------------------------------------------ docs
def test_the_analyst_guides_example_gives_the_lines_it_quotes(tmp_path, monkeypatch):
    """The guide's 12345 example is run as written; every table line it quotes from the fit
    report is in the report the code writes, and the steps are the ones it was made with."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parent.parent / "docs" / "guides" /
             "analyst.md").read_text(encoding="utf-8")
    section = guide[guide.index("### Per-step case exports"):]
    section = section[:section.index("\n## ")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "analyst.md", "exec"), {})
    cal, sc = calibrate(tmp_path / "12345.csv", "gridcase", size=False)
    report = fit_report(cal)
    quoted = [ln for ln in section.splitlines()
              if ln.startswith(("| created", "| filed", "| dispatched", "| handled", "| resident",
                                "| patrol", "On-time rate", "Satisfaction:"))]
    assert len(quoted) >= 10
    for line in quoted:
        assert line in report, line
    assert sc.platform.dispatch_time.ppf(0.5) == pytest.approx(1.0, rel=0.05)
    assert cal.steps.channels["resident"][2] <= 0.9 <= cal.steps.channels["resident"][3]


def test_privacy_page_names_tests_that_exist():
    """Every test docs/privacy.md cites exists, and the page says what gridcase reads."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "privacy.md").read_text(encoding="utf-8")
    cited = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", page)
    assert len(cited) >= 4
    for path, name in cited:
        assert re.search(rf"^def {name}\(", (root / path).read_text(encoding="utf-8"), re.M), \
            f"{path}::{name}"
    assert "without a map they are not read at all" in page
    assert "Coordinates are used only to count requests per land cell" in page
