"""Headless Chromium on a REAL box (Kamailio, pjsua2 workers, pjsua2 test phones): a supervisor
has /wallboard open; a caller dials queue 700 and appears on the page without a reload; the
agent answers and the call shows as talking; the supervisor clicks Listen, their own phone
rings, answers and hears the caller's tone; Whisper lets the agent hear the supervisor, Stop
drops only the supervisor. Then the call's recording plays on /recordings,
its duration in the browser the same as the index row's.

The browser-side delay from the box's CallerJoined event to the row in the DOM is recorded
(artifacts `wallboard-live.json`, bench/RESULTS.md), not asserted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.media.tones import heard_tones
from tests.integration.web.test_browser import artifacts_dir, browser, log_in
from tests.support.appliance import Appliance, make_appliance
from tests.support.phone import Phone

pytestmark = pytest.mark.integration

QUEUE, CALLER, AGENT, SUPERVISOR = "700", "101", "102", "105"
CALLER_HZ, AGENT_HZ, SUP_HZ = 500, 1200, 2000
SUP_USER = ("sup", "supervisor password 1")

# Installed on the open page: the wall-clock time a live-call row first shows each state.
OBSERVE_ROWS = """
window.__rows = {};
var body = document.querySelector('[data-call-rows]');
function note() {
  body.querySelectorAll('tr[data-call]').forEach(function (tr) {
    var key = tr.getAttribute('data-call') + ' ' + tr.getAttribute('data-state');
    if (!(key in window.__rows)) { window.__rows[key] = Date.now(); }
  });
}
new MutationObserver(note).observe(body, {childList: true, subtree: true});
note();
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """The demo box (queue 700: members 102-105), 2 workers; a supervisor user linked to 105."""
    data_dir = Path(tmp_path_factory.mktemp("live")) / "data"
    data_dir.mkdir()
    app = make_appliance(data_dir, workers=2)
    app.start()
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{app.web_port}", verify=False, timeout=10) as admin:
            r = admin.post("/api/v1/setup", json={"username": "admin", "password": "admin password 1"})
            assert r.status_code == 201, r.text
            admin.headers["x-csrf-token"] = r.json()["csrf_token"]
            r = admin.post("/api/v1/users", json={"username": SUP_USER[0], "password": SUP_USER[1],
                                                  "role": "supervisor"})
            assert r.status_code == 201, r.text
            r = admin.put(f"/api/v1/users/{r.json()['id']}/extension", json={"extension": SUPERVISOR})
            assert r.status_code == 200, r.text
        yield app
    finally:
        app.stop()


def login(driver: WebDriver, url: str) -> None:
    """The supervisor logs in through the login form."""
    log_in(driver, url, *SUP_USER)


def feature(box: Appliance, phone: Phone, user: str, code: str) -> None:
    """Dial a feature code (*45 log in); the box answers, beeps and hangs up."""
    call = phone.call(f"sip:{code}@{box.sip}", user=user)
    phone.wait(call, "confirmed", timeout=10)
    phone.wait(call, "disconnected", timeout=10)


def click(driver: WebDriver, css: str) -> None:
    """Click what `css` finds, again if the live page redrew it meanwhile."""
    def press(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(press)


def text_of(driver: WebDriver, css: str, attribute: str = "") -> str:
    """Text (or an attribute) of what `css` finds now, read in one go in the page."""
    return str(driver.execute_script(
        "var e = document.querySelector(arguments[0]); if (!e) { return ''; }"
        " return arguments[1] ? e.getAttribute(arguments[1]) : e.innerText;", css, attribute))


def row_seen(driver: WebDriver, call_id: str, state: str) -> int | None:
    """When (ms since the epoch, browser clock) the page first showed the call's row in `state`."""
    at = driver.execute_script("return window.__rows[arguments[0]] || null;", f"{call_id} {state}")
    return int(at) if at is not None else None


def supervise_and_play(box: Appliance, url: str, shots: Path, profile: Path, tmp: Path) -> dict[str, Any]:
    """The whole story; returns what the page, the phones and the box showed."""
    seen: dict[str, Any] = {}
    driver = browser(profile)
    with Phone() as caller, Phone() as agent, Phone() as sup:
        try:
            driver.set_page_load_timeout(30)
            driver.implicitly_wait(0)
            wait = WebDriverWait(driver, 20)
            for phone, ext in ((caller, CALLER), (agent, AGENT), (sup, SUPERVISOR)):
                assert phone.register(ext, box.passwords[ext], registrar=box.sip) == 200
            feature(box, agent, AGENT, "*45")
            box.wait_rows("SELECT 1 FROM queue_events WHERE type = 'AgentLoggedIn' AND agent_id = ?", (AGENT,))

            login(driver, url)
            driver.get(url + "/wallboard")
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-live-state]").get_attribute("data-updated"))
            seen["own_extension"] = driver.find_element(By.CSS_SELECTOR, "[data-calls]").get_attribute(
                "data-own-extension")
            driver.execute_script(OBSERVE_ROWS)
            page_id = driver.execute_script("return window.performance.timeOrigin;")

            call = caller.call(f"sip:{QUEUE}@{box.sip}", user=CALLER)
            caller.wait(call, "confirmed", timeout=10)
            caller.send_tone(call, CALLER_HZ)
            joined = box.wait_rows("SELECT call_id, at FROM queue_events WHERE type = 'CallerJoined'"
                                   " AND queue_id = ?", (QUEUE,), timeout=30)[-1]
            call_id = str(joined["call_id"])
            wait.until(lambda d: row_seen(d, call_id, "waiting") or row_seen(d, call_id, "ringing"))
            shown = row_seen(driver, call_id, "waiting") or row_seen(driver, call_id, "ringing")
            joined_ms = datetime.fromisoformat(str(joined["at"])).timestamp() * 1000
            seen["join_to_dom_ms"] = round(float(shown or 0) - joined_ms, 1)
            seen["row_text"] = text_of(driver, f"tr[data-call='{call_id}']")
            driver.save_screenshot(str(shots / "live-1-caller-waiting.png"))

            incoming = agent.incoming(timeout=20)
            agent.answer(incoming)
            agent.wait(incoming, "confirmed", timeout=10)
            agent.send_tone(incoming, AGENT_HZ)
            talking = f"tr[data-call='{call_id}'][data-state='talking']"
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{talking} button[data-mode='listen']"))
            seen["talking_text"] = text_of(driver, talking)
            # on a phone-sized screen nothing sticks out sideways: the tables scroll in their box
            seen["overflow"] = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            driver.save_screenshot(str(shots / "live-2-talking.png"))

            click(driver, f"{talking} button[data-mode='listen']")
            sup_call = sup.incoming(timeout=15)
            sup.answer(sup_call)
            sup.wait(sup_call, "confirmed", timeout=10)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{talking} [data-supervision='active']"))
            heard = tmp / "supervisor-heard.wav"
            sup.record_rx(sup_call, str(heard))
            time.sleep(1.5)  # audio must flow for a while; nothing to await
            sup.stop_record(sup_call)
            seen["supervisor_heard"] = heard_tones(heard, (CALLER_HZ, AGENT_HZ))
            seen["pressed"] = text_of(driver, f"{talking} button[aria-pressed='true']", "data-mode")
            seen["result_line"] = text_of(driver, "[data-supervise-result]")
            driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()", talking)
            driver.save_screenshot(str(shots / "live-3-listening.png"))

            # switch to whisper (PATCH): the agent now hears the supervisor too; then Stop (DELETE)
            sup.send_tone(sup_call, SUP_HZ)
            click(driver, f"{talking} button[data-mode='whisper']")
            whispering = f"{talking} button[data-mode='whisper'][aria-pressed]"
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, whispering))
            heard = tmp / "agent-heard.wav"
            agent.record_rx(incoming, str(heard))
            time.sleep(1.5)  # audio must flow for a while; nothing to await
            agent.stop_record(incoming)
            seen["agent_heard_in_whisper"] = heard_tones(heard, (CALLER_HZ, AGENT_HZ, SUP_HZ))
            click(driver, f"{talking} button[data-mode='stop']")
            sup.wait(sup_call, "disconnected", timeout=10)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, talking)
                       and not d.find_elements(By.CSS_SELECTOR, f"{talking} [data-supervision]"))
            seen["still_talking"] = agent.state(incoming)
            seen["same_page"] = driver.execute_script("return window.performance.timeOrigin;") == page_id

            caller.hangup(call)
            caller.wait(call, "disconnected", timeout=10)
            agent.wait(incoming, "disconnected", timeout=10)
            wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"tr[data-call='{call_id}']"))

            rec = box.wait_rows("SELECT id, duration_s FROM recordings WHERE call_id = ?", (call_id,), timeout=30)[0]
            box.wait_rows("SELECT 1 FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (call_id,), timeout=30)
            seen["index_duration_s"] = float(rec["duration_s"])
            driver.get(url + f"/recordings?queue={QUEUE}")
            audio = driver.find_element(By.CSS_SELECTOR, f"#rec-{rec['id']} audio")
            driver.find_element(By.TAG_NAME, "h1").click()  # a user gesture: the page may now play sound
            # faster, so the test need not sit through it
            driver.execute_script(
                "var a = arguments[0]; window.__play = 'started'; a.muted = true; a.defaultPlaybackRate = 4;"
                " a.load(); a.playbackRate = 4; a.play().then(function () { window.__play = 'playing'; },"
                " function (e) { window.__play = String(e); });", audio)
            state = "var a = arguments[0]; return {duration: a.duration, at: a.currentTime, ended: a.ended," \
                    " error: a.error && a.error.code, play: window.__play};"
            try:
                wait.until(lambda d: d.execute_script("return arguments[0].ended || arguments[0].error;", audio))
            finally:
                seen["audio"] = driver.execute_script(state, audio)
            driver.save_screenshot(str(shots / "live-4-recording.png"))
            seen["console_errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            driver.quit()
    seen["call_id"] = call_id
    return seen


def test_supervisor_sees_the_caller_live_listens_in_and_plays_the_recording(box: Appliance, tmp_path: Path) -> None:
    shots = artifacts_dir(tmp_path)
    seen = supervise_and_play(box, f"https://127.0.0.1:{box.web_port}", shots, tmp_path / "profile", tmp_path)
    (shots / "wallboard-live.json").write_text(json.dumps(
        {k: (sorted(v) if isinstance(v, set) else v) for k, v in seen.items()}, indent=1))
    print(f"CallerJoined -> wallboard row in the DOM: {seen['join_to_dom_ms']} ms")
    assert seen["own_extension"] == SUPERVISOR
    assert CALLER in seen["row_text"] and QUEUE in seen["row_text"]  # the caller, without a reload
    assert AGENT in seen["talking_text"] and "talking" in seen["talking_text"]
    assert seen["overflow"] == 0
    assert seen["same_page"] is True  # every change arrived on the page first loaded
    assert seen["pressed"] == "listen" and seen["result_line"] == ""
    assert seen["supervisor_heard"] == {CALLER_HZ, AGENT_HZ}  # listening: the caller and the agent
    assert seen["agent_heard_in_whisper"] == {CALLER_HZ, SUP_HZ}  # Whisper: the supervisor coaches the agent
    assert seen["still_talking"] == "confirmed"  # Stop dropped only the supervisor
    audio = seen["audio"]
    assert audio["error"] is None and audio["ended"] is True and audio["at"] > 0
    assert abs(audio["duration"] - seen["index_duration_s"]) < 0.05
    assert seen["console_errors"] == []
    rows = box.query("SELECT action FROM audit_log WHERE action LIKE 'recording.%' AND actor = ?", (SUP_USER[0],))
    assert [r["action"] for r in rows][:1] == ["recording.play"]
