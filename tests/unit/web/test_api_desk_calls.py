"""Agent desk: the caller's history when a call is offered or taken, dispositions and notes in wrap-up."""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime, timedelta

from appliance.acd.events import AgentAnswered, CallerJoined
from appliance.domain.dialplan import MediaService
from appliance.storage.calls import CallStore
from appliance.storage.queues import QueueStore
from tests.unit.web.conftest import Box

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def silence_wav(seconds: float) -> bytes:
    """A mono 8 kHz 16-bit WAV of silence."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return buf.getvalue()


async def queue_call(box: Box, call_id: str, number: str, agent: str, at: datetime) -> None:
    """A queue call from `number` answered by `agent`: its events and its CDR."""
    store = CallStore(box.ctl.db)
    await store.cdr_open(call_id, "queue", number, "700", at)
    await store.cdr_answered(call_id, at + timedelta(seconds=5), agent)
    await store.cdr_close(call_id, at + timedelta(seconds=65), 200, "normal")
    await QueueStore(box.ctl.db).append([
        CallerJoined(queue_id="700", call_id=call_id, at=0, number=number, priority=0, position=1),
        AgentAnswered(agent_id=agent, at=5, old="available", new="on_call", call_id=call_id, queue_id="700"),
    ], at + timedelta(seconds=5), 5)


async def test_caller_history_and_disposition(acd: Box) -> None:
    agent = await acd.login("agent")  # linked to extension 102
    assert (await agent.get("/api/v1/me/call")).status_code == 204  # no call yet
    await queue_call(acd, "old-1", "0501234567", "103", T0 - timedelta(days=3))
    await queue_call(acd, "c1", "0501234567", "102", T0)
    r = await agent.get("/api/v1/me/call")
    assert r.status_code == 200, r.text
    call = r.json()
    assert (call["call_id"], call["number"], call["queue"], call["live"]) == ("c1", "0501234567", "700", False)
    assert [h["call_id"] for h in call["history"]] == ["old-1"] and call["history"][0]["answered_by"] == "103"
    assert "resolved" in call["codes"]

    r = await agent.post("/api/v1/me/dispositions", json={"call_id": "c1", "code": "follow_up",
                                                           "note": "wants the invoice by mail"})
    assert r.status_code == 201, r.text
    assert r.json()["agent"] == "agent" and r.json()["code"] == "follow_up"
    assert await acd.rows("SELECT action, target FROM audit_log WHERE action = 'call.disposition'") == [
        ("call.disposition", "c1")]

    # the caller rings again: the next agent sees the earlier call with its note
    await queue_call(acd, "c2", "0501234567", "102", T0 + timedelta(hours=2))
    page = await agent.get("/desk")
    assert page.status_code == 200 and 'data-desk-call="c2"' in page.text
    assert "wants the invoice by mail" in page.text
    call = (await agent.get("/api/v1/me/call")).json()
    assert [h["call_id"] for h in call["history"]] == ["c1", "old-1"]
    assert call["history"][0]["dispositions"][0]["note"] == "wants the invoice by mail"

    # the desk's form does the same
    r = await agent.post("/desk/disposition", data={"call_id": "c2", "code": "resolved", "note": "",
                                                     "csrf_token": agent.headers["x-csrf-token"]})
    assert r.status_code == 303
    assert await acd.rows("SELECT call_id, code FROM desk_dispositions ORDER BY id") == [("c1", "follow_up"),
                                                                                         ("c2", "resolved")]


async def test_disposition_refusals_write_nothing(acd: Box) -> None:
    await queue_call(acd, "c1", "0501", "102", T0)
    await queue_call(acd, "theirs", "0502", "103", T0)
    agent = await acd.login("agent")
    sup = await acd.login("sup")  # not linked to an extension
    cases = [
        (agent, {"call_id": "c1", "code": "bribe"}, 422, "disposition_unknown"),
        (agent, {"call_id": "theirs", "code": "resolved"}, 409, "not_your_call"),
        (agent, {"call_id": "nope", "code": "resolved"}, 404, "call_not_found"),
        (agent, {"call_id": "c1", "code": "resolved", "note": "x" * 2001}, 422, "validation_failed"),
        (agent, {"call_id": "c1"}, 422, "validation_failed"),
        (sup, {"call_id": "c1", "code": "resolved"}, 409, "no_extension"),
    ]
    for client, body, status, error_id in cases:
        r = await client.post("/api/v1/me/dispositions", json=body)
        assert (r.status_code, r.json()["error_id"]) == (status, error_id), body
    assert await acd.rows("SELECT count(*) FROM desk_dispositions") == [(0,)]
    assert await acd.rows("SELECT count(*) FROM audit_log WHERE action = 'call.disposition'") == [(0,)]
    assert (await sup.get("/api/v1/me/call")).status_code == 204


async def test_click_to_call_refusals_place_nothing(acd: Box) -> None:
    agent = await acd.login("agent")  # linked to extension 102
    before = await acd.rows("SELECT count(*) FROM cdrs")
    for bad in ("", "1", "05012345x", "+" + "1" * 40, "sip:103@evil"):
        r = await agent.post("/api/v1/me/click-to-call", json={"number": bad})
        assert r.status_code == 422, (bad, r.text)
    r = await agent.post("/api/v1/me/click-to-call", json={"number": "103", "extra": 1})
    assert r.status_code == 422
    r = await agent.post("/api/v1/me/click-to-call", json={"number": "103"})  # no media worker in a unit box
    assert r.status_code == 409 and r.json()["error_id"] == "media_pool_full"
    sup = await acd.login("sup")  # not linked to an extension
    r = await sup.post("/api/v1/me/click-to-call", json={"number": "103"})
    assert r.status_code == 409 and r.json()["error_id"] == "no_extension"
    assert await acd.rows("SELECT count(*) FROM cdrs") == before
    assert not acd.ctl.sessions.sessions and not acd.ctl.sessions.placement.load()


async def test_agent_hears_own_voicemail_on_the_desk_and_nobody_elses(acd: Box) -> None:
    store = acd.ctl.sessions.flows[MediaService.VOICEMAIL].__self__.store  # type: ignore[attr-defined]
    ids = {}
    for mailbox in ("102", "103"):
        folder = acd.ctl.settings.data_dir / "voicemail" / mailbox
        folder.mkdir(parents=True)
        (folder / "m-0.wav").write_bytes(silence_wav(1.0))
        ids[mailbox] = await store.start_message(mailbox, "0501234567", f"c-{mailbox}", acd.clock.now(),
                                                 f"voicemail/{mailbox}/m-0.wav")
        await store.finish_message(ids[mailbox], 1.0)
    agent = await acd.login("agent")  # linked to extension 102
    box = (await agent.get("/api/v1/me/voicemail")).json()
    assert box["mailbox"] == "102" and [m["id"] for m in box["messages"]] == [ids["102"]]
    r = await agent.get(f"/api/v1/me/voicemails/{ids['102']}/audio")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    r = await agent.get(f"/api/v1/me/voicemails/{ids['103']}/audio")  # a colleague's message
    assert r.status_code == 404 and r.json()["error_id"] == "voicemail_not_found"
    page = (await agent.get("/desk")).text
    assert f"/api/v1/me/voicemails/{ids['102']}/audio" in page and f"/voicemails/{ids['103']}/" not in page
    assert "data-click-to-call" in page
    sup = await acd.login("sup")  # no extension: no mailbox of its own
    assert (await sup.get("/api/v1/me/voicemail")).json()["error_id"] == "no_extension"


async def test_desk_call_form_refuses_a_bad_number(acd: Box) -> None:
    agent = await acd.login("agent")
    page = await agent.get("/desk")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = await agent.post("/desk/call", data={"csrf_token": csrf, "number": "12; rm"})
    assert r.status_code == 422 and "number" in r.text
    assert not acd.ctl.sessions.sessions
