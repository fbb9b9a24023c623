"""Bad PDUs raise PduError with a clear message; never IndexError or a half-decoded message."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.sms import PduError, decode

# A valid multipart GSM-7 part (see test_sms_vectors): every truncation of it must fail cleanly.
GOOD = "00" "40" "0B917238880900F1" "0000" "4210203040500A" "09" "050003CC0201" "8242"
HEADER = "00" "40" "0B917238880900F1" "0000" "4210203040500A"
PLAIN_HEADER = "00" "04" "0B917238880900F1" "0000" "4210203040500A"


def test_good_vector_decodes() -> None:
    assert decode(GOOD).text == "AB"  # type: ignore[union-attr]


@pytest.mark.parametrize("cut", range(2, len(GOOD), 2))
def test_every_truncation_is_a_clear_error(cut: int) -> None:
    with pytest.raises(PduError, match=r"truncated|bad UDH|empty"):
        decode(GOOD[:cut])


@pytest.mark.parametrize(
    ("pdu", "message"),
    [
        ("", "empty PDU"),
        ("   ", "empty PDU"),
        ("0", "odd length"),
        ("07917", "odd length"),
        ("00ZZ", "non-hex"),
        ("00" "03", "reserved message type"),
        # UDHL says 9 octets but the user data holds 8
        (HEADER + "09" "090003CC0201" "8242", "bad UDH length"),
        # information element claims 4 octets, only 3 left in the 5-octet header
        (HEADER + "09" "050004CC0201" "8242", "bad UDH length"),
        # 8-bit concatenation element with 2 octets instead of 3
        (HEADER + "09" "040002CC02" "008242", "8-bit concatenation element has 2"),
        # UDHI set, UDL 0: no room for a UDH
        (HEADER + "00", "user data is empty"),
        # UDL says 2 septets but the 6-octet UDH alone needs 7
        (HEADER + "02" "050003CC0201", "bad UDH length"),
        (PLAIN_HEADER + "A1" + "00" * 141, "exceeds 160"),
        # UCS-2 with an odd octet count
        ("00" "04" "0B917238880900F1" "0008" "4210203040500A" "03" "004100", "odd number"),
        # compressed GSM-7 (DCS bit 5)
        ("00" "04" "0B917238880900F1" "0020" "4210203040500A" "01" "41", "compressed"),
        # month 13
        ("00" "04" "0B917238880900F1" "0000" "4231203040500A" "01" "41", "invalid date"),
        # a non-decimal BCD digit in the time stamp
        ("00" "04" "0B917238880900F1" "0000" "4A10203040500A" "01" "41", "decimal digits"),
        # zone with a units digit of 0xA
        ("00" "04" "0B917238880900F1" "0000" "421020304050A0" "01" "41", "decimal digits"),
        # address length 40 semi-octets
        ("00" "04" "2891" + "11" * 20, "20-digit maximum"),
        # filler F in the middle of the digits
        ("00" "04" "0491" "F121" "0000" "4210203040500A" "01" "41", "filler"),
        # SMSC length 12 octets
        ("0C91" + "11" * 11, "11-octet maximum"),
    ],
)
def test_bad_pdus_are_clear_errors(pdu: str, message: str) -> None:
    with pytest.raises(PduError, match=message):
        decode(pdu)


def test_whitespace_and_lower_case_hex_are_accepted() -> None:
    assert decode(" " + GOOD.lower() + "\r\n").text == "AB"  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=180))
def test_random_bytes_decode_or_raise_pdu_error(data: bytes) -> None:
    with contextlib.suppress(PduError):
        decode(data.hex())


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(GOOD) // 2 - 1), st.integers(0, 255))
def test_corrupting_one_octet_decodes_or_raises_pdu_error(index: int, value: int) -> None:
    data = bytearray(bytes.fromhex(GOOD))
    data[index] = value
    with contextlib.suppress(PduError):
        decode(data.hex())
