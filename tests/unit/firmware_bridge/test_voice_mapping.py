"""The gateway's call mapping: every path between the GSM and SIP legs, built directly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.voice.mapping import (
    Action,
    CallMapping,
    Direction,
    Event,
    MappingError,
    State,
    is_dialable,
    number_from_uri,
    request_uri,
)


def test_inbound_answered_then_bridged_then_gsm_hangs_up() -> None:
    m, actions = CallMapping.inbound("+972501234567")
    assert m.direction is Direction.INBOUND and m.number == "+972501234567"
    assert actions == [Action.SIP_INVITE]
    assert m.handle(Event.SIP_ANSWERED) == [Action.GSM_ANSWER]
    assert m.state is State.CONNECTING
    assert m.handle(Event.GSM_ACTIVE) == [Action.AUDIO_BRIDGE]
    assert m.handle(Event.GSM_ENDED, "gsm hangup") == [Action.AUDIO_UNBRIDGE, Action.SIP_HANGUP]
    assert m.ended and m.end_cause == "gsm hangup"
    assert [t.new for t in m.history] == [State.CONNECTING, State.ACTIVE, State.ENDED]


def test_inbound_without_caller_id_is_anonymous() -> None:
    m, _ = CallMapping.inbound(None)
    assert m.number == "anonymous"


def test_inbound_sip_hangs_up_when_active_hangs_up_gsm() -> None:
    m, _ = CallMapping.inbound("123")
    m.handle(Event.SIP_ANSWERED)
    m.handle(Event.GSM_ACTIVE)
    assert m.handle(Event.SIP_ENDED, "sip 200") == [Action.AUDIO_UNBRIDGE, Action.GSM_HANGUP]


def test_inbound_rejected_by_sip_hangs_up_gsm_and_gsm_giving_up_cancels_sip() -> None:
    m, _ = CallMapping.inbound("123")
    assert m.handle(Event.SIP_ENDED, "sip 486 Busy Here") == [Action.GSM_HANGUP]
    assert m.end_cause == "sip 486 Busy Here"
    m2, _ = CallMapping.inbound("123")
    assert m2.handle(Event.GSM_ENDED) == [Action.SIP_HANGUP]


def test_inbound_answer_refused_by_modem_ends_both() -> None:
    m, _ = CallMapping.inbound("123")
    m.handle(Event.SIP_ANSWERED)
    assert m.handle(Event.GSM_FAILED) == [Action.GSM_HANGUP, Action.SIP_HANGUP]


def test_outbound_alerting_active_and_sip_hangs_up() -> None:
    m, actions = CallMapping.outbound("+4915112345")
    assert actions == [Action.GSM_DIAL] and m.state is State.DIALING
    assert m.handle(Event.GSM_ALERTING) == [Action.SIP_RING]
    assert m.handle(Event.GSM_ALERTING) == []  # repeated report
    assert m.handle(Event.GSM_ACTIVE) == [Action.SIP_ANSWER, Action.AUDIO_BRIDGE]
    assert m.handle(Event.SIP_ENDED) == [Action.AUDIO_UNBRIDGE, Action.GSM_HANGUP]


def test_outbound_answered_without_alerting() -> None:
    m, _ = CallMapping.outbound("112")
    assert m.handle(Event.GSM_ACTIVE) == [Action.SIP_ANSWER, Action.AUDIO_BRIDGE]


@pytest.mark.parametrize(("event", "code"), [(Event.GSM_FAILED, 503), (Event.GSM_ENDED, 480)])
def test_outbound_failing_on_gsm_rejects_sip_with_a_code(event: Event, code: int) -> None:
    m, _ = CallMapping.outbound("112")
    assert m.handle(event, "x") == [Action.SIP_REJECT]
    assert m.reject_code == code


def test_outbound_cancel_while_ringing_hangs_up_gsm() -> None:
    m, _ = CallMapping.outbound("112")
    m.handle(Event.GSM_ALERTING)
    assert m.handle(Event.SIP_ENDED, "sip 487") == [Action.GSM_HANGUP]


def test_late_reports_after_the_end_are_absorbed() -> None:
    m, _ = CallMapping.outbound("112")
    m.handle(Event.SIP_ENDED)
    for event in (Event.GSM_ENDED, Event.GSM_ACTIVE, Event.SIP_ENDED, Event.GSM_FAILED):
        assert m.handle(event) == []
    assert m.end_cause == "sip_ended"  # the first cause stays


@pytest.mark.parametrize(("make", "event"), [
    (lambda: CallMapping.inbound("1")[0], Event.GSM_ACTIVE),  # answered before SIP did
    (lambda: CallMapping.inbound("1")[0], Event.GSM_ALERTING),
    (lambda: CallMapping.outbound("1")[0], Event.SIP_ANSWERED),  # we are the UAS there
])
def test_illegal_events_raise_and_change_nothing(make: object, event: Event) -> None:
    m = make()  # type: ignore[operator]
    before = m.state
    with pytest.raises(MappingError):
        m.handle(event)
    assert m.state is before and m.history == []


def test_outbound_refuses_an_undialable_number() -> None:
    with pytest.raises(MappingError):
        CallMapping.outbound("alice")


@pytest.mark.parametrize(("uri", "number"), [
    ("sip:+4915112345@127.0.0.1:5080", "+4915112345"),
    ("<sip:0301234567@gw;transport=udp>", "0301234567"),
    ("sip:030-123 45(67)@gw", "0301234567"),
    ("tel:+1-202-555-0100", "+12025550100"),
    ("sips:*100#@gw", "*100#"),
    ("mailto:x@y", ""),
    ("", ""),
])
def test_number_from_uri(uri: str, number: str) -> None:
    assert number_from_uri(uri) == number


def test_request_uri_from_the_first_line() -> None:
    msg = "INVITE sip:+4915112345@127.0.0.1:5080 SIP/2.0\r\nVia: x\r\n\r\n"
    assert request_uri(msg) == "sip:+4915112345@127.0.0.1:5080"
    assert request_uri("SIP/2.0 200 OK\r\n") == ""
    assert request_uri("garbage") == ""


@given(st.text(max_size=40))
def test_dialable_is_exactly_what_atd_accepts(text: str) -> None:
    ok = is_dialable(text)
    assert ok == (0 < len(text.lstrip("+")) <= 32 and text.count("+") <= int(text[:1] == "+")
                  and all(c in "0123456789*#+" for c in text))
