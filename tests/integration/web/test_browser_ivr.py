"""Headless Chromium on a phone-sized screen: an admin builds an IVR menu with two keys, business hours
and a holiday on the page, and the API then returns that menu; a DID is pointed at it; a bad prompt
upload shows the reason."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.web.conftest import Served
from tests.integration.web.test_browser import artifacts_dir, browser, log_in

pytestmark = pytest.mark.integration

PASSWORD = "browser admin pw"


def build_ivr_on_the_page(url: str, shots: Path, profile: Path, bad_file: Path) -> dict[str, object]:
    """What an admin does on a phone: log in, fill the IVR form, save; then try a bad prompt upload."""
    seen: dict[str, object] = {}
    driver = browser(profile)
    try:
        driver.set_page_load_timeout(30)
        driver.implicitly_wait(10)
        wait = WebDriverWait(driver, 15)
        log_in(driver, url, "admin", PASSWORD)
        driver.get(url + "/ivr")
        driver.find_element(By.CSS_SELECTOR, "[data-ivr-new]").click()
        wait.until(EC.url_to_be(url + "/ivr/new"))
        driver.find_element(By.NAME, "number").send_keys("820")
        driver.find_element(By.NAME, "name").send_keys("Front desk")
        Select(driver.find_element(By.NAME, "language")).select_by_value("he")
        driver.find_element(By.NAME, "say_text").send_keys("For reception press 1, to leave a message press 2")
        for key, kind, target in (("1", "extension", "102"), ("2", "voicemail", "101")):
            Select(driver.find_element(By.NAME, f"opt_{key}_kind")).select_by_value(kind)
            driver.find_element(By.NAME, f"opt_{key}_target").send_keys(target)
        driver.find_element(By.NAME, "hours_on").click()
        Select(driver.find_element(By.NAME, "tz")).select_by_value("Asia/Jerusalem")
        for day in ("sun", "mon", "tue", "wed", "thu"):
            driver.find_element(By.NAME, f"week_{day}").send_keys("08:30-17:00")
        Select(driver.find_element(By.NAME, "closed_kind")).select_by_value("voicemail")
        driver.find_element(By.NAME, "closed_target").send_keys("101")
        # a date input's typing order follows the browser's locale; set the ISO value as a picker would
        driver.execute_script("arguments[0].value = '2026-09-21'", driver.find_element(By.NAME, "hol_0_date"))
        driver.find_element(By.NAME, "hol_0_name").send_keys("Yom Kippur")
        driver.save_screenshot(str(shots / "ivr-1-form.png"))
        driver.find_element(By.CSS_SELECTOR, "[data-ivr-save]").click()
        wait.until(EC.url_contains("/ivr/820?saved=1"))
        seen["saved_note"] = driver.find_element(By.CSS_SELECTOR, "[role=status]").text
        seen["holiday_shown"] = driver.find_element(By.NAME, "hol_0_name").get_attribute("value")
        seen["overflow"] = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        driver.save_screenshot(str(shots / "ivr-2-saved.png"))
        # the line's DID sends its calls to the new IVR
        driver.get(url + "/dids")
        create = driver.find_element(By.CSS_SELECTOR, "form[data-did-create]")
        create.find_element(By.NAME, "did").send_keys("0221234567")
        Select(create.find_element(By.NAME, "kind")).select_by_value("ivr")
        create.find_element(By.NAME, "target").send_keys("820")
        create.find_element(By.NAME, "note").send_keys("main line")
        create.find_element(By.CSS_SELECTOR, "button.primary").click()
        seen["did_listed"] = bool(driver.find_elements(By.CSS_SELECTOR, "tr[data-did='0221234567']"))
        driver.save_screenshot(str(shots / "ivr-3-did.png"))
        # a bad upload: the script sends the file, the box refuses it, the page shows why
        driver.get(url + "/prompts?language=en")
        driver.find_element(By.CSS_SELECTOR, "[data-prompt-name]").send_keys("welcome")
        driver.find_element(By.CSS_SELECTOR, "[data-prompt-file]").send_keys(str(bad_file))
        driver.find_element(By.CSS_SELECTOR, "[data-prompt-send]").click()
        msg = driver.find_element(By.CSS_SELECTOR, "[data-prompt-message]")
        wait.until(lambda d: msg.get_attribute("data-error-id"))
        seen["upload_error_id"], seen["upload_error"] = msg.get_attribute("data-error-id"), msg.text
        driver.save_screenshot(str(shots / "ivr-4-bad-upload.png"))
        driver.get(url + "/ivr/820?lang=he")
        seen["direction"] = driver.execute_script("return getComputedStyle(document.body).direction")
        driver.save_screenshot(str(shots / "ivr-5-he.png"))
        seen["console_errors"] = [e["message"] for e in driver.get_log("browser")
                                  if e["level"] == "SEVERE" and "/api/v1/prompts?" not in e["message"]]
    finally:
        driver.quit()
    return seen


async def test_admin_builds_an_ivr_with_two_keys_and_a_holiday_on_a_phone(served: Served, tmp_path: Path) -> None:
    verify = ssl.create_default_context(cafile=str(served.cert))
    async with httpx.AsyncClient(verify=verify, base_url=served.url) as c:
        r = await c.post("/api/v1/setup", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 201, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        for n in ("101", "102"):
            assert (await c.post("/api/v1/extensions", json={"number": n})).status_code == 201
    bad_file = tmp_path / "not-audio.wav"
    bad_file.write_bytes(b"this is not audio at all")
    shots = artifacts_dir(tmp_path)
    seen = await asyncio.to_thread(build_ivr_on_the_page, served.url, shots, tmp_path / "profile", bad_file)
    assert seen["saved_note"] == "Saved."
    assert seen["holiday_shown"] == "Yom Kippur"
    assert seen["overflow"] == 0  # nothing sticks out sideways at 390 px
    assert seen["upload_error_id"] == "prompt_invalid" and "not a WAV" in str(seen["upload_error"])
    assert seen["direction"] == "rtl"
    assert seen["console_errors"] == []
    assert seen["did_listed"] is True
    assert len(list(shots.glob("ivr-*.png"))) == 5
    async with httpx.AsyncClient(verify=verify, base_url=served.url) as c:
        r = await c.post("/api/v1/session", json={"username": "admin", "password": PASSWORD})
        got = (await c.get("/api/v1/ivrs/820")).json()
        dids = (await c.get("/api/v1/dids")).json()
    assert dids == [{"did": "0221234567", "destination": "ivr:820", "note": "main line"}]
    assert got["name"] == "Front desk" and got["language"] == "he"
    cfg = got["config"]
    assert cfg["entry"] == "switch:hours"
    main = cfg["menus"]["main"]
    assert main["options"] == {"1": "extension:102", "2": "voicemail:101"}
    assert main["prompt"] == "say:For reception press 1, to leave a message press 2"
    hours = cfg["switches"]["hours"]
    assert hours["open"] == "menu:main" and hours["closed"] == "voicemail:101"
    assert hours["hours"]["tz"] == "Asia/Jerusalem"
    assert hours["hours"]["hours"] == {d: ["08:30-17:00"] for d in ("mon", "tue", "wed", "thu", "sun")}
    assert hours["hours"]["holidays"] == [{"date": "2026-09-21", "name": "Yom Kippur"}]
    async with served.ctl.db.execute("SELECT action FROM audit_log WHERE target = '820'") as cur:
        assert [r[0] for r in await cur.fetchall()] == ["ivr.create"]
