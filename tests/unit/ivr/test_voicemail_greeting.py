"""A greeting recorded by phone: installed by rename into the mailbox's greeting column; its phrases."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from appliance.controller.voicemail import COUNT_TEXT, GREETING_TEXT, VoicemailService, greeting_text
from appliance.storage.db import open_db
from appliance.storage.voicemail import VoicemailStore, hash_pin


def write_wav(path: Path, seconds: float, sample: bytes = b"\1\0") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(sample * int(8000 * seconds))


async def test_a_new_take_replaces_the_greeting_and_keeps_the_mailbox_settings(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "a.db")
    try:
        store = VoicemailStore(db)
        await store.set_pin("102", hash_pin("4711"))
        await store.set_settings("102", language="he", greeting=None)
        # install_greeting needs only storage and the data dir: the service is built for them alone
        service = VoicemailService.__new__(VoicemailService)
        service.store, service.data_dir = store, tmp_path
        first = tmp_path / "voicemail/102/greeting-new-1-0.wav"
        write_wav(first, 1.0)
        installed = await service.install_greeting("102", first)
        assert installed == tmp_path / "voicemail/102/greeting.wav" and not first.exists()
        second = tmp_path / "voicemail/102/greeting-new-2-0.wav"
        write_wav(second, 2.0, b"\2\0")
        await service.install_greeting("102", second)
        row = await store.mailbox("102")
        assert row.greeting == "voicemail/102/greeting.wav"
        assert row.pin_hash is not None and row.language == "he"  # nothing else changed
        with wave.open(str(tmp_path / row.greeting)) as w:
            assert w.getnframes() == 16000  # the second take, whole
        assert sorted(p.name for p in (tmp_path / "voicemail/102").iterdir()) == ["greeting.wav"]
        await store.set_greeting("102", None)
        assert (await store.mailbox("102")).greeting is None
    finally:
        await db.close()


@pytest.mark.parametrize("language", sorted(COUNT_TEXT))
def test_every_greeting_phrase_exists_in_every_mailbox_language(language: str) -> None:
    for what in GREETING_TEXT:
        assert greeting_text(what, language).strip()
        assert set(GREETING_TEXT[what]) == set(COUNT_TEXT)
    assert greeting_text("offer", "xx") == GREETING_TEXT["offer"]["en"]
