"""The media-worker RPC parsed and built without pjsua2."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.media import protocol as p


def cmd(name: str, req: int = 7, **fields: object) -> bytes:
    return json.dumps({"type": "cmd", "req": req, "cmd": name, **fields}).encode()


def test_answer_defaults_to_200_and_keeps_the_request_number() -> None:
    assert p.parse_command(cmd("answer", leg="w1-L1")) == p.Request(7, p.Answer("w1-L1", 200))
    assert p.parse_command(cmd("answer", leg="w1-L1", code=183)).cmd == p.Answer("w1-L1", 183)


def test_every_command_parses_with_its_defaults() -> None:
    parsed = {
        "hangup": p.Hangup("L", 603),
        "dial": p.Dial("sip:102@127.0.0.1:5060"),
        "bridge": p.Bridge("A", "B"),
        "unbridge": p.Unbridge("A", "B"),
        "echo": p.Echo("L"),
        "play": p.Play("L", "/p.wav", False),
        "stop_play": p.StopPlay("P"),
        "tone": p.Tone("L", 425, 1000, 4000, 0, True),
        "record": p.Record(("A", "B"), "/rec/x"),
        "stop_record": p.StopRecord("R"),
        "status": p.Status(),
        "shutdown": p.Shutdown(),
    }
    lines = {
        "hangup": cmd("hangup", leg="L"),
        "dial": cmd("dial", uri="sip:102@127.0.0.1:5060"),
        "bridge": cmd("bridge", a="A", b="B"),
        "unbridge": cmd("unbridge", a="A", b="B"),
        "echo": cmd("echo", leg="L"),
        "play": cmd("play", leg="L", file="/p.wav"),
        "stop_play": cmd("stop_play", player="P"),
        "tone": cmd("tone", leg="L", freq1=425, on_ms=1000, off_ms=4000),
        "record": cmd("record", legs=["A", "B"], path_base="/rec/x"),
        "stop_record": cmd("stop_record", recording="R"),
        "status": cmd("status"),
        "shutdown": cmd("shutdown"),
    }
    for name, line in lines.items():
        assert p.parse_command(line).cmd == parsed[name], name


def test_dial_with_all_options() -> None:
    got = p.parse_command(
        cmd("dial", uri="sip:102@127.0.0.1:5060", from_uri='"Queue" <sip:q@box>',
            headers={"X-Call-Id": "abc"}, timeout_s=30)
    ).cmd
    assert got == p.Dial("sip:102@127.0.0.1:5060", '"Queue" <sip:q@box>', {"X-Call-Id": "abc"},
                         30.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"type":"cmd","cmd":"status"}', "non-integer 'req'"),
        (b'{"type":"cmd","req":true,"cmd":"status"}', "non-integer 'req'"),
        (b'{"type":"evt","req":1,"cmd":"status"}', "'type' must be 'cmd'"),
        (b'{"type":"cmd","req":1}', "missing 'cmd'"),
        (cmd("fly"), "unknown command 'fly'"),
        (cmd("answer"), "missing field 'leg'"),
        (cmd("answer", leg=""), "non-empty string"),
        (cmd("answer", leg="L", code=202), "must be between 180 and 200"),
        (cmd("answer", leg="L", code=181), "180, 183 or 200"),
        (cmd("answer", leg="L", code="200"), "must be an integer"),
        (cmd("hangup", leg="L", code=200), "between 400 and 699"),
        (cmd("dial", uri="tel:+4812345"), "sip: URI"),
        (cmd("dial", uri="sip:a@b\r\nX: y"), "line breaks"),
        (cmd("dial", uri="sip:a@b", headers={"Bad Name": "x"}), "not a valid SIP header"),
        (cmd("dial", uri="sip:a@b", headers={"X-A": "1\r\nX-B: 2"}), "not a valid SIP header"),
        (cmd("dial", uri="sip:a@b", headers=["X-A"]), "must be an object"),
        (cmd("dial", uri="sip:a@b", timeout_s=0), "timeout_s"),
        (cmd("dial", uri="sip:a@b", timeout_s=True), "timeout_s"),
        (cmd("bridge", a="A", b="A"), "with itself"),
        (cmd("play", leg="L", file="/p.wav", loop="yes"), "true or false"),
        (cmd("tone", leg="L", freq1=425, on_ms=40000, off_ms=0), "on_ms"),
        (cmd("tone", leg="L", freq1=0, on_ms=100, off_ms=0), "freq1"),
        (cmd("record", legs=[], path_base="/x"), "non-empty list"),
        (cmd("record", legs=["A", "A"], path_base="/x"), "must not repeat"),
        (cmd("record", legs=["A", 3], path_base="/x"), "leg id strings"),
    ],
)
def test_bad_commands_are_refused_with_a_reason(line: bytes, message: str) -> None:
    with pytest.raises(p.ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        p.parse_command(line)


def test_errors_carry_the_request_number_when_it_was_readable() -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_command(cmd("answer", req=42))
    assert info.value.req == 42
    with pytest.raises(p.ProtocolError) as info:
        p.parse_command(b"{")
    assert info.value.req is None


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    with contextlib.suppress(p.ProtocolError):
        p.parse_command(data)


@given(st.dictionaries(st.sampled_from(["type", "req", "cmd", "leg", "code", "uri", "legs",
                                        "headers", "a", "b", "freq1", "on_ms", "off_ms"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                                 st.lists(st.text(max_size=3), max_size=3))))
def test_any_json_object_parses_or_raises_protocol_error(obj: dict[str, object]) -> None:
    with contextlib.suppress(p.ProtocolError):
        p.parse_command(json.dumps(obj))


def test_outgoing_messages_are_single_json_lines() -> None:
    hello = p.hello_message("w1", 123, "127.0.0.1:5161", 4, "2.15.1")
    assert hello.endswith(b"\n") and hello.count(b"\n") == 1
    assert json.loads(hello) == {"type": "hello", "worker": "w1", "pid": 123,
                                 "sip": "127.0.0.1:5161", "capacity": 4, "pjsip": "2.15.1",
                                 "protocol": 1}
    ev = json.loads(p.event_message("dtmf", leg="w1-L1", digit="5", method="rfc2833"))
    assert ev == {"type": "event", "event": "dtmf", "leg": "w1-L1", "digit": "5",
                  "method": "rfc2833"}
    assert json.loads(p.result_ok(3, {"leg": "w1-L2"})) == {
        "type": "result", "req": 3, "ok": True, "data": {"leg": "w1-L2"}}
    assert json.loads(p.result_error(None, "bad")) == {
        "type": "result", "req": None, "ok": False, "error": "bad"}
    with pytest.raises(ValueError, match="unknown event"):
        p.event_message("leg_exploded", leg="x")


def test_line_buffer_splits_joins_and_survives_an_overlong_line() -> None:
    buf = p.LineBuffer(max_line=16)
    assert buf.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert buf.feed(b":2}\r\n\n") == [b'{"b":2}']
    out = buf.feed(b"x" * 40)
    assert len(out) == 1 and isinstance(out[0], p.ProtocolError)
    assert buf.feed(b"yyyy\nok\n") == [b"ok"]  # rest of the long line skipped
