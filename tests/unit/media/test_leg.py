"""Leg state machine and SIP text helpers."""

from __future__ import annotations

import pytest

from appliance.media.leg import IllegalTransition, Leg, LegState, request_user, uri_user


def test_incoming_leg_goes_early_then_confirmed_then_ended() -> None:
    leg = Leg("w1-L1", "in", LegState.INCOMING)
    assert leg.set_state(LegState.EARLY) is True
    assert leg.set_state(LegState.EARLY) is False  # no change, no event
    assert leg.set_state(LegState.CONFIRMED) is True
    assert leg.answered
    assert leg.set_state(LegState.ENDED) is True
    assert leg.ended


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (LegState.ENDED, LegState.CONFIRMED),
        (LegState.CONFIRMED, LegState.RINGING),
        (LegState.INCOMING, LegState.RINGING),
        (LegState.CALLING, LegState.EARLY),
    ],
)
def test_illegal_transitions_raise(start: LegState, to: LegState) -> None:
    leg = Leg("L", "in", start)
    with pytest.raises(IllegalTransition):
        leg.set_state(to)
    assert leg.state == start


def test_only_unanswered_incoming_legs_can_be_answered() -> None:
    Leg("L", "in", LegState.INCOMING).check_answerable(180)
    Leg("L", "in", LegState.EARLY).check_answerable(200)
    Leg("L", "in", LegState.EARLY).check_answerable(183)
    with pytest.raises(ValueError, match="outgoing"):
        Leg("L", "out", LegState.RINGING).check_answerable(200)
    with pytest.raises(ValueError, match="cannot answer"):
        Leg("L", "in", LegState.CONFIRMED).check_answerable(200)
    with pytest.raises(ValueError, match="provisional"):
        Leg("L", "in", LegState.EARLY).check_answerable(180)


def test_uri_user_handles_name_addr_params_and_no_user() -> None:
    assert uri_user("sip:101@10.0.0.1:5060") == "101"
    assert uri_user('"Alice" <sip:alice@example.com;transport=udp>;tag=x') == "alice"
    assert uri_user("sips:+48123@trunk") == "+48123"
    assert uri_user("sip:example.com") == ""


def test_request_user_prefers_the_request_uri_and_falls_back_to_to() -> None:
    msg = "INVITE sip:5001@127.0.0.1:5161;transport=udp SIP/2.0\r\nVia: x\r\n\r\n"
    assert request_user(msg, "<sip:other@box>") == "5001"
    assert request_user("garbage", "<sip:102@box>") == "102"
    assert request_user("INVITE sip:127.0.0.1 SIP/2.0\r\n", "<sip:103@box>") == "103"
