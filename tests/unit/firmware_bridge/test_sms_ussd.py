"""USSD for AT+CUSD: packed GSM-7 requests with CR padding, +CUSD answers per DCS."""

import pytest

from firmware_bridge.sms import PduError, gsm7
from firmware_bridge.sms.ussd import (
    cusd_command,
    decode_cusd,
    encode_ussd,
    pack_ussd,
    unpack_ussd,
)


def test_balance_query_packs_to_the_known_hex() -> None:
    # "*100#": * 0x2A, 1 0x31, 0 0x30, 0 0x30, # 0x23 ->
    # 0x2A | 0x31<<7 | 0x30<<14 | 0x30<<21 | 0x23<<28 = 0x2360C18AA -> AA 18 0C 36 02,
    # the string modem vendors' AT manuals show for AT+CUSD=1,"AA180C3602",15.
    assert encode_ussd("*100#") == "AA180C3602"
    assert cusd_command("*100#") == 'AT+CUSD=1,"AA180C3602",15'


def test_text_mode_sends_the_string_as_is() -> None:
    assert cusd_command("*100#", packed=False) == 'AT+CUSD=1,"*100#",15'


def test_seven_spare_bits_are_filled_with_cr() -> None:
    # TS 23.038 §6.1.2.3.1: 7 septets leave 7 spare bits in octet 7; they carry CR (0x0D)
    # so the receiver does not read an '@' (0x00).
    packed = pack_ussd("*101*1#")
    assert len(packed) == 7
    assert packed[6] >> 1 == gsm7.CR
    assert unpack_ussd(packed) == "*101*1#"


def test_a_real_trailing_cr_on_an_octet_boundary_survives() -> None:
    # 8 septets ending in CR fill 7 octets exactly; TS 23.038 §6.1.2.3.1 adds a second CR
    # so the wanted CR is not taken for padding (and notes CR CR displays like CR).
    packed = pack_ussd("abcdefg\r")
    assert len(packed) == 8
    assert unpack_ussd(packed) == "abcdefg\r\r"


@pytest.mark.parametrize("text", ["*1#", "*100#", "*101*1#", "*123*4567890#", "1", "abcdefgh"])
def test_pack_unpack_round_trip(text: str) -> None:
    assert unpack_ussd(pack_ussd(text)) == text


def test_packed_gsm7_answer() -> None:
    # A network answer "Balance: 12.50 EUR" packed, DCS 15, as Huawei sticks deliver it.
    payload = pack_ussd("Balance: 12.50 EUR").hex().upper()
    reply = decode_cusd(f'+CUSD: 0,"{payload}",15')
    assert reply.text == "Balance: 12.50 EUR"
    assert reply.status == 0
    assert reply.dcs == 15
    assert not reply.expects_answer


def test_ucs2_answer_dcs_72() -> None:
    # DCS 0x48: general data coding, UCS-2. "Абонент" = 0410 0431 043E 043D 0435 043D 0442.
    reply = decode_cusd('+CUSD: 1,"04100431043E043D0435043D0442",72')
    assert reply.text == "Абонент"
    assert reply.expects_answer


def test_ucs2_answer_in_hebrew_and_chinese() -> None:
    payload = "יתרה: 50 ₪ 余额".encode("utf-16-be").hex().upper()
    assert decode_cusd(f'+CUSD: 0,"{payload}",72').text == "יתרה: 50 ₪ 余额"


def test_plain_text_answer() -> None:
    reply = decode_cusd('+CUSD: 0,"Your balance is 12.50 EUR, valid until 31.12.",15')
    assert reply.text == "Your balance is 12.50 EUR, valid until 31.12."


def test_all_hex_plain_answer_needs_the_modem_mode() -> None:
    assert decode_cusd('+CUSD: 0,"1234",15', hex_payload=False).text == "1234"


def test_status_only_answer() -> None:
    reply = decode_cusd("+CUSD: 2")
    assert (reply.status, reply.text, reply.dcs) == (2, None, None)


def test_ucs2_with_language_prefix_dcs_17() -> None:
    # DCS 0x11: two GSM-7 language characters packed into 2 octets ("en": 0x65 | 0x6E<<7 =
    # 0x3765 -> 65 37), then UCS-2 text.
    assert decode_cusd('+CUSD: 0,"653700480069",17').text == "Hi"


def test_gsm7_with_language_prefix_dcs_16() -> None:
    payload = pack_ussd("en\rHello").hex()
    assert decode_cusd(f'+CUSD: 0,"{payload}",16').text == "Hello"


def test_8bit_answer_dcs_68() -> None:
    assert decode_cusd('+CUSD: 0,"48690A",68').text == "Hi\n"


def test_multiline_plain_answer() -> None:
    reply = decode_cusd('+CUSD: 1,"1. Balance\n2. Bundles\n3. Exit",15')
    assert reply.text == "1. Balance\n2. Bundles\n3. Exit"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: encode_ussd(""), "empty"),
        (lambda: encode_ussd("*100#ש"), "not in the GSM-7 alphabet"),
        (lambda: encode_ussd("1" * 183), "182"),
        (lambda: encode_ussd('say "hi"', packed=False), "double quote"),
        (lambda: decode_cusd("OK"), r"not a \+CUSD line"),
        (lambda: decode_cusd('+CUSD: 0,"ABC",15', hex_payload=True), "not even-length hex"),
        (lambda: decode_cusd('+CUSD: 0,"004100",72'), "odd number"),
        (lambda: decode_cusd('+CUSD: 0,"41",300'), "out of range"),
        (lambda: decode_cusd('+CUSD: 0,"41",144'), "user data header"),
    ],
)
def test_bad_ussd_input_is_a_clear_error(call: object, message: str) -> None:
    with pytest.raises(PduError, match=message):
        call()  # type: ignore[operator]
