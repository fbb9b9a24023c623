"""The SIP edge under attack: floods, password guessing and scanners are dropped while
phones keep calling."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.appliance import Appliance, make_appliance
from tests.support.audio import has_tone
from tests.support.phone import Phone
from tests.support.sipreg import SipClient


def echo_call_works(box: Appliance, tmp_path: Path, name: str) -> bool:
    """A phone on 127.0.0.1 registers, calls the echo test and hears its own tone."""
    with Phone() as phone:
        assert phone.register("101", box.passwords["101"], registrar=box.sip) == 200
        call = phone.call(f"sip:*43@{box.sip}", user="101")
        phone.wait(call, "confirmed", timeout=10)
        phone.send_tone(call, 1000)
        heard = tmp_path / f"{name}.wav"
        phone.record_rx(call, str(heard))
        time.sleep(1.5)
        phone.hangup(call)
        phone.wait(call, "disconnected", timeout=10)
    return has_tone(str(heard), 1000, start_s=0.5)


def test_flood_from_one_address_is_banned_while_phones_keep_calling(box: Appliance, tmp_path: Path) -> None:
    target = ("127.0.0.1", box.sip_port)
    with SipClient("127.0.0.2", timeout=0.05) as flooder:
        assert flooder.options(target) == 200
        deadline = time.monotonic() + 5.0
        sent = 0
        while sent < 400 and time.monotonic() < deadline:  # bounded in count and time
            flooder.options(target)
            sent += 1
        flooder.sock.settimeout(1.0)
        assert flooder.options(target) == 0, "the flooding address still gets answers"
    assert echo_call_works(box, tmp_path, "during-ban")


def test_password_guessing_bans_the_address(box: Appliance) -> None:
    target = ("127.0.0.1", box.sip_port)
    with SipClient("127.0.0.3", timeout=1.0) as guesser:
        codes = [guesser.register("103", f"guess-{i}", target) for i in range(5)]
        assert codes == [403] * 5
        # banned now: even the right password gets no answer from this address
        assert guesser.register("103", box.passwords["103"], target) == 0
    with SipClient("127.0.0.1") as phone:
        assert phone.register("103", box.passwords["103"], target) == 200


def test_scanner_user_agents_are_dropped(box: Appliance) -> None:
    target = ("127.0.0.1", box.sip_port)
    with SipClient("127.0.0.4", timeout=1.0) as c:
        assert c.options(target, user_agent="friendly-scanner") == 0
        assert c.options(target, user_agent="sipvicious 0.3") == 0
        assert c.options(target, user_agent="Yealink SIP-T46S") == 200


@pytest.fixture
def short_ban_box(tmp_path: Path) -> Iterator[Appliance]:
    app = make_appliance(tmp_path / "box", workers=1)
    app.start(extra=["--ban-seconds", "4", "--auth-fail-max", "2", "--auth-fail-window", "60",
                     "--natping-interval", "2"])
    try:
        yield app
    finally:
        app.stop()


def test_ban_thresholds_and_duration_are_configurable(short_ban_box: Appliance) -> None:
    box = short_ban_box
    target = ("127.0.0.1", box.sip_port)
    with SipClient("127.0.0.5", timeout=1.0) as guesser:
        assert [guesser.register("101", "wrong", target) for _ in range(2)] == [403, 403]
        assert guesser.options(target) == 0
        deadline = time.monotonic() + 30
        while guesser.options(target) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert guesser.register("101", box.passwords["101"], target) == 200


def test_registered_phones_get_nat_keepalives(short_ban_box: Appliance) -> None:
    box = short_ban_box
    with SipClient("127.0.0.1", timeout=8.0) as phone:
        assert phone.register("104", box.passwords["104"], ("127.0.0.1", box.sip_port)) == 200
        ping = phone.recv()  # Kamailio's keepalive OPTIONS to the registered contact
    assert ping is not None and ping.startswith(b"OPTIONS sip:104@127.0.0.1:")
    assert b"keepalive@" in ping
