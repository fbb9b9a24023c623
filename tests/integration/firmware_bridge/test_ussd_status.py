"""USSD balance queries and status refresh through the simulator."""

from __future__ import annotations

import pytest

from firmware_bridge.health import SignalChanged
from firmware_bridge.modem import Modem
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.ussd import UssdStatus
from tests.integration.firmware_bridge.support import Recorder


async def test_balance_query_gsm7(modem: Modem, sim: ModemSimulator) -> None:
    answer = await modem.ussd("*100#")
    assert answer.status is UssdStatus.DONE
    assert answer.text == "Balance: 12.50 EUR, valid until 31/12"
    sent = [c for c in sim.received_commands if c.startswith("AT+CUSD=1")]
    if modem.profile.ussd_packed:
        assert sent == ['AT+CUSD=1,"AA180C3602",15']  # Huawei: packed GSM-7 hex
    else:
        assert sent == ['AT+CUSD=1,"*100#",15']


@pytest.mark.parametrize("text", ["יתרתך: 12.50 ₪", "رصيدك: 5 دنانير", "您的余额：8.00元"])
async def test_balance_query_ucs2(modem: Modem, sim: ModemSimulator, text: str) -> None:
    sim.set_ussd("*123#", text, ucs2=True)
    answer = await modem.ussd("*123#")
    assert answer.text == text


async def test_unknown_code_terminated_by_network(modem: Modem) -> None:
    answer = await modem.ussd("*999#")
    assert answer.status is UssdStatus.TERMINATED and answer.text == ""


async def test_status_refresh_emits_signal_change(modem: Modem, sim: ModemSimulator,
                                                  rec: Recorder) -> None:
    before = modem.status().signal
    with sim.locked():
        sim.config.rssi = 10
    status = await modem.refresh_status()
    assert status.signal is not None and status.signal.rssi_dbm == -93
    assert status.signal != before
    assert SignalChanged(status.signal) in rec.events
    assert status.operator is not None and status.operator.access_technology is not None
