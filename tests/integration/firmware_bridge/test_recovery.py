"""Recovery: modem reset (port goes away), stuck port -> reset with backoff, alarms."""

from __future__ import annotations

from firmware_bridge.calls import CallState, CallStateChanged
from firmware_bridge.health import (
    ALARM_MODEM_DOWN,
    AlarmCleared,
    AlarmRaised,
    ModemState,
    ModemStateChanged,
    SignalChanged,
)
from firmware_bridge.modem import Modem
from firmware_bridge.profiles import get_profile
from firmware_bridge.simulator import ModemSimulator
from tests.integration.firmware_bridge.support import (
    PROBE,
    ManualClock,
    Recorder,
    drive_until_ready,
)


async def test_reset_recovers_and_clears_alarm(modem: Modem, sim: ModemSimulator,
                                               rec: Recorder, clock: ManualClock) -> None:
    mark = len(rec.events)
    sim.power_cycle()
    down = await rec.wait_state(ModemState.RESETTING, mark)
    ready, _ = await drive_until_ready(clock, rec, down, sim)
    raised = [e for e in rec.events[mark:ready] if isinstance(e, AlarmRaised)]
    assert [e.code for e in raised] == [ALARM_MODEM_DOWN]
    assert AlarmCleared(ALARM_MODEM_DOWN) in rec.events[ready:]
    assert modem.status().alarms == {}
    # and it works again
    resp = await modem.command("AT+CSQ")
    assert resp.ok


async def test_reset_in_the_middle_of_a_call_ends_it_cleanly(
        modem: Modem, sim: ModemSimulator, rec: Recorder, clock: ManualClock) -> None:
    sim.incoming_call("+972501234567")
    await rec.wait_for(lambda e: isinstance(e, CallStateChanged) and e.new is CallState.RINGING)
    await modem.answer()
    assert modem.calls.state is CallState.ACTIVE
    mark = len(rec.events)
    sim.power_cycle()
    ended = await rec.wait_for(lambda e: isinstance(e, CallStateChanged)
                               and e.new is CallState.ENDED)
    assert ended.number == "+972501234567"
    down = await rec.wait_state(ModemState.RESETTING, mark)
    await drive_until_ready(clock, rec, down, sim)
    assert modem.calls.state is CallState.IDLE


async def test_stuck_port_is_reset_with_backoff_then_power_cycled(
        sim: ModemSimulator, profile: str) -> None:
    clock = ManualClock()
    modem = Modem(sim.port, get_profile(profile), clock=clock, command_timeout=0.2,
                  probe_interval=PROBE, power_cycle=sim.power_cycle, power_cycle_after=2)
    rec = Recorder(modem)
    await modem.start()
    try:
        await rec.wait_state(ModemState.READY)
        mark = len(rec.events)
        sim.set_stuck(True)
        await clock.wait_for_sleeper(lambda d: d == PROBE)
        clock.advance(PROBE)  # time for a probe: it goes unanswered
        down = await rec.wait_state(ModemState.RESETTING, mark)
        ready, delays = await drive_until_ready(clock, rec, down, sim)
        states = [e.new for e in rec.events[mark:ready + 1] if isinstance(e, ModemStateChanged)]
        assert states[:2] == [ModemState.UNRESPONSIVE, ModemState.RESETTING]
        assert states[-1] is ModemState.READY
        # the AT reset was tried first; re-enumeration (power cycle) only after it failed
        assert get_profile(profile).reset.encode() in sim.ignored_input
        assert sim.resets == 1
        assert len(delays) >= 2 and delays[1] > delays[0]
        assert AlarmCleared(ALARM_MODEM_DOWN) in rec.events[ready:]
        assert modem.health.last_error is not None
    finally:
        await modem.stop()


async def test_periodic_probe_reports_signal_changes(
        modem: Modem, sim: ModemSimulator, rec: Recorder, clock: ManualClock) -> None:
    with sim.locked():
        sim.config.rssi = 5
    mark = len(rec.events)
    await clock.wait_for_sleeper(lambda d: d == PROBE)
    clock.advance(PROBE)
    changed = await rec.wait_for(lambda e: isinstance(e, SignalChanged)
                                 and rec.events.index(e) >= mark)
    assert changed.signal.rssi_dbm == -103


async def test_unexpected_reboot_is_noticed_and_modem_reinitialised(
        modem: Modem, sim: ModemSimulator, rec: Recorder, clock: ManualClock) -> None:
    mark = len(rec.events)
    init_count = sim.received_commands.count("ATE0")
    with sim.locked():
        sim.dialect.power_on()  # the module rebooted on its own: echo back on, URCs...
        sim.dialect.boot_urcs()
    sim.garbage(b"")  # wake the simulator thread to send them
    down = await rec.wait_state(ModemState.RESETTING, mark)
    await drive_until_ready(clock, rec, down, sim)
    assert sim.received_commands.count("ATE0") == init_count + 1
    assert "AT+CFUN=1,1" not in sim.received_commands  # it had just rebooted: no reset
    assert modem.state is ModemState.READY
    assert (await modem.command("AT+CSQ")).ok
