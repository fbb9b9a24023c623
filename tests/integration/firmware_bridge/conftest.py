"""Fixtures: a simulated modem on a real pty per profile, and a Modem attached to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from firmware_bridge.health import ModemState
from firmware_bridge.modem import Modem
from firmware_bridge.profiles import get_profile
from firmware_bridge.simulator import ModemSimulator
from tests.integration.firmware_bridge.support import PROBE, ManualClock, Recorder


@pytest.fixture(params=["quectel", "simcom", "huawei"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim(profile: str) -> Iterator[ModemSimulator]:
    simulator = ModemSimulator(profile, reset_seconds=0.05).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def bare_modem(sim: ModemSimulator, profile: str, clock: ManualClock) -> Modem:
    return Modem(sim.port, get_profile(profile), clock=clock, command_timeout=1.0,
                 probe_interval=PROBE)


@pytest.fixture
def rec(bare_modem: Modem) -> Recorder:
    return Recorder(bare_modem)


@pytest.fixture
async def modem(bare_modem: Modem, rec: Recorder) -> AsyncIterator[Modem]:
    await bare_modem.start()
    try:
        await rec.wait_state(ModemState.READY)
        yield bare_modem
    finally:
        await bare_modem.stop()
