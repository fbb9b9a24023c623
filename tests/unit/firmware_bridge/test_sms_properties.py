"""Property tests: any text survives encode -> decode, in the fewest parts the rules allow."""

import itertools
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.sms import (
    Deliver,
    Encoding,
    Reassembler,
    Submit,
    decode,
    encode_deliver,
    encode_submit,
    gsm7,
)
from firmware_bridge.sms.fields import decode_timestamp, encode_timestamp

GSM7_CHARS = [ch for i, ch in enumerate(gsm7.DEFAULT_ALPHABET) if i != gsm7.ESC] + list(
    gsm7.EXTENSION_TABLE.values()
)
gsm7_text = st.text(alphabet=st.sampled_from(GSM7_CHARS), max_size=700)
any_text = st.text(max_size=400)  # all code points except lone surrogates
mixed_text = st.text(
    alphabet=st.one_of(st.sampled_from(GSM7_CHARS), st.sampled_from("€😀👍🏽ש中ع")), max_size=400
)
numbers = st.from_regex(r"\+?[0-9*#]{1,20}", fullmatch=True)


def units(text: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return gsm7.septet_length(text)
    return len(text.encode("utf-16-be")) // 2


def submit_parts(text: str) -> list[Submit]:
    out = []
    for pdu in encode_submit("+972501234567", text, reference=200):
        message = decode(pdu.hex)
        assert isinstance(message, Submit)
        out.append(message)
    return out


def check_round_trip_and_minimal_parts(text: str) -> None:
    parts = submit_parts(text)
    assert "".join(p.text for p in parts) == text
    encoding = parts[0].encoding
    assert all(p.encoding is encoding for p in parts)
    assert (encoding is Encoding.GSM7) == gsm7.fits_gsm7(text)
    single, per_part = (160, 153) if encoding is Encoding.GSM7 else (70, 67)
    total = units(text, encoding)
    if total <= single:
        assert len(parts) == 1 and parts[0].concat is None
        return
    assert [(p.concat.seq, p.concat.total) for p in parts if p.concat] == [
        (i + 1, len(parts)) for i in range(len(parts))
    ]
    for here, after in itertools.pairwise(parts):
        # Greedy and full: the next part's first character did not fit here, so no split
        # with fewer parts exists (characters are indivisible and order is fixed).
        assert units(here.text, encoding) + units(after.text[0], encoding) > per_part
    assert all(units(p.text, encoding) <= per_part for p in parts)


@settings(max_examples=150, deadline=None)
@given(any_text)
def test_any_text_round_trips_in_minimal_parts(text: str) -> None:
    check_round_trip_and_minimal_parts(text)


@settings(max_examples=150, deadline=None)
@given(gsm7_text)
def test_gsm7_text_round_trips_in_minimal_parts(text: str) -> None:
    check_round_trip_and_minimal_parts(text)


@settings(max_examples=150, deadline=None)
@given(mixed_text)
def test_emoji_and_extension_heavy_text_round_trips(text: str) -> None:
    check_round_trip_and_minimal_parts(text)


@settings(max_examples=100, deadline=None)
@given(mixed_text, st.randoms(use_true_random=False))
def test_received_parts_in_any_order_reassemble(text: str, rnd: object) -> None:
    pdus = encode_deliver("+972501234567", text, datetime(2024, 1, 1, tzinfo=UTC))
    rnd.shuffle(pdus)  # type: ignore[attr-defined]
    reassembler = Reassembler(clock=lambda: 0.0)
    results = []
    for pdu in pdus:
        message = decode(pdu)
        assert isinstance(message, Deliver)
        results.append(reassembler.add(message))
    assert results[-1] == text
    assert all(r is None for r in results[:-1])
    assert reassembler.pending == 0


@settings(max_examples=200, deadline=None)
@given(numbers)
def test_numbers_round_trip(number: str) -> None:
    [pdu] = encode_submit(number, "x")
    message = decode(pdu.hex)
    assert isinstance(message, Submit)
    assert message.recipient == number


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2079, 12, 31)),
    st.integers(min_value=-79, max_value=79),
)
def test_time_stamps_round_trip_with_any_quarter_hour_zone(when: datetime, quarters: int) -> None:
    aware = when.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=15 * quarters)))
    back = decode_timestamp(encode_timestamp(aware), "test")
    assert back == aware
    assert back.utcoffset() == aware.utcoffset()
