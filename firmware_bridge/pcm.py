"""The modem's PCM voice port: 8 kHz, 16-bit little-endian mono, 20 ms frames of 320 bytes.

An adapter over pyserial (the port is a URL). Frames are read on the event loop through
`add_reader` and handed to a callback; a media worker's AudioMediaPort consumes them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import serial

FRAME_BYTES = 320
SAMPLE_RATE = 8000


class PcmPort:
    """Reads and writes whole PCM frames on the modem's audio port."""

    def __init__(self, url: str, on_frame: Callable[[bytes], None]) -> None:
        self.url = url
        self._on_frame = on_frame
        self._port: serial.SerialBase | None = None
        self._buf = bytearray()
        self.frames_in = 0
        self.frames_out = 0

    def open(self) -> None:
        """Open the audio port and start delivering frames."""
        self._port = serial.serial_for_url(self.url, baudrate=115200, timeout=0,
                                           write_timeout=1)
        asyncio.get_running_loop().add_reader(self._port.fileno(), self._readable)

    def close(self) -> None:
        """Stop and close."""
        port, self._port = self._port, None
        if port is None:
            return
        with contextlib.suppress(ValueError, OSError, RuntimeError):
            asyncio.get_running_loop().remove_reader(port.fileno())
        with contextlib.suppress(serial.SerialException, OSError):
            port.close()

    def write_frame(self, frame: bytes) -> None:
        """Send one 20 ms frame towards the GSM call."""
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"a PCM frame is {FRAME_BYTES} bytes, got {len(frame)}")
        if self._port is None:
            raise serial.SerialException("PCM port is closed")
        self._port.write(frame)
        self.frames_out += 1

    def _readable(self) -> None:
        port = self._port
        if port is None:
            return
        try:
            data = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError):
            self.close()  # the modem went away; the call ends through the AT port
            return
        self._buf.extend(data)
        while len(self._buf) >= FRAME_BYTES:
            frame = bytes(self._buf[:FRAME_BYTES])
            del self._buf[:FRAME_BYTES]
            self.frames_in += 1
            self._on_frame(frame)
