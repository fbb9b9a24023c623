"""Known-good PDUs, each derived by hand from TS 23.040 / TS 23.038 (origin noted per test).

Every vector is written as its fields, one per line, so a reader can check each octet
against the spec without running the codec.
"""

from datetime import datetime, timedelta, timezone

import pytest

from firmware_bridge.sms import (
    Concat,
    Deliver,
    Encoding,
    StatusReport,
    Submit,
    decode,
    encode_deliver,
    encode_status_report,
    encode_submit,
)


def tz(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def decode_deliver(pdu: str) -> Deliver:
    message = decode(pdu)
    assert isinstance(message, Deliver)
    return message


# Origin: the classic SMS-DELIVER "hellohello" of the widely published PDU tutorials
# (dreamfabric.com "SMS PDU format"), checked field by field against TS 23.040 §9.2.2.1.
HELLOHELLO_DELIVER = (
    "07" "91" "7283010010F5"  # SMSC: 7 octets, international, +27381000015 (swapped, F pad)
    "04"  # first octet: MTI=00 SMS-DELIVER, TP-MMS=1 (no more messages)
    "0B" "C8" "7238880900F1"  # TP-OA: 11 digits, TON=subscriber/NPI=national, 27838890001
    "00"  # TP-PID
    "00"  # TP-DCS: GSM-7
    "99309251619580"  # TP-SCTS: 99-03-29 15:16:59, zone 0x80 -> "08" quarters = +02:00
    "0A"  # TP-UDL: 10 septets
    "E8329BFD4697D9EC37"  # "hellohello" packed
)


def test_classic_hellohello_deliver() -> None:
    sms = decode_deliver(HELLOHELLO_DELIVER)
    assert sms.smsc == "+27381000015"
    assert sms.sender == "27838890001"  # not international: no '+'
    assert sms.text == "hellohello"
    assert sms.timestamp == datetime(1999, 3, 29, 15, 16, 59, tzinfo=tz(120))
    assert sms.concat is None
    assert sms.encoding is Encoding.GSM7


def test_classic_hellohello_submit_is_what_we_encode() -> None:
    # Origin: the same tutorial's SMS-SUBMIT, TS 23.040 §9.2.2.2.
    expected = (
        "00"  # SMSC length 0: use the SMSC stored on the SIM
        "11"  # first octet: MTI=01 SMS-SUBMIT, TP-VPF=10 relative
        "00"  # TP-MR
        "0B" "91" "6407281553F8"  # TP-DA: 11 digits, international, +46708251358
        "00" "00"  # TP-PID, TP-DCS (GSM-7)
        "AA"  # TP-VP relative: 0xAA = 170 -> (170 - 166) days = 4 days
        "0A" "E8329BFD4697D9EC37"  # 10 septets "hellohello"
    )
    [pdu] = encode_submit("+46708251358", "hellohello", validity_minutes=4 * 24 * 60)
    assert pdu.hex == expected
    assert pdu.tpdu_length == len(expected) // 2 - 1  # everything after the "00" SMSC octet
    back = decode(pdu.hex)
    assert isinstance(back, Submit)
    assert (back.recipient, back.text, back.validity_minutes) == (
        "+46708251358", "hellohello", 4 * 24 * 60
    )


def test_alphanumeric_sender_design_at_home() -> None:
    # Origin: the alphanumeric TP-OA example "Design@Home" (Wikipedia "GSM 03.40"):
    # 0x14 = 20 useful semi-octets (11 septets = 77 bits), TOA 0xD0 = TON alphanumeric.
    pdu = (
        "00"  # no SMSC information
        "00"  # SMS-DELIVER, nothing else set
        "14" "D0" "C4F23C7D760390EF7619"  # TP-OA "Design@Home", GSM-7 packed
        "00" "00"
        "42102030405000"  # 2024-01-02 03:04:05 +00:00
        "02" "E834"  # "hi": h=0x68 | i=0x69<<7 = 0x34E8
    )
    sms = decode_deliver(pdu)
    assert sms.sender == "Design@Home"
    assert sms.sender_toa == 0xD0
    assert sms.smsc is None
    assert sms.text == "hi"
    assert sms.timestamp == datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz(0))


def test_short_alphanumeric_sender_bank() -> None:
    # Hand-derived: B=0x42 a=0x61 n=0x6E k=0x6B -> 0x42 | 0x61<<7 | 0x6E<<14 | 0x6B<<21
    # = 0x0D7BB0C2 -> C2 B0 7B 0D; 28 bits = 7 semi-octets.
    [pdu] = encode_deliver("Bank", "hi", datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz(0)))
    assert pdu == "00" "04" "07D0C2B07B0D" "0000" "42102030405000" "02E834"
    assert decode_deliver(pdu).sender == "Bank"


def test_concatenated_gsm7_part_with_8bit_reference_and_fill_bit() -> None:
    # TS 23.040 §9.2.3.24.1: UDH 05 00 03 <ref> <total> <seq>; 6 octets = 48 bits, so one
    # fill bit brings the text to the 49-bit (7-septet) boundary; TP-UDL counts 7 + 2.
    # Negative zone: -05:00 = -20 quarters -> digits "20" -> 0x02 | sign 0x08, swapped = 0x0A.
    pdu = (
        "00"
        "40"  # SMS-DELIVER with TP-UDHI
        "0B" "91" "7238880900F1"  # +27838890001
        "00" "00"
        "4210203040500A"  # 2024-01-02 03:04:05 -05:00
        "09"  # TP-UDL: 7 header septets + 2 text septets
        "050003CC0201"  # concat: ref 0xCC, 2 parts, this is part 1
        "8242"  # "AB" after one fill bit
    )
    sms = decode_deliver(pdu)
    assert sms.sender == "+27838890001"
    assert sms.text == "AB"
    assert sms.concat == Concat(ref=0xCC, total=2, seq=1)
    assert sms.timestamp == datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz(-300))


def test_concatenated_part_with_16bit_reference() -> None:
    # TS 23.040 §9.2.3.24.8: IEI 0x08, 4 octets, 16-bit ref. 7 UDH octets = 56 bits = 8
    # septets exactly, so no fill bits; TP-UDL = 8 + 2.
    pdu = "00" "40" "0B917238880900F1" "0000" "42102030405000" "0A" "06080412340302" "E834"
    sms = decode_deliver(pdu)
    assert sms.text == "hi"
    assert sms.concat == Concat(ref=0x1234, total=3, seq=2, ref_bits=16)


def test_ucs2_hebrew_deliver() -> None:
    # TS 23.038 §4 DCS 0x08 = UCS-2; "שלום" = U+05E9 U+05DC U+05D5 U+05DD, 8 octets.
    # Zone +03:00 = 12 quarters -> "12" swapped = 0x21.
    pdu = (
        "00" "04"
        "0C" "91" "795210325476"  # +972501234567
        "00" "08"
        "42600332959521"  # 2024-06-30 23:59:59 +03:00
        "08" "05E905DC05D505DD"
    )
    sms = decode_deliver(pdu)
    assert sms.sender == "+972501234567"
    assert sms.text == "שלום"
    assert sms.encoding is Encoding.UCS2
    assert sms.timestamp == datetime(2024, 6, 30, 23, 59, 59, tzinfo=tz(180))


def test_ucs2_emoji_surrogate_pair() -> None:
    # U+1F600 is the UTF-16 surrogate pair D83D DE00 (TS 23.038 UCS-2 carries it as 2 units).
    pdu = "00" "04" "0C91795210325476" "0008" "42600332959521" "06" "D83DDE000021"
    assert decode_deliver(pdu).text == "😀!"


def test_8bit_data() -> None:
    # DCS 0x04: 8-bit data; octets are kept raw and shown one Latin-1 character per octet.
    pdu = "00" "04" "0C91795210325476" "0004" "42600332959521" "03" "0102FF"
    sms = decode_deliver(pdu)
    assert sms.encoding is Encoding.EIGHT_BIT
    assert sms.user_data == b"\x01\x02\xff"
    assert sms.text == "\x01\x02ÿ"


def test_class_0_gsm7_dcs_f0() -> None:
    # DCS 0xF0: group 1111, bit 2 = 0 -> GSM-7, class 0 (flash).
    pdu = "00" "04" "0C91795210325476" "00F0" "42600332959521" "02" "E834"
    assert decode_deliver(pdu).text == "hi"


def test_national_number_sender() -> None:
    # TOA 0xA1: TON national, NPI ISDN: shown as dialled, without '+'.
    pdu = "00" "04" "0A" "A1" "5010325476" "0000" "42600332959521" "02" "E834"
    sms = decode_deliver(pdu)
    assert sms.sender == "0501234567"
    assert sms.sender_toa == 0xA1


@pytest.mark.parametrize(
    ("zone_octet", "minutes"),
    [
        ("00", 0),
        ("80", 120),  # "08" quarters
        ("0A", -300),  # -20 quarters
        ("49", -210),  # -14 quarters: Newfoundland -03:30
        ("32", 345),  # 23 quarters: Nepal +05:45
        ("2F", -1080),  # -72 quarters: digits "72", tens 7 | sign 8 = F
    ],
)
def test_time_zone_quarter_hours_and_sign(zone_octet: str, minutes: int) -> None:
    pdu = "00" "04" "0C91795210325476" "0000" "421020304050" + zone_octet + "02E834"
    sms = decode_deliver(pdu)
    assert sms.timestamp.utcoffset() == timedelta(minutes=minutes)
    [again] = encode_deliver("+972501234567", "hi", sms.timestamp)
    assert again == pdu


STATUS_REPORT = (
    "07" "91" "7283010010F5"  # SMSC +27381000015
    "06"  # MTI=10 SMS-STATUS-REPORT, TP-MMS=1
    "2A"  # TP-MR = 42, the reference of the SUBMIT it reports on
    "0B" "91" "6407281553F8"  # TP-RA: +46708251358
    "42305121030040"  # TP-SCTS 2024-03-15 12:30:00 +01:00 (4 quarters -> 0x40)
    "42305121037040"  # TP-DT   2024-03-15 12:30:07 +01:00
    "00"  # TP-ST: received by the SME
)


def test_status_report_delivered() -> None:
    # Hand-built from TS 23.040 §9.2.2.3.
    report = decode(STATUS_REPORT)
    assert isinstance(report, StatusReport)
    assert report.reference == 42
    assert report.recipient == "+46708251358"
    assert report.status == 0
    assert report.delivered and not report.pending and not report.failed
    assert report.discharge_time == datetime(2024, 3, 15, 12, 30, 7, tzinfo=tz(60))
    assert report.smsc == "+27381000015"


@pytest.mark.parametrize(
    ("status", "delivered", "pending", "failed"),
    [
        (0x01, True, False, False),  # forwarded, delivery not confirmed
        (0x30, False, True, False),  # temporary error, SC still trying
        (0x46, False, False, True),  # validity period expired
        (0x62, False, False, True),  # temporary error, SC stopped trying
    ],
)
def test_status_report_outcomes(status: int, delivered: bool, pending: bool, failed: bool) -> None:
    pdu = STATUS_REPORT[:-2] + f"{status:02X}"
    report = decode(pdu)
    assert isinstance(report, StatusReport)
    assert (report.delivered, report.pending, report.failed) == (delivered, pending, failed)


def test_status_report_encoder_matches_the_hand_built_vector() -> None:
    report = encode_status_report(
        42, "+46708251358", 0,
        datetime(2024, 3, 15, 12, 30, 0, tzinfo=tz(60)),
        datetime(2024, 3, 15, 12, 30, 7, tzinfo=tz(60)),
        smsc="+27381000015",
    )
    assert report == STATUS_REPORT.replace("06", "02", 1)  # we leave TP-MMS clear


def test_status_report_with_trailing_optional_fields() -> None:
    # TP-PI (0x00: no PID/DCS/UDL follow) after TP-ST is allowed and ignored.
    report = decode(STATUS_REPORT + "00")
    assert isinstance(report, StatusReport)
    assert report.delivered


def test_submit_with_status_report_and_udh_first_octet() -> None:
    # 0x61 = MTI 01 | TP-SRR 0x20 | TP-UDHI 0x40; MR increments per part.
    pdus = encode_submit("+46708251358", "x" * 161, status_report=True, reference=7)
    assert [p.hex[2:4] for p in pdus] == ["61", "61"]
    assert [p.hex[4:6] for p in pdus] == ["07", "08"]
    decoded = [decode(p.hex) for p in pdus]
    assert all(isinstance(d, Submit) and d.status_report for d in decoded)
