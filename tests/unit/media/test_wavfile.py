"""Recognising a finished WAV file from its header."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

from appliance.media.wavfile import wav_is_final, wav_seconds


def test_a_closed_wav_is_final_and_has_its_duration(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * 4000)
    assert wav_is_final(str(path))
    assert wav_seconds(str(path)) == 0.5


def test_a_wav_still_being_written_is_not_final(tmp_path: Path) -> None:
    # what pjmedia leaves on disk before it closes the file: header sizes not yet updated
    header = (b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1,
              8000, 16000, 2, 16) + b"data" + struct.pack("<I", 0))
    path = tmp_path / "open.wav"
    path.write_bytes(header + b"\x00" * 4096)
    assert not wav_is_final(str(path))
    assert not wav_is_final(str(tmp_path / "missing.wav"))
    assert wav_seconds(str(tmp_path / "missing.wav")) == 0.0
