"""The simulated modem's AT interpreter: lines in, result codes and URCs out.

No I/O: output goes through `emit`, delayed network events through `schedule`, both
provided by the runner (firmware_bridge.simulator.runner). One class serves the three
profiles; the differences are the call URCs, the PCM switch and USSD string coding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from firmware_bridge import ussd as ussd_codec
from firmware_bridge.sms import pdu as sms_pdu

Emit = Callable[[bytes], None]
Schedule = Callable[[float, Callable[[], None]], None]

OWN_NUMBER = "+15550001000"
SMSC = "+15550009999"
IMEIS = {"quectel": "867962040000017", "simcom": "862636050000018", "huawei": "353142030000019"}
MODELS = {"quectel": ("Quectel", "EC25"), "simcom": ("SIMCOM INCORPORATED", "SIMCOM_SIM7600E"),
          "huawei": ("huawei", "E1550")}
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
class SimCall:
    """The call the simulated modem carries."""

    number: str
    outgoing: bool
    active: bool = False
    started: float = 0.0


@dataclass
class SentSms:
    """A message the modem sent (what the network received)."""

    recipient: str
    text: str
    reference: int
    pdu: str


@dataclass
class SimConfig:
    """Network and SIM conditions; the control API and the faults change them."""

    sim: str = "READY"  # READY, SIM PIN, ABSENT
    registered: bool = True
    operator: str = "Simnet"
    rssi: int = 20
    auto_answer_after: float | None = None  # outgoing calls answered by the far end
    ussd: dict[str, tuple[str, bool]] = field(
        default_factory=lambda: {"*100#": ("Balance: 12.50 EUR, valid until 31/12", False)}
    )


class Dialect:
    """AT interpreter of one simulated modem."""

    def __init__(self, profile: str, emit: Emit, schedule: Schedule,
                 config: SimConfig | None = None) -> None:
        if profile not in IMEIS:
            raise ValueError(f"unknown profile {profile!r}")
        self.profile = profile
        self.config = config or SimConfig()
        self._emit = emit
        self._schedule = schedule
        self.store: dict[int, StoredSms] = {}
        self.sent: list[SentSms] = []
        self.received_commands: list[str] = []
        self.mr = 0
        self.clock: Callable[[], float] = lambda: 0.0
        self.on_reset: Callable[[], None] = lambda: None
        self.power_on()

    # --- state -------------------------------------------------------------------------

    def power_on(self) -> None:
        """Reset the volatile state as a module does when it boots (the SIM store stays)."""
        self.echo = True
        self.cnmi_mt = 1
        self.cnmi_ds = 1
        self.creg_urc = False
        self.clcc_urc = False
        self.ccinfo_urc = False
        self.call: SimCall | None = None
        self.pcm = False
        self._buf = b""
        self._prompt_len: int | None = None

    @property
    def pcm_flowing(self) -> bool:
        """True while PCM frames should flow on the audio port."""
        return self.pcm and self.call is not None and self.call.active

    def boot_urcs(self) -> None:
        """What the module prints when it has booted."""
        if self.profile == "quectel":
            self._urc("RDY")
        elif self.profile == "simcom":
            self._urc("RDY")
            self._urc("PB DONE")
        else:
            self._urc("^BOOT:12345678,0,0,0,75")

    # --- input -------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Consume bytes written by the host."""
        self._buf += data
        while True:
            if self._prompt_len is not None:
                end = min((i for i in (self._buf.find(b"\x1a"), self._buf.find(b"\x1b"))
                           if i >= 0), default=-1)
                if end < 0:
                    return
                body, terminator = self._buf[:end], self._buf[end:end + 1]
                self._buf = self._buf[end + 1:]
                length, self._prompt_len = self._prompt_len, None
                if self.echo:
                    self._emit(body + terminator)
                if terminator == b"\x1a":
                    self._submit(body.decode("ascii", "replace").strip(), length)
                else:
                    self._final("OK")
                continue
            cut = self._buf.find(b"\r")
            if cut < 0:
                return
            raw, self._buf = self._buf[:cut], self._buf[cut + 1:]
            line = raw.decode("ascii", "replace").strip().lstrip("\n")
            if self.echo:
                self._emit(raw + b"\r")
            if line:
                self.received_commands.append(line)
                self._command(line)

    # --- output helpers ----------------------------------------------------------------

    def _urc(self, line: str) -> None:
        self._emit(b"\r\n" + line.encode() + b"\r\n")

    def _info(self, line: str) -> None:
        self._emit(b"\r\n" + line.encode() + b"\r\n")

    def _final(self, code: str) -> None:
        self._emit(b"\r\n" + code.encode() + b"\r\n")

    def _cme(self, code: int) -> None:
        self._final(f"+CME ERROR: {code}")

    def _sim_error(self) -> bool:
        if self.config.sim == "ABSENT":
            self._cme(10)
            return True
        if self.config.sim == "SIM PIN":
            self._cme(11)
            return True
        return False

    # --- commands ----------------------------------------------------------------------

    def _command(self, line: str) -> None:
        up = line.upper()
        if not up.startswith("AT"):
            self._final("ERROR")
            return
        body = line[2:]
        handler = self._match(body)
        if handler is None:
            self._final("ERROR")
        else:
            handler(body)

    def _match(self, body: str) -> Callable[[str], None] | None:
        up = body.upper()
        table: list[tuple[str, Callable[[str], None]]] = [
            ("+CGSN", self._cgsn), ("+GSN", self._cgsn), ("+CGMI", self._cgmi),
            ("+CGMM", self._cgmm), ("+CPIN", self._cpin), ("+CSQ", self._csq),
            ("+QCSQ", self._qcsq), ("+CREG", self._creg), ("+CEREG", self._creg),
            ("+COPS", self._cops), ("+CFUN", self._cfun), ("+CLCC", self._clcc),
            ("+CNMI", self._cnmi), ("+CMGS", self._cmgs), ("+CMGR", self._cmgr),
            ("+CMGD", self._cmgd), ("+CMGL", self._cmgl), ("+CUSD", self._cusd),
            ("+QPCMV", self._pcm_switch), ("+CPCMREG", self._pcm_switch),
            ("^DDSETEX", self._pcm_switch), ("+QINDCFG", self._qindcfg), ("+CHUP", self._hangup),
            ("+CMEE", self._ok), ("+CMGF", self._cmgf), ("+CSCS", self._ok), ("+CLIP", self._ok),
            ("+QURCCFG", self._ok), ("^CURC", self._ok), ("^CVOICE", self._ok),
            ("+CPMS", self._cpms),
        ]
        for prefix, handler in table:
            if up.startswith(prefix) and (len(up) == len(prefix) or up[len(prefix)] in "=?"):
                if prefix in ("+QPCMV", "+QINDCFG", "+QCSQ") and self.profile != "quectel":
                    return None
                if prefix == "+CPCMREG" and self.profile != "simcom":
                    return None
                if prefix in ("^DDSETEX", "^CURC", "^CVOICE") and self.profile != "huawei":
                    return None
                return handler
        if up in ("", "I"):
            return self._ati if up == "I" else self._ok
        if up in ("E0", "E1"):
            return self._echo
        if up.startswith("D"):
            return self._dial
        if up == "A":
            return self._answer
        if up in ("H", "H0"):
            return self._hangup
        return None

    def _ok(self, _body: str) -> None:
        self._final("OK")

    def _echo(self, body: str) -> None:
        self.echo = body.upper() == "E1"
        self._final("OK")

    def _ati(self, _body: str) -> None:
        maker, model = MODELS[self.profile]
        self._info(maker)
        self._info(model)
        self._info("Revision: SIM-1.0")
        self._final("OK")

    def _cgsn(self, _body: str) -> None:
        self._info(IMEIS[self.profile])
        self._final("OK")

    def _cgmi(self, _body: str) -> None:
        self._info(MODELS[self.profile][0])
        self._final("OK")

    def _cgmm(self, _body: str) -> None:
        self._info(MODELS[self.profile][1])
        self._final("OK")

    def _cmgf(self, body: str) -> None:
        if body.endswith("=0") or body.endswith("?"):
            self._final("OK")
        else:
            self._final("+CMS ERROR: 303")  # this simulator speaks PDU mode only

    def _cpin(self, body: str) -> None:
        if body.upper() == "+CPIN?":
            if self.config.sim == "ABSENT":
                self._cme(10)
            else:
                self._info(f"+CPIN: {self.config.sim}")
                self._final("OK")
        else:
            self._cme(16)  # this simulator has no PIN to check: incorrect password

    def _csq(self, _body: str) -> None:
        rssi = self.config.rssi if self.config.registered else 99
        self._info(f"+CSQ: {rssi},99")
        self._final("OK")

    def _qcsq(self, _body: str) -> None:
        if self.config.registered:
            rssi = -113 + 2 * self.config.rssi
            self._info(f'+QCSQ: "LTE",{rssi},-95,150,-9')
        else:
            self._info('+QCSQ: "NOSERVICE"')
        self._final("OK")

    def _stat(self) -> int:
        if self.config.sim != "READY":
            return 0
        return 1 if self.config.registered else 2

    def _creg(self, body: str) -> None:
        name = "+CEREG" if body.upper().startswith("+CEREG") else "+CREG"
        if body.endswith("?"):
            self._info(f"{name}: {1 if self.creg_urc else 0},{self._stat()}")
        elif "=" in body:
            self.creg_urc = body.split("=", 1)[1].strip() != "0"
        self._final("OK")

    def _cops(self, body: str) -> None:
        if body.endswith("?"):
            if self.config.registered and self.config.sim == "READY":
                act = 7 if self.profile != "huawei" else 2
                self._info(f'+COPS: 0,0,"{self.config.operator}",{act}')
            else:
                self._info("+COPS: 0")
        self._final("OK")

    def _cfun(self, body: str) -> None:
        if body.replace(" ", "") in ("+CFUN=1,1", "+CFUN=1,1,"):
            self._final("OK")
            self.on_reset()
            return
        if body.endswith("?"):
            self._info("+CFUN: 1")
        self._final("OK")

    def _cnmi(self, body: str) -> None:
        if "=" in body:
            parts = body.split("=", 1)[1].split(",")
            try:
                self.cnmi_mt = int(parts[1]) if len(parts) > 1 and parts[1] else 0
                self.cnmi_ds = int(parts[3]) if len(parts) > 3 and parts[3] else 0
            except ValueError:
                self._final("ERROR")
                return
        self._final("OK")

    def _cpms(self, body: str) -> None:
        if body.endswith("?"):
            n = len(self.store)
            self._info(f'+CPMS: "SM",{n},{STORE_SIZE},"SM",{n},{STORE_SIZE},"SM",{n},{STORE_SIZE}')
        self._final("OK")

    def _qindcfg(self, body: str) -> None:
        if '"ccinfo"' in body.lower():
            self.ccinfo_urc = body.rstrip().endswith("1")
        self._final("OK")

    # --- calls ------------------------------------------------------------------------

    def _clcc(self, body: str) -> None:
        if "=" in body:
            self.clcc_urc = body.split("=", 1)[1].strip() == "1"
        elif self.call is not None:
            self._info("+CLCC: " + self._clcc_row(self._call_stat()))
        self._final("OK")

    def _call_stat(self) -> int:
        call = self.call
        if call is None:
            return 6
        if call.active:
            return 0
        return 3 if call.outgoing else 4

    def _clcc_row(self, stat: int) -> str:
        call = self.call
        number = call.number if call else ""
        direction = 0 if call and call.outgoing else 1
        toa = 145 if number.startswith("+") else 129
        return f'1,{direction},{stat},0,0,"{number}",{toa}'

    def _call_urcs(self, stat: int) -> None:
        """Report call state `stat` (27.007 numbering) in this profile's dialect."""
        if self.profile == "quectel" and self.ccinfo_urc:
            self._urc('+QIND: "ccinfo",' + self._clcc_row(7 if stat == 6 else stat))
        if self.profile == "simcom":
            if self.clcc_urc:
                self._urc("+CLCC: " + self._clcc_row(stat))
            if stat == 0:
                self._urc("VOICE CALL: BEGIN")
            elif stat == 6:
                secs = int(self.clock() - self.call.started) if self.call else 0
                self._urc(f"VOICE CALL: END: {secs:06d}")
        if self.profile == "huawei":
            if stat == 2:
                self._urc("^ORIG:1,0")
            elif stat == 3:
                self._urc("^CONF:1")
            elif stat == 0:
                self._urc("^CONN:1,0")
            elif stat == 6:
                secs = int(self.clock() - self.call.started) if self.call else 0
                self._urc(f"^CEND:1,{secs},104,16")

    def _dial(self, body: str) -> None:
        m = re.fullmatch(r"D([0-9+*#]+);", body.strip(), re.IGNORECASE)
        if m is None:
            self._final("ERROR")
            return
        if self._sim_error():
            return
        if not self.config.registered:
            self._cme(30)  # no network service
            return
        if self.call is not None:
            self._cme(3)
            return
        self.call = SimCall(m.group(1), outgoing=True)
        self._final("OK")
        self._call_urcs(2)
        self._call_urcs(3)
        if self.config.auto_answer_after is not None:
            self._schedule(self.config.auto_answer_after, self.remote_answer)

    def _answer(self, _body: str) -> None:
        call = self.call
        if call is None or call.outgoing or call.active:
            self._final("NO CARRIER")
            return
        self._final("OK")
        self._connect()

    def _connect(self) -> None:
        assert self.call is not None
        self.call.active = True
        self.call.started = self.clock()
        self._call_urcs(0)

    def _hangup(self, _body: str) -> None:
        self._final("OK")
        if self.call is not None:
            self._end_call(remote=False)

    def _end_call(self, *, remote: bool) -> None:
        self._call_urcs(6)
        self.call = None
        if self.profile == "simcom":
            self.pcm = False
        if remote and self.profile != "huawei":
            self._urc("NO CARRIER")

    def _pcm_switch(self, body: str) -> None:
        value = body.split("=", 1)[1].strip() if "=" in body else ""
        if body.endswith("?"):
            self._final("OK")
            return
        on = value.startswith("1") or (self.profile == "huawei" and value == "2")
        if on and self.profile != "quectel" and (self.call is None or not self.call.active):
            self._final("ERROR")  # SIMCom and Huawei switch audio only during a call
            return
        self.pcm = on
        self._final("OK")

    # --- network side (control API) -------------------------------------------------------

    def incoming_call(self, number: str) -> None:
        """The network offers a call from `number`."""
        if self.call is not None:
            raise RuntimeError("a call is already up")
        self.call = SimCall(number, outgoing=False)
        self._call_urcs(4)
        self.ring()

    def ring(self) -> None:
        """One RING (+CLIP) of the incoming call."""
        if self.call is None or self.call.active:
            return
        self._urc("RING")
        toa = 145 if self.call.number.startswith("+") else 129
        self._urc(f'+CLIP: "{self.call.number}",{toa},,,,0')

    def remote_answer(self) -> None:
        """The far end of an outgoing call answers."""
        if self.call is not None and self.call.outgoing and not self.call.active:
            self._connect()

    def remote_hangup(self) -> None:
        """The far end (or the network) ends the call."""
        if self.call is not None:
            self._end_call(remote=True)

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
