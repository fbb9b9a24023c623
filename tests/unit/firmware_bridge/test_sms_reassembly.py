"""Reassembly of concatenated parts: order, duplicates, expiry with an injected clock."""

from dataclasses import replace
from datetime import UTC, datetime

from firmware_bridge.sms import (
    Concat,
    Deliver,
    Encoding,
    Reassembler,
    decode,
    encode_deliver,
    gsm7,
)
from firmware_bridge.sms.reassembly import MISSING_PART

WHEN = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
LONG = "".join(f"line {i:03d} of the order confirmation. " for i in range(12))  # 3 parts


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def parts(sender: str, text: str, ref: int = 7) -> list[Deliver]:
    out = []
    for pdu in encode_deliver(sender, text, WHEN, concat_ref=ref):
        message = decode(pdu)
        assert isinstance(message, Deliver)
        out.append(message)
    return out


def test_single_message_comes_straight_back() -> None:
    [only] = parts("+972501234567", "hi")
    assert Reassembler(FakeClock()).add(only) == "hi"


def test_parts_in_any_order_give_the_whole_text_once() -> None:
    p1, p2, p3 = parts("+972501234567", LONG)
    r = Reassembler(FakeClock())
    assert r.add(p3) is None
    assert r.add(p1) is None
    assert r.pending == 1
    assert r.add(p2) == LONG
    assert r.pending == 0


def test_duplicates_are_ignored_before_and_after_completion() -> None:
    p1, p2, p3 = parts("+972501234567", LONG)
    r = Reassembler(FakeClock())
    assert r.add(p1) is None
    assert r.add(p1) is None
    assert r.add(p2) is None
    assert r.add(p3) == LONG
    assert r.add(p2) is None  # a late duplicate of a finished message
    assert r.pending == 0
    assert r.expired() == []


def test_a_new_message_reusing_the_reference_is_not_taken_for_a_duplicate() -> None:
    r = Reassembler(FakeClock())
    for p in parts("+972501234567", LONG, ref=5):
        r.add(p)
    other = "x" * 200
    results = [r.add(p) for p in parts("+972501234567", other, ref=5)]
    assert results == [None, other]


def test_same_reference_from_two_senders_stays_apart() -> None:
    a1, a2, a3 = parts("+972501234567", LONG, ref=1)
    b1, b2, b3 = parts("Bank", LONG.upper(), ref=1)
    r = Reassembler(FakeClock())
    assert [r.add(x) for x in (a1, b1, a2, b2)] == [None] * 4
    assert r.add(a3) == LONG
    assert r.add(b3) == LONG.upper()


def test_incomplete_message_expires_and_is_listed_not_lost() -> None:
    clock = FakeClock()
    p1, _p2, p3 = parts("+972501234567", LONG)
    r = Reassembler(clock, ttl_seconds=3600)
    r.add(p1)
    clock.now += 1800
    r.add(p3)
    assert r.expired() == []
    clock.now += 1800  # an hour after the first part
    [partial] = r.expired()
    assert (partial.sender, partial.ref, partial.total) == ("+972501234567", 7, 3)
    assert partial.missing == (2,)
    assert partial.text == p1.text + MISSING_PART + p3.text
    assert partial.first_seen == 1000.0
    assert r.pending == 0
    assert r.expired() == []


def test_escape_pair_split_by_a_non_compliant_sender_is_mended() -> None:
    # Part 1 ends with ESC, part 2 starts with 0x65: together they are "€".
    septets1 = [*gsm7.encode("price: 5"), gsm7.ESC]
    septets2 = [0x65, *gsm7.encode(" only")]
    base = Deliver("+1555", "", WHEN, None, None, Encoding.GSM7)
    one = replace(base, text=gsm7.decode(septets1), user_data=bytes(septets1),
                  concat=Concat(3, 2, 1))
    two = replace(base, text=gsm7.decode(septets2), user_data=bytes(septets2),
                  concat=Concat(3, 2, 2))
    r = Reassembler(FakeClock())
    assert r.add(one) is None
    assert r.add(two) == "price: 5€ only"


def test_surrogate_pair_split_across_ucs2_parts_is_mended() -> None:
    # Hand-built: part 1 ends with the high surrogate D83D, part 2 starts with DE00 (U+1F600).
    head = "00" "44" "0C91795210325476" "0008" "42600332959521"
    part1 = decode(head + "0A" "050003090201" "0041D83D")
    part2 = decode(head + "0A" "050003090202" "DE000021")
    assert isinstance(part1, Deliver) and isinstance(part2, Deliver)
    assert part1.text == "A\ufffd"  # alone, the half pair shows as a replacement character
    r = Reassembler(FakeClock())
    assert r.add(part2) is None
    assert r.add(part1) == "A😀!"


def test_parts_in_different_alphabets_join_their_texts() -> None:
    [g1, _] = parts("+1555", "a" * 200, ref=4)
    [_, u2] = parts("+1555", "ש" * 100, ref=4)
    r = Reassembler(FakeClock())
    assert r.add(g1) is None
    assert r.add(u2) == "a" * 153 + "ש" * 33
