"""Fixtures: a simulated modem, a Modem on it, a test phone, and the gateway between them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from firmware_bridge.health import ModemState
from firmware_bridge.modem import Modem
from firmware_bridge.profiles import get_profile
from firmware_bridge.simulator import ModemSimulator
from firmware_bridge.voice import GatewayConfig, VoiceGateway
from tests.integration.gsm.support import Events
from tests.support.net import free_port
from tests.support.phone import Phone

DID = "+4930555000"


@pytest.fixture(scope="module")
def phone() -> Iterator[Phone]:
    with Phone() as p:
        yield p


@pytest.fixture(params=["quectel"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim(profile: str) -> Iterator[ModemSimulator]:
    simulator = ModemSimulator(profile, reset_seconds=0.2).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def modem_events() -> Events:
    return Events()


@pytest.fixture
async def modem(sim: ModemSimulator, profile: str, modem_events: Events) -> AsyncIterator[Modem]:
    m = Modem(sim.port, get_profile(profile), command_timeout=1.0, probe_interval=30.0)
    m.add_listener(modem_events.add)
    await m.start()
    try:
        await modem_events.wait_for(lambda e: getattr(e, "new", None) is ModemState.READY)
        yield m
    finally:
        await m.stop()


@pytest.fixture
def gateway_events() -> Events:
    return Events()


@pytest.fixture
async def gateway(modem: Modem, sim: ModemSimulator, phone: Phone,
                  gateway_events: Events) -> AsyncIterator[VoiceGateway]:
    """The gateway, sending inbound GSM calls straight to the test phone."""
    config = GatewayConfig(sip_port=free_port(), did=DID,
                           inbound_uri=f"sip:{{did}}@127.0.0.1:{phone.port}")
    gw = VoiceGateway(modem, sim.audio_port, config)
    gw.add_listener(gateway_events.add)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()
