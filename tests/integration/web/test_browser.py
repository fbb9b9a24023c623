"""Headless Chromium (Debian's chromium + chromedriver, driven by Selenium) on a phone-sized screen:
first-run password setup, create an extension, see its one-time password, Hebrew right-to-left."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from appliance.storage.directory import ha1
from tests.integration.web.conftest import Served

pytestmark = pytest.mark.integration

CHROMEDRIVER = "/usr/bin/chromedriver"


def artifacts_dir(tmp_path: Path) -> Path:
    """Screenshots go to $TEST_ARTIFACTS/web when set (CI keeps them), else the test's tmp dir."""
    base = os.environ.get("TEST_ARTIFACTS")
    d = Path(base) / "web" if base else tmp_path / "screenshots"
    d.mkdir(parents=True, exist_ok=True)
    return d


def browser(profile: Path) -> webdriver.Chrome:
    """Chromium headless at 390x844 (a phone), trusting the box's self-signed certificate."""
    opts = webdriver.ChromeOptions()
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
