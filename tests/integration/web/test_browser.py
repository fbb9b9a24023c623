"""Headless Chromium (Debian's chromium + chromedriver, driven by Selenium) on a phone-sized screen:
first-run password setup, create an extension, see its one-time password, Hebrew right-to-left;
run a report with its chart and download its CSV; download a backup and dry-run its restore."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import ssl
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from appliance.acd.events import CallAbandoned, CallAnswered, CallerJoined
from appliance.storage.directory import ha1
from appliance.storage.queues import QueueStore
from tests.integration.web.conftest import Served

pytestmark = pytest.mark.integration

CHROMEDRIVER = "/usr/bin/chromedriver"


def artifacts_dir(tmp_path: Path) -> Path:
    """Screenshots go to $TEST_ARTIFACTS/web when set (CI keeps them), else the test's tmp dir."""
    base = os.environ.get("TEST_ARTIFACTS")
    d = Path(base) / "web" if base else tmp_path / "screenshots"
    d.mkdir(parents=True, exist_ok=True)
    return d


def log_in(driver: WebDriver, url: str, username: str, password: str) -> None:
    """Log in through the login form and wait until the page has moved on from it."""
    driver.get(url + "/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button.primary").click()
    WebDriverWait(driver, 15).until(lambda d: not d.current_url.endswith("/login"))


def browser(profile: Path, downloads: Path | None = None) -> webdriver.Chrome:
    """Chromium headless at 390x844 (a phone), trusting the box's self-signed certificate."""
    opts = webdriver.ChromeOptions()
    if downloads is not None:
        opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                               "download.prompt_for_download": False})
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=390,844", f"--user-data-dir={profile}", "--no-first-run"):
        opts.add_argument(arg)
    opts.accept_insecure_certs = True
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))


def first_run_and_create_extension(url: str, shots: Path, profile: Path) -> dict[str, object]:
    """What a new admin does on a phone; returns what the page showed."""
    seen: dict[str, object] = {}
    driver = browser(profile)
    try:
        driver.set_page_load_timeout(30)
        driver.implicitly_wait(10)  # a click returns before the next page is in: finds wait for it
        arrived = WebDriverWait(driver, 10)
        driver.get(url + "/")
        seen["first_path"] = driver.current_url.removeprefix(url)
        driver.save_screenshot(str(shots / "1-setup.png"))
        driver.find_element(By.NAME, "username").clear()
        driver.find_element(By.NAME, "username").send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys("browser admin pw")
        driver.find_element(By.NAME, "password_again").send_keys("browser admin pw")
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        arrived.until(EC.url_to_be(url + "/extensions"))
        seen["after_setup"] = driver.current_url.removeprefix(url)
        driver.find_element(By.NAME, "number").send_keys("150")
        driver.find_element(By.NAME, "display_name").send_keys("Lobby")
        driver.find_element(By.CSS_SELECTOR, "form[action='/extensions'] button.primary").click()
        seen["secret"] = driver.find_element(By.ID, "secret").text
        seen["title"] = driver.find_element(By.TAG_NAME, "h1").text
        driver.save_screenshot(str(shots / "2-extension-password.png"))
        driver.find_element(By.LINK_TEXT, "Done").click()
        arrived.until(EC.url_to_be(url + "/extensions"))
        seen["listed"] = "Lobby" in driver.page_source
        # nothing sticks out sideways on a phone: wide tables scroll inside their box
        seen["overflow"] = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        driver.save_screenshot(str(shots / "3-extensions.png"))
        driver.get(url + "/status?lang=he")
        seen["direction"] = driver.execute_script("return getComputedStyle(document.body).direction")
        seen["he_title"] = driver.find_element(By.TAG_NAME, "h1").text
        driver.save_screenshot(str(shots / "4-status-he.png"))
        seen["console_errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    return seen


async def test_first_run_setup_and_create_an_extension_on_a_phone(served: Served, tmp_path: Path) -> None:
    shots = artifacts_dir(tmp_path)
    seen = await asyncio.to_thread(first_run_and_create_extension, served.url, shots, tmp_path / "profile")
    assert seen["first_path"] == "/setup"
    assert seen["after_setup"] == "/extensions"
    assert seen["title"] == "Extension 150 created"
    secret = str(seen["secret"])
    assert len(secret) == 16
    async with served.ctl.db.execute("SELECT ha1 FROM extensions WHERE number = '150'") as cur:
        (stored,), = await cur.fetchall()
    assert stored == ha1("150", served.ctl.settings.realm, secret)
    assert seen["listed"] is True
    assert seen["overflow"] == 0
    assert seen["direction"] == "rtl" and seen["he_title"] == "מצב המערכת"
    assert seen["console_errors"] == []  # no CSP refusal, no missing asset, no script error
    assert len(list(shots.glob("*.png"))) == 4


def downloaded(folder: Path, pattern: str) -> Path | None:
    """A finished download in `folder` (Chromium writes .crdownload until done)."""
    done = [p for p in folder.glob(pattern) if not p.name.endswith(".crdownload")]
    return done[0] if done else None


def report_csv_and_restore_dry_run(url: str, shots: Path, profile: Path, downloads: Path) -> dict[str, object]:
    """A supervisor-admin runs today's report, downloads its CSV, then checks a backup with a dry run."""
    seen: dict[str, object] = {}
    driver = browser(profile, downloads)
    try:
        driver.set_page_load_timeout(30)
        driver.implicitly_wait(10)
        wait = WebDriverWait(driver, 15)
        log_in(driver, url, "admin", "browser admin pw")
        driver.get(url + "/reports")
        seen["default_day"] = driver.find_element(By.NAME, "since").get_attribute("value")  # today
        driver.find_element(By.CSS_SELECTOR, "form[data-report-form] button.primary").click()
        wait.until(EC.url_contains("interval=hour"))
        canvas = "canvas[data-chart='volume']"
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, canvas).get_attribute("data-drawn"))
        seen["drawn"] = driver.find_element(By.CSS_SELECTOR, canvas).get_attribute("data-drawn")
        seen["chart_datasets"] = driver.execute_script(
            f"return document.querySelector(\"{canvas}\").chart.data.datasets.map(function (s) {{"
            " return s.data; })")
        seen["rows"] = len(driver.find_elements(By.CSS_SELECTOR, "table[data-report='queues'] tbody tr"))
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.CSS_SELECTOR, canvas))
        driver.save_screenshot(str(shots / "5-report.png"))
        driver.find_element(By.CSS_SELECTOR, "a[data-csv='queues']").click()
        wait.until(lambda d: downloaded(downloads, "queues-*.csv"))
        seen["csv"] = (downloaded(downloads, "queues-*.csv") or Path()).read_text()
        driver.get(url + "/settings/backup")
        driver.find_element(By.CSS_SELECTOR, "[data-backup-download]").click()
        wait.until(lambda d: downloaded(downloads, "*.backup.gz"))
        archive = downloaded(downloads, "*.backup.gz")
        driver.find_element(By.CSS_SELECTOR, "[data-restore-file]").send_keys(str(archive))
        driver.find_element(By.CSS_SELECTOR, "[data-restore-check]").click()
        table = "table[data-restore-report][data-dry-run='true']"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, table))
        seen["report_rows"] = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[4].text
                               for r in driver.find_elements(By.CSS_SELECTOR, table + " tbody tr")}
        seen["restore_button"] = driver.find_element(By.CSS_SELECTOR, "[data-restore-apply]").is_displayed()
        seen["overflow"] = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.CSS_SELECTOR, table))
        driver.save_screenshot(str(shots / "6-restore-dry-run.png"))
        seen["console_errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    return seen


async def test_run_a_report_download_its_csv_and_dry_run_a_restore(served: Served, tmp_path: Path) -> None:
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(served.cert))) as c:
        r = await c.post(served.url + "/api/v1/setup", json={"username": "admin", "password": "browser admin pw"})
        assert r.status_code == 201, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        assert (await c.post(served.url + "/api/v1/extensions", json={"number": "101"})).status_code == 201
    now = datetime.now(UTC)
    await QueueStore(served.ctl.db).append([
        CallerJoined(queue_id="700", call_id="b1", at=0, number="0501", priority=0, position=1),
        CallAnswered(queue_id="700", call_id="b1", at=8, agent_id="101", wait_s=8),
        CallerJoined(queue_id="700", call_id="b2", at=10, number="0502", priority=0, position=1),
        CallAbandoned(queue_id="700", call_id="b2", at=40, wait_s=30, position=1),
    ], now, 40)
    async with served.ctl.db.execute("SELECT count(*) FROM extensions") as cur:
        before = await cur.fetchall()
    shots = artifacts_dir(tmp_path)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    seen = await asyncio.to_thread(report_csv_and_restore_dry_run, served.url, shots, tmp_path / "profile",
                                   downloads)
    assert seen["default_day"] == now.date().isoformat()
    assert seen["console_errors"] == []  # Chart.js served by the box, no CSP refusal
    assert seen["drawn"] == "1" and seen["rows"] == 1
    assert seen["chart_datasets"] == [[1], [1], [50]]  # answered, abandoned, SL %
    rows = list(csv.DictReader(io.StringIO(str(seen["csv"]))))
    assert [(r["key"], r["entered"], r["answered"], r["abandoned"], r["service_level"]) for r in rows] == [
        ("700", "2", "1", "1", "0.5")]
    report_rows = seen["report_rows"]
    assert isinstance(report_rows, dict) and report_rows["extensions"] == "1"  # unchanged, nothing written
    assert seen["restore_button"] is True and seen["overflow"] == 0
    async with served.ctl.db.execute("SELECT count(*) FROM extensions") as cur:
        assert await cur.fetchall() == before
    assert {p.name for p in shots.glob("*.png")} >= {"5-report.png", "6-restore-dry-run.png"}
