"""The app in a real browser: headless Chromium (Debian's ``chromium`` with its
``chromium-driver``) opens the running app, runs the baseline and finds a KPI on the page.

The fixture installs the browser with apt-get when it is missing and the user is root (as in CI);
otherwise the test is skipped with the reason. Screenshots of every page are written to
``tests/artifacts/`` (ignored by git) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app_pages import kpi_view
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


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = _apt_install()
        if reason:
            pytest.skip(reason)
    pytest.importorskip("selenium", reason="selenium is in the test extras (pip install -e .[test])")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
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


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory) -> Path:
    """A tiny results store written by `gridsim sweep` for the explorer page."""
    path = write_tiny_sweep_store(tmp_path_factory.mktemp("sweep"))
    return path


def test_browser_runs_the_baseline_and_shows_every_page(app_url, driver, sweep_store):
    want = run_scenario(Scenario()).kpis
    driver.get(app_url)
    _wait(driver, "//h2[contains(., '情景实验室')]", timeout=60)
    _settle(driver)
    _shot(driver, "page_lab_zh.png")
    _wait(driver, "//button[.//p[normalize-space()='运行']]").click()
    label = KPI_DEFINITIONS["on_time_rate"][1]
    metric = _wait(driver, f"//div[@data-testid='stMetric'][.//*[contains(., '{label}')]]",
                   timeout=60)
    _settle(driver)
    value = metric.find_element("xpath", ".//div[@data-testid='stMetricValue']").text
    assert value == kpi_view.fmt("on_time_rate", want["on_time_rate"])
    _shot(driver, "page_lab_results_zh.png")
    # switch to English and visit every page
    _wait(driver, "//section[@data-testid='stSidebar']//label[.//p[normalize-space()='English']]"
          ).click()
    _wait(driver, "//h2[contains(., 'Scenario lab')]")
    _settle(driver)
    metric = _wait(driver, "//div[@data-testid='stMetric'][.//*[contains(., 'On-time closure')]]")
    assert kpi_view.fmt("on_time_rate", want["on_time_rate"]) in metric.text
    _shot(driver, "page_lab_results_en.png")
    for tab, name in [("Map of the basic grids", "map"), ("Department and staff utilisation",
                                                           "utilisation")]:
        _wait(driver, f"//*[@role='tab'][.//p[normalize-space()='{tab}']]").click()
        _settle(driver)
        _shot(driver, f"page_lab_{name}_en.png")
    _goto(driver, "Compare policies", "Compare policies")
    _wait(driver, "//button[.//p[normalize-space()='Run the comparison']]").click()
    _wait(driver, "//h3[contains(., 'Verdict')]", timeout=90)
    _settle(driver)
    assert "Monthly staff cost is higher" in driver.find_element("tag name", "body").text
    _shot(driver, "page_compare_en.png")
    _goto(driver, "Sweep explorer", "Sweep explorer")
    box = _wait(driver, "//input[@aria-label='Path of a results store on the server']")
    box.send_keys(str(sweep_store) + "\n")
    _wait(driver, "//h3[contains(., 'trade-off frontier')]", timeout=60)
    _settle(driver)
    _shot(driver, "page_sweeps_en.png")
    _goto(driver, "Emergency drill", "Emergency drill")
    _wait(driver, "//button[.//p[normalize-space()='Start / replay']]").click()
    step = _wait(driver, "//button[.//p[normalize-space()='Step']]")
    for _ in range(3):
        step.click()
        _settle(driver)
        step = _wait(driver, "//button[.//p[normalize-space()='Step']]")
    _wait(driver, "//p[contains(., 'Drill clock: 00:15:00')]")
    _shot(driver, "page_drill_en.png")
    # Play advances the drill on its own (a timed fragment) until Pause
    _wait(driver, "//button[.//p[normalize-space()='Play']]").click()
    _wait(driver, "//p[contains(., 'Drill clock: 00:25:00')]", timeout=60)
    _wait(driver, "//button[.//p[normalize-space()='Pause']]").click()
    _wait(driver, "//button[.//p[normalize-space()='Play']]")
    _settle(driver)
    _wait(driver, "//button[.//p[normalize-space()='Run to the end']]").click()
    _wait(driver, "//p[contains(., 'The drill has ended')]", timeout=60)
    _settle(driver)
    _shot(driver, "page_drill_end_en.png")
    _goto(driver, "Model and KPIs", "Model and KPIs")
    _shot(driver, "page_model_en.png")
    _wait(driver, "//*[@role='tab'][.//p[normalize-space()='Model description']]").click()
    _settle(driver)
    _shot(driver, "page_model_docs_en.png")
    _wait(driver, "//section[@data-testid='stSidebar']//label[.//p[normalize-space()='中文']]").click()
    _wait(driver, "//h2[contains(., '模型与指标')]")
    _settle(driver)
    _shot(driver, "page_model_zh.png")
    body = driver.find_element("tag name", "body").text
    assert "Traceback" not in body
