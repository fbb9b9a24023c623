"""SMS-SUBMIT encoding: alphabet choice, split rules, part headers, parameter checks."""

from datetime import UTC, datetime

import pytest

from firmware_bridge.sms import (
    Concat,
    Encoding,
    PduError,
    Reassembler,
    Submit,
    decode,
    encode_deliver,
    encode_submit,
)
from firmware_bridge.sms.pdu import split_text

NUMBER = "+972501234567"
WHEN = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)

# Three scripts in one message: 67 + 67 + a few UCS-2 code units -> exactly three parts.
HEBREW = "שלום, הזמנתך התקבלה ותישלח מחר בבוקר. תודה שפנית למוקד השירות שלנו! "
ARABIC = "مرحبا، تم استلام طلبك وسيتم شحنه غدا صباحا. شكرا لتواصلك مع مركز خدمتنا. "
CHINESE = "您好，您的订单已收到，明天上午发货。感谢您联系我们的客服中心。"
THREE_SCRIPTS = HEBREW + ARABIC + CHINESE


def decode_submits(number: str, text: str, **kwargs: object) -> list[Submit]:
    out = []
    for pdu in encode_submit(number, text, **kwargs):  # type: ignore[arg-type]
        message = decode(pdu.hex)
        assert isinstance(message, Submit)
        assert pdu.tpdu_length == len(pdu.hex) // 2 - 1
        out.append(message)
    return out


def test_short_gsm7_text_is_one_part_without_udh() -> None:
    [part] = decode_submits(NUMBER, "Your order is ready @ £5")
    assert part.encoding is Encoding.GSM7
    assert part.concat is None
    assert part.text == "Your order is ready @ £5"
    assert part.recipient == NUMBER


def test_160_septets_fit_one_part_and_161_need_two() -> None:
    assert len(encode_submit(NUMBER, "x" * 160)) == 1
    parts = decode_submits(NUMBER, "x" * 161)
    assert [len(p.text) for p in parts] == [153, 8]
    assert [p.concat for p in parts] == [Concat(0, 2, 1), Concat(0, 2, 2)]


def test_extension_characters_count_double_toward_the_limit() -> None:
    assert len(encode_submit(NUMBER, "€" * 80)) == 1  # 160 septets
    assert len(encode_submit(NUMBER, "€" * 80 + "x")) == 2


def test_escape_pair_is_never_split_at_a_part_boundary() -> None:
    text = "a" * 152 + "€" + "b" * 10  # 164 septets; € would straddle septets 153/154
    parts = decode_submits(NUMBER, text)
    assert [p.text for p in parts] == ["a" * 152, "€" + "b" * 10]
    assert parts[0].user_data[-1] != 0x1B


def test_all_extension_characters_round_trip_in_gsm7() -> None:
    text = "Price: 5€ [x] {y} ~z^ a\\b|c\fnext page"
    [part] = decode_submits(NUMBER, text)
    assert part.encoding is Encoding.GSM7
    assert part.text == text


def test_one_character_outside_gsm7_switches_the_whole_text_to_ucs2() -> None:
    [part] = decode_submits(NUMBER, "Hello שלום")
    assert part.encoding is Encoding.UCS2
    assert part.dcs == 0x08
    assert part.text == "Hello שלום"


def test_70_ucs2_units_fit_one_part_and_71_need_two() -> None:
    assert len(encode_submit(NUMBER, "ש" * 70)) == 1
    parts = decode_submits(NUMBER, "ש" * 71)
    assert [len(p.text) for p in parts] == [67, 4]


def test_three_part_ucs2_message_in_hebrew_arabic_and_chinese() -> None:
    assert 2 * 67 < len(THREE_SCRIPTS.encode("utf-16-be")) // 2 <= 3 * 67
    parts = decode_submits(NUMBER, THREE_SCRIPTS, reference=40, concat_ref=200)
    assert len(parts) == 3
    assert all(p.encoding is Encoding.UCS2 for p in parts)
    assert [p.concat for p in parts] == [Concat(200, 3, s) for s in (1, 2, 3)]
    assert [p.reference for p in parts] == [40, 41, 42]
    assert "".join(p.text for p in parts) == THREE_SCRIPTS


def test_three_part_message_received_and_reassembled_out_of_order() -> None:
    pdus = encode_deliver(NUMBER, THREE_SCRIPTS, WHEN, concat_ref=9)
    assert len(pdus) == 3
    reassembler = Reassembler(clock=lambda: 0.0)
    results = [reassembler.add(decode(p)) for p in (pdus[2], pdus[0], pdus[1])]  # type: ignore[arg-type]
    assert results == [None, None, THREE_SCRIPTS]


def test_emoji_surrogate_pair_is_never_split_at_a_part_boundary() -> None:
    text = "א" * 66 + "😀" + "end"  # the pair would take units 67 and 68
    parts = decode_submits(NUMBER, text)
    assert [p.text for p in parts] == ["א" * 66, "😀end"]
    assert len(parts[0].user_data) == 132


def test_emoji_at_every_position_around_the_boundary() -> None:
    for prefix in range(60, 72):
        text = "ب" * prefix + "😀👍🏽" + "ت" * 10
        parts = decode_submits(NUMBER, text)
        assert "".join(p.text for p in parts) == text
        assert all("\ufffd" not in p.text for p in parts)


def test_tp_mr_increments_and_wraps_per_part() -> None:
    parts = decode_submits(NUMBER, "y" * 400, reference=254)
    assert [p.reference for p in parts] == [254, 255, 0]
    assert [p.concat.ref for p in parts if p.concat] == [254, 254, 254]


def test_empty_text_is_one_empty_part() -> None:
    [part] = decode_submits(NUMBER, "")
    assert part.text == ""


def test_numbers_without_plus_are_unknown_type_and_separators_are_dropped() -> None:
    [part] = decode_submits("050-123 4567", "hi")
    assert part.recipient == "0501234567"
    assert part.recipient_toa == 0x81
    [part] = decode_submits("+44 (20) 7946.0000", "hi")
    assert part.recipient == "+442079460000"


@pytest.mark.parametrize(
    ("minutes", "vp", "granted"),
    [
        (1, 0x00, 5),
        (5, 0x00, 5),
        (6, 0x01, 10),
        (720, 143, 720),  # 12 hours, the end of the 5-minute steps
        (721, 144, 750),  # then 30-minute steps
        (1440, 167, 1440),  # 24 hours
        (2 * 1440, 168, 2 * 1440),  # then days
        (30 * 1440, 196, 30 * 1440),
        (31 * 1440, 197, 35 * 1440),  # then weeks
        (63 * 7 * 1440, 255, 63 * 7 * 1440),
    ],
)
def test_relative_validity_rounds_up_to_the_next_tp_vp_step(
    minutes: int, vp: int, granted: int
) -> None:
    [pdu] = encode_submit(NUMBER, "hi", validity_minutes=minutes)
    assert pdu.hex[2:4] == "11"
    # "00", first octet, MR, address (2 + 6 octets), PID, DCS, then TP-VP at octet 13
    assert int(pdu.hex[26:28], 16) == vp
    part = decode(pdu.hex)
    assert isinstance(part, Submit)
    assert part.validity_minutes == granted


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference": 256}, "reference"),
        ({"reference": -1}, "reference"),
        ({"concat_ref": 300}, "concat_ref"),
        ({"validity_minutes": 0}, "validity"),
        ({"validity_minutes": 63 * 7 * 1440 + 1}, "63 weeks"),
    ],
)
def test_bad_parameters_are_clear_errors(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(PduError, match=message):
        encode_submit(NUMBER, "hi", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "empty"),
        ("+", "empty"),
        ("call me", "invalid character"),
        ("+1" + "2" * 20, "longer than 20"),
    ],
)
def test_bad_numbers_are_clear_errors(number: str, message: str) -> None:
    with pytest.raises(PduError, match=message):
        encode_submit(number, "hi")


def test_lone_surrogate_in_text_is_an_error() -> None:
    with pytest.raises(PduError, match="surrogate"):
        encode_submit(NUMBER, "bad \ud83d here")


def test_more_than_255_parts_is_an_error() -> None:
    assert len(split_text("z" * 255 * 153)[1]) == 255
    with pytest.raises(PduError, match="255"):
        encode_submit(NUMBER, "z" * (255 * 153 + 1))


def test_explicit_smsc_leads_the_pdu_and_is_not_counted_in_tpdu_length() -> None:
    [default] = encode_submit(NUMBER, "hi")
    [pdu] = encode_submit(NUMBER, "hi", smsc="+27381000015")
    assert pdu.hex == "07917283010010F5" + default.hex[2:]
    assert pdu.tpdu_length == default.tpdu_length
    part = decode(pdu.hex)
    assert isinstance(part, Submit)
    assert part.smsc == "+27381000015"
