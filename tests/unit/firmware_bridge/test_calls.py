"""Every vendor's call URCs mapped into one call state machine."""

from __future__ import annotations

import pytest

from firmware_bridge.at.parser import Urc
from firmware_bridge.at.values import AtValueError
from firmware_bridge.calls import CallSignal, CallState, CallStateError, CallTracker, CallUpdate
from firmware_bridge.profiles import PROFILES, get_profile


def states(profile: str, lines: list[str], start: CallTracker | None = None) -> list[CallState]:
    tracker = start or CallTracker()
    seen = []
    p = PROFILES[profile]
    for line in lines:
        update = p.call_update_for(Urc(line))
        if update is not None:
            for change in tracker.apply(update):
                seen.append(change.new)
    return seen


INCOMING = {
    "quectel": ['+QIND: "ccinfo",1,1,4,0,0,"+972501234567",145', "RING",
                '+CLIP: "+972501234567",145,,,,0', "RING",
                '+QIND: "ccinfo",1,1,0,0,0,"+972501234567",145',
                '+QIND: "ccinfo",1,1,7,0,0,"+972501234567",145', "NO CARRIER"],
    "simcom": ["RING", '+CLIP: "+972501234567",145,,,,0',
               '+CLCC: 1,1,0,0,0,"+972501234567",145', "VOICE CALL: BEGIN",
               "VOICE CALL: END: 000042", "NO CARRIER"],
    "huawei": ["RING", '+CLIP: "+972501234567",145,,,,0', "RING", "^CONN:1,0",
               "^CEND:1,42,104,16"],
}

OUTGOING = {
    "quectel": ['+QIND: "ccinfo",1,0,2,0,0,"+4915112345",145',
                '+QIND: "ccinfo",1,0,3,0,0,"+4915112345",145',
                '+QIND: "ccinfo",1,0,0,0,0,"+4915112345",145',
                '+QIND: "ccinfo",1,0,7,0,0,"+4915112345",145'],
    "simcom": ['+CLCC: 1,0,2,0,0,"+4915112345",145', '+CLCC: 1,0,3,0,0,"+4915112345",145',
               "VOICE CALL: BEGIN", '+CLCC: 1,0,0,0,0,"+4915112345",145',
               "VOICE CALL: END: 000010"],
    "huawei": ["^ORIG:1,0", "^CONF:1", "^CONN:1,0", "^CEND:1,10,104,16"],
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_incoming_call(profile: str) -> None:
    tracker = CallTracker()
    assert states(profile, INCOMING[profile][:2], tracker) == [CallState.RINGING]
    assert tracker.number == "+972501234567" and not tracker.outgoing
    assert states(profile, INCOMING[profile][2:], tracker) == [
        CallState.ACTIVE, CallState.ENDED, CallState.IDLE]
    assert tracker.state is CallState.IDLE and tracker.number is None


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_outgoing_call(profile: str) -> None:
    assert states(profile, OUTGOING[profile]) == [
        CallState.DIALING, CallState.ALERTING, CallState.ACTIVE, CallState.ENDED, CallState.IDLE]


def test_missed_call_goes_back_to_idle() -> None:
    assert states("simcom", ["RING", '+CLIP: "123",129,,,,0', "MISSED_CALL: 10:21AM 123"]) == [
        CallState.RINGING, CallState.ENDED, CallState.IDLE]


def test_illegal_transition_raises() -> None:
    tracker = CallTracker()
    with pytest.raises(CallStateError):
        tracker.apply(CallUpdate(CallSignal.CONNECTED))
    assert tracker.state is CallState.IDLE


def test_reset_ends_a_call_cleanly() -> None:
    tracker = CallTracker()
    tracker.apply(CallUpdate(CallSignal.INCOMING, "+1555"))
    changes = tracker.reset()
    assert [c.new for c in changes] == [CallState.ENDED, CallState.IDLE]
    assert changes[0].number == "+1555"
    assert tracker.reset() == []


def test_non_call_urcs_are_not_call_signals() -> None:
    p = get_profile("quectel")
    assert p.call_update_for(Urc('+CMTI: "SM",1')) is None
    assert p.call_update_for(Urc('+QIND: "csq",20,99')) is None
    assert p.call_update_for(Urc('+QIND: "ccinfo",x')) is None


def test_dial_command_per_profile_and_bad_numbers() -> None:
    assert get_profile("huawei").dial("+4915112345") == "ATD+4915112345;"
    with pytest.raises(AtValueError):
        get_profile("simcom").dial("123;ATH")
    with pytest.raises(ValueError):
        get_profile("nokia")


@pytest.mark.parametrize(("profile", "pcm"), [
    ("quectel", "AT+QPCMV=1,0"), ("simcom", "AT+CPCMREG=1"), ("huawei", "AT^DDSETEX=2")])
def test_pcm_switch_per_profile(profile: str, pcm: str) -> None:
    assert get_profile(profile).pcm_on == (pcm,)
    assert "AT+CMGF=0" in get_profile(profile).init


def test_number_arriving_after_the_state_is_kept() -> None:
    tracker = CallTracker()
    tracker.apply(CallUpdate(CallSignal.DIALING))  # ^ORIG before our ATD's OK is handled
    tracker.apply(CallUpdate(CallSignal.ALERTING))
    tracker.apply(CallUpdate(CallSignal.DIALING, "+4915112345"))
    [active] = tracker.apply(CallUpdate(CallSignal.CONNECTED))
    assert active.number == "+4915112345" and active.outgoing
