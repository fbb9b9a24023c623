"""The SMS messages the codec produces and reads: frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Encoding(Enum):
    """The alphabet of a message's user data (TS 23.038 data coding scheme)."""

    GSM7 = "gsm7"
    EIGHT_BIT = "8bit"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class Concat:
    """One part of a concatenated message: reference, number of parts, 1-based part number."""

    ref: int
    total: int
    seq: int
    ref_bits: int = 8


@dataclass(frozen=True)
class SubmitPdu:
    """An SMS-SUBMIT ready for AT+CMGS: hex with the SMSC byte, and the TPDU length."""

    hex: str
    tpdu_length: int


@dataclass(frozen=True)
class Deliver:
    """A received SMS-DELIVER.

    user_data holds the text payload after the UDH: one byte per septet for GSM-7, the raw
    octets for 8-bit and UCS-2, so parts can be joined before decoding (an escape or a
    surrogate pair that a non-compliant sender split across parts still comes out whole).
    For 8-bit data, text is the octets read as Latin-1 (one character per octet).
    """

    sender: str
    text: str
    timestamp: datetime
    concat: Concat | None
    smsc: str | None
    encoding: Encoding = Encoding.GSM7
    user_data: bytes = b""
    sender_toa: int = 0x91
    pid: int = 0
    dcs: int = 0
    status_report_requested: bool = False


@dataclass(frozen=True)
class Submit:
    """A decoded SMS-SUBMIT (what encode_submit produced, read back)."""

    recipient: str
    text: str
    reference: int
    status_report: bool
    validity_minutes: int | None
    concat: Concat | None
    smsc: str | None
    encoding: Encoding = Encoding.GSM7
    user_data: bytes = b""
    recipient_toa: int = 0x91
    pid: int = 0
    dcs: int = 0
    valid_until: datetime | None = None


@dataclass(frozen=True)
class StatusReport:
    """A received SMS-STATUS-REPORT: the fate of the message sent with TP-MR = reference."""

    reference: int
    recipient: str
    status: int
    discharge_time: datetime
    timestamp: datetime
    smsc: str | None
    recipient_toa: int = 0x91

    @property
    def delivered(self) -> bool:
        """True when the SMSC says the recipient got it (TP-ST 0x00, or 0x01 unconfirmed)."""
        return self.status in (0x00, 0x01)

    @property
    def pending(self) -> bool:
        """True when the SMSC is still trying (TP-ST 0x20..0x3F, temporary error)."""
        return 0x20 <= self.status <= 0x3F

    @property
    def failed(self) -> bool:
        """True when the SMSC gave up or the message was replaced: a final non-delivery."""
        return not self.delivered and not self.pending
