"""Supervision through the API on the real box: the supervisor's phone is called from the
call's worker and joined in listen, whisper or barge, switched during the call; tones prove
who hears whom. Role denial and bad input change nothing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.media.tones import heard_tones
from tests.support.appliance import Appliance
from tests.support.phone import Phone

RING_GROUP = "600"
CALLER_HZ, AGENT_HZ, SUP_HZ = 500, 1200, 2000
TONES = (CALLER_HZ, AGENT_HZ, SUP_HZ)


@pytest.fixture(scope="module")
def admin(box: Appliance) -> Iterator[httpx.Client]:
    """The first admin, logged in (cookie + CSRF header)."""
    with httpx.Client(base_url=f"https://127.0.0.1:{box.web_port}", verify=False, timeout=10) as c:
        r = c.post("/api/v1/setup", json={"username": "admin", "password": "admin password 1"})
        assert r.status_code == 201, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        yield c


def login(box: Appliance, admin: httpx.Client, username: str, role: str) -> httpx.Client:
    r = admin.post("/api/v1/users", json={"username": username, "password": f"{role} password 1", "role": role})
    assert r.status_code == 201, r.text
    c = httpx.Client(base_url=f"https://127.0.0.1:{box.web_port}", verify=False, timeout=10)
    r = c.post("/api/v1/session", json={"username": username, "password": f"{role} password 1"})
    assert r.status_code == 200, r.text
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    return c


def listen(pairs: list[tuple[Phone, str, Path]]) -> None:
    for phone, call, path in pairs:
        phone.record_rx(call, str(path))
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    for phone, call, _ in pairs:
        phone.stop_record(call)


def wait_state(client: httpx.Client, call_id: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [s for s in client.get("/api/v1/supervision").json() if s["call_id"] == call_id]
        if rows and rows[0]["state"] == state:
            return dict(rows[0])
        time.sleep(0.1)
    raise AssertionError(f"supervision of {call_id} not {state}")


def test_listen_whisper_barge_switched_during_the_call(box: Appliance, admin: httpx.Client, tmp_path: Path) -> None:
    agent_user = login(box, admin, "agent1", "agent")
    with Phone() as caller, Phone() as agent, Phone() as sup, contextlib.closing(agent_user):
        assert caller.register("101", box.passwords["101"], registrar=box.sip) == 200
        assert agent.register("102", box.passwords["102"], registrar=box.sip) == 200
        sup_ext = "105"
        assert sup.register(sup_ext, box.passwords[sup_ext], registrar=box.sip) == 200
        agent.auto_answer(True)
        call = caller.call(f"sip:{RING_GROUP}@{box.sip}", user="101")
        agent_call = agent.incoming(timeout=20)
        agent.wait(agent_call, "confirmed", timeout=10)
        caller.wait(call, "confirmed", timeout=10)
        agent.auto_answer(False)
        caller.send_tone(call, CALLER_HZ)
        agent.send_tone(agent_call, AGENT_HZ)
        call_id = box.wait_rows(
            "SELECT call_id FROM cdrs WHERE callee = ? AND answered_by = '102' AND ended_at IS NULL", (RING_GROUP,)
        )[0]["call_id"]

        # refusals: role, bad mode, unknown call, unknown extension; nothing starts
        body = {"call_id": call_id, "supervisor_extension": sup_ext, "mode": "listen"}
        r = agent_user.post("/api/v1/supervision", json=body)
        assert r.status_code == 403 and r.json()["error_id"] == "role_forbidden"
        r = admin.post("/api/v1/supervision", json={**body, "mode": "shout"})
        assert r.status_code == 422 and r.json()["error_id"] == "validation_failed"
        r = admin.post("/api/v1/supervision", json={**body, "call_id": "no-such-call"})
        assert r.status_code == 404 and r.json()["error_id"] == "call_not_found"
        r = admin.post("/api/v1/supervision", json={**body, "supervisor_extension": "999"})
        assert r.status_code == 422 and r.json()["error_id"] == "extension_not_found"
        r = admin.patch(f"/api/v1/supervision/{call_id}", json={"mode": "barge"})
        assert r.status_code == 404 and r.json()["error_id"] == "supervision_not_found"
        assert admin.get("/api/v1/supervision").json() == []

        r = admin.post("/api/v1/supervision", json=body)
        assert r.status_code == 201, r.text
        assert r.json() == {"call_id": call_id, "supervisor_extension": sup_ext, "mode": "listen", "state": "ringing"}
        r = admin.post("/api/v1/supervision", json=body)
        assert r.status_code == 409 and r.json()["error_id"] == "already_supervised"
        sup_call = sup.incoming(timeout=10)
        sup.answer(sup_call)
        sup.wait(sup_call, "confirmed", timeout=10)
        sup.send_tone(sup_call, SUP_HZ)
        wait_state(admin, call_id, "active")

        rounds = {}
        for mode in ("listen", "whisper", "barge", "listen"):
            if mode != "listen" or rounds:
                r = admin.patch(f"/api/v1/supervision/{call_id}", json={"mode": mode})
                assert r.status_code == 200 and r.json()["mode"] == mode
            name = f"{mode}{len(rounds)}"
            paths = {w: tmp_path / f"{name}-{w}.wav" for w in ("caller", "agent", "sup")}
            listen([(caller, call, paths["caller"]), (agent, agent_call, paths["agent"]),
                    (sup, sup_call, paths["sup"])])
            rounds[name] = {w: heard_tones(p, TONES) for w, p in paths.items()}

        assert rounds["listen0"] == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "sup": {CALLER_HZ, AGENT_HZ}}
        assert rounds["whisper1"] == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ, SUP_HZ},
                                      "sup": {CALLER_HZ, AGENT_HZ}}
        assert rounds["barge2"] == {"caller": {AGENT_HZ, SUP_HZ}, "agent": {CALLER_HZ, SUP_HZ},
                                    "sup": {CALLER_HZ, AGENT_HZ}}
        assert rounds["listen3"] == rounds["listen0"]

        caller.hangup(call)
        sup.wait(sup_call, "disconnected", timeout=10)  # the supervisor leaves with the call
        agent.wait(agent_call, "disconnected", timeout=10)
        deadline = time.monotonic() + 10
        while admin.get("/api/v1/supervision").json() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert admin.get("/api/v1/supervision").json() == []
