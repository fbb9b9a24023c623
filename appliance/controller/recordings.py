"""Turn a worker's per-party mono recordings into one indexed stereo WAV.

The worker records each party into its own mono file (aligned: started together).
Here they are merged with sox into one stereo file (caller left, other party right),
hashed and indexed. The mono files are removed only after the index row is committed,
so a crash in between loses nothing: `recover()` finds and finishes such leftovers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import wave
from datetime import datetime
from pathlib import Path

from appliance.storage.calls import CallStore, RecordingRow

log = logging.getLogger(__name__)


def wav_seconds(path: Path) -> float:
    """Duration of a WAV file in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


async def merge_stereo(parts: list[Path], out: Path) -> None:
    """Merge mono parts into one file, one party per channel (sox -M)."""
    tmp = out.with_suffix(".tmp.wav")
    if len(parts) == 1:
        args = ["sox", str(parts[0]), "-b", "16", str(tmp)]
    else:
        args = ["sox", "-M", *map(str, parts), "-b", "16", str(tmp)]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"sox failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")
    tmp.replace(out)


class RecordingIndexer:
    """Merges, hashes and indexes finished recordings."""

    def __init__(self, data_dir: Path, store: CallStore) -> None:
        self.data_dir = data_dir
        self.store = store

    @staticmethod
    def note_started(base: Path, call_id: str, parties: list[str], started: datetime) -> None:
        """Write a sidecar before recording starts, so a crash before indexing is recoverable."""
        doc = {"call_id": call_id, "parties": parties, "started": started.isoformat()}
        tmp = base.with_name(base.name + ".json.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        tmp.replace(base.with_name(base.name + ".json"))

    async def recover(self) -> int:
        """At start: merge and index recordings a crash left as mono parts; return how many."""
        done = 0
        for sidecar in sorted((self.data_dir / "recordings").glob("*/*/*/*.json")):
            base = sidecar.with_suffix("")
            try:
                doc = json.loads(sidecar.read_text(encoding="utf-8"))
                parts = sorted(base.parent.glob(base.name + "-[0-9].wav"))
                if await self.finish(
                    str(doc["call_id"]), list(doc["parties"]), parts, datetime.fromisoformat(doc["started"])
                ) is not None:
                    done += 1
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                log.error("cannot recover recording %s: %r", sidecar, exc)
        return done

    async def finish(
        self, call_id: str, parties: list[str], files: list[Path], started: datetime
    ) -> int | None:
        """Index the recording made of `files`; return its id (None if nothing usable)."""
        present = [f for f in files if f.exists() and f.stat().st_size > 44]
        sidecar = _stereo_name(files[0]).with_suffix(".json") if files else None
        if not present:
            log.warning("recording of %s has no audio files: %s", call_id, files)
            if sidecar is not None:
                sidecar.unlink(missing_ok=True)
            return None
        out = _stereo_name(present[0])
        await merge_stereo(present, out)
        rid = await self.store.index_recording(
            RecordingRow(
                call_id=call_id,
                path=str(out.relative_to(self.data_dir)),
                parties=parties[: len(present)],
                started_at=started,
                duration_s=wav_seconds(out),
                size_bytes=out.stat().st_size,
                sha256=await asyncio.to_thread(sha256_file, out),
                channels=len(present),
            )
        )
        for f in present:
            f.unlink(missing_ok=True)
        if sidecar is not None:
            sidecar.unlink(missing_ok=True)
        return rid


def _stereo_name(part: Path) -> Path:
    """`<base>-0.wav` -> `<base>.wav`."""
    stem = part.stem
    base = stem.rsplit("-", 1)[0] if stem[-2:-1] == "-" else stem
    return part.with_name(base + ".wav")
