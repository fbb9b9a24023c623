"""Voicemail storage (crash recovery, PIN failures), the MWI body, and the default prompt set's languages."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.controller.mwi import summary_body
from appliance.controller.prompts import VOICES, Prompts
from appliance.controller.voicemail import VoicemailService
from appliance.storage.db import open_db
from appliance.storage.voicemail import VoicemailStore, hash_pin, pin_matches

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\1\0" * int(8000 * seconds))


async def test_a_crash_mid_message_loses_nothing_and_keeps_no_empty_rows(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        store = VoicemailStore(db)
        kept = await store.start_message("101", "104", "c1", NOW, "voicemail/101/a-0.wav")
        empty = await store.start_message("101", "105", "c2", NOW, "voicemail/101/b-0.wav")
        write_wav(tmp_path / "voicemail/101/a-0.wav", 2.0)
        write_wav(tmp_path / "voicemail/101/b-0.wav", 0.1)
        assert await store.messages("101") == []  # not ready: nobody hears half a message
        # recover() needs no manager: the service is built only for its storage here
        service = VoicemailService.__new__(VoicemailService)
        service.store, service.data_dir = store, tmp_path
        assert await service.recover() == 1
        (msg,) = await store.messages("101")
        assert msg.id == kept and msg.state == "ready" and msg.duration_s == pytest.approx(2.0)
        assert await store.message(empty) is None and not (tmp_path / "voicemail/101/b-0.wav").exists()
        assert await store.counts("101") == (1, 0)
        await store.mark_heard(kept)
        assert await store.counts("101") == (0, 1)
    finally:
        await db.close()


async def test_wrong_pins_are_counted_locked_and_reset(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        store = VoicemailStore(db)
        await store.set_pin("101", hash_pin("2580"))
        assert await store.pin_failed("101", None) == 1
        assert await store.pin_failed("101", None) == 2
        await store.pin_failed("101", NOW)
        row = await store.mailbox("101")
        assert row.locked_until is not None and row.locked_until.startswith("2026-11-23T10:00:00")
        await store.pin_ok("101")
        row = await store.mailbox("101")
        assert row.failed_pins == 0 and row.locked_until is None
        assert row.pin_hash is not None and pin_matches(row.pin_hash, "2580") and not pin_matches(row.pin_hash, "0000")
        assert not pin_matches("not a hash", "2580")
    finally:
        await db.close()


def test_mwi_body_says_yes_only_with_new_messages() -> None:
    assert summary_body("101", 2, 1, "127.0.0.1:5060") == (
        "Messages-Waiting: yes\r\nMessage-Account: sip:101@127.0.0.1:5060\r\nVoice-Message: 2/1 (0/0)\r\n"
    )
    assert summary_body("101", 0, 3, "h").startswith("Messages-Waiting: no\r\n")


@pytest.mark.parametrize("language", list(VOICES))
async def test_default_prompts_are_spoken_in_each_language(tmp_path: Path, language: str) -> None:
    prompts = Prompts(tmp_path)
    path = await prompts.path("vm-greeting", language)
    assert path == tmp_path / "prompts" / language / "vm-greeting.wav"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() / 8000 > 1.0  # a sentence, not an empty file from an unknown voice
    said = await prompts.speech("12345", language)
    assert said.exists() and await prompts.speech("12345", language) == said  # cached by its text


async def test_an_uploaded_prompt_takes_precedence(tmp_path: Path) -> None:
    prompts = Prompts(tmp_path)
    custom = prompts.custom_path("goodbye", "pl")
    write_wav(custom, 1.0)
    assert await prompts.path("goodbye", "pl") == custom
