"""The app in a real browser: headless Chromium (Debian's ``chromium`` with its
``chromium-driver``) opens the running app, runs the baseline at a few seeds and finds a KPI with
its interval, compares two policies, keeps the compare set-up across pages, opens a sweep store
from the results folder, plays the drill in the projector layout at 1280×720, and passes over
every page in 中文 looking for English-only text.

The fixture installs the browser with apt-get when it is missing and the user is root (as in CI).
Where it cannot be had the test is skipped with the reason — except when ``CI`` is set: there a
missing browser fails the test, so CI cannot pass by skipping it. Screenshots of every page are
written to ``tests/artifacts/`` for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app_pages import kpi_view
from app_pages.i18n import tr
from app_pages.stats import mean_ci
from sim.metrics import KPI_DEFINITIONS
from sim.run import run_scenario
from sim.scenario import Scenario
from tests.conftest import write_tiny_sweep_store

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ["chromium", "chromium-driver", "fonts-noto-cjk"]
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1440,1000", "--lang=zh-CN"]

pytestmark = pytest.mark.browser


def _apt_install() -> str | None:
    """Install Debian's chromium as root; the reason it cannot be done otherwise."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "chromium is not installed and installing it needs root (apt-get install -y " \
               + " ".join(APT_PACKAGES) + ")"
    if shutil.which("apt-get") is None:
        return "chromium is not installed and this system has no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    for attempt in range(4):  # stale package lists, or another apt holding the dpkg lock
        if done.returncode == 0:
            return None
        if "lock" in done.stderr.lower():
            time.sleep(15)
        else:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode == 0:
        return None
    return "apt-get could not install chromium: " + done.stderr.strip()[-300:]


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI (``CI`` set), where the browser must be had."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set and the browser test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = _apt_install()
        if reason:
            _unavailable(reason)
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("selenium is not installed (it is in the test extras: pip install -e .[test])")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory) -> Path:
    """A tiny results store written by `gridsim sweep`, in the app's results folder."""
    root = tmp_path_factory.mktemp("results")
    (root / "sweeps").mkdir()
    return write_tiny_sweep_store(root / "sweeps")


@pytest.fixture(scope="module")
def app_url(sweep_store):
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")
    env = {**os.environ, "GRIDSIM_RESULTS_DIR": str(sweep_store.parent.parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("streamlit did not start; see tests/artifacts/streamlit.log")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def driver(chromium):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(chromium)
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    d.set_window_size(1440, 1000)
    yield d
    d.quit()


def _wait(driver, xpath: str, timeout: float = 40):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.XPATH, xpath)))


def _settle(driver, timeout: float = 40) -> None:
    """Wait until the script run is over (Streamlit's running indicator is gone)."""
    from selenium.webdriver.common.by import By

    end = time.monotonic() + timeout
    time.sleep(0.5)
    while time.monotonic() < end:
        if not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']"):
            time.sleep(0.6)  # let charts draw
            return
        time.sleep(0.2)


def _shot(driver, name: str) -> None:
    """Screenshot of the whole page: the window is stretched to the height of the content."""
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMain\"]');"
        "return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight);")
    driver.set_window_size(1440, min(max(int(height) + 40, 1000), 7000))
    time.sleep(0.8)
    driver.save_screenshot(str(ARTIFACTS / name))
    driver.set_window_size(1440, 1000)


def _goto(driver, label: str, header: str) -> None:
    _wait(driver, f"//section[@data-testid='stSidebar']//label[.//p[normalize-space()='{label}']]"
          ).click()
    _wait(driver, f"//h2[contains(normalize-space(), '{header}')]")
    _settle(driver)


#: Streamlit's own words in its widgets (it has no 中文 of them); not the app's text.
STREAMLIT_CHROME = ("Drag and drop file here", "Limit ", "Browse files", "Press Enter to apply",
                    "Running...", "Stop", "Deploy", "Skip to main content")
#: What the user typed or named (a variant's name, the sweep's name): their words, not the app's.
USER_TEXT = {"one more worker", "tiny"}
#: The model page's KPI table shows each KPI's English name and key beside the 中文 on purpose.
GLOSSARY = {"key", "English"} | set(KPI_DEFINITIONS) | {v[0] for v in KPI_DEFINITIONS.values()}


def _body(driver) -> str:
    return driver.find_element("tag name", "body").text


def _english_only_lines(driver) -> list[str]:
    from tests.test_app_i18n import DATA, english_words

    bad = []
    for line in _body(driver).splitlines():
        line = line.strip()
        if not line or line in DATA | USER_TEXT | GLOSSARY or line.startswith(STREAMLIT_CHROME) \
                or line == "English":
            continue
        if english_words(line) and not re.search(r"[\u3400-\u9fff]", line):
            bad.append(line)
    return bad


def _open_expanders(driver) -> None:
    from selenium.webdriver.common.by import By

    for summary in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stExpander'] summary"):
        try:
            if summary.find_element(By.XPATH, "..").get_attribute("open") is None:
                summary.click()
        except Exception:  # noqa: BLE001 - an expander redrawn meanwhile is opened next pass
            continue
    _settle(driver)


def _chart_width(driver) -> float:
    return float(driver.execute_script(
        "const c = document.querySelector('[data-testid=\"stVegaLiteChart\"] canvas, "
        "[data-testid=\"stVegaLiteChart\"] svg'); return c ? c.getBoundingClientRect().width : 0;"))


def test_browser_runs_the_baseline_and_shows_every_page(app_url, driver, sweep_store):
    from selenium.webdriver.common.keys import Keys

    seed = Scenario().run.seed
    runs = [run_scenario(Scenario(), seed + i).kpis for i in range(3)]   # the lab's default seeds
    on_time = mean_ci([r["on_time_rate"] for r in runs])
    driver.get(app_url)
    _wait(driver, "//h2[contains(., '情景实验室')]", timeout=60)
    _settle(driver)
    _shot(driver, "page_lab_zh.png")
    _wait(driver, "//button[.//p[normalize-space()='运行']]").click()
    label = KPI_DEFINITIONS["on_time_rate"][1]
    metric = _wait(driver, f"//div[@data-testid='stMetric'][.//*[contains(., '{label}')]]",
                   timeout=90)
    _settle(driver)
    value = metric.find_element("xpath", ".//div[@data-testid='stMetricValue']").text
    assert value == kpi_view.fmt("on_time_rate", on_time.mean)
    assert tr("ci", "zh", lo=kpi_view.fmt("on_time_rate", on_time.lo),
              hi=kpi_view.fmt("on_time_rate", on_time.hi)) in _body(driver)   # with its interval
    _shot(driver, "page_lab_results_zh.png")
    # switch to English and visit every page
    _wait(driver, "//section[@data-testid='stSidebar']//label[.//p[normalize-space()='English']]"
          ).click()
    _wait(driver, "//h2[contains(., 'Scenario lab')]")
    _settle(driver)
    metric = _wait(driver, "//div[@data-testid='stMetric'][.//*[contains(., 'On-time closure')]]")
    assert kpi_view.fmt("on_time_rate", on_time.mean) in metric.text
    _shot(driver, "page_lab_results_en.png")
    for tab, name in [("Map of the basic grids", "map"), ("Department and staff utilisation",
                                                           "utilisation")]:
        _wait(driver, f"//*[@role='tab'][.//p[normalize-space()='{tab}']]").click()
        _settle(driver)
        _shot(driver, f"page_lab_{name}_en.png")
    _goto(driver, "Compare policies", "Compare policies")
    names = driver.find_elements("xpath", "//input[@aria-label='Name']")
    names[1].send_keys(Keys.CONTROL, "a")
    names[1].send_keys("one more worker\n")
    _settle(driver)
    _wait(driver, "//button[.//p[normalize-space()='Run the comparison']]").click()
    _wait(driver, "//h3[contains(., 'Verdict')]", timeout=120)
    _settle(driver)
    body = _body(driver)
    assert "Monthly staff cost" in body and "set by the levers, not tested" in body
    assert re.search(r"On-time closure rate (— no detectable difference|is (higher|lower))", body)
    _shot(driver, "page_compare_en.png")
    # the set-up is kept across pages
    _goto(driver, "Model and KPIs", "Model and KPIs")
    _goto(driver, "Compare policies", "Compare policies")
    names = driver.find_elements("xpath", "//input[@aria-label='Name']")
    assert names[1].get_attribute("value") == "one more worker"
    assert "one more worker" in _body(driver) and "set-up changed" not in _body(driver)
    # the explorer opens the store it finds in the results folder
    _goto(driver, "Sweep explorer", "Sweep explorer")
    _wait(driver, "//h3[contains(., 'trade-off frontier')]", timeout=60)
    _settle(driver)
    assert str(sweep_store.parent) not in _body(driver)     # no server path on the page
    _shot(driver, "page_sweeps_en.png")
    # the drill on a classroom projector: 1280×720, the map beside the clock and the narrative
    driver.set_window_size(1280, 720)
    _goto(driver, "Emergency drill", "Emergency drill")
    _wait(driver, "//button[.//p[normalize-space()='Start / replay']]").click()
    _wait(driver, "//label[.//p[normalize-space()='Projector layout']]").click()
    _settle(driver)
    step = _wait(driver, "//button[.//p[normalize-space()='Step']]")
    for _ in range(3):
        step.click()
        _settle(driver)
        step = _wait(driver, "//button[.//p[normalize-space()='Step']]")
    _wait(driver, "//p[contains(., 'Drill clock: 00:03:00')]")
    width = _chart_width(driver)
    assert width >= 500, width
    driver.save_screenshot(str(ARTIFACTS / "page_drill_projector_1280x720_en.png"))
    # Play advances the drill on its own (a timed fragment) until Pause
    _wait(driver, "//button[.//p[normalize-space()='Play']]").click()
    _wait(driver, "//p[contains(., 'Drill clock: 00:05:00')]", timeout=60)
    _wait(driver, "//button[.//p[normalize-space()='Pause']]").click()
    _wait(driver, "//button[.//p[normalize-space()='Play']]")
    _settle(driver)
    _wait(driver, "//button[.//p[normalize-space()='Run to the end']]").click()
    _wait(driver, "//p[contains(., 'The drill has ended')]", timeout=60)
    _settle(driver)
    driver.set_window_size(1440, 1000)
    _wait(driver, "//label[.//p[normalize-space()='Projector layout']]").click()
    _settle(driver)
    _shot(driver, "page_drill_end_en.png")
    _goto(driver, "Model and KPIs", "Model and KPIs")
    _shot(driver, "page_model_en.png")
    _wait(driver, "//*[@role='tab'][.//p[normalize-space()='Model description']]").click()
    _settle(driver)
    _shot(driver, "page_model_docs_en.png")
    # 中文: every page, every expander, no English-only text (names and Streamlit's own aside)
    _wait(driver, "//section[@data-testid='stSidebar']//label[.//p[normalize-space()='中文']]").click()
    _wait(driver, "//h2[contains(., '模型与指标')]")
    _settle(driver)
    bad: dict[str, list[str]] = {}
    for label, header, tabs in [("情景实验室", "情景实验室", ("基础网格地图", "部门与人员负荷", "下载")),
                                ("政策比较", "政策比较", ()), ("批量实验浏览", "批量实验浏览", ()),
                                ("应急演练", "应急演练", ()), ("模型与指标", "模型与指标", ("本应用的规模上限",))]:
        _goto(driver, label, header)
        _open_expanders(driver)
        bad[label] = _english_only_lines(driver)
        for tab in tabs:
            _wait(driver, f"//*[@role='tab'][.//p[normalize-space()='{tab}']]").click()
            _settle(driver)
            bad[label] += _english_only_lines(driver)
        _shot(driver, f"page_{PAGE_FILES[label]}_zh.png")
    _goto(driver, "应急演练", "应急演练")
    _wait(driver, "//button[.//p[normalize-space()='开始 / 重演']]").click()
    _settle(driver)
    for _ in range(12):
        _wait(driver, "//button[.//p[normalize-space()='单步']]").click()
        _settle(driver)
    bad["played drill"] = _english_only_lines(driver)
    _shot(driver, "page_drill_played_zh.png")
    assert "Traceback" not in _body(driver)
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())


PAGE_FILES = {"情景实验室": "lab_again", "政策比较": "compare", "批量实验浏览": "sweeps",
              "应急演练": "drill", "模型与指标": "model"}


# ------------------------------------------------------------------------------------ maps
#: a grid on the baseline's map is at least this many pixels across on screen
MIN_GRID_PX = 14
MAP_SIZES = [(1280, 720), (1920, 1080)]
#: every map on the page (Vega's SVG of a chart with shapes): its box, its column's, the
#: window's, its legends', its polygons' on-screen sizes, and the page's width
_MEASURE_MAPS = """
const head = document.querySelector('[data-testid=stHeader]');
const top = head ? head.getBoundingClientRect().bottom : 0;
const maps = Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart]'))
  .filter(e => e.querySelector('svg .mark-shape path'));
return maps.map(el => {
  const col = el.closest('[data-testid=stColumn]')
    || el.closest('[data-testid=stMainBlockContainer]');
  const box = r => [r.left, r.top, r.right, r.bottom];
  const svg = el.querySelector('svg');
  const sizes = Array.from(el.querySelectorAll('.mark-shape path'))
    .map(p => p.getBoundingClientRect()).filter(b => b.width > 0 && b.height > 0)
    .map(b => Math.min(b.width, b.height));
  return {svg: box(svg.getBoundingClientRect()), col: box(col.getBoundingClientRect()),
          legends: Array.from(el.querySelectorAll('.role-legend'))
            .map(l => box(l.getBoundingClientRect())),
          fills: Array.from(el.querySelectorAll('.mark-shape path'))
            .map(p => p.getAttribute('fill')).join(','),
          min_px: sizes.length ? Math.min(...sizes) : 0, n: sizes.length,
          med_px: sizes.length ? sizes.sort((a, b) => a - b)[sizes.length >> 1] : 0,
          top: top, iw: window.innerWidth, ih: window.innerHeight,
          page_w: document.documentElement.scrollWidth};
});
"""


def _click(driver, xpath: str, timeout: float = 40):
    el = _wait(driver, xpath, timeout)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()
    return el


def _maps(driver) -> list[dict]:
    """Each map scrolled to just below the page's header, measured there."""
    from selenium.webdriver.common.by import By

    out = []
    els = [e for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart']")
           if e.find_elements(By.CSS_SELECTOR, "svg .mark-shape path")]
    for i, el in enumerate(els):
        driver.execute_script(
            "const h = document.querySelector('[data-testid=stHeader]');"
            "arguments[0].scrollIntoView({block: 'start'});"
            "const m = document.querySelector('[data-testid=stMain]');"
            "(m || window).scrollBy(0, -((h ? h.getBoundingClientRect().height : 0) + 8));", el)
        time.sleep(0.6)
        out.append(driver.execute_script(_MEASURE_MAPS)[i])
    return out


def _assert_fits(m: dict, what: str) -> None:
    """The map inside its column and the window, its legends in view with it, no page wider
    than the window."""
    x0, y0, x1, y1 = m["svg"]
    c0, _, c1, _ = m["col"]
    assert c0 - 1 <= x0 and x1 <= c1 + 1, (what, "outside its column", m["svg"], m["col"])
    assert 0 <= x0 and x1 <= m["iw"], (what, "wider than the window", m)
    assert y1 - y0 <= m["ih"] - m["top"], (what, "taller than the window", m)
    assert m["top"] - 1 <= y0 and y1 <= m["ih"] + 1, (what, "not in view when scrolled to", m)
    assert m["legends"], (what, "no legend")
    for lx0, ly0, lx1, ly1 in m["legends"]:
        assert x0 - 1 <= lx0 and lx1 <= x1 + 1 and m["top"] - 1 <= ly0 and ly1 <= m["ih"] + 1, \
            (what, "legend out of view", m)
    assert m["page_w"] <= m["iw"], (what, "horizontal scrollbar", m)


@pytest.mark.parametrize("size", MAP_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_maps_fit_the_window_and_show_changes(app_url, driver, size):
    """The lab's map (plain and as the change after a lever), the compare page's maps of the
    variants and the drill's map: each inside its column and the window with its legend, its
    grids large enough to read; the change view is not the plain view."""
    w, h = size
    tag = f"{w}x{h}"
    driver.set_window_size(w, h)
    driver.get(app_url)
    _click(driver, "//section[@data-testid='stSidebar']//label[.//p[normalize-space()="
           "'English']]", timeout=60)
    _wait(driver, "//h2[contains(., 'Scenario lab')]")
    _settle(driver)
    # one more worker per grid: a lever that changes cases grid by grid, not the grids
    _click(driver, "//input[@aria-label='Section']")
    _click(driver, "//*[@role='option'][normalize-space()='Staffing']")
    _settle(driver)
    _click(driver, "//div[contains(@class, 'staffing-workers_per_grid')]"
                   "//button[@data-testid='stNumberInputStepUp']")
    _settle(driver)
    _click(driver, "//button[.//p[normalize-space()='Run']]")
    _wait(driver, "//*[@role='tab'][.//p[normalize-space()='Map of the basic grids']]",
          timeout=120)
    _settle(driver)
    _click(driver, "//*[@role='tab'][.//p[normalize-space()='Map of the basic grids']]")
    _settle(driver)
    (plain,) = _maps(driver)
    _assert_fits(plain, "lab map")
    assert plain["min_px"] >= MIN_GRID_PX, plain["min_px"]
    driver.save_screenshot(str(ARTIFACTS / f"map_lab_{tag}_en.png"))
    _click(driver, "//label[.//p[normalize-space()='Change from the scenario as loaded']]")
    _settle(driver)
    _click(driver, "//*[@role='tab'][.//p[normalize-space()='Map of the basic grids']]")
    _settle(driver)
    (change,) = _maps(driver)
    _assert_fits(change, "lab change map")
    assert change["fills"] != plain["fills"], "the change view looks like the plain view"
    assert "Change in On-time closure rate" in _body(driver)
    driver.save_screenshot(str(ARTIFACTS / f"map_lab_change_{tag}_en.png"))
    # compare: the reference and the variant with one more worker, side by side
    _goto(driver, "Compare policies", "Compare policies")
    _click(driver, "//button[.//p[normalize-space()='Run the comparison']]")
    _wait(driver, "//h3[contains(., 'Maps of the variants')]", timeout=180)
    _settle(driver)
    maps = _maps(driver)
    assert len(maps) == 2, len(maps)
    for i, m in enumerate(maps):
        _assert_fits(m, f"compare map {i}")
        assert m["min_px"] >= MIN_GRID_PX / 2, m["min_px"]
    driver.save_screenshot(str(ARTIFACTS / f"map_compare_{tag}_en.png"))
    # the drill: the projector layout on the small screen, the usual one on the large
    _goto(driver, "Emergency drill", "Emergency drill")
    _click(driver, "//button[.//p[normalize-space()='Start / replay']]")
    _settle(driver)
    if w == 1280:
        _click(driver, "//label[.//p[normalize-space()='Projector layout']]")
        _settle(driver)
    for _ in range(10):
        _click(driver, "//button[.//p[normalize-space()='Step']]")
        _settle(driver)
    _settle(driver)
    (drill,) = _maps(driver)
    _assert_fits(drill, "drill map")
    assert drill["min_px"] >= MIN_GRID_PX, drill["min_px"]
    driver.save_screenshot(str(ARTIFACTS / f"map_drill_{tag}_en.png"))
    assert "Traceback" not in _body(driver)
    # 中文: the lab's map and a grid's tooltip in the page's language
    _click(driver, "//section[@data-testid='stSidebar']//label[.//p[normalize-space()='中文']]")
    _goto(driver, "情景实验室", "情景实验室")
    _click(driver, "//*[@role='tab'][.//p[normalize-space()='基础网格地图']]")
    _settle(driver)
    (zh,) = _maps(driver)
    _assert_fits(zh, "lab map 中文")
    tip = _grid_tooltip(driver)
    for word in ("网格", "社区", "街道", "按期结案率", "立案数", "热点网格"):
        assert word in tip, (word, tip)
    assert not re.search(r"[A-Za-z]{3,}", tip), tip
    driver.save_screenshot(str(ARTIFACTS / f"map_lab_{tag}_zh.png"))
    driver.set_window_size(1440, 1000)


def _grid_tooltip(driver) -> str:
    """The tooltip of a grid of the map on screen, hovered (Vega's tooltip element)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    chart = next(e for e in driver.find_elements(By.CSS_SELECTOR,
                                                 "[data-testid='stVegaLiteChart']")
                 if e.find_elements(By.CSS_SELECTOR, "svg .mark-shape path"))
    paths = chart.find_elements(By.CSS_SELECTOR, "svg .mark-shape path")
    ActionChains(driver).move_to_element(paths[len(paths) // 3]).perform()
    time.sleep(0.8)
    return _wait(driver, "//*[@id='vg-tooltip-element']", timeout=10).text


def _real_map_scenarios() -> list[str]:
    """Ready scenarios drawn on a real map (``city.geometry`` set)."""
    from sim.scenario import load_scenario

    out = []
    for p in sorted((ROOT / "scenarios").glob("*.yaml")):
        try:
            sc = load_scenario(p)
        except Exception:  # noqa: BLE001 - a scenario that does not load is another test's
            continue
        if getattr(sc.city, "geometry", None) is not None:
            out.append(p.stem)
    return out


@pytest.mark.parametrize("size", MAP_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_real_map_scenario_is_drawn_from_its_boundaries(app_url, driver, size):
    """A ready real-map scenario in the lab (one seed): its map fits the column and the window
    with its legend, and its grids — polygons of the boundary file, not squares — are large
    enough to see."""
    real = _real_map_scenarios()
    if not real:
        pytest.skip("no ready scenario with city.geometry in scenarios/")
    w, h = size
    driver.set_window_size(w, h)
    driver.get(app_url)
    _click(driver, "//section[@data-testid='stSidebar']//label[.//p[normalize-space()="
           "'English']]", timeout=60)
    _wait(driver, "//h2[contains(., 'Scenario lab')]")
    _settle(driver)
    _click(driver, "//input[@aria-label='Scenario']")
    _click(driver, f"//*[@role='option'][normalize-space()='{real[0]}']")
    _settle(driver)
    reps = _wait(driver, "//input[@aria-label='Replications (seeds)']")
    from selenium.webdriver.common.keys import Keys
    reps.send_keys(Keys.CONTROL, "a")
    reps.send_keys("1\n")
    _settle(driver)
    _click(driver, "//button[.//p[normalize-space()='Run']]")
    _wait(driver, "//*[@role='tab'][.//p[normalize-space()='Map of the basic grids']]",
          timeout=300)
    _settle(driver)
    _click(driver, "//*[@role='tab'][.//p[normalize-space()='Map of the basic grids']]")
    _settle(driver, timeout=120)
    _click(driver, "//button[.//p[normalize-space()='Street']]")
    _settle(driver, timeout=120)
    _click(driver, "//*[@role='tab'][.//p[normalize-space()='Map of the basic grids']]")
    _settle(driver)
    (m,) = _maps(driver)
    _assert_fits(m, f"{real[0]} map")
    # a real district's grids differ in size: the typical one is large enough to read
    assert m["n"] >= 20 and m["med_px"] >= MIN_GRID_PX / 2, (m["n"], m["med_px"])
    driver.save_screenshot(str(ARTIFACTS / f"map_real_{real[0]}_{w}x{h}_en.png"))
    assert "Traceback" not in _body(driver)
    driver.set_window_size(1440, 1000)
