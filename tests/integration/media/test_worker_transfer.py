"""New media primitives on a real worker: one-way connections (listen / whisper / barge),
REFER (blind and with Replaces) reported as `leg_transfer`, and DTMF by SIP INFO."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.media.conftest import WorkerProcess
from tests.integration.media.tones import heard_tones
from tests.support.audio import has_tone
from tests.support.phone import Phone

pytestmark = pytest.mark.integration

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 500, 1200, 2000


@pytest.fixture
def phone3() -> Iterator[Phone]:
    """A third pjsua2 test phone."""
    with Phone() as p:
        yield p


def answered(worker: WorkerProcess, phone: Phone, user: str) -> tuple[str, str]:
    """`phone` calls `user` at the worker, the controller answers; return (call, leg)."""
    call = phone.call(worker.uri(user))
    new = worker.ctl.event("leg_new", request_user=user)
    worker.ctl.ok("answer", leg=new["leg"])
    worker.ctl.event("leg_answered", leg=new["leg"])
    phone.wait(call, "confirmed", 5)
    return call, new["leg"]


def hears(path: Path, freq: int) -> bool:
    """True when the recording of what a phone heard holds `freq` (after media settles)."""
    return freq in heard_tones(path, (CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ))


def test_connect_is_one_way_and_makes_listen_whisper_and_barge(
    worker: WorkerProcess, phone: Phone, phone2: Phone, phone3: Phone, tmp_path: Path
) -> None:
    ctl = worker.ctl
    caller, c_leg = answered(worker, phone, "caller")
    agent, a_leg = answered(worker, phone2, "agent")
    sup, s_leg = answered(worker, phone3, "sup")
    ctl.ok("bridge", a=c_leg, b=a_leg)
    phone.send_tone(caller, CALLER_HZ)
    phone2.send_tone(agent, AGENT_HZ)
    phone3.send_tone(sup, SUPERVISOR_HZ)

    def listen_round(name: str) -> dict[str, Path]:
        paths = {who: tmp_path / f"{name}-{who}.wav" for who in ("caller", "agent", "sup")}
        phone.record_rx(caller, str(paths["caller"]))
        phone2.record_rx(agent, str(paths["agent"]))
        phone3.record_rx(sup, str(paths["sup"]))
        time.sleep(1.5)  # audio must flow for a while; nothing to await
        phone.stop_record(caller)
        phone2.stop_record(agent)
        phone3.stop_record(sup)
        return paths

    # listen: caller -> sup, agent -> sup
    ctl.ok("connect", src=c_leg, dst=s_leg)
    ctl.ok("connect", src=a_leg, dst=s_leg)
    heard = listen_round("listen")
    assert hears(heard["sup"], CALLER_HZ) and hears(heard["sup"], AGENT_HZ)
    assert not hears(heard["caller"], SUPERVISOR_HZ)
    assert not hears(heard["agent"], SUPERVISOR_HZ)
    assert hears(heard["caller"], AGENT_HZ) and hears(heard["agent"], CALLER_HZ)

    # whisper: + sup -> agent
    ctl.ok("connect", src=s_leg, dst=a_leg)
    heard = listen_round("whisper")
    assert hears(heard["agent"], SUPERVISOR_HZ)
    assert not hears(heard["caller"], SUPERVISOR_HZ)

    # barge: + sup -> caller
    ctl.ok("connect", src=s_leg, dst=c_leg)
    heard = listen_round("barge")
    assert hears(heard["agent"], SUPERVISOR_HZ) and hears(heard["caller"], SUPERVISOR_HZ)

    # back to listen: switching mode is only changing connections
    ctl.ok("disconnect", src=s_leg, dst=c_leg)
    ctl.ok("disconnect", src=s_leg, dst=a_leg)
    heard = listen_round("listen-again")
    assert not hears(heard["agent"], SUPERVISOR_HZ) and not hears(heard["caller"], SUPERVISOR_HZ)
    assert hears(heard["sup"], CALLER_HZ)

    bad = ctl.command("disconnect", src=s_leg, dst=c_leg)
    assert bad["ok"] is False and "not connected" in bad["error"]
    bad = ctl.command("connect", src=s_leg, dst="w1-L999")
    assert bad["ok"] is False and "unknown leg" in bad["error"]
    bad = ctl.command("connect", src=s_leg, dst=s_leg)
    assert bad["ok"] is False and "itself" in bad["error"]

    phone3.hangup(sup)
    ctl.event("leg_ended", leg=s_leg)
    bad = ctl.command("disconnect", src=c_leg, dst=s_leg)
    assert bad["ok"] is False  # a connection ends with its leg


def test_blind_refer_is_reported_and_the_target_dialled(
    worker: WorkerProcess, phone: Phone, phone2: Phone
) -> None:
    ctl = worker.ctl
    call, leg = answered(worker, phone, "agent")
    phone.transfer(call, f"sip:bob@127.0.0.1:{phone2.port}")
    xfer = ctl.event("leg_transfer", leg=leg)
    assert xfer["target"] == f"sip:bob@127.0.0.1:{phone2.port}"
    assert xfer["target_user"] == "bob"
    assert xfer["replaces"] is None
    new_leg = xfer["new_leg"]
    incoming = phone2.incoming(10)
    phone2.answer(incoming)
    ctl.event("leg_answered", leg=new_leg)
    phone.wait_until(lambda p: 200 in p.transfer_status(call), 10, "NOTIFY sipfrag 200")
    assert phone.transfer_status(call)[0] in (100, 180, 183, 200)
    status = ctl.ok("status")
    assert {(x["leg"], x["state"]) for x in status["legs"]} == {(leg, "confirmed"), (new_leg, "confirmed")}
    ctl.ok("hangup", leg=leg)
    ctl.event("leg_ended", leg=leg)
    phone2.hangup(incoming)
    ctl.event("leg_ended", leg=new_leg, by="remote")


def test_failed_refer_target_notifies_the_failure(
    worker: WorkerProcess, phone: Phone, phone2: Phone
) -> None:
    ctl = worker.ctl
    call, leg = answered(worker, phone, "agent")
    phone.transfer(call, f"sip:bob@127.0.0.1:{phone2.port}")
    new_leg = ctl.event("leg_transfer", leg=leg)["new_leg"]
    phone2.hangup(phone2.incoming(10), code=486)
    ended = ctl.event("leg_ended", leg=new_leg)
    assert ended["code"] == 486
    phone.wait_until(lambda p: 486 in p.transfer_status(call), 10, "NOTIFY sipfrag 486")
    assert phone.state(call) == "confirmed"  # the transferer keeps its call


def test_refer_with_replaces_swaps_the_targets_call(
    worker: WorkerProcess, phone: Phone, phone2: Phone, tmp_path: Path
) -> None:
    ctl = worker.ctl
    to_worker, leg = answered(worker, phone, "agent")
    phone.hold(to_worker)
    direct = phone.call(phone2.uri)  # the agent calls Y directly
    y_old = phone2.incoming(10)
    phone2.answer(y_old)
    phone.wait(direct, "confirmed", 5)

    phone.transfer_replaces(to_worker, direct)
    xfer = ctl.event("leg_transfer", leg=leg)
    assert xfer["target_user"] == "phone"
    assert "to-tag=" in xfer["replaces"] and "from-tag=" in xfer["replaces"]
    new_leg = xfer["new_leg"]
    y_new = phone2.incoming(10)  # Y's phone took the new call in place of the old one
    assert phone2.info(y_new).replaces == y_old
    ctl.event("leg_answered", leg=new_leg)
    phone2.wait(y_old, "disconnected", 10)
    phone2.wait(y_new, "confirmed", 10)
    phone.wait(direct, "disconnected", 10)  # the agent's own call to Y was replaced

    ctl.ok("echo", leg=new_leg)
    heard = tmp_path / "y.wav"
    phone2.send_tone(y_new, 1000)
    phone2.record_rx(y_new, str(heard))
    time.sleep(1.5)  # audio must flow for a while; nothing to await
    phone2.stop_record(y_new)
    assert has_tone(str(heard), 1000, 0.3, 1.3)


def test_dtmf_by_sip_info_reaches_the_controller(worker: WorkerProcess, phone: Phone) -> None:
    call, leg = answered(worker, phone, "ivr")
    phone.send_dtmf(call, "*70", method="info")
    digits = [ctl_ev["digit"] for ctl_ev in (
        worker.ctl.event("dtmf", leg=leg, digit="*"),
        worker.ctl.event("dtmf", leg=leg, digit="7"),
        worker.ctl.event("dtmf", leg=leg, digit="0"),
    )]
    assert digits == ["*", "7", "0"]
    assert {e["method"] for e in worker.ctl.events("dtmf")} == {"info"}


def test_refer_to_a_local_target_is_notified_200_at_once(
    worker: WorkerProcess, phone: Phone, phone2: Phone
) -> None:
    """A REFER to a number the box serves itself (a park slot) gets NOTIFY 200 from the worker,
    whatever becomes of pjsua's own INVITE to it (here refused 480 after the 200)."""
    ctl = worker.ctl
    assert ctl.ok("local_targets", users=["7001", "7002"]) == {"users": ["7001", "7002"]}
    call, leg = answered(worker, phone, "agent")
    phone.transfer(call, f"sip:7001@127.0.0.1:{phone2.port}")
    xfer = ctl.event("leg_transfer", leg=leg)
    assert (xfer["target_user"], xfer["local"]) == ("7001", True)
    phone.wait_until(lambda p: 200 in p.transfer_status(call), 10, "NOTIFY sipfrag 200")
    phone2.hangup(phone2.incoming(10), code=480)  # the INVITE pjsua sent anyway fails late
    ctl.event("leg_ended", leg=xfer["new_leg"])
    ctl.ok("status")  # the worker handled the late failure (its NOTIFY is answered 481)
    assert [c for c in phone.transfer_status(call) if c >= 200] == [200]
    bad = ctl.command("local_targets", users=["70 01"])
    assert bad["ok"] is False and "users" in bad["error"]
