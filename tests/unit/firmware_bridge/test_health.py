"""The modem state machine, reset backoff and alarms."""

from __future__ import annotations

import pytest

from firmware_bridge.at.values import Registration, SimState, parse_csq
from firmware_bridge.health import (
    ALARM_MODEM_DOWN,
    ALARM_NO_NETWORK,
    ALARM_SIM_PIN,
    AlarmCleared,
    AlarmRaised,
    Backoff,
    ModemHealth,
    ModemState,
    ModemStateError,
    SignalChanged,
)


def test_happy_path_and_illegal_transition() -> None:
    h = ModemHealth()
    h.transition(ModemState.CONNECTING)
    h.transition(ModemState.READY)
    with pytest.raises(ModemStateError):
        h.transition(ModemState.CONNECTING)
    assert h.state is ModemState.READY


def test_reset_raises_alarm_once_and_recovery_clears_it() -> None:
    h = ModemHealth()
    h.transition(ModemState.CONNECTING)
    events = h.transition(ModemState.RESETTING, "port lost")
    assert AlarmRaised(ALARM_MODEM_DOWN, "port lost") in events
    h.transition(ModemState.CONNECTING)
    again = h.transition(ModemState.RESETTING, "still lost")
    assert not any(isinstance(e, AlarmRaised) for e in again)
    assert h.failures == 2 and h.last_error == "still lost"
    h.transition(ModemState.CONNECTING)
    done = h.transition(ModemState.READY)
    assert AlarmCleared(ALARM_MODEM_DOWN) in done and h.failures == 0 and not h.alarms


def test_backoff_grows_and_caps() -> None:
    b = Backoff(initial=1, factor=2, maximum=30, jitter=0.1)
    mid = [b.delay(n, rand=lambda: 0.5) for n in range(7)]
    assert mid == [1, 2, 4, 8, 16, 30, 30]
    assert b.delay(0, rand=lambda: 0.0) == pytest.approx(0.9)
    assert b.delay(0, rand=lambda: 1.0) == pytest.approx(1.1)


def test_next_delay_follows_consecutive_failures() -> None:
    h = ModemHealth(Backoff(jitter=0))
    h.transition(ModemState.CONNECTING)
    h.transition(ModemState.RESETTING, "x")
    assert h.next_delay() == 1
    h.transition(ModemState.CONNECTING)
    h.transition(ModemState.RESETTING, "x")
    assert h.next_delay() == 2


def test_sim_pin_alarm_and_clear() -> None:
    h = ModemHealth()
    assert AlarmRaised(ALARM_SIM_PIN, "SIM: SIM PIN") in h.update_sim(SimState.PIN_REQUIRED)
    assert h.update_sim(SimState.PIN_REQUIRED) == []
    assert AlarmCleared(ALARM_SIM_PIN) in h.update_sim(SimState.READY)


def test_signal_and_registration_emit_only_on_change() -> None:
    h = ModemHealth()
    assert h.update_signal(parse_csq("20,99")) == [SignalChanged(parse_csq("20,99"))]
    assert h.update_signal(parse_csq("20,99")) == []
    raised = h.update_registration(Registration.DENIED)
    assert any(isinstance(e, AlarmRaised) and e.code == ALARM_NO_NETWORK for e in raised)
    assert AlarmCleared(ALARM_NO_NETWORK) in h.update_registration(Registration.HOME)
