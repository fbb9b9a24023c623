"""Prompts and music on hold: generated once with espeak-ng + sox, cached on disk.

Files live in `<data>/prompts/<lang>/<name>.wav`, 8 kHz 16-bit mono PCM (what the media
worker's player reads best). A file is written to a temporary name and renamed, so a crash
never leaves a half-written prompt that later passes for a good one. Uploaded prompts
(validated and converted with sox) live in `<data>/prompts/custom/<lang>/<name>.wav` and
take precedence over the generated ones of the same name.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# Text of each spoken prompt per language (espeak-ng voice name = the language code).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "queue-welcome": "Thank you for calling. Please hold.",
        "queue-overflow": "All our agents are still busy. We are transferring your call.",
        "queue-goodbye": "We are sorry, nobody can take your call right now. Goodbye.",
        # Queue announcements; "{value}" is filled in per value (controller/queue_prompts.py).
        "queue-position": "You are number {value} in the queue.",
        "wait-minutes": "Your expected wait is about {value} minutes.",
        "wait-less-than-a-minute": "Your expected wait is less than a minute.",
        "wait-more-than": "Your expected wait is more than {value} minutes.",
        "queue-periodic": "Your call is important to us. Please stay on the line.",
        "queue-callback-offer": "To be called back without losing your place in the queue, press 1.",
        "queue-callback-confirm": "We will call you back at {value}. Press 1 to confirm, or 2 to enter another number.",
        "queue-callback-enter": "Please enter your number, then press the hash key.",
        "queue-callback-booked": "Thank you. We will call you back. You keep your place in the queue. Goodbye.",
        "queue-callback-refused": "Sorry, we cannot call you back at that number.",
        "queue-callback-agent": "Queue callback. Connecting the customer.",
        "survey-question": "Please rate this call from 1 to 5, where 5 is excellent.",
        "survey-thanks": "Thank you for your rating. Goodbye.",
    },
}
# IVR and voicemail prompts in every language of the default set (merged into TEXTS).
IVR_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "invalid-option": "That is not a valid option.",
        "goodbye": "Thank you for calling. Goodbye.",
        "ivr-closed": "We are closed now. Please call again during our business hours.",
        "ivr-transfer": "Please hold while we transfer your call.",
        "vm-greeting": "Nobody can take your call. Please leave a message after the tone, then press hash.",
        "vm-saved": "Your message has been saved. Goodbye.",
        "vm-enter-pin": "Please enter your PIN, followed by the hash key.",
        "vm-wrong-pin": "That PIN is not correct.",
        "vm-locked": "This mailbox is locked. Please try again later.",
        "vm-message-menu": "Press 1 to replay, 7 to delete, or hash for the next message.",
        "vm-deleted": "Message deleted.",
        "vm-no-more": "There are no more messages. Goodbye.",
    },
    "he": {
        "invalid-option": "הבחירה אינה חוקית.",
        "goodbye": "תודה שהתקשרתם. להתראות.",
        "ivr-closed": "המשרד סגור כעת. אנא התקשרו שוב בשעות הפעילות.",
        "ivr-transfer": "אנא המתינו, אנו מעבירים את שיחתכם.",
        "vm-greeting": "אין מי שיענה כעת. אנא השאירו הודעה אחרי הצליל ולחצו סולמית.",
        "vm-saved": "ההודעה נשמרה. להתראות.",
        "vm-enter-pin": "אנא הקישו את הקוד הסודי ולאחריו סולמית.",
        "vm-wrong-pin": "הקוד שגוי.",
        "vm-locked": "תיבת הדואר נעולה. אנא נסו מאוחר יותר.",
        "vm-message-menu": "להשמעה חוזרת הקישו 1, למחיקה 7, להודעה הבאה סולמית.",
        "vm-deleted": "ההודעה נמחקה.",
        "vm-no-more": "אין הודעות נוספות. להתראות.",
    },
    "ar": {
        "invalid-option": "هذا الخيار غير صالح.",
        "goodbye": "شكرا لاتصالكم. مع السلامة.",
        "ivr-closed": "نحن مغلقون الآن. يرجى الاتصال خلال ساعات العمل.",
        "ivr-transfer": "يرجى الانتظار، جار تحويل مكالمتك.",
        "vm-greeting": "لا أحد متاح للرد. يرجى ترك رسالة بعد النغمة ثم الضغط على المربع.",
        "vm-saved": "تم حفظ رسالتك. مع السلامة.",
        "vm-enter-pin": "يرجى إدخال الرقم السري متبوعا بالمربع.",
        "vm-wrong-pin": "الرقم السري غير صحيح.",
        "vm-locked": "صندوق البريد مقفل. يرجى المحاولة لاحقا.",
        "vm-message-menu": "للإعادة اضغط 1، للحذف اضغط 7، للرسالة التالية اضغط المربع.",
        "vm-deleted": "تم حذف الرسالة.",
        "vm-no-more": "لا توجد رسائل أخرى. مع السلامة.",
    },
    "pl": {
        "invalid-option": "Nieprawidłowy wybór.",
        "goodbye": "Dziękujemy za telefon. Do widzenia.",
        "ivr-closed": "Biuro jest teraz zamknięte. Prosimy zadzwonić w godzinach pracy.",
        "ivr-transfer": "Prosimy czekać, łączymy rozmowę.",
        "vm-greeting": "Nikt nie może odebrać. Prosimy zostawić wiadomość po sygnale i nacisnąć krzyżyk.",
        "vm-saved": "Wiadomość została zapisana. Do widzenia.",
        "vm-enter-pin": "Prosimy wprowadzić PIN i nacisnąć krzyżyk.",
        "vm-wrong-pin": "PIN jest nieprawidłowy.",
        "vm-locked": "Skrzynka jest zablokowana. Prosimy spróbować później.",
        "vm-message-menu": "Aby odsłuchać ponownie naciśnij 1, aby usunąć 7, następna wiadomość krzyżyk.",
        "vm-deleted": "Wiadomość usunięta.",
        "vm-no-more": "Nie ma więcej wiadomości. Do widzenia.",
    },
    "zh": {
        "invalid-option": "您的选择无效。",
        "goodbye": "感谢您的来电，再见。",
        "ivr-closed": "我们现在已下班，请在营业时间再来电。",
        "ivr-transfer": "请稍候，正在为您转接。",
        "vm-greeting": "现在无人接听，请在提示音后留言，然后按井号键。",
        "vm-saved": "您的留言已保存，再见。",
        "vm-enter-pin": "请输入密码，然后按井号键。",
        "vm-wrong-pin": "密码不正确。",
        "vm-locked": "此信箱已锁定，请稍后再试。",
        "vm-message-menu": "重听请按一，删除请按七，下一条请按井号键。",
        "vm-deleted": "留言已删除。",
        "vm-no-more": "没有更多留言了，再见。",
    },
}
for _lang, _texts in IVR_TEXTS.items():
    TEXTS.setdefault(_lang, {}).update(_texts)
# The default prompt set's languages and the espeak-ng voice of each (Mandarin is "cmn").
VOICES = {"en": "en", "he": "he", "ar": "ar", "pl": "pl", "zh": "cmn"}
MOH = "music-on-hold"
# A soft arpeggio (C5 E5 G5 E5), clear of the 440 Hz / 1 kHz test tones and of DTMF.
_MOH_NOTES = (523.25, 659.25, 783.99, 659.25)
_SAFE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


MAX_SPEECH_CHARS = 500
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MIN_PROMPT_S, MAX_PROMPT_S = 0.2, 300.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class PromptError(Exception):
    """A prompt could not be generated (unknown name or language, or the tool failed)."""


@dataclass(frozen=True)
class UploadedPrompt:
    """An installed upload: its converted file, length and size."""

    path: Path
    duration_s: float
    size_bytes: int


def _sniff(data: bytes) -> str | None:
    """The audio container by its magic bytes (None when it is none we accept)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


async def _duration(path: Path) -> float:
    """Seconds of audio sox reads in `path`; PromptError when sox cannot read it."""
    proc = await asyncio.create_subprocess_exec(
        "soxi", "-D", str(path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    try:
        if proc.returncode != 0:
            raise ValueError
        return float(out.decode().strip())
    except ValueError:
        why = err.decode(errors="replace").strip().splitlines()[-1:] or ["unreadable"]
        raise PromptError(f"the audio cannot be read: {why[0][-200:]}") from None


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
            if self.custom_path(name, language).exists():
                return self.custom_path(name, language)
            if name not in TEXTS["en"]:
                raise PromptError(f"unknown prompt {name!r}")
            language = "en"
        custom = self.custom_path(name, language)
        if custom.exists():
            return custom
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

    def custom_path(self, name: str, language: str) -> Path:
        """Where an uploaded prompt of this name and language lives (it may not exist)."""
        return self.root / "custom" / language / f"{name}.wav"

    async def speech(self, text: str, language: str = "en") -> Path:
        """A WAV of `text` spoken in `language` (an IVR menu's own words), cached by its hash."""
        if not _SAFE.match(language):
            raise PromptError(f"bad language code {language!r}")
        if not text.strip() or len(text) > MAX_SPEECH_CHARS:
            raise PromptError(f"speech text must be 1-{MAX_SPEECH_CHARS} characters")
        digest = hashlib.sha256(f"{language}\n{text}".encode()).hexdigest()[:20]
        out = self.root / language / f"say-{digest}.wav"
        if out.exists():
            return out
        async with self._locks.setdefault(out, asyncio.Lock()):
            if not out.exists():
                out.parent.mkdir(parents=True, exist_ok=True)
                await self._speak(text, language, out)
        return out

    async def generate_defaults(self, languages: list[str] | None = None) -> int:
        """Generate the whole default set (every text, every language) now; return files made."""
        made = 0
        for language in languages or list(VOICES):
            for name in TEXTS.get(language, {}):
                if not (self.root / language / f"{name}.wav").exists():
                    await self.path(name, language)
                    made += 1
        return made

    async def import_upload(self, name: str, language: str, data: bytes) -> UploadedPrompt:
        """Validate an uploaded audio file and install it as prompt `name` (8 kHz mono 16-bit).

        Raises PromptError with the reason when the name, language, size, format or length is
        wrong; then nothing on disk changed.
        """
        if not _NAME.match(name):
            raise PromptError(f"bad prompt name {name!r}: use 1-40 of a-z, 0-9 and '-'")
        if language not in VOICES:
            raise PromptError(f"unsupported language {language!r}: one of {', '.join(VOICES)}")
        if not data:
            raise PromptError("the file is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise PromptError(f"the file is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES}")
        kind = _sniff(data)
        if kind is None:
            raise PromptError("not a WAV, MP3, FLAC or Ogg audio file")
        out = self.custom_path(name, language)
        out.parent.mkdir(parents=True, exist_ok=True)
        src = out.with_name(f".{name}.upload.{kind}")
        tmp = out.with_name(f".{name}.converted.wav")
        try:
            src.write_bytes(data)
            seconds = await _duration(src)
            if seconds < MIN_PROMPT_S or seconds > MAX_PROMPT_S:
                raise PromptError(
                    f"the prompt lasts {seconds:.1f} s; it must last {MIN_PROMPT_S}-{MAX_PROMPT_S:.0f} s"
                )
            await _run("sox", str(src), "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", str(tmp))
            tmp.replace(out)
        finally:
            src.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
        return UploadedPrompt(out, round(await _duration(out), 3), out.stat().st_size)

    @staticmethod
    async def _speak(text: str, language: str, out: Path) -> None:
        raw = out.with_suffix(".espeak.wav")
        tmp = out.with_suffix(".tmp.wav")
        try:
            voice = VOICES.get(language.split("-")[0], language)
            await _run("espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text)
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


def main(argv: list[str] | None = None) -> int:
    """`python -m appliance.controller.prompts --data-dir DIR`: generate the default set (setup)."""
    import argparse

    parser = argparse.ArgumentParser(description="Generate the default prompt set with espeak-ng and sox.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--languages", nargs="*", default=list(VOICES))
    args = parser.parse_args(argv)
    made = asyncio.run(Prompts(args.data_dir).generate_defaults(args.languages))
    print(f"{made} prompts generated under {args.data_dir / 'prompts'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
