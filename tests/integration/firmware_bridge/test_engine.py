"""The AT engine against the simulator on a real pty: commands, URCs, timeouts, garbage."""

from __future__ import annotations

import asyncio

import pytest

from firmware_bridge.at.channel import CommandFailed, CommandTimeout
from firmware_bridge.at.parser import Urc
from firmware_bridge.at.values import Registration, SimState
from firmware_bridge.health import ModemState
from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.simulator.dialect import IMEIS
from tests.integration.firmware_bridge.support import WAIT, Recorder


async def test_initialised_and_identified_by_imei(modem: Modem, sim: ModemSimulator,
                                                  profile: str) -> None:
    status = modem.status()
    assert status.state is ModemState.READY
    assert status.imei == IMEIS[profile]
    assert status.sim is SimState.READY
    assert status.registration is Registration.HOME
    assert status.operator is not None and status.operator.name == "Simnet"
    assert status.signal is not None and status.signal.rssi_dbm == -73
    sent = sim.received_commands
    for cmd in modem.profile.init:
        assert cmd in sent
    assert "AT+CGSN" in sent


async def test_command_response_and_error(modem: Modem) -> None:
    resp = await modem.command("AT+CSQ", timeout=2)
    assert resp.ok and resp.info("+CSQ") == ["20,99"]
    with pytest.raises(CommandFailed) as err:
        await modem.command("AT+CMGR=29")
    assert err.value.response.final == "+CMS ERROR: 321"
    with pytest.raises(CommandFailed):
        await modem.command("AT+NOSUCHTHING")


async def test_urcs_dispatched_separately_from_responses(modem: Modem,
                                                         sim: ModemSimulator) -> None:
    urcs: asyncio.Queue[Urc] = asyncio.Queue()
    modem.subscribe_urcs(urcs.put_nowait)
    sim.incoming_call("+972501234567")
    resp = await modem.command("AT+CSQ")
    assert resp.lines == ("+CSQ: 20,99",)
    names = []
    while "+CLIP" not in names:
        names.append((await asyncio.wait_for(urcs.get(), WAIT)).name)
    assert "RING" in names


async def test_urc_inside_a_response_on_the_wire(modem: Modem, sim: ModemSimulator) -> None:
    urcs: asyncio.Queue[Urc] = asyncio.Queue()
    modem.subscribe_urcs(urcs.put_nowait)
    sim.urc_inside_next_response('+CMTI: "SM",7')
    resp = await modem.command("AT+COPS?")
    assert resp.final == "OK"
    assert resp.lines == (resp.lines[0],) and resp.lines[0].startswith("+COPS: 0,0,")
    urc = await asyncio.wait_for(urcs.get(), WAIT)
    assert (urc.name, urc.value) == ("+CMTI", '"SM",7')


async def test_stuck_port_times_out_and_next_command_works(modem: Modem,
                                                           sim: ModemSimulator) -> None:
    sim.set_stuck(True)
    with pytest.raises(CommandTimeout):
        await modem.command("AT+CSQ", timeout=0.3)
    sim.set_stuck(False)
    resp = await modem.command("AT+CSQ")
    assert resp.info("+CSQ") == ["20,99"]
    assert modem.health.last_error is not None and "AT+CSQ" in modem.health.last_error


async def test_late_answer_is_not_taken_for_the_next_commands(modem: Modem,
                                                               sim: ModemSimulator) -> None:
    sim.delay_next_answer(0.4)  # the +CSQ answer comes after our timeout...
    with pytest.raises(CommandTimeout):
        await modem.command("AT+CSQ", timeout=0.2)
    sim.delay_next_answer(0.8)  # ...and while the next command is waiting for its own
    resp = await modem.command("AT+CPIN?", timeout=3)
    assert resp.lines == ("+CPIN: READY",)
    assert (await modem.command("AT+CSQ")).lines == ("+CSQ: 20,99",)


async def test_garbage_on_the_line_is_survived(modem: Modem, sim: ModemSimulator) -> None:
    sim.garbage()
    sim.garbage(bytes(range(256)))
    for _ in range(3):
        resp = await modem.command("AT+CPIN?")
        assert resp.info("+CPIN") == ["READY"]
    assert modem.state is ModemState.READY
    assert sim.resets == 0  # survived without a reset


async def test_sim_pin_raises_alarm_and_pin_is_never_sent(sim: ModemSimulator,
                                                          bare_modem: Modem,
                                                          rec: Recorder) -> None:
    sim.set_sim("SIM PIN")
    await bare_modem.start()
    try:
        await rec.wait_state(ModemState.READY)
        assert "sim_pin_required" in bare_modem.status().alarms
        assert bare_modem.status().sim is SimState.PIN_REQUIRED
        with pytest.raises(CommandFailed):
            await bare_modem.command("AT+CMGL=4")
    finally:
        await bare_modem.stop()
    assert not [c for c in sim.received_commands if c.upper().startswith("AT+CPIN=")]


async def test_no_sim_raises_alarm(sim: ModemSimulator, bare_modem: Modem,
                                   rec: Recorder) -> None:
    sim.set_sim("ABSENT")
    await bare_modem.start()
    try:
        await rec.wait_state(ModemState.READY)
        assert bare_modem.status().sim is SimState.ABSENT
        assert "sim_absent" in bare_modem.status().alarms
    finally:
        await bare_modem.stop()


async def test_no_network_raises_and_clears_alarm(modem: Modem, sim: ModemSimulator,
                                                  rec: Recorder) -> None:
    sim.set_network(False)
    await rec.wait_for(lambda e: getattr(e, "code", None) == "no_network"
                       and type(e).__name__ == "AlarmRaised")
    with pytest.raises(CommandFailed):
        await modem.dial("+4915112345")
    sim.set_network(True)
    await rec.wait_for(lambda e: getattr(e, "code", None) == "no_network"
                       and type(e).__name__ == "AlarmCleared")
    assert modem.status().registration is Registration.HOME


async def test_lte_only_registration_counts(sim: ModemSimulator, bare_modem: Modem,
                                            rec: Recorder) -> None:
    with sim.locked():
        sim.config.lte_only = True  # +CREG: not registered, +CEREG: home
    await bare_modem.start()
    try:
        await rec.wait_state(ModemState.READY)
        status = bare_modem.status()
        if bare_modem.profile.lte:
            assert status.registration is Registration.HOME
            assert "no_network" not in status.alarms
        else:  # a 3G stick has no LTE registration to fall back on
            assert status.registration is Registration.NOT_REGISTERED
            assert "no_network" in status.alarms
    finally:
        await bare_modem.stop()
