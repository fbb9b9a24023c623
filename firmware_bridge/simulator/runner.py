"""Runs a simulated modem on two pseudo-terminals (AT and PCM audio) in a thread.

The AT port is reachable under a stable symlink (like a udev name), which survives a
simulated reset: the old pty goes away, a new one appears, the symlink is re-pointed.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import os
import select
import struct
import tempfile
import threading
import time
import tty
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from firmware_bridge.simulator.dialect import OWN_NUMBER, SMSC, Dialect, SentSms, SimConfig

log = logging.getLogger(__name__)

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
FRAME_SECONDS = 0.020
PCM_RECEIVED_MAX = 8000 * 2 * 30  # keep at most 30 s of audio from the host


def tone_frames(freq: float = 1000.0, amplitude: int = 8000) -> Callable[[], bytes]:
    """Return a generator of consecutive 20 ms frames of a sine tone."""
    counter = itertools.count()

    def frame() -> bytes:
        start = next(counter) * 160
        samples = (int(amplitude * math.sin(2 * math.pi * freq * (start + i) / 8000))
                   for i in range(160))
        return struct.pack("<160h", *samples)

    return frame


class _Pty:
    """One pseudo-terminal: master side for the simulator, a symlink for the host."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.link = link
        tmp = link.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        tmp.replace(link)
        self.out = bytearray()

    def close(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class ModemSimulator:
    """A simulated modem with a control API for tests and a command-line entry point."""

    def __init__(self, profile: str = "quectel", directory: str | Path | None = None,
                 config: SimConfig | None = None, reset_seconds: float = 0.2) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="modemsim-")
            directory = self._tmp.name
        self.directory = Path(directory)
        self.port = str(self.directory / f"tty{profile}")
        self.audio_port = str(self.directory / f"tty{profile}-audio")
        self.own_number = OWN_NUMBER
        self.smsc = SMSC
        self.reset_seconds = reset_seconds
        self._lock = threading.RLock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._running = False
        self._at: _Pty | None = None
        self._audio: _Pty | None = None
        self._frame = tone_frames()
        self._next_frame = 0.0
        self.stuck = False
        self.resets = 0
        self.port_up = threading.Event()  # set while the AT port exists
        self.ignored_input = bytearray()  # what the host wrote while the port was stuck
        self._answer_delays: list[float] = []
        self.pcm_received = bytearray()
        self.pcm_frames_sent = 0
        self.on_pcm_received: Callable[[bytes], None] | None = None  # called on the sim thread
        self.dialect = Dialect(profile, self._emit, self._schedule, config)
        self.dialect.clock = time.monotonic
        self.dialect.on_reset = lambda: self._schedule(0.01, self.power_cycle)

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> ModemSimulator:
        """Create the ptys and start serving."""
        with self._lock:
            self._at = _Pty(Path(self.port))
            self._audio = _Pty(Path(self.audio_port))
            self._running = True
            self.port_up.set()
        self._thread = threading.Thread(target=self._serve, name="modem-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the ptys."""
        with self._lock:
            self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for p in (self._at, self._audio):
                if p is not None:
                    p.close()
            self._at = self._audio = None
        os.close(self._wake_r)
        os.close(self._wake_w)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> ModemSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control API -------------------------------------------------------------------

    @property
    def config(self) -> SimConfig:
        """Network and SIM conditions (change them under `with sim.locked():`)."""
        return self.dialect.config

    def locked(self) -> threading.RLock:
        """The lock that serialises the simulator thread and the control API."""
        return self._lock

    def incoming_call(self, number: str) -> None:
        """The network offers a voice call from `number`."""
        self._control(lambda: self.dialect.incoming_call(number))

    def remote_answer(self) -> None:
        """The far end answers the outgoing call."""
        self._control(self.dialect.remote_answer)

    def remote_hangup(self) -> None:
        """The far end hangs up."""
        self._control(self.dialect.remote_hangup)

    def inject_sms(self, sender: str, text: str) -> list[int | None]:
        """The network delivers an SMS (several parts if long); returns the store indexes."""
        from firmware_bridge.sms import pdu as sms_pdu

        pdus = sms_pdu.encode_deliver(sender, text, datetime.now(UTC), smsc=SMSC,
                                      concat_ref=len(self.dialect.sent) % 256)
        out: list[int | None] = []
        for p in pdus:
            with self._lock:
                out.append(self.dialect.deliver_pdu(p))
            self._wake()
        return out

    def inject_pdu(self, pdu_hex: str) -> int | None:
        """The network delivers one raw SMS-DELIVER PDU (hex with SMSC part)."""
        out: list[int | None] = []
        self._control(lambda: out.append(self.dialect.deliver_pdu(pdu_hex)))
        return out[0]

    def urc_inside_next_response(self, line: str) -> None:
        """Send URC `line` between the information lines and the final code of the next answer."""
        with self._lock:
            self.dialect.urcs_before_next_final.append(line)

    def set_ussd(self, code: str, answer: str, *, ucs2: bool = False) -> None:
        """What the network answers to USSD `code`."""
        with self._lock:
            self.dialect.config.ussd[code] = (answer, ucs2)

    def set_sim(self, state: str) -> None:
        """SIM condition: READY, SIM PIN or ABSENT."""
        with self._lock:
            self.dialect.config.sim = state

    def set_network(self, registered: bool) -> None:
        """Network coverage on or off (with a +CREG URC when enabled)."""
        with self._lock:
            self.dialect.config.registered = registered
            for name in sorted(self.dialect.reg_urcs):
                self.dialect._urc(f"{name}: {self.dialect.stat(name)}")
        self._wake()

    def garbage(self, data: bytes | None = None) -> None:
        """Write garbage bytes on the AT port."""
        junk = data if data is not None else bytes(
            (b * 37 + 11) % 256 for b in range(64))
        self._control(lambda: self._emit(junk))

    def delay_next_answer(self, seconds: float) -> None:
        """Hold back the answer to the next command line for `seconds` (a slow modem)."""
        with self._lock:
            self._answer_delays.append(seconds)

    def set_pcm_source(self, source: Callable[[], bytes] | None) -> None:
        """What the far end says: a 320-byte frame per call, every 20 ms (None: the 1 kHz tone)."""
        with self._lock:
            self._frame = source or tone_frames()

    def set_stuck(self, stuck: bool) -> None:
        """A stuck port reads everything and answers nothing (until a power cycle)."""
        with self._lock:
            self.stuck = stuck

    def power_cycle(self) -> None:
        """Reset: the port goes away and a new one appears after `reset_seconds`."""
        with self._lock:
            if self._at is not None:
                self._at.close()
                self._at = None
            if self._audio is not None:
                self._audio.close()
                self._audio = None
            self.port_up.clear()
            self.resets += 1
            self.stuck = False
            self.dialect.power_on()
        self._schedule(self.reset_seconds, self._come_back)

    def _come_back(self) -> None:
        with self._lock:
            if not self._running or self._at is not None:
                return
            self._at = _Pty(Path(self.port))
            self._audio = _Pty(Path(self.audio_port))
            self.dialect.boot_urcs()
            self.port_up.set()

    @property
    def received_commands(self) -> list[str]:
        """Every AT command line the host sent, in order."""
        with self._lock:
            return list(self.dialect.received_commands)

    @property
    def sent_sms(self) -> list[SentSms]:
        """Messages the host sent through this modem."""
        with self._lock:
            return list(self.dialect.sent)

    @property
    def sim_store(self) -> dict[int, str]:
        """Index -> PDU of the messages in the SIM store."""
        with self._lock:
            return {i: m.pdu for i, m in self.dialect.store.items()}

    @property
    def dtmf_sent(self) -> list[str]:
        """DTMF digits the host sent into the call (AT+VTS)."""
        with self._lock:
            return list(self.dialect.dtmf_sent)

    @property
    def pcm_flowing(self) -> bool:
        """True while the simulator sends PCM frames."""
        with self._lock:
            return self.dialect.pcm_flowing

    # --- internals ---------------------------------------------------------------------

    def _control(self, action: Callable[[], None]) -> None:
        with self._lock:
            action()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _emit(self, data: bytes) -> None:
        if self._at is not None:
            self._at.out.extend(data)

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), action))
        self._wake()

    def _serve(self) -> None:
        while True:
            with self._lock:
                if not self._running:
                    return
                at, audio = self._at, self._audio
                now = time.monotonic()
                deadline = self._timers[0][0] if self._timers else now + 1.0
                if self.dialect.pcm_flowing:
                    if self._next_frame <= now:
                        self._next_frame = max(self._next_frame, now - FRAME_SECONDS)
                    deadline = min(deadline, self._next_frame)
                readers = [self._wake_r] + [p.master for p in (at, audio) if p]
                writers = [p.master for p in (at,) if p and p.out]
            timeout = max(0.0, deadline - time.monotonic())
            try:
                readable, writable, _ = select.select(readers, writers, [], timeout)
            except (OSError, ValueError):
                continue  # a pty was closed under us by a reset; loop again
            with self._lock:
                if self._wake_r in readable:
                    os.read(self._wake_r, 1024)
                self._io(readable, writable)
                self._run_timers()
                self._send_pcm()

    def _io(self, readable: list[int], writable: list[int]) -> None:
        at, audio = self._at, self._audio
        if at is not None and at.master in readable:
            data = _read(at.master)
            if data and self.stuck:
                self.ignored_input.extend(data)
            elif data:
                self._feed(data)
        if audio is not None and audio.master in readable:
            data = _read(audio.master)
            if data and self.dialect.pcm_flowing:
                self.pcm_received.extend(data)
                if self.on_pcm_received is not None:
                    self.on_pcm_received(data)
                del self.pcm_received[:-PCM_RECEIVED_MAX]
        at = self._at
        if at is not None and at.out:  # non-blocking: write whatever fits
            try:
                n = os.write(at.master, bytes(at.out))
                del at.out[:n]
            except BlockingIOError:
                pass
            except OSError:
                at.out.clear()

    def _feed(self, data: bytes) -> None:
        at = self._at
        if not self._answer_delays or at is None:
            self.dialect.feed(data)
            return
        mark = len(at.out)
        self.dialect.feed(data)
        if len(at.out) > mark and b"\r" in data:
            held = bytes(at.out[mark:])
            del at.out[mark:]
            delay = self._answer_delays.pop(0)
            self._schedule(delay, lambda: self._emit(held))

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, action = heapq.heappop(self._timers)
            try:
                action()
            except Exception:
                log.exception("simulator timer failed")

    def _send_pcm(self) -> None:
        audio = self._audio
        if audio is None or not self.dialect.pcm_flowing:
            self._next_frame = 0.0
            return
        now = time.monotonic()
        if self._next_frame == 0.0:
            self._next_frame = now
        while self._next_frame <= now:
            frame = self._frame()
            try:
                os.write(audio.master, frame)
                self.pcm_frames_sent += 1
            except (BlockingIOError, OSError):
                pass  # nobody reads the audio port: frames are dropped, as on hardware
            self._next_frame += FRAME_SECONDS


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except (BlockingIOError, OSError):
        return b""
