"""The SMS channel on a real controller: conversations, routing by the ACD's agent states, opt-out,
the bridge's outbound queue and delivery reports, modem health into alarms."""

from __future__ import annotations

import pytest

from appliance.controller.messaging import InvalidText
from appliance.controller.modem_health import InvalidStatus
from appliance.messaging.conversation import NotYourConversation
from appliance.messaging.optout import RecipientOptedOut
from appliance.storage.messaging import ConversationClosed
from tests.unit.messaging.conftest import Box

CUSTOMER = "+972501234567"
HEBREW = "שלום, ההזמנה שלך מוכנה לאיסוף. " * 5  # 160 UCS-2 characters: 3 parts


async def test_inbound_waits_then_goes_to_an_agent_who_keeps_it(box: Box) -> None:
    svc = box.sms.service
    got = await svc.inbound("link-000001", "+972 50 123 4567", "שלום")
    assert got["duplicate"] is False
    (conv,) = await box.sms.store.conversations(None)
    assert (conv.number, conv.state, conv.agent, conv.unanswered) == (CUSTOMER, "waiting", None, 1)
    await box.login("102")  # the ACD says 102 is available: routing reads it there
    await svc.route()
    (conv,) = await box.sms.store.conversations("102")
    assert (conv.state, conv.agent, conv.queue) == ("assigned", "102", "700")
    await box.login("103")
    await svc.inbound("link-000002", CUSTOMER, "עוד שאלה")  # 103 has fewer, but the conversation sticks
    (conv2,) = await box.sms.store.conversations(None)
    assert conv2.id == conv.id and conv2.agent == "102" and conv2.unanswered == 2
    # another customer goes to the free agent with fewer conversations
    await svc.inbound("link-000003", "+15550100", "hello")
    assert [c.number for c in await box.sms.store.conversations("103")] == ["+15550100"]
    # 102 logs out: their conversation moves to an agent still logged in
    await box.ctl.queues.agent_command("102", "*46")
    await svc.route()
    assert {c.number for c in await box.sms.store.conversations("103")} == {CUSTOMER, "+15550100"}


async def test_a_retried_inbound_is_stored_once(box: Box) -> None:
    for _ in range(3):
        got = await box.sms.service.inbound("link-dup-0001", CUSTOMER, "hi")
    assert got["duplicate"] is True
    assert await box.rows("SELECT count(*) FROM sms_messages") == [(1,)]


async def test_reply_is_queued_claimed_sent_and_delivered_intact(box: Box) -> None:
    svc = box.sms.service
    await box.login("102")
    got = await svc.inbound("link-000010", CUSTOMER, "שלום")
    mid, parts = await svc.reply(got["conversation_id"], "102", HEBREW, "102")
    assert parts == 3
    (out,) = await svc.claim(0)
    assert (out.id, out.number, out.body, out.attempt) == (mid, CUSTOMER, HEBREW, 1)
    assert await svc.claim(0) == []  # claimed: not handed out twice within the lease
    assert await svc.result(mid, [7, 8, 9], None, False) == "sent"
    for ref in (7, 8):
        await svc.report(ref, CUSTOMER, 0, True)
    assert await box.rows("SELECT status FROM sms_messages WHERE id = ?", (mid,)) == [("sent",)]
    assert await svc.report(9, CUSTOMER, 0, True) == mid
    assert await box.rows("SELECT status, body FROM sms_messages WHERE id = ?", (mid,)) == [("delivered", HEBREW)]
    assert await svc.report(200, CUSTOMER, 0, True) is None  # unknown reference: nothing changes


async def test_a_failed_send_is_retried_then_given_up(box: Box) -> None:
    svc = box.sms.service
    got = await svc.inbound("link-000020", CUSTOMER, "hi")
    mid, _ = await svc.reply(got["conversation_id"], None, "hello", "sup")
    for attempt in range(1, 6):
        (out,) = await svc.claim(0)
        assert out.attempt == attempt
        status = await svc.result(mid, [], "+CMS ERROR: 38", True)
    assert status == "failed"
    assert await svc.claim(0) == []
    assert await box.rows("SELECT status, error FROM sms_messages WHERE id = ?", (mid,)) == [
        ("failed", "+CMS ERROR: 38")]


async def test_an_unanswered_claim_is_handed_out_again_after_the_lease(box: Box) -> None:
    svc = box.sms.service
    got = await svc.inbound("link-000030", CUSTOMER, "hi")
    mid, _ = await svc.reply(got["conversation_id"], None, "hello", "sup")
    assert [m.id for m in await svc.claim(0)] == [mid]
    box.clock.advance(121)  # the bridge died before reporting
    (again,) = await svc.claim(0)
    assert (again.id, again.attempt) == (mid, 2)


async def test_stop_blocks_outbound_and_start_lifts_it(box: Box) -> None:
    svc = box.sms.service
    got = await svc.inbound("link-000040", CUSTOMER, "hi")
    conv = got["conversation_id"]
    queued, _ = await svc.reply(conv, None, "a reply queued before the opt-out", "sup")
    assert (await svc.inbound("link-000041", CUSTOMER, " Stop "))["keyword"] == "opt_out"
    assert [b["number"] for b in await box.sms.store.blocklist()] == [CUSTOMER]
    before = await box.rows("SELECT * FROM sms_messages ORDER BY id")
    with pytest.raises(RecipientOptedOut, match="opted out"):
        await svc.reply(conv, None, "are you sure?", "sup")
    assert await box.rows("SELECT * FROM sms_messages ORDER BY id") == before  # nothing written
    assert await svc.claim(0) == []  # the one queued before is not sent either
    assert await box.rows("SELECT status FROM sms_messages WHERE id = ?", (queued,)) == [("failed",)]
    assert (await svc.inbound("link-000042", CUSTOMER, "הסר"))["keyword"] == "opt_out"
    assert (await svc.inbound("link-000043", CUSTOMER, "START"))["keyword"] == "opt_in"
    assert await box.sms.store.blocklist() == []
    await svc.reply(conv, None, "welcome back", "sup")
    assert [m.body for m in await svc.claim(0)] == ["welcome back"]


async def test_agents_act_only_on_their_own_open_conversations(box: Box) -> None:
    svc = box.sms.service
    await box.login("102")
    got = await svc.inbound("link-000050", CUSTOMER, "hi")
    conv = got["conversation_id"]
    with pytest.raises(NotYourConversation):
        await svc.reply(conv, "103", "hello", "103")
    with pytest.raises(NotYourConversation):
        await svc.close(conv, "103")
    for bad in ("", "   ", "x" * 1531):
        with pytest.raises(InvalidText):
            await svc.reply(conv, "102", bad, "102")
    await svc.close(conv, "102")
    with pytest.raises(ConversationClosed):
        await svc.reply(conv, "102", "late", "102")
    assert await box.rows("SELECT count(*) FROM sms_messages WHERE direction = 'out'") == [(0,)]
    again = await svc.inbound("link-000051", CUSTOMER, "me again")
    assert again["conversation_id"] != conv  # a closed conversation is not reopened
    assert [m.body for m in await svc.history("+972-50-123-4567")] == ["me again", "hi"]


async def test_modem_health_reports_become_alarms_and_events(box: Box) -> None:
    modem = box.sms.modem
    ready = {"state": "ready", "alarms": {}, "signal": {"rssi_dbm": -71}, "registration": 1, "sim": "READY"}
    await modem.update(ready)
    down = {**ready, "state": "resetting", "alarms": {"modem_down": "lost: port gone"}, "registration": 4}
    changes = await modem.update(down)
    assert dict(changes.raise_) == {"modem_down": "lost: port gone"}
    await modem.update(down)  # a repeated report raises nothing twice
    assert await box.rows("SELECT code, severity, message, cleared_at IS NULL FROM alarms") == [
        ("modem_down", "major", "lost: port gone", 1)]
    families = {name: samples for name, _, _, samples in modem.families()}
    assert families["appliance_modem_up"] == [({}, 0)]
    box.clock.advance(3)
    assert (await modem.update(ready)).clear == {"modem_down"}
    assert await box.rows("SELECT code, cleared_at IS NOT NULL FROM alarms") == [("modem_down", 1)]
    families = {name: samples for name, _, _, samples in modem.families()}
    assert families["appliance_modem_up"] == [({}, 1)]
    assert families["appliance_modem_signal_dbm"] == [({}, -71)]
    events = await box.rows("SELECT type FROM modem_events ORDER BY id")
    assert [e[0] for e in events] == ["modem_state", "modem_registration", "modem_sim", "modem_state",
                                      "modem_registration", "modem_state", "modem_registration"]
    bads: list[object] = [[], {"state": "exploded"}, {"state": "ready", "alarms": ["x"]}]
    for bad in bads:
        with pytest.raises(InvalidStatus):
            await modem.update(bad)
    assert await box.rows("SELECT count(*) FROM alarms") == [(1,)]
