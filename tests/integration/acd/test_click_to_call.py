"""Click-to-call from the agent desk on a real box: the agent's desk phone rings first, and when
it answers the number is dialed; both hear each other and the call has its CDR and recording."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import httpx

from appliance.web_services.certs import cert_paths
from tests.support.appliance import Appliance
from tests.support.audio import has_tone
from tests.support.phone import Phone


def trust(box: Appliance) -> ssl.SSLContext:
    """Trust exactly the box's self-signed certificate."""
    return ssl.create_default_context(cafile=str(cert_paths(box.data_dir)[0]))


def web(box: Appliance, username: str, password: str) -> httpx.Client:
    """A logged-in API client trusting the box's own certificate."""
    c = httpx.Client(base_url=f"https://127.0.0.1:{box.web_port}", verify=trust(box), timeout=10)
    r = c.post("/api/v1/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    return c


def test_desk_phone_rings_first_then_the_number_with_audio_both_ways(box: Appliance, tmp_path: Path) -> None:
    with httpx.Client(base_url=f"https://127.0.0.1:{box.web_port}", verify=trust(box), timeout=10) as first:
        r = first.post("/api/v1/setup", json={"username": "admin", "password": "click admin password 1"})
        assert r.status_code == 201, r.text
    admin = web(box, "admin", "click admin password 1")
    r = admin.post("/api/v1/users", json={"username": "omar", "password": "agent password 103", "role": "agent"})
    assert r.status_code == 201, r.text
    assert admin.put(f"/api/v1/users/{r.json()['id']}/extension", json={"extension": "103"}).status_code == 200
    agent = web(box, "omar", "agent password 103")
    with Phone() as desk, Phone() as customer:
        assert desk.register("103", box.passwords["103"], registrar=box.sip) == 200
        assert customer.register("101", box.passwords["101"], registrar=box.sip) == 200
        r = agent.post("/api/v1/me/click-to-call", json={"number": "101"})
        assert r.status_code == 202, r.text
        call_id = r.json()["call_id"]
        leg = desk.incoming(timeout=15)  # the desk phone first, showing the number it will call
        assert "101" in desk.info(leg).from_uri
        desk.answer(leg)
        desk.wait(leg, "confirmed", timeout=10)
        incoming = customer.incoming(timeout=20)
        assert "103" in customer.info(incoming).from_uri  # the customer sees the agent's extension
        customer.answer(incoming)
        customer.wait(incoming, "confirmed", timeout=10)
        heard_by_desk, heard_by_customer = tmp_path / "desk.wav", tmp_path / "customer.wav"
        desk.record_rx(leg, str(heard_by_desk))
        customer.record_rx(incoming, str(heard_by_customer))
        desk.send_tone(leg, 1000)
        customer.send_tone(incoming, 440)
        time.sleep(2.5)
        desk.hangup(leg)
        customer.wait(incoming, "disconnected", timeout=10)
    assert has_tone(str(heard_by_desk), 440, 0.5), "the agent did not hear the customer"
    assert has_tone(str(heard_by_customer), 1000, 0.5), "the customer did not hear the agent"
    cdr = box.wait_rows("SELECT * FROM cdrs WHERE call_id = ? AND ended_at IS NOT NULL", (call_id,))[0]
    assert (cdr["kind"], cdr["caller"], cdr["callee"], cdr["answered_by"], cdr["cause"]) == (
        "click_to_call", "103", "101", "101", "normal")
    box.wait_rows("SELECT 1 FROM recordings WHERE call_id = ?", (call_id,))
