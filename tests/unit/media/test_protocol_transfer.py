"""Protocol additions: one-way connect/disconnect commands and Refer-To parsing (pure)."""

from __future__ import annotations

import json

import pytest

from appliance.media import protocol as p


def cmd(name: str, **fields: object) -> str:
    return json.dumps({"type": "cmd", "req": 3, "cmd": name, **fields})


def test_connect_and_disconnect_parse_to_one_way_pairs() -> None:
    assert p.parse_command(cmd("connect", src="w1-L1", dst="w1-L2")).cmd == p.Connect("w1-L1", "w1-L2")
    assert p.parse_command(cmd("disconnect", src="w1-L2", dst="w1-L1")).cmd == p.Disconnect("w1-L2", "w1-L1")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dst": "w1-L2"}, "missing field 'src'"),
        ({"src": "w1-L1"}, "missing field 'dst'"),
        ({"src": "w1-L1", "dst": 7}, "field 'dst' must be a non-empty string"),
        ({"src": "w1-L1", "dst": "w1-L1"}, "cannot connect a leg to itself"),
    ],
)
def test_connect_refusals_keep_req_and_say_why(fields: dict[str, object], message: str) -> None:
    for name in ("connect", "disconnect"):
        with pytest.raises(p.ProtocolError, match=message) as err:
            p.parse_command(cmd(name, **fields))
        assert err.value.req == 3


def test_leg_transfer_is_a_known_event() -> None:
    line = p.event_message("leg_transfer", leg="w1-L1", new_leg="w1-L2", target="sip:103@h", replaces=None)
    assert json.loads(line)["event"] == "leg_transfer"


def test_refer_target_without_headers() -> None:
    assert p.split_refer_target("<sip:103@127.0.0.1:5060>") == ("sip:103@127.0.0.1:5060", None)
    assert p.split_refer_target("sip:103@127.0.0.1") == ("sip:103@127.0.0.1", None)


def test_refer_target_with_replaces_is_decoded() -> None:
    uri = "<sip:103@127.0.0.1:5060?Require=replaces&Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>"
    assert p.split_refer_target(uri) == ("sip:103@127.0.0.1:5060", "abc@h;to-tag=1;from-tag=2")
