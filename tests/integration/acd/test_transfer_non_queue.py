"""Transfer, parking and supervision on calls that pass through the media layer but are not
queue calls (real Kamailio + workers + pjsua2 phones; a pjsua2 phone is the SIP trunk):
an IVR that puts the caller through to an extension, and an outbound call from a desk phone.
Audio is checked both ways by tone after each transfer, and each call keeps one CDR."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.storage.db import migrate_sync, open_db
from appliance.storage.trunks import TrunkStore
from appliance.trunks.model import CallerIdMode, CallerIdRule, OutboundRoute, Trunk, TrunkKind
from provisioning.secrets import SecretBox, load_or_create_key
from tests.integration.media.tones import heard_tones
from tests.support.appliance import Appliance, make_appliance
from tests.support.phone import Phone, PhoneError

IVR = "810"  # an IVR whose entry puts the caller through to extension 102
DID = "0441234567"  # a trunk DID that rings extension 102
EXTERNAL = "5123456"  # an outbound number: route "ext" over the trunk phone
CALLER_HZ, AGENT_HZ, TARGET_HZ, FAR_HZ = 500, 1200, 2000, 800
TONES = (CALLER_HZ, AGENT_HZ, TARGET_HZ, FAR_HZ)


async def _trunk(data_dir: Path, port: int) -> None:
    db = await open_db(data_dir / "appliance.db")
    try:
        store = TrunkStore(db, SecretBox(load_or_create_key(data_dir / "keys" / "trunks.key")))
        await store.put_trunk(Trunk("ext", TrunkKind.SIP, "127.0.0.1", port, health_check=False), None, create=True)
        cid = {TrunkKind.SIP: CallerIdRule(CallerIdMode.FIXED, number="+442071234567")}
        await store.put_route(OutboundRoute("ext", r"5[0-9]{6}", ("ext",), cid, record=True), create=True)
    finally:
        await db.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """A box with IVR 810 -> extension 102 and an outbound route to the trunk phone's port."""
    data_dir = Path(tmp_path_factory.mktemp("xfer")) / "data"
    data_dir.mkdir()
    db = data_dir / "appliance.db"
    migrate_sync(db)
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("INSERT INTO ivrs(number, name, language, config, updated_at)"
                         " VALUES (?, 'Front', 'en', ?, '')", (IVR, json.dumps({"entry": "extension:102"})))
            conn.execute("INSERT INTO dids(did, destination) VALUES (?, 'extension:102')", (DID,))
    finally:
        conn.close()
    app = make_appliance(data_dir, workers=2)
    asyncio.run(_trunk(data_dir, app.trunk_port))
    app.start()
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def phones(box: Appliance) -> Iterator[tuple[Phone, Phone, Phone]]:
    """101 (caller / desk phone), 102 (the extension the IVR rings), 103 (transfer target)."""
    with Phone() as p1, Phone() as p2, Phone() as p3:
        for phone, ext in ((p1, "101"), (p2, "102"), (p3, "103")):
            assert phone.register(ext, box.passwords[ext], registrar=box.sip) == 200
        yield p1, p2, p3


@pytest.fixture
def trunk(box: Appliance) -> Iterator[Phone]:
    """The far end of outbound calls: a pjsua2 phone at the trunk's address."""
    with Phone(port=box.trunk_port) as p:
        yield p


@pytest.fixture(scope="module")
def admin(box: Appliance) -> Iterator[httpx.Client]:
    """The first admin, logged in (cookie + CSRF header)."""
    with httpx.Client(base_url=f"https://127.0.0.1:{box.web_port}", verify=False, timeout=10) as c:
        r = c.post("/api/v1/setup", json={"username": "admin", "password": "admin password 1"})
        assert r.status_code == 201, r.text
        c.headers["x-csrf-token"] = r.json()["csrf_token"]
        yield c


def listen(pairs: list[tuple[Phone, str, Path]]) -> dict[str, set[int]]:
    """Record what each phone hears on its call for a while; return the tones heard by file stem."""
    for phone, call, path in pairs:
        phone.record_rx(call, str(path))
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    for phone, call, _ in pairs:
        phone.stop_record(call)
    return {path.stem: heard_tones(path, TONES) for _, _, path in pairs}


def ivr_to_102(box: Appliance, caller: Phone, agent: Phone) -> tuple[str, str]:
    """101 calls the IVR, which rings 102; 102 answers; both send their tone."""
    call = caller.call(f"sip:{IVR}@{box.sip}", user="101")
    agent_call = agent.incoming(timeout=20)
    agent.answer(agent_call)
    agent.wait(agent_call, "confirmed", timeout=10)
    caller.wait(call, "confirmed", timeout=10)
    caller.send_tone(call, CALLER_HZ)
    agent.send_tone(agent_call, AGENT_HZ)
    return call, agent_call


def one_cdr(box: Appliance, callee: str, n_before: int) -> dict[str, object]:
    """The call's single closed CDR (no second row for the transfer)."""
    rows = box.wait_rows("SELECT * FROM cdrs WHERE callee = ? AND ended_at IS NOT NULL ORDER BY id", (callee,),
                         n=n_before + 1)
    time.sleep(0.5)  # a stray second row would be written by now; nothing to await for an absence
    assert len(box.query("SELECT 1 FROM cdrs WHERE callee = ?", (callee,))) == n_before + 1
    return dict(rows[-1])


def closed(box: Appliance, callee: str) -> int:
    return len(box.query("SELECT 1 FROM cdrs WHERE callee = ?", (callee,)))


def test_ivr_call_put_through_to_an_extension_is_blind_transferred(
        box: Appliance, phones: tuple[Phone, Phone, Phone], tmp_path: Path) -> None:
    caller, agent, target = phones
    before = closed(box, IVR)
    call, agent_call = ivr_to_102(box, caller, agent)
    assert listen([(caller, call, tmp_path / "c0.wav"), (agent, agent_call, tmp_path / "a0.wav")]) == {
        "c0": {AGENT_HZ}, "a0": {CALLER_HZ}}
    agent.transfer(agent_call, f"sip:103@{box.sip}")
    t_call = target.incoming(timeout=10)
    target.answer(t_call)
    target.wait(t_call, "confirmed", timeout=10)
    target.send_tone(t_call, TARGET_HZ)
    agent.wait(agent_call, "disconnected", timeout=10)
    agent.wait_until(lambda p: 200 in p.transfer_status(agent_call), 5, "NOTIFY sipfrag 200")
    assert listen([(caller, call, tmp_path / "c1.wav"), (target, t_call, tmp_path / "t1.wav")]) == {
        "c1": {TARGET_HZ}, "t1": {CALLER_HZ}}
    caller.hangup(call)
    target.wait(t_call, "disconnected", timeout=10)
    cdr = one_cdr(box, IVR, before)
    assert (cdr["caller"], cdr["answered_by"], cdr["cause"]) == ("101", "102", "normal")


def test_ivr_call_put_through_to_an_extension_is_attended_transferred(
        box: Appliance, phones: tuple[Phone, Phone, Phone], tmp_path: Path) -> None:
    caller, agent, target = phones
    before = closed(box, IVR)
    call, agent_call = ivr_to_102(box, caller, agent)
    agent.hold(agent_call)
    consult = agent.call(f"sip:103@{box.sip}", user="102")
    y_old = target.incoming(timeout=10)
    target.answer(y_old)
    agent.wait(consult, "confirmed", timeout=10)
    agent.transfer_replaces(agent_call, consult)
    y_new = target.incoming(timeout=10)
    assert target.info(y_new).replaces == y_old
    target.wait(y_new, "confirmed", timeout=10)
    target.wait(y_old, "disconnected", timeout=10)
    agent.wait(agent_call, "disconnected", timeout=10)
    target.send_tone(y_new, TARGET_HZ)
    assert listen([(caller, call, tmp_path / "c.wav"), (target, y_new, tmp_path / "t.wav")]) == {
        "c": {TARGET_HZ}, "t": {CALLER_HZ}}
    target.hangup(y_new)
    caller.wait(call, "disconnected", timeout=10)
    cdr = one_cdr(box, IVR, before)
    assert (cdr["caller"], cdr["answered_by"], cdr["cause"]) == ("101", "102", "normal")


def test_outbound_call_is_blind_transferred_by_the_desk_phone(
        box: Appliance, phones: tuple[Phone, Phone, Phone], trunk: Phone, tmp_path: Path) -> None:
    desk, _, target = phones
    before = closed(box, EXTERNAL)
    call = desk.call(f"sip:{EXTERNAL}@{box.sip}", user="101")
    far = trunk.incoming(timeout=20)
    trunk.answer(far)
    desk.wait(call, "confirmed", timeout=10)
    desk.send_tone(call, CALLER_HZ)
    trunk.send_tone(far, FAR_HZ)
    assert listen([(desk, call, tmp_path / "d0.wav"), (trunk, far, tmp_path / "f0.wav")]) == {
        "d0": {FAR_HZ}, "f0": {CALLER_HZ}}
    desk.transfer(call, f"sip:103@{box.sip}")  # the desk phone hands the outside party to 103
    t_call = target.incoming(timeout=10)
    target.answer(t_call)
    target.wait(t_call, "confirmed", timeout=10)
    target.send_tone(t_call, TARGET_HZ)
    desk.wait(call, "disconnected", timeout=10)
    desk.wait_until(lambda p: 200 in p.transfer_status(call), 5, "NOTIFY sipfrag 200")
    assert listen([(trunk, far, tmp_path / "f1.wav"), (target, t_call, tmp_path / "t1.wav")]) == {
        "f1": {TARGET_HZ}, "t1": {FAR_HZ}}
    trunk.hangup(far)
    target.wait(t_call, "disconnected", timeout=10)
    cdr = one_cdr(box, EXTERNAL, before)
    assert (cdr["caller"], cdr["answered_by"], cdr["cause"]) == ("101", "trunk:ext", "normal")
    recs = box.wait_rows("SELECT parties FROM recordings WHERE call_id = ? ORDER BY id", (cdr["call_id"],), n=2)
    assert [json.loads(r["parties"]) for r in recs] == [["101", EXTERNAL], [EXTERNAL, "103"]]


SUP_HZ = TARGET_HZ  # the supervisor (104) sends this tone


def supervise(box: Appliance, admin: httpx.Client, call_id: str, sup: Phone,
              customer: tuple[Phone, str], agent: tuple[Phone, str], tmp_path: Path) -> dict[str, dict[str, set[int]]]:
    """Supervisor 104 joins `call_id` by the API in listen, then whisper, then barge; who hears what."""
    r = admin.post("/api/v1/supervision", json={"call_id": call_id, "supervisor_extension": "104", "mode": "listen"})
    assert r.status_code == 201, r.text
    sup_call = sup.incoming(timeout=10)
    sup.answer(sup_call)
    sup.wait(sup_call, "confirmed", timeout=10)
    sup.send_tone(sup_call, SUP_HZ)
    deadline = time.monotonic() + 10
    while admin.get("/api/v1/supervision").json()[0]["state"] != "active":
        assert time.monotonic() < deadline, "supervision never active"
        time.sleep(0.1)
    rounds = {}
    for mode in ("listen", "whisper", "barge"):
        if mode != "listen":
            r = admin.patch(f"/api/v1/supervision/{call_id}", json={"mode": mode})
            assert r.status_code == 200 and r.json()["mode"] == mode, r.text
        heard = listen([(customer[0], customer[1], tmp_path / f"{mode}-customer.wav"),
                        (agent[0], agent[1], tmp_path / f"{mode}-agent.wav"),
                        (sup, sup_call, tmp_path / f"{mode}-sup.wav")])
        rounds[mode] = {who.split("-")[1]: tones for who, tones in heard.items()}
    r = admin.delete(f"/api/v1/supervision/{call_id}")
    assert r.status_code == 204, r.text
    sup.wait(sup_call, "disconnected", timeout=10)
    return rounds


def expected(customer_hz: int, agent_hz: int) -> dict[str, dict[str, set[int]]]:
    """The tone matrix of test_supervision_calls.py: whisper reaches the agent only, barge both."""
    both = {customer_hz, agent_hz}
    return {
        "listen": {"customer": {agent_hz}, "agent": {customer_hz}, "sup": both},
        "whisper": {"customer": {agent_hz}, "agent": {customer_hz, SUP_HZ}, "sup": both},
        "barge": {"customer": {agent_hz, SUP_HZ}, "agent": {customer_hz, SUP_HZ}, "sup": both},
    }


def test_supervision_of_an_ivr_call_put_through_to_an_extension(
        box: Appliance, admin: httpx.Client, phones: tuple[Phone, Phone, Phone], tmp_path: Path) -> None:
    caller, agent, _ = phones
    with Phone() as sup:
        assert sup.register("104", box.passwords["104"], registrar=box.sip) == 200
        call, agent_call = ivr_to_102(box, caller, agent)
        call_id = str(box.wait_rows("SELECT call_id FROM cdrs WHERE callee = ? AND answered_by = '102'"
                                    " AND ended_at IS NULL", (IVR,))[0]["call_id"])
        rounds = supervise(box, admin, call_id, sup, (caller, call), (agent, agent_call), tmp_path)
        assert rounds == expected(CALLER_HZ, AGENT_HZ)
        caller.hangup(call)
        agent.wait(agent_call, "disconnected", timeout=10)


def test_supervision_of_an_outbound_call_whispers_to_the_desk_phone(
        box: Appliance, admin: httpx.Client, phones: tuple[Phone, Phone, Phone], trunk: Phone,
        tmp_path: Path) -> None:
    desk = phones[0]
    with Phone() as sup:
        assert sup.register("104", box.passwords["104"], registrar=box.sip) == 200
        call = desk.call(f"sip:{EXTERNAL}@{box.sip}", user="101")
        far = trunk.incoming(timeout=20)
        trunk.answer(far)
        desk.wait(call, "confirmed", timeout=10)
        desk.send_tone(call, AGENT_HZ)
        trunk.send_tone(far, FAR_HZ)
        call_id = str(box.wait_rows("SELECT call_id FROM cdrs WHERE callee = ? AND answered_by = 'trunk:ext'"
                                    " AND ended_at IS NULL", (EXTERNAL,))[0]["call_id"])
        rounds = supervise(box, admin, call_id, sup, (trunk, far), (desk, call), tmp_path)
        assert rounds == expected(FAR_HZ, AGENT_HZ)  # the desk phone is the agent: whisper goes to it
        trunk.hangup(far)
        desk.wait(call, "disconnected", timeout=10)


def test_a_call_in_voicemail_is_not_transferable(box: Appliance, phones: tuple[Phone, Phone, Phone]) -> None:
    """Only the caller is on a voicemail call: its REFER is refused (failure NOTIFY), the call goes on."""
    caller, _, target = phones
    call = caller.call(f"sip:*97@{box.sip}", user="101")
    caller.wait(call, "confirmed", timeout=10)
    caller.transfer(call, f"sip:103@{box.sip}")
    caller.wait_until(lambda p: any(c >= 300 for c in p.transfer_status(call)), 10, "failure NOTIFY")
    assert 200 not in caller.transfer_status(call)
    assert caller.state(call) == "confirmed"  # still in the mailbox menu
    with contextlib.suppress(PhoneError):  # the worker may have started ringing 103: it is called off
        target.wait(target.incoming(timeout=0.5), "disconnected", timeout=10)
    caller.hangup(call)


RINGBACK_HZ = 425


def test_the_caller_hears_ringback_while_a_blind_target_rings_and_the_agent_again_if_it_fails(
        box: Appliance, phones: tuple[Phone, Phone, Phone], tmp_path: Path) -> None:
    caller, agent, target = phones
    call, agent_call = ivr_to_102(box, caller, agent)
    agent.transfer(agent_call, f"sip:103@{box.sip}")
    ringing = target.incoming(timeout=10)
    caller.record_rx(call, str(tmp_path / "ringing.wav"))
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    caller.stop_record(call)
    assert heard_tones(tmp_path / "ringing.wav", (RINGBACK_HZ, *TONES)) == {RINGBACK_HZ}
    target.hangup(ringing, code=486)
    agent.wait_until(lambda p: any(c >= 300 for c in p.transfer_status(agent_call)), 10, "failure NOTIFY")
    assert agent.state(agent_call) == "confirmed"
    assert listen([(caller, call, tmp_path / "back.wav")]) == {"back": {AGENT_HZ}}
    caller.hangup(call)
    agent.wait(agent_call, "disconnected", timeout=10)


def agent_code(box: Appliance, phone: Phone, user: str, code: str, event: str) -> None:
    """Dial an agent code (*45 log in, *46 log out) and wait for its queue event."""
    since = int(box.query("SELECT COALESCE(MAX(id), 0) AS n FROM queue_events")[0]["n"])
    call = phone.call(f"sip:{code}@{box.sip}", user=user)
    phone.wait(call, "disconnected", timeout=10)
    box.wait_rows("SELECT 1 FROM queue_events WHERE id > ? AND type = ? AND agent_id = ?", (since, event, user))


def test_a_failed_blind_transfer_after_the_agent_left_goes_back_to_the_queue(
        box: Appliance, phones: tuple[Phone, Phone, Phone], tmp_path: Path) -> None:
    caller, agent, target = phones
    agent_code(box, agent, "102", "*45", "AgentLoggedIn")
    try:
        before = closed(box, "700")
        agent.auto_answer(True)
        call = caller.call(f"sip:700@{box.sip}", user="101")
        first = agent.incoming(timeout=30)
        agent.wait(first, "confirmed", timeout=10)
        call_id = str(box.wait_rows("SELECT call_id FROM cdrs WHERE callee = '700' AND answered_by = '102'"
                                    " AND ended_at IS NULL")[0]["call_id"])
        agent.transfer(first, f"sip:103@{box.sip}")
        ringing = target.incoming(timeout=10)
        agent.hangup(first)  # the agent leaves before 103 answers...
        agent.wait(first, "disconnected", timeout=10)
        target.hangup(ringing, code=486)  # ...and 103 is busy: the caller queues again
        again = agent.incoming(timeout=30)  # 102 again, after its wrap-up
        agent.wait(again, "confirmed", timeout=10)
        agent.auto_answer(False)
        caller.send_tone(call, CALLER_HZ)
        agent.send_tone(again, AGENT_HZ)
        assert listen([(caller, call, tmp_path / "c.wav"), (agent, again, tmp_path / "a.wav")]) == {
            "c": {AGENT_HZ}, "a": {CALLER_HZ}}
        offers = box.query("SELECT 1 FROM queue_events WHERE type = 'CallOffered' AND call_id = ?", (call_id,))
        assert len(offers) == 2
        caller.hangup(call)
        agent.wait(again, "disconnected", timeout=10)
        cdr = one_cdr(box, "700", before)
        assert (cdr["call_id"], cdr["answered_by"], cdr["cause"]) == (call_id, "102", "normal")
    finally:
        agent.auto_answer(False)
        agent_code(box, agent, "102", "*46", "AgentLoggedOut")


def test_did_call_to_an_extension_is_blind_transferred(
        box: Appliance, phones: tuple[Phone, Phone, Phone], trunk: Phone, tmp_path: Path) -> None:
    """The trunk (its phone) calls a DID that rings 102; 102 hands the outside caller to 103."""
    _, agent, target = phones
    before = closed(box, DID)
    call = trunk.call(f"sip:{DID}@{box.sip}")
    ringing = agent.incoming(timeout=20)
    agent.answer(ringing)
    trunk.wait(call, "confirmed", timeout=10)
    trunk.send_tone(call, FAR_HZ)
    agent.send_tone(ringing, AGENT_HZ)
    agent.transfer(ringing, f"sip:103@{box.sip}")
    t_call = target.incoming(timeout=10)
    target.answer(t_call)
    target.wait(t_call, "confirmed", timeout=10)
    target.send_tone(t_call, TARGET_HZ)
    agent.wait(ringing, "disconnected", timeout=10)
    assert listen([(trunk, call, tmp_path / "f.wav"), (target, t_call, tmp_path / "t.wav")]) == {
        "f": {TARGET_HZ}, "t": {FAR_HZ}}
    trunk.hangup(call)
    target.wait(t_call, "disconnected", timeout=10)
    cdr = one_cdr(box, DID, before)
    assert (cdr["answered_by"], cdr["cause"]) == ("102", "normal")
