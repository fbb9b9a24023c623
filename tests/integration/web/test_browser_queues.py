"""Headless Chromium on a phone-sized screen: an admin creates a queue on the /queues page (members with
a penalty and skills, required skills, widening tiers), then edits it; the API then lists the queue
with those values and the box routes its number."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from appliance.domain.dialplan import MediaService, ToMedia, route
from tests.integration.web.conftest import Served
from tests.integration.web.test_browser import artifacts_dir, browser, log_in

pytestmark = pytest.mark.integration

PASSWORD = "browser admin pw"


def _type(driver: WebDriver, name: str, value: str, index: int = 0) -> None:
    field = driver.find_elements(By.NAME, name)[index]
    field.clear()
    field.send_keys(value)


def create_and_edit_a_queue(url: str, shots: Path, profile: Path) -> dict[str, object]:
    """What an admin does on a phone: log in, create queue 730 with the form, then edit it."""
    seen: dict[str, object] = {}
    driver = browser(profile)
    try:
        driver.set_page_load_timeout(30)
        driver.implicitly_wait(10)
        wait = WebDriverWait(driver, 15)
        log_in(driver, url, "admin", PASSWORD)
        driver.get(url + "/queues")
        driver.find_element(By.ID, "new-queue").click()
        wait.until(EC.url_to_be(url + "/queues/new"))
        _type(driver, "number", "730")
        _type(driver, "name", "Sales")
        Select(driver.find_element(By.NAME, "strategy")).select_by_value("linear")
        _type(driver, "member", "102", 0)
        _type(driver, "member_skills", "he=9, billing=4", 0)
        _type(driver, "member", "103", 1)
        _type(driver, "skills", "he")
        _type(driver, "tier_level", "8", 0)
        _type(driver, "tier_after", "5", 1)
        _type(driver, "tier_level", "3", 1)
        _type(driver, "max_wait_s", "90")
        _type(driver, "on_timeout", "extension:101")
        driver.save_screenshot(str(shots / "queues-1-new.png"))
        driver.find_element(By.ID, "save-queue").click()
        wait.until(EC.url_to_be(url + "/queues"))
        seen["listed"] = driver.find_element(By.ID, "queue-730").text
        driver.save_screenshot(str(shots / "queues-2-created.png"))
        driver.find_element(By.CSS_SELECTOR, "a[href='/queues/730/edit']").click()
        wait.until(EC.url_to_be(url + "/queues/730/edit"))
        seen["prefilled"] = driver.find_elements(By.NAME, "member_skills")[0].get_attribute("value")
        _type(driver, "name", "Sales (Hebrew)")
        _type(driver, "wrap_up_s", "12")
        _type(driver, "penalty", "2", 1)
        _type(driver, "member", "101", 2)
        driver.save_screenshot(str(shots / "queues-3-edit.png"))
        driver.find_element(By.ID, "save-queue").click()
        wait.until(EC.url_to_be(url + "/queues"))
        seen["edited"] = driver.find_element(By.ID, "queue-730").text
        seen["overflow"] = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        driver.save_screenshot(str(shots / "queues-4-edited.png"))
        driver.get(url + "/queues/730/edit?lang=he")
        seen["direction"] = driver.execute_script("return getComputedStyle(document.body).direction")
        seen["overflow_he"] = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        driver.save_screenshot(str(shots / "queues-5-edit-he.png"))
        seen["console_errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    return seen


async def test_admin_creates_then_edits_a_queue_on_a_phone(served: Served, tmp_path: Path) -> None:
    verify = ssl.create_default_context(cafile=str(served.cert))
    async with httpx.AsyncClient(verify=verify, base_url=served.url) as c:
        r = await c.post("/api/v1/setup", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 201, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        for n in ("101", "102", "103"):
            assert (await c.post("/api/v1/extensions", json={"number": n})).status_code == 201
    shots = artifacts_dir(tmp_path)
    seen = await asyncio.to_thread(create_and_edit_a_queue, served.url, shots, tmp_path / "profile")
    assert "730 · Sales" in str(seen["listed"]) and "linear" in str(seen["listed"])
    assert seen["prefilled"] == "billing=4, he=9"
    assert "730 · Sales (Hebrew)" in str(seen["edited"])
    assert seen["overflow"] == 0 and seen["overflow_he"] == 0  # nothing sticks out sideways at 390 px
    assert seen["direction"] == "rtl"
    assert seen["console_errors"] == []
    assert len(list(shots.glob("queues-*.png"))) == 5
    async with httpx.AsyncClient(verify=verify, base_url=served.url) as c:
        r = await c.post("/api/v1/session", json={"username": "admin", "password": PASSWORD})
        listed = {q["number"]: q for q in (await c.get("/api/v1/queues")).json()}
    q = listed["730"]
    assert q["name"] == "Sales (Hebrew)" and q["strategy"] == "linear" and q["wrap_up_s"] == 12
    assert q["members"] == [{"extension": "102", "penalty": 0, "skills": {"billing": 4, "he": 9}},
                            {"extension": "103", "penalty": 2, "skills": {}},
                            {"extension": "101", "penalty": 0, "skills": {}}]
    assert q["skills"] == ["he"] and q["tiers"] == [{"after_s": 0, "min_level": 8}, {"after_s": 5, "min_level": 3}]
    assert q["max_wait_s"] == 90 and q["on_timeout"] == "extension:101"
    assert route("730", "101", served.ctl.sessions.directory) == ToMedia(MediaService.QUEUE, "730")
    async with served.ctl.db.execute("SELECT action FROM audit_log WHERE target = '730' ORDER BY id") as cur:
        assert [r[0] for r in await cur.fetchall()] == ["queue.create", "queue.update"]
