"""Envelope, ULID and topic layout: pure, built from objects."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.sync.clock import ManualClock
from appliance.sync.envelope import Envelope, EnvelopeError, decode
from appliance.sync.topics import Kind, ParsedTopic, TopicError, Topics
from appliance.sync.ulid import UlidGenerator, encode_ulid, ulid_time_ms


def _counter_bytes() -> object:
    counter = itertools.count()
    return lambda n: next(counter).to_bytes(n, "big")


def test_ulid_encodes_time_and_sorts_in_creation_order_within_one_millisecond() -> None:
    clock = ManualClock(1_700_000_000.123)
    gen = UlidGenerator(clock, lambda n: b"\xff" * (n - 1) + b"\x00")
    ids = [gen.new() for _ in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 100
    assert ulid_time_ms(ids[0]) == 1_700_000_000_123


def test_ulid_stays_monotonic_when_the_clock_steps_back() -> None:
    clock = ManualClock(1_700_000_010.0)
    gen = UlidGenerator(clock)
    first = gen.new()
    clock.advance(-5)
    assert gen.new() > first


@given(st.integers(0, (1 << 48) - 1), st.integers(0, (1 << 80) - 1))
def test_ulid_round_trips_time(ms: int, rand: int) -> None:
    assert ulid_time_ms(encode_ulid(ms, rand)) == ms


def _env(**kw: object) -> Envelope:
    gen = UlidGenerator(ManualClock())
    base: dict[str, object] = dict(type="cdr", id=gen.new(), node="box-1", session=gen.new(),
                                   seq=7, ts=1.5, data={"a": 1})
    base.update(kw)
    return Envelope(**base)  # type: ignore[arg-type]


def test_envelope_round_trips_with_all_fields() -> None:
    env = _env()
    wire = decode(env.encode())
    assert wire == env
    assert set(env.to_dict()) == {"v", "type", "id", "node", "session", "seq", "ts", "hist",
                                  "data"}
    assert decode(env.as_history().encode()).hist is True


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"v":2}', "unsupported envelope version"),
        (b'{"v":1,"type":"x","id":"nope","node":"n","session":"","seq":1,"ts":1}', "ULID"),
    ],
)
def test_decode_rejects_bad_payloads_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        decode(payload)


def test_decode_rejects_negative_seq() -> None:
    raw = _env().to_dict() | {"seq": -1}
    import json

    with pytest.raises(EnvelopeError, match="seq"):
        decode(json.dumps(raw).encode())


def test_topics_layout_and_parse_round_trip() -> None:
    t = Topics("acme")
    assert t.state("b1") == "acme/v1/b1/state"
    assert t.birth("b1") == "acme/v1/b1/birth"
    assert t.event("b1", "cdr") == "acme/v1/b1/evt/cdr"
    assert t.event("b1", "alarm") == "acme/v1/b1/alarm"
    assert t.cfg_desired("b1") == "acme/v1/b1/cfg/desired"
    assert t.cfg_reported("b1") == "acme/v1/b1/cfg/reported"
    assert t.cmd("b1", "resync") == "acme/v1/b1/cmd/resync"
    assert t.cmd_result("b1", "c-9") == "acme/v1/b1/cmd_res/c-9"
    assert t.parse("acme/v1/b1/evt/cdr") == ParsedTopic("b1", Kind.EVENT, "cdr")
    assert t.parse("acme/v1/b1/alarm") == ParsedTopic("b1", Kind.ALARM, "alarm")
    assert t.parse("acme/v1/b1/state").kind is Kind.STATE
    assert t.parse("acme/v1/b1/cmd_res/c-9") == ParsedTopic("b1", Kind.CMD_RESULT, "c-9")


@pytest.mark.parametrize("node", ["", "a/b", "+", "#", "x" * 65, "bad node"])
def test_topics_refuse_node_ids_that_would_escape_the_layout(node: str) -> None:
    with pytest.raises(TopicError):
        Topics("cc").state(node)


def test_parse_refuses_foreign_topics() -> None:
    with pytest.raises(TopicError):
        Topics("cc").parse("other/v1/b1/state")
    with pytest.raises(TopicError):
        Topics("cc").parse("cc/v1/b1/evt/cdr/extra")
