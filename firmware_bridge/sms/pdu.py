"""SMS PDU codec (3GPP TS 23.040 / 23.038): SMS-SUBMIT out, SMS-DELIVER and reports in.

Pure functions over bytes and text; no serial port, no clock. The AT engine calls
encode_submit() for AT+CMGS and decode() for +CMT/+CMGL/+CMGR/+CDS PDUs.
"""

from __future__ import annotations

import string
from datetime import datetime

from firmware_bridge.sms import gsm7, udh
from firmware_bridge.sms.errors import PduError
from firmware_bridge.sms.fields import (
    Reader,
    decode_address,
    decode_smsc,
    decode_timestamp,
    encode_address,
    encode_alphanumeric,
    encode_smsc,
    encode_timestamp,
    relative_validity,
    relative_validity_minutes,
)
from firmware_bridge.sms.messages import (
    Concat,
    Deliver,
    Encoding,
    StatusReport,
    Submit,
    SubmitPdu,
)
from firmware_bridge.sms.reassembly import Reassembler

__all__ = [
    "Concat",
    "Deliver",
    "Encoding",
    "PduError",
    "Reassembler",
    "StatusReport",
    "Submit",
    "SubmitPdu",
    "decode",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
    "split_text",
]

# Limits per part (TS 23.040 §9.2.3.16, TS 23.038 §6.1.2.1).
GSM7_SINGLE = 160
GSM7_PER_PART = 153  # 160 septets minus the 7 a 6-octet concatenation UDH takes
UCS2_SINGLE = 70
UCS2_PER_PART = 67  # 140 octets minus 6 UDH octets, in 2-octet code units
MAX_PARTS = 255

MTI_DELIVER = 0b00
MTI_SUBMIT = 0b01
MTI_STATUS_REPORT = 0b10
DCS_GSM7 = 0x00
DCS_UCS2 = 0x08

_HEX = frozenset(string.hexdigits)


# --- splitting -------------------------------------------------------------------------


def _char_units(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [gsm7.char_septets(ch) for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def split_text(text: str) -> tuple[Encoding, list[str]]:
    """Choose the alphabet and split text into the fewest parts that fit, never mid-character.

    GSM-7 when every character fits (an extension character costs two septets and its
    ESC pair is never split), else UCS-2 (a character beyond U+FFFF costs two code units
    and its surrogate pair is never split).
    """
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise PduError("text contains a lone UTF-16 surrogate, which cannot be sent")
    encoding = Encoding.GSM7 if gsm7.fits_gsm7(text) else Encoding.UCS2
    single, per_part = (
        (GSM7_SINGLE, GSM7_PER_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PER_PART)
    )
    units = _char_units(text, encoding)
    if sum(units) <= single:
        return encoding, [text]
    parts: list[str] = []
    start, used = 0, 0
    for i, n in enumerate(units):
        if used + n > per_part:
            parts.append(text[start:i])
            start, used = i, 0
        used += n
    parts.append(text[start:])
    if len(parts) > MAX_PARTS:
        raise PduError(f"text needs {len(parts)} parts; at most {MAX_PARTS} can be concatenated")
    return encoding, parts


def _user_data(text: str, encoding: Encoding, concat: Concat | None) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD) for one part, with the concatenation UDH when concat is given."""
    header = udh.build_concat(concat) if concat is not None else b""
    if encoding is Encoding.GSM7:
        septets = gsm7.encode(text)
        header_bits = 8 * len(header)
        fill = (7 - header_bits % 7) % 7
        header_septets = (header_bits + fill) // 7
        body = gsm7.pack(septets, fill)
        # The packed body starts with fill zero bits, so header + body keeps septet alignment.
        return header_septets + len(septets), header + body
    body = text.encode("utf-16-be" if encoding is Encoding.UCS2 else "latin-1")
    return len(header) + len(body), header + body


def _check_octet(name: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise PduError(f"{name} must be an integer 0..255, got {value!r}")


# --- encoding --------------------------------------------------------------------------


def encode_submit(
    number: str,
    text: str,
    *,
    status_report: bool = False,
    reference: int = 0,
    validity_minutes: int | None = None,
    concat_ref: int | None = None,
    smsc: str | None = None,
) -> list[SubmitPdu]:
    """SMS-SUBMIT PDUs for AT+CMGS, one per part; TP-MR is reference + part index (mod 256).

    concat_ref defaults to reference when the text needs more than one part; smsc None
    writes the "00" SMSC octet (use the SIM's SMSC), else that number leads the PDU.
    """
    _check_octet("reference", reference)
    if concat_ref is not None:
        _check_octet("concat_ref", concat_ref)
    address = encode_address(number)
    smsc_part = encode_smsc(smsc).hex().upper()
    vp = b"" if validity_minutes is None else bytes((relative_validity(validity_minutes),))
    encoding, parts = split_text(text)
    dcs = DCS_GSM7 if encoding is Encoding.GSM7 else DCS_UCS2
    ref = reference if concat_ref is None else concat_ref
    pdus: list[SubmitPdu] = []
    for i, chunk in enumerate(parts):
        concat = Concat(ref, len(parts), i + 1) if len(parts) > 1 else None
        udl, ud = _user_data(chunk, encoding, concat)
        first = MTI_SUBMIT
        first |= 0x10 if vp else 0  # TP-VPF = relative
        first |= 0x20 if status_report else 0  # TP-SRR
        first |= 0x40 if concat else 0  # TP-UDHI
        mr = (reference + i) % 256
        tpdu = bytes((first, mr)) + address + bytes((0x00, dcs)) + vp + bytes((udl,)) + ud
        pdus.append(SubmitPdu(hex=smsc_part + tpdu.hex().upper(), tpdu_length=len(tpdu)))
    return pdus


def _originator(sender: str) -> bytes:
    stripped = sender.strip()
    if stripped.lstrip("+").replace(" ", "").replace("-", "").isdigit():
        return encode_address(sender)
    return encode_alphanumeric(sender)


def encode_deliver(
    sender: str,
    text: str,
    timestamp: datetime,
    *,
    smsc: str | None = None,
    concat_ref: int = 0,
    status_report_requested: bool = False,
) -> list[str]:
    """SMS-DELIVER PDUs (hex, SMSC part first), as a network hands them to a modem.

    A sender that is not a phone number becomes an alphanumeric (GSM-7 packed) address.
    Used by the modem simulator and by tests.
    """
    _check_octet("concat_ref", concat_ref)
    originator = _originator(sender)
    scts = encode_timestamp(timestamp)
    encoding, parts = split_text(text)
    dcs = DCS_GSM7 if encoding is Encoding.GSM7 else DCS_UCS2
    out: list[str] = []
    for i, chunk in enumerate(parts):
        concat = Concat(concat_ref, len(parts), i + 1) if len(parts) > 1 else None
        udl, ud = _user_data(chunk, encoding, concat)
        first = MTI_DELIVER | 0x04  # TP-MMS set: no more messages waiting
        first |= 0x20 if status_report_requested else 0
        first |= 0x40 if concat else 0
        tpdu = bytes((first,)) + originator + bytes((0x00, dcs)) + scts + bytes((udl,)) + ud
        out.append((encode_smsc(smsc) + tpdu).hex().upper())
    return out


def encode_status_report(
    reference: int,
    recipient: str,
    status: int,
    timestamp: datetime,
    discharge_time: datetime,
    *,
    smsc: str | None = None,
) -> str:
    """An SMS-STATUS-REPORT PDU (hex, SMSC part first), as a network sends it; for tests."""
    _check_octet("reference", reference)
    _check_octet("status", status)
    tpdu = (
        bytes((MTI_STATUS_REPORT, reference))
        + encode_address(recipient)
        + encode_timestamp(timestamp)
        + encode_timestamp(discharge_time)
        + bytes((status,))
    )
    return (encode_smsc(smsc) + tpdu).hex().upper()


# --- decoding --------------------------------------------------------------------------


def _alphabet(dcs: int) -> Encoding:
    """The alphabet a TP-DCS octet selects (TS 23.038 §4); reserved values mean GSM-7."""
    group = dcs >> 4
    if group <= 0b0111:  # general data coding, with or without automatic deletion
        if dcs & 0x20:
            raise PduError(f"DCS {dcs:#04x}: compressed user data is not supported")
        return (Encoding.GSM7, Encoding.EIGHT_BIT, Encoding.UCS2, Encoding.GSM7)[(dcs >> 2) & 3]
    if group == 0b1110:  # message waiting, store, UCS-2
        return Encoding.UCS2
    if group == 0b1111:  # data coding / message class
        return Encoding.EIGHT_BIT if dcs & 0x04 else Encoding.GSM7
    return Encoding.GSM7


def _read_user_data(
    reader: Reader, dcs: int, has_udh: bool
) -> tuple[str, Concat | None, Encoding, bytes]:
    encoding = _alphabet(dcs)
    udl = reader.byte("TP-UDL")
    if encoding is Encoding.GSM7:
        if udl > GSM7_SINGLE:
            raise PduError(f"TP-UDL {udl} septets exceeds {GSM7_SINGLE}")
        ud = reader.take(gsm7.packed_length(udl), "TP-UD")
    else:
        if udl > 140:
            raise PduError(f"TP-UDL {udl} octets exceeds 140")
        ud = reader.take(udl, "TP-UD")
    concat: Concat | None = None
    header_len = 0
    if has_udh:
        if not ud:
            raise PduError("bad UDH length: TP-UDHI is set but the user data is empty")
        header_len = 1 + ud[0]
        if header_len > len(ud):
            raise PduError(
                f"bad UDH length: UDHL {ud[0]} exceeds the {len(ud) - 1} user data octets"
            )
        concat = udh.parse_concat(ud[1:header_len])
    if encoding is Encoding.GSM7:
        header_bits = 8 * header_len
        fill = (7 - header_bits % 7) % 7
        header_septets = (header_bits + fill) // 7
        if header_septets > udl:
            raise PduError(f"bad UDH length: header takes {header_septets} of {udl} septets")
        septets = gsm7.unpack(ud[header_len:], udl - header_septets, fill)
        return gsm7.decode(septets), concat, encoding, bytes(septets)
    body = ud[header_len:]
    if encoding is Encoding.UCS2:
        if len(body) % 2:
            raise PduError(f"UCS-2 user data has an odd number of octets ({len(body)})")
        # A lone surrogate (a pair split across parts by the sender) shows as U+FFFD here;
        # the Reassembler joins the raw octets, so the whole message still decodes intact.
        return body.decode("utf-16-be", errors="replace"), concat, encoding, body
    return body.decode("latin-1"), concat, encoding, body


def parse_hex(pdu_hex: str) -> bytes:
    """PDU hex text to bytes, with a clear error for odd length or non-hex characters."""
    cleaned = "".join(pdu_hex.split())
    if not cleaned:
        raise PduError("empty PDU")
    if len(cleaned) % 2:
        raise PduError(f"PDU hex has odd length {len(cleaned)}")
    bad = next((ch for ch in cleaned if ch not in _HEX), None)
    if bad is not None:
        raise PduError(f"PDU contains non-hex character {bad!r}")
    return bytes.fromhex(cleaned)


def decode(pdu_hex: str) -> Deliver | StatusReport | Submit:
    """Parse a PDU that starts with SMSC information (length 00 when absent)."""
    reader = Reader(parse_hex(pdu_hex))
    smsc = decode_smsc(reader)
    first = reader.byte("first octet")
    mti = first & 0x03
    if mti == MTI_DELIVER:
        return _decode_deliver(reader, first, smsc)
    if mti == MTI_SUBMIT:
        return _decode_submit(reader, first, smsc)
    if mti == MTI_STATUS_REPORT:
        return _decode_status_report(reader, smsc)
    raise PduError(f"reserved message type indicator {mti} in first octet {first:#04x}")


def _decode_deliver(reader: Reader, first: int, smsc: str | None) -> Deliver:
    sender, toa = decode_address(reader, "TP-OA")
    pid = reader.byte("TP-PID")
    dcs = reader.byte("TP-DCS")
    timestamp = decode_timestamp(reader.take(7, "TP-SCTS"), "TP-SCTS")
    text, concat, encoding, data = _read_user_data(reader, dcs, bool(first & 0x40))
    return Deliver(
        sender=sender,
        text=text,
        timestamp=timestamp,
        concat=concat,
        smsc=smsc,
        encoding=encoding,
        user_data=data,
        sender_toa=toa,
        pid=pid,
        dcs=dcs,
        status_report_requested=bool(first & 0x20),
    )


def _decode_submit(reader: Reader, first: int, smsc: str | None) -> Submit:
    reference = reader.byte("TP-MR")
    recipient, toa = decode_address(reader, "TP-DA")
    pid = reader.byte("TP-PID")
    dcs = reader.byte("TP-DCS")
    vpf = (first >> 3) & 0x03
    validity_minutes: int | None = None
    valid_until: datetime | None = None
    if vpf == 0b10:
        validity_minutes = relative_validity_minutes(reader.byte("TP-VP"))
    elif vpf == 0b11:
        valid_until = decode_timestamp(reader.take(7, "TP-VP"), "TP-VP")
    elif vpf == 0b01:
        reader.take(7, "TP-VP (enhanced)")
    text, concat, encoding, data = _read_user_data(reader, dcs, bool(first & 0x40))
    return Submit(
        recipient=recipient,
        text=text,
        reference=reference,
        status_report=bool(first & 0x20),
        validity_minutes=validity_minutes,
        concat=concat,
        smsc=smsc,
        encoding=encoding,
        user_data=data,
        recipient_toa=toa,
        pid=pid,
        dcs=dcs,
        valid_until=valid_until,
    )


def _decode_status_report(reader: Reader, smsc: str | None) -> StatusReport:
    reference = reader.byte("TP-MR")
    recipient, toa = decode_address(reader, "TP-RA")
    timestamp = decode_timestamp(reader.take(7, "TP-SCTS"), "TP-SCTS")
    discharge = decode_timestamp(reader.take(7, "TP-DT"), "TP-DT")
    status = reader.byte("TP-ST")
    # Optional TP-PI / PID / DCS / UD may follow; the AT engine needs none of them.
    return StatusReport(
        reference=reference,
        recipient=recipient,
        status=status,
        discharge_time=discharge,
        timestamp=timestamp,
        smsc=smsc,
        recipient_toa=toa,
    )

