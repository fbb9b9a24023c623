"""Queue prompts and music on hold: generated once with espeak-ng + sox, cached on disk.

Files live in `<data>/prompts/<lang>/<name>.wav`, 8 kHz 16-bit mono PCM (what the media
worker's player reads best). A file is written to a temporary name and renamed, so a crash
never leaves a half-written prompt that later passes for a good one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

# Text of each spoken prompt per language (espeak-ng voice name = the language code).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "queue-welcome": "Thank you for calling. Please hold.",
        "queue-overflow": "All our agents are still busy. We are transferring your call.",
        "queue-goodbye": "We are sorry, nobody can take your call right now. Goodbye.",
    },
}
MOH = "music-on-hold"
# A soft arpeggio (C5 E5 G5 E5), clear of the 440 Hz / 1 kHz test tones and of DTMF.
_MOH_NOTES = (523.25, 659.25, 783.99, 659.25)
_SAFE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


class PromptError(Exception):
    """A prompt could not be generated (unknown name or language, or the tool failed)."""


async def _run(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise PromptError(f"{args[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-300:]}")


class Prompts:
    """Path of a prompt, generating it on first use (one generation per file at a time)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "prompts"
        self._locks: dict[Path, asyncio.Lock] = {}

    async def path(self, name: str, language: str = "en") -> Path:
        """The WAV for `name` in `language` (English when that language lacks it)."""
        if not _SAFE.match(language):
            raise PromptError(f"bad language code {language!r}")
        if name != MOH and name not in TEXTS.get(language, {}):
            if name not in TEXTS["en"]:
                raise PromptError(f"unknown prompt {name!r}")
            language = "en"
        out = self.root / language / f"{name}.wav"
        if out.exists():
            return out
        lock = self._locks.setdefault(out, asyncio.Lock())
        async with lock:
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                if name == MOH:
                    await self._music(out)
                else:
                    await self._speak(TEXTS[language][name], language, out)
                log.info("generated prompt %s", out)
        return out

    async def prepare(self, names: list[str], language: str = "en") -> None:
        """Generate these prompts now (at start), so the first caller does not wait for them."""
        for name in names:
            await self.path(name, language)

    @staticmethod
    async def _speak(text: str, language: str, out: Path) -> None:
        raw = out.with_suffix(".espeak.wav")
        tmp = out.with_suffix(".tmp.wav")
        try:
            await _run("espeak-ng", "-v", language, "-s", "150", "-w", str(raw), text)
            await _run("sox", str(raw), "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", str(tmp))
            tmp.replace(out)
        finally:
            raw.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)

    @staticmethod
    async def _music(out: Path) -> None:
        tmp = out.with_suffix(".tmp.wav")
        parts = [out.with_name(f"{out.stem}.n{i}.wav") for i in range(len(_MOH_NOTES))]
        try:
            for freq, part in zip(_MOH_NOTES, parts, strict=True):
                await _run(
                    "sox", "-n", "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", str(part),
                    "synth", "0.45", "sine", f"{freq}", "fade", "0.02", "0.45", "0.08",
                    "vol", "0.3", "pad", "0", "0.15",
                )
            await _run("sox", *map(str, parts), str(tmp))
            tmp.replace(out)
        finally:
            for part in parts:
                part.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
