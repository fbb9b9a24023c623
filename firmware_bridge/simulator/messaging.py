"""SMS (PDU mode, SIM store) and USSD for the simulated modem; mixed into Dialect."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from firmware_bridge import ussd as ussd_codec
from firmware_bridge.sms import pdu as sms_pdu

if TYPE_CHECKING:
    from firmware_bridge.simulator.dialect import SimConfig

OWN_NUMBER = "+15550001000"
SMSC = "+15550009999"
STORE_SIZE = 30


@dataclass
class StoredSms:
    """One message in the SIM store."""

    stat: int  # 0 unread, 1 read, 2 unsent, 3 sent
    pdu: str

    @property
    def tpdu_length(self) -> int:
        """TPDU length in octets (without the SMSC part)."""
        smsc_len = int(self.pdu[:2], 16)
        return len(self.pdu) // 2 - 1 - smsc_len


@dataclass
class SentSms:
    """A message the modem sent (what the network received)."""

    recipient: str
    text: str
    reference: int
    pdu: str


class Messaging:
    """The SMS and USSD commands of the simulated modem."""

    profile: str
    config: SimConfig
    store: dict[int, StoredSms]
    sent: list[SentSms]
    mr: int
    cnmi_mt: int
    cnmi_ds: int
    _prompt_len: int | None
    _emit: Callable[[bytes], None]
    _schedule: Callable[[float, Callable[[], None]], None]

    def _urc(self, line: str) -> None:
        raise NotImplementedError

    def _info(self, line: str) -> None:
        raise NotImplementedError

    def _final(self, code: str) -> None:
        raise NotImplementedError

    def _sim_error(self) -> bool:
        raise NotImplementedError

    # --- SMS ---------------------------------------------------------------------------

    def _cmgs(self, body: str) -> None:
        if "=" not in body:
            self._final("ERROR")
            return
        try:
            length = int(body.split("=", 1)[1])
        except ValueError:
            self._final("+CMS ERROR: 304")
            return
        if self._sim_error():
            return
        self._prompt_len = length
        self._emit(b"\r\n> ")

    def _submit(self, pdu_hex: str, length: int) -> None:
        if not self.config.registered:
            self._final("+CMS ERROR: 331")
            return
        try:
            sub = sms_pdu.decode(pdu_hex)
        except ValueError:
            self._final("+CMS ERROR: 304")
            return
        smsc_len = int(pdu_hex[:2], 16)
        if not isinstance(sub, sms_pdu.Submit) or len(pdu_hex) // 2 - 1 - smsc_len != length:
            self._final("+CMS ERROR: 304")
            return
        self.mr = (self.mr + 1) % 256
        mr = self.mr
        self.sent.append(SentSms(sub.recipient, sub.text, mr, pdu_hex))
        self._info(f"+CMGS: {mr}")
        self._final("OK")
        if sub.status_report and self.cnmi_ds:
            self._schedule(0.05, lambda: self._status_report(mr, sub.recipient))
        if sub.recipient == OWN_NUMBER:
            deliver = self._submit_to_deliver(pdu_hex)
            self._schedule(0.05, lambda: self._deliver_quietly(deliver))

    def _deliver_quietly(self, pdu_hex: str) -> None:
        self.deliver_pdu(pdu_hex)

    def _submit_to_deliver(self, submit_hex: str) -> str:
        """What the network hands to the recipient for a SUBMIT (the user data unchanged)."""
        data = bytes.fromhex(submit_hex)
        tpdu = data[1 + data[0]:]
        first = tpdu[0]
        addr_digits = tpdu[2]
        pos = 4 + (addr_digits + 1) // 2
        pid, dcs = tpdu[pos], tpdu[pos + 1]
        pos += 2
        vpf = (first >> 3) & 0x3
        pos += {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
        user_data = tpdu[pos:]
        # the originator is this modem's own number, as a template DELIVER encodes it
        template = bytes.fromhex(sms_pdu.encode_deliver(
            OWN_NUMBER, "x", datetime.now(UTC), smsc=SMSC)[0])
        smsc_part = template[: 1 + template[0]]
        t_tpdu = template[1 + template[0]:]
        oa_len = 2 + (t_tpdu[1] + 1) // 2
        originator = t_tpdu[1: 1 + oa_len]
        scts = t_tpdu[1 + oa_len + 2: 1 + oa_len + 9]
        new_first = 0x04 | (first & 0x40)
        deliver = bytes((new_first,)) + originator + bytes((pid, dcs)) + scts + user_data
        return (smsc_part + deliver).hex().upper()

    def _status_report(self, mr: int, recipient: str) -> None:
        now = datetime.now(UTC)
        report = sms_pdu.encode_status_report(mr, recipient, 0, now, now, smsc=SMSC)
        smsc_len = int(report[:2], 16)
        length = len(report) // 2 - 1 - smsc_len
        self._urc(f"+CDS: {length}")
        self._emit(report.encode() + b"\r\n")

    def deliver_pdu(self, pdu_hex: str) -> int | None:
        """The network delivers an SMS-DELIVER; store it (+CMTI) or route it (+CMT)."""
        smsc_len = int(pdu_hex[:2], 16)
        length = len(pdu_hex) // 2 - 1 - smsc_len
        if self.cnmi_mt == 2:
            self._urc(f"+CMT: ,{length}")
            self._emit(pdu_hex.encode() + b"\r\n")
            return None
        free = next((i for i in range(STORE_SIZE) if i not in self.store), None)
        if free is None:
            return None  # SIM full: the network keeps retrying
        self.store[free] = StoredSms(0, pdu_hex)
        if self.cnmi_mt == 1:
            self._urc(f'+CMTI: "SM",{free}')
        return free

    def _index(self, body: str) -> int | None:
        try:
            return int(body.split("=", 1)[1].split(",")[0])
        except (IndexError, ValueError):
            return None

    def _cmgr(self, body: str) -> None:
        if self._sim_error():
            return
        idx = self._index(body)
        msg = self.store.get(idx) if idx is not None else None
        if msg is None:
            self._final("+CMS ERROR: 321")
            return
        self._info(f"+CMGR: {msg.stat},,{msg.tpdu_length}")
        self._emit(msg.pdu.encode() + b"\r\n")
        if msg.stat == 0:
            msg.stat = 1
        self._final("OK")

    def _cmgd(self, body: str) -> None:
        if self._sim_error():
            return
        args = body.split("=", 1)[1].split(",") if "=" in body else []
        try:
            idx = int(args[0])
            flag = int(args[1]) if len(args) > 1 else 0
        except (IndexError, ValueError):
            self._final("+CMS ERROR: 321")
            return
        if flag == 4:
            self.store.clear()
        else:
            self.store.pop(idx, None)
        self._final("OK")

    def _cmgl(self, body: str) -> None:
        if self._sim_error():
            return
        want = body.split("=", 1)[1].strip() if "=" in body else "4"
        for idx in sorted(self.store):
            msg = self.store[idx]
            if want != "4" and str(msg.stat) != want:
                continue
            self._info(f"+CMGL: {idx},{msg.stat},,{msg.tpdu_length}")
            self._emit(msg.pdu.encode() + b"\r\n")
            if msg.stat == 0:
                msg.stat = 1
        self._final("OK")

    # --- USSD --------------------------------------------------------------------------

    def _cusd(self, body: str) -> None:
        if body.endswith("?") or body.endswith("=?"):
            self._final("OK")
            return
        m = re.fullmatch(r'\+CUSD=(\d)(?:,"([^"]*)"(?:,(\d+))?)?', body.strip(), re.IGNORECASE)
        if m is None:
            self._final("ERROR")
            return
        if self._sim_error():
            return
        if m.group(2) is None:
            self._final("OK")
            return
        raw = m.group(2)
        packed = self.profile == "huawei"
        try:
            code = (ussd_codec.septets_to_text(ussd_codec.unpack_septets(bytes.fromhex(raw)))
                    if packed else raw)
        except ValueError:
            self._final("+CME ERROR: 4")
            return
        self._final("OK")
        self._schedule(0.05, lambda: self._ussd_answer(code))

    def _ussd_answer(self, code: str) -> None:
        if not self.config.registered:
            self._urc("+CUSD: 4")
            return
        answer = self.config.ussd.get(code)
        if answer is None:
            self._urc("+CUSD: 2")
            return
        text, ucs2 = answer
        if ucs2:
            self._urc(f'+CUSD: 0,"{text.encode("utf-16-be").hex().upper()}",72')
        elif self.profile == "huawei":
            packed = ussd_codec.pack_septets(ussd_codec.gsm7_septets(text)).hex().upper()
            self._urc(f'+CUSD: 0,"{packed}",15')
        else:
            self._urc(f'+CUSD: 0,"{text}",15')
