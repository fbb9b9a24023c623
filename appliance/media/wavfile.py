"""WAV file facts the worker needs (pure file reads, no pjsua2).

pjmedia's WAV writer buffers samples and rewrites the RIFF header only when the port is
finally destroyed, which pjsua 2.15 does asynchronously on the bridge clock thread. So a
recording is complete only once its header sizes match the file size.
"""

from __future__ import annotations

import os
import struct
import wave


def wav_is_final(path: str) -> bool:
    """True once the RIFF and data sizes in the header match the file (writer closed)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(44)
    except OSError:
        return False
    if size <= 44 or len(head) < 44 or head[:4] != b"RIFF" or head[36:40] != b"data":
        return False
    riff_len = struct.unpack_from("<I", head, 4)[0]
    data_len = struct.unpack_from("<I", head, 40)[0]
    return bool(riff_len == size - 8 and data_len == size - 44)


def wav_seconds(path: str) -> float:
    """Duration of a WAV file in seconds (0.0 if unreadable)."""
    try:
        with wave.open(path, "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, wave.Error, EOFError):
        return 0.0
