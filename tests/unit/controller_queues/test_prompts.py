"""Prompts and music on hold are generated once with espeak-ng and sox, in the worker's format."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from appliance.controller.prompts import MOH, PromptError, Prompts


@pytest.mark.parametrize("name", ["queue-welcome", MOH])
async def test_prompt_is_8khz_16bit_mono_and_cached(tmp_path: Path, name: str) -> None:
    prompts = Prompts(tmp_path)
    path = await prompts.path(name)
    assert path == tmp_path / "prompts" / "en" / f"{name}.wav"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        assert 1.0 < w.getnframes() / 8000 < 10.0
    before = path.stat().st_mtime_ns
    assert await Prompts(tmp_path).path(name) == path
    assert path.stat().st_mtime_ns == before  # not generated again
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{name}.wav"]  # no temporary files left


async def test_unknown_language_falls_back_to_english_and_bad_names_are_refused(tmp_path: Path) -> None:
    prompts = Prompts(tmp_path)
    assert (await prompts.path("queue-welcome", "pl")).parent.name == "en"
    with pytest.raises(PromptError, match="unknown prompt"):
        await prompts.path("no-such-prompt")
    with pytest.raises(PromptError, match="bad language"):
        await prompts.path("queue-welcome", "../etc")
