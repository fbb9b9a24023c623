"""Recordings: mono parts merged to one stereo WAV with sox, hashed, indexed; a crash
between recording and indexing loses nothing."""

from __future__ import annotations

import hashlib
import math
import struct
import wave
from datetime import UTC, datetime
from pathlib import Path

from appliance.controller.recordings import RecordingIndexer
from appliance.storage.calls import CallStore
from appliance.storage.db import open_db
from tests.support.audio import has_tone


def write_tone(path: Path, freq: float, seconds: float) -> None:
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / 8000))) for i in range(int(8000 * seconds))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)


async def test_crash_before_indexing_is_recovered_at_start(tmp_path: Path) -> None:
    day = tmp_path / "recordings" / "2026" / "11" / "23"
    day.mkdir(parents=True)
    base = day / "101500-call_1"
    started = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    RecordingIndexer.note_started(base, "call@1", ["101", "102"], started)
    write_tone(Path(f"{base}-0.wav"), 1000, 2.0)
    write_tone(Path(f"{base}-1.wav"), 440, 2.0)
    # ... the controller dies here; at the next start:
    db = await open_db(tmp_path / "a.db")
    try:
        store = CallStore(db)
        await store.cdr_open("call@1", "ring_group", "101", "600", started)
        assert await RecordingIndexer(tmp_path, store).recover() == 1
        async with db.execute("SELECT path, channels, duration_s, sha256, size_bytes, parties FROM recordings") as cur:
            (path, channels, duration, sha, size, parties), = [tuple(r) for r in await cur.fetchall()]
        stereo = tmp_path / path
        assert channels == 2 and abs(duration - 2.0) < 0.01 and parties == '["101", "102"]'
        assert hashlib.sha256(stereo.read_bytes()).hexdigest() == sha and stereo.stat().st_size == size
        assert has_tone(str(stereo), 1000, channel=0) and has_tone(str(stereo), 440, channel=1)
        assert sorted(p.name for p in day.iterdir()) == ["101500-call_1.wav"]  # parts and sidecar gone
        async with db.execute("SELECT recording_id FROM cdrs") as cur:
            assert (await cur.fetchone())[0] is not None
        assert await RecordingIndexer(tmp_path, store).recover() == 0  # nothing twice
    finally:
        await db.close()
