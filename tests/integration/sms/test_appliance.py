"""SMS on a real appliance (`appliance run`) with `appliance firmware-bridge` on the modem simulator:
in -> stored -> routed to a logged-in agent -> agent reply via the API -> on the air intact (UCS-2
Hebrew, 3 parts) and delivered; STOP -> refused; modem reset -> alarm raised and cleared;
controller down while an SMS arrives -> delivered later exactly once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import pytest

from appliance.web_services.cli_admin import admin_create
from firmware_bridge.simulator import ModemSimulator
from tests.support.appliance import REPO_ROOT, Appliance, make_appliance

T = TypeVar("T")
CUSTOMER = "+972501234567"
HEBREW = "שלום, ההזמנה שלך מוכנה לאיסוף. " * 5  # 160 UCS-2 characters: 3 parts
PASSWORD = "admin password 1"
AGENT_PASSWORD = "agent password 1"


def until(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Poll `check` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.1)


class Rig:
    """The appliance, the simulated modem, the bridge process and an agent's API client."""

    def __init__(self, box: Appliance, sim: ModemSimulator) -> None:
        self.box = box
        self.sim = sim
        self.bridge: subprocess.Popen[bytes] | None = None
        self.agent: httpx.Client | None = None

    def start_bridge(self) -> None:
        log = open(self.box.data_dir.parent / "bridge.log", "ab")  # noqa: SIM115 (kept for the process)
        self.bridge = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "firmware-bridge", "--data-dir", str(self.box.data_dir),
             "--modem-port", self.sim.port, "--modem-profile", "quectel"],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def stop_bridge(self) -> None:
        if self.bridge is not None and self.bridge.poll() is None:
            self.bridge.terminate()
            try:
                self.bridge.wait(15)
            except subprocess.TimeoutExpired:
                self.bridge.kill()
                self.bridge.wait()

    def client(self, username: str, password: str) -> httpx.Client:
        c = httpx.Client(base_url=f"https://127.0.0.1:{self.box.web_port}", verify=False, timeout=10)
        r = c.post("/api/v1/session", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        return c


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    data = tmp_path_factory.mktemp("sms-box") / "data"
    box = make_appliance(data, workers=2)
    sim = ModemSimulator("quectel", reset_seconds=0.5).start()
    r = Rig(box, sim)
    try:
        box.start()
        admin_create(data, "admin", PASSWORD)
        r.start_bridge()
        admin = r.client("admin", PASSWORD)
        resp = admin.post("/api/v1/users", json={"username": "dana", "password": AGENT_PASSWORD, "role": "agent"})
        assert resp.status_code == 201, resp.text
        resp = admin.put(f"/api/v1/users/{resp.json()['id']}/extension", json={"extension": "102"})
        assert resp.status_code == 200, resp.text
        admin.close()
        r.agent = r.client("dana", AGENT_PASSWORD)
        assert r.agent.post("/api/v1/me/agent", json={"action": "login"}).json()["state"] == "available"
        yield r
    finally:
        if r.agent is not None:
            r.agent.close()
        r.stop_bridge()
        box.stop()
        sim.stop()


def test_sms_in_routed_to_the_agent_and_the_reply_leaves_intact_and_is_delivered(rig: Rig) -> None:
    agent = rig.agent
    assert agent is not None
    question = "שלום, מתי אתם פתוחים מחר?"
    rig.sim.inject_sms(CUSTOMER, question)
    rig.box.wait_rows("SELECT 1 FROM sms_messages WHERE body = ? AND direction = 'in'", (question,), timeout=30)
    assert rig.sim.sim_store == {}
    convs = until(lambda: agent.get("/api/v1/sms/conversations").json(), "the conversation on dana's desk")
    (conv,) = convs
    assert (conv["number"], conv["agent"], conv["queue"]) == (CUSTOMER, "102", "700")
    r = agent.post(f"/api/v1/sms/conversations/{conv['id']}/reply", json={"text": HEBREW})
    assert r.status_code == 201 and r.json()["parts"] == 3, r.text
    until(lambda: "".join(m.text for m in rig.sim.sent_sms if m.recipient == CUSTOMER) == HEBREW,
          "the 3-part reply on the air")
    rig.box.wait_rows("SELECT 1 FROM sms_messages WHERE id = ? AND status = 'delivered'", (r.json()["message_id"],))


def test_stop_blocks_the_number_and_the_reply_is_refused(rig: Rig) -> None:
    assert rig.agent is not None
    number = "+48501234567"
    rig.sim.inject_sms(number, "Dzień dobry")
    rig.sim.inject_sms(number, "STOP")
    rig.box.wait_rows("SELECT 1 FROM sms_blocklist WHERE number = ?", (number,))
    conv = next(c for c in rig.agent.get("/api/v1/sms/conversations").json() if c["number"] == number)
    sent_before = len(rig.sim.sent_sms)
    r = rig.agent.post(f"/api/v1/sms/conversations/{conv['id']}/reply", json={"text": "Oferta!"})
    assert r.status_code == 409 and r.json()["error_id"] == "recipient_opted_out", r.text
    out = rig.box.query("SELECT count(*) FROM sms_messages WHERE number = ? AND direction = 'out'", (number,))
    assert out[0][0] == 0
    assert len(rig.sim.sent_sms) == sent_before


def test_modem_reset_raises_and_clears_the_alarm(rig: Rig) -> None:
    rig.sim.power_cycle()
    rig.box.wait_rows("SELECT 1 FROM alarms WHERE code = 'modem_down'")
    rig.box.wait_rows("SELECT 1 FROM alarms WHERE code = 'modem_down' AND cleared_at IS NOT NULL", timeout=40)


def test_controller_down_while_an_sms_arrives_is_delivered_later_exactly_once(rig: Rig) -> None:
    body = "sent while the box was down"
    rig.box.stop()
    rig.sim.inject_sms(CUSTOMER, body)
    spool = rig.box.data_dir / "spool" / "sms"
    until(lambda: any(spool.glob("*.json")) and not rig.sim.sim_store, "spooled and off the SIM")
    rig.box.start()
    rig.box.wait_rows("SELECT 1 FROM sms_messages WHERE body = ?", (body,), timeout=40)
    until(lambda: not any(spool.glob("*.json")), "spool emptied")
    assert rig.box.query("SELECT count(*) FROM sms_messages WHERE body = ?", (body,))[0][0] == 1
