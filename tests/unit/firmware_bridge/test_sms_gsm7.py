"""GSM-7 alphabet and septet packing (TS 23.038 §6.1.2.1, §6.2.1)."""

import pytest

from firmware_bridge.sms import gsm7
from firmware_bridge.sms.errors import PduError

EXTENSION_CHARS = "€[]{}~^\\|\f"


def test_hellohello_packs_to_the_classic_vector() -> None:
    # The "hellohello" example of the widely published SMS PDU tutorials, re-derived by hand
    # from TS 23.038 §6.1.2.1.1: h=1101000, e=1100101 -> octet 1 = (e bit0)<<7 | h = 0xE8;
    # octet 2 = (l bits 1..0)<<6 | e>>1 = 0x32; octet 3 = (l bits 2..0)<<5 | l>>2 = 0x9B ...
    assert gsm7.pack_text("hellohello").hex().upper() == "E8329BFD4697D9EC37"
    assert gsm7.unpack_text(bytes.fromhex("E8329BFD4697D9EC37"), 10) == "hellohello"


def test_eight_septets_fill_exactly_seven_octets() -> None:
    # 8 x 7 bits = 56 bits = 7 octets; the 8th septet sits in the top 7 bits of octet 7.
    packed = gsm7.pack_text("ABCDEFGH")
    assert len(packed) == 7
    assert gsm7.unpack_text(packed, 8) == "ABCDEFGH"


def test_fill_bits_shift_the_septets() -> None:
    # "AB" after 1 fill bit (as after a 6-octet UDH): 0x41<<1 | 0x42<<8 = 0x4282 -> 82 42.
    assert gsm7.pack_text("AB", fill_bits=1).hex().upper() == "8242"
    assert gsm7.unpack_text(bytes.fromhex("8242"), 2, fill_bits=1) == "AB"


@pytest.mark.parametrize("fill", range(7))
def test_pack_unpack_round_trip_for_every_fill(fill: int) -> None:
    text = "The quick brown fox @ £5 ΔΦΓ"
    assert gsm7.unpack_text(gsm7.pack_text(text, fill), gsm7.septet_length(text), fill) == text


def test_every_default_alphabet_character_round_trips() -> None:
    text = "".join(ch for i, ch in enumerate(gsm7.DEFAULT_ALPHABET) if i != gsm7.ESC)
    assert len(text) == 127
    septets = gsm7.encode(text)
    assert septets == [i for i in range(128) if i != gsm7.ESC]
    assert gsm7.decode(septets) == text


def test_extension_characters_use_escape_and_round_trip() -> None:
    septets = gsm7.encode(EXTENSION_CHARS)
    assert len(septets) == 2 * len(EXTENSION_CHARS)
    assert septets[:2] == [0x1B, 0x65]  # € is ESC 0x65 (TS 23.038 §6.2.1.1)
    assert gsm7.decode(septets) == EXTENSION_CHARS
    assert gsm7.septet_length("a€b") == 4


def test_fits_gsm7() -> None:
    assert gsm7.fits_gsm7("Hello @ £ € [x] {y} ~^\\|")
    assert gsm7.fits_gsm7("")
    assert not gsm7.fits_gsm7("שלום")
    assert not gsm7.fits_gsm7("naïve")  # ï is not in the default alphabet
    assert not gsm7.fits_gsm7("`")


def test_unknown_escape_shows_the_default_character() -> None:
    # TS 23.038 §6.2.1.1: ESC + a code with no extension character shows the base character;
    # ESC ESC and a dangling ESC show as a space.
    assert gsm7.decode([0x1B, 0x41]) == "A"
    assert gsm7.decode([0x1B, 0x1B]) == " "
    assert gsm7.decode([0x41, 0x1B]) == "A "


def test_character_outside_the_alphabet_is_a_clear_error() -> None:
    with pytest.raises(PduError, match=r"U\+05E9"):
        gsm7.encode("aש")
    with pytest.raises(PduError, match="not in the GSM-7 alphabet"):
        gsm7.septet_length("`")


def test_invalid_septets_and_truncated_data_are_errors() -> None:
    with pytest.raises(PduError, match="invalid septet"):
        gsm7.pack([0x80])
    with pytest.raises(PduError, match="invalid septet"):
        gsm7.decode([200])
    with pytest.raises(PduError, match="truncated"):
        gsm7.unpack(bytes.fromhex("E832"), 10)
    with pytest.raises(PduError, match="fill bits"):
        gsm7.unpack(b"\x00", 1, fill_bits=7)
