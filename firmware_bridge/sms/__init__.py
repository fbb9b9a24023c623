"""SMS PDU codec (TS 23.040/23.038), GSM-7 alphabet, reassembly and USSD: pure, no I/O."""

from firmware_bridge.sms.errors import PduError
from firmware_bridge.sms.messages import (
    Concat,
    Deliver,
    Encoding,
    StatusReport,
    Submit,
    SubmitPdu,
)
from firmware_bridge.sms.pdu import decode, encode_deliver, encode_status_report, encode_submit
from firmware_bridge.sms.reassembly import PartialMessage, Reassembler

__all__ = [
    "Concat",
    "Deliver",
    "Encoding",
    "PartialMessage",
    "PduError",
    "Reassembler",
    "StatusReport",
    "Submit",
    "SubmitPdu",
    "decode",
    "encode_deliver",
    "encode_status_report",
    "encode_submit",
]
