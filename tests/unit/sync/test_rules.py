"""Pure rules: config conflict, command validation, link state machine, backoff, window, gaps."""

from __future__ import annotations

import json

import pytest

from appliance.sync.commands import BUILTIN_SPECS, CommandRejected, parse_command
from appliance.sync.config import (
    Action,
    ConfigDoc,
    ConfigError,
    Origin,
    decide,
    local_edit,
    parse_desired,
)
from appliance.sync.link import Backoff, InFlight, Link, LinkError, SendWindow, State
from web.fleet.seq import SeqTracker

NOW = 1_700_000_000.0


def test_higher_version_wins_lower_is_stale_equal_same_is_noop() -> None:
    cur = ConfigDoc(3, {"a": 1})
    assert decide(None, ConfigDoc(1, {})).action is Action.APPLY
    assert decide(cur, ConfigDoc(4, {"a": 2})).action is Action.APPLY
    stale = decide(cur, ConfigDoc(2, {"a": 9}))
    assert stale.action is Action.IGNORE and "stale" in stale.reason
    assert decide(cur, ConfigDoc(3, {"a": 1})).action is Action.IGNORE


def test_equal_version_different_content_cloud_wins_and_reports_local_override() -> None:
    local = local_edit(ConfigDoc(1, {"tz": "UTC"}), {"moh": "jazz"})
    assert local == ConfigDoc(2, {"tz": "UTC", "moh": "jazz"}, Origin.LOCAL)
    d = decide(local, ConfigDoc(2, {"tz": "CET"}))
    assert d.action is Action.APPLY and d.overridden_local == {"tz": "UTC", "moh": "jazz"}
    # Two cloud docs with one version: still the newest cloud doc, nothing "overridden".
    assert decide(ConfigDoc(2, {"x": 1}), ConfigDoc(2, {"x": 2})).overridden_local is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"config": {}}', "version"),
        (b'{"version": 0, "config": {}}', "version"),
        (b'{"version": true, "config": {}}', "version"),
        (b'{"version": 1, "config": []}', "config"),
        (json.dumps({"version": 1, "config": {"x": "y" * 70_000}}).encode(), "too large"),
    ],
)
def test_desired_doc_errors_have_reasons(payload: bytes, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_desired(payload)


def _cmd(**kw: object) -> bytes:
    return json.dumps({"id": "c1", "expires": NOW + 60, "args": {}} | kw).encode()


@pytest.mark.parametrize(
    ("name", "payload", "cmd_id", "reason"),
    [
        ("resync", b"x" * 9000, None, "oversized"),
        ("resync", b"{", None, "not JSON"),
        ("resync", b"[1]", None, "not a JSON object"),
        ("resync", json.dumps({"id": "bad id!", "expires": NOW + 1}).encode(), None, "id"),
        ("resync", _cmd(expires="soon"), "c1", "expires"),
        ("resync", _cmd(args=[]), "c1", "args"),
        ("self_destruct", _cmd(), "c1", "unknown command"),
        ("resync", _cmd(expires=NOW - 5), "c1", "expired"),
        ("recording_metadata", _cmd(), "c1", "missing argument 'recording_id'"),
        ("recording_metadata", _cmd(args={"recording_id": 1}), "c1", "must be str"),
        ("resync", _cmd(args={"from_seq": True}), "c1", "must be int"),
        ("resync", _cmd(args={"rm": "-rf"}), "c1", "unexpected argument"),
    ],
)
def test_commands_rejected_with_reason(name: str, payload: bytes, cmd_id: str | None,
                                       reason: str) -> None:
    with pytest.raises(CommandRejected, match=reason) as exc:
        parse_command(name, payload, BUILTIN_SPECS, NOW)
    assert exc.value.cmd_id == cmd_id


def test_valid_command_parses() -> None:
    cmd = parse_command("restart_services", _cmd(args={"services": ["kamailio"]}),
                        BUILTIN_SPECS, NOW)
    assert (cmd.id, cmd.name, cmd.args) == ("c1", "restart_services", {"services": ["kamailio"]})


def test_link_state_machine_refuses_illegal_moves() -> None:
    seen: list[tuple[State, State]] = []
    link = Link()
    link.listeners.append(lambda o, n: seen.append((o, n)))
    link.set_state(State.CONNECTING)
    link.set_state(State.CONNECTED)
    with pytest.raises(LinkError, match="connected -> connecting"):
        link.set_state(State.CONNECTING)
    link.set_state(State.DRAINING)
    link.set_state(State.STOPPED)
    with pytest.raises(LinkError):
        link.set_state(State.CONNECTING)
    assert seen[0] == (State.IDLE, State.CONNECTING) and len(seen) == 4


def test_backoff_grows_exponentially_is_capped_jittered_and_resets() -> None:
    draws = iter([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    b = Backoff(lambda: next(draws), initial=0.5, maximum=4.0, jitter=0.5)
    assert [b.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.next() == 2.0  # full jitter draw halves it
    b.reset()
    assert b.next() == 0.5


def test_send_window_is_bounded_and_acks_by_mid() -> None:
    w = SendWindow(2)
    w.add(1, InFlight(10, "cdr"))
    w.add(2, InFlight(11, "cdr"))
    assert w.room() == 0
    with pytest.raises(LinkError):
        w.add(3, InFlight(12, "cdr"))
    assert w.ack(1) == InFlight(10, "cdr") and w.ack(1) is None and w.room() == 1
    assert w.clear() == [InFlight(11, "cdr")] and len(w) == 0


def test_seq_tracker_finds_gaps_and_gives_up_on_what_the_box_no_longer_has() -> None:
    t = SeqTracker()
    for s in (1, 2, 5, 6, 9, 2):
        t.observe(s)
    assert (t.floor, t.gaps(), t.high) == (2, [(3, 4), (7, 8)], 9)
    t.observe(3)
    t.observe(4)
    assert (t.floor, t.gaps()) == (6, [(7, 8)])
    assert t.skip_below(8) == [(7, 7)]
    assert (t.floor, t.gaps()) == (7, [(8, 8)])  # 8 is still on the box: it will come
    t.observe(8)
    assert (t.floor, t.gaps()) == (9, [])
