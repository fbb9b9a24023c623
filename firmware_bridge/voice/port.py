"""`GsmAudioPort`: the modem's PCM as a pjsua2 AudioMediaPort on the conference bridge.

Both callbacks run on the bridge's clock thread, so they only move bytes:
`onFrameRequested` takes the next modem frame from the jitter buffer, `onFrameReceived`
queues what the SIP side says for the asyncio thread to write to the PCM port.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable

import pjsua2 as pj

from firmware_bridge.voice.jitter import FRAME_BYTES, FrameQueue

TIMING_SAMPLES = 3000  # keep the last minute of frame request times for measurements


class GsmAudioPort(pj.AudioMediaPort):
    """8 kHz, 16-bit mono, 20 ms port fed from and draining into the modem's PCM."""

    def __init__(self, rx: FrameQueue, loop: asyncio.AbstractEventLoop,
                 on_tx: Callable[[], None]) -> None:
        super().__init__()
        self.rx = rx  # modem -> bridge
        self.tx: collections.deque[bytes] = collections.deque(maxlen=10)  # bridge -> modem
        self._loop = loop
        self._on_tx = on_tx
        self.requested_at: collections.deque[float] = collections.deque(maxlen=TIMING_SAMPLES)
        self.received = 0

    def create(self, name: str) -> None:
        """Register the port on the conference bridge."""
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, 8000, 1, 20000, 16)
        self.createPort(name, fmt)

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        """The bridge wants 20 ms of modem audio."""
        self.requested_at.append(time.monotonic())
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(self.rx.pop())
        frame.size = FRAME_BYTES

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        """The bridge hands over 20 ms of SIP-side audio for the modem."""
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size != FRAME_BYTES:
            return
        self.received += 1
        was_empty = not self.tx
        self.tx.append(bytes(frame.buf))
        if was_empty:
            # RuntimeError: the loop is closing, and the call is going away too
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_tx)
