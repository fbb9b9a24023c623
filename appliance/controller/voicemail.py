"""Voicemail on real calls: leave a message in a mailbox, listen to one's messages at *97.

A mailbox is an extension's or a queue's number. Leaving a message plays the greeting (the
mailbox's recorded one, else the spoken default), a beep, then records the caller's leg to
`<data>/voicemail/<mailbox>/` until '#', hang-up or the length limit. The index row is written
before recording starts and completed after the file is closed; `recover()` finishes rows a
crash left open, so nothing is lost. Retrieval asks for the PIN (argon2 hash; wrong PINs are
limited per call and lock the mailbox for a while after several in a row), then plays the
messages, new first, with 1 replay, 7 delete, # next. Every change sends MWI to the phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite

from appliance.controller.ivr import IvrService, play_until_key, to_connected, wait_key
from appliance.controller.mwi import MwiNotifier
from appliance.controller.prompts import Prompts
from appliance.controller.rpc import RpcError
from appliance.controller.sessions import CallEnded, Session, SessionManager
from appliance.domain.clock import Clock
from appliance.domain.dialplan import MediaService, ToMedia
from appliance.domain.errors import DomainError
from appliance.media.wavfile import wav_is_final, wav_seconds
from appliance.storage.ivr import IvrStore
from appliance.storage.voicemail import MailboxRow, MessageRow, VoicemailStore, hash_pin, pin_matches

if TYPE_CHECKING:
    from appliance.config import Settings

log = logging.getLogger(__name__)

ACCESS = "*97"  # listen to one's own mailbox; *97<queue> for a queue's mailbox
# Straight to a mailbox: *98<mailbox>. The SIP edge sends an extension's unanswered or busy
# direct call here (Kamailio's failure route); a phone may also dial it.
DIRECT = "*98"
MAX_MESSAGE_S = 180.0
MIN_MESSAGE_S = 0.5  # shorter recordings are hang-ups, not messages
PIN_TRIES_PER_CALL = 3
LOCK_AFTER_FAILURES = 6  # wrong PINs in a row (across calls) that lock the mailbox
LOCK_FOR = timedelta(minutes=15)
BEEP = {"freq1": 1400, "on_ms": 350, "off_ms": 50}
WAV_CLOSE_WAIT_S = 3.0
COUNT_TEXT = {
    "en": "You have {new} new and {old} saved messages.",
    "he": "יש לך {new} הודעות חדשות ו {old} הודעות שמורות.",
    "ar": "لديك {new} رسائل جديدة و {old} رسائل محفوظة.",
    "pl": "Masz {new} nowych i {old} zapisanych wiadomości.",
    "zh": "您有{new}条新留言和{old}条已保存留言。",
}
# The mailbox owner's own greeting, recorded by phone at *97 (key 0 during the count).
GREETING_KEY = "0"
MAX_GREETING_S = 60.0
GREETING_TRIES = 3
GREETING_TEXT = {
    "offer": {
        "en": "To record your greeting, press 0.",
        "he": "להקלטת הודעת הפתיחה שלך הקש 0.",
        "ar": "لتسجيل رسالة الترحيب اضغط 0.",
        "pl": "Aby nagrać powitanie, naciśnij 0.",
        "zh": "录制您的问候语请按0。",
    },
    "record": {
        "en": "After the tone, say your greeting, then press hash.",
        "he": "לאחר הצליל אמור את הודעת הפתיחה ולחץ סולמית.",
        "ar": "بعد الصفارة قل رسالة الترحيب ثم اضغط المربع.",
        "pl": "Po sygnale nagraj powitanie i naciśnij krzyżyk.",
        "zh": "请在提示音后录制问候语，然后按井号键。",
    },
    "review": {
        "en": "Press 1 to keep this greeting, or 2 to record it again.",
        "he": "לשמירת ההודעה הקש 1, להקלטה מחדש הקש 2.",
        "ar": "اضغط 1 لحفظ هذه الرسالة أو 2 لتسجيلها من جديد.",
        "pl": "Naciśnij 1, aby zachować powitanie, lub 2, aby nagrać je ponownie.",
        "zh": "保存此问候语请按1，重新录制请按2。",
    },
    "saved": {
        "en": "Your greeting is saved.",
        "he": "הודעת הפתיחה נשמרה.",
        "ar": "تم حفظ رسالة الترحيب.",
        "pl": "Powitanie zostało zapisane.",
        "zh": "您的问候语已保存。",
    },
}
_PIN = re.compile(r"^[0-9]{4,12}$")


def greeting_text(what: str, language: str) -> str:
    """One of the greeting-recording phrases in `language` (English when it lacks one)."""
    texts = GREETING_TEXT[what]
    return texts.get(language, texts["en"])


class VoicemailError(DomainError):
    """A refused mailbox change (bad PIN, unknown mailbox)."""


@dataclass(frozen=True)
class MailboxSummary:
    """A mailbox as the web UI lists it."""

    mailbox: str
    new: int
    old: int
    has_pin: bool
    language: str


class VoicemailService:
    """Mailboxes, the leave-a-message and *97 flows, crash recovery and MWI."""

    def __init__(
        self, *, manager: SessionManager, store: VoicemailStore, prompts: Prompts, clock: Clock,
        data_dir: Path, mwi: MwiNotifier | None = None,
    ) -> None:
        self.manager = manager
        self.store = store
        self.prompts = prompts
        self.clock = clock
        self.data_dir = data_dir
        self.mwi = mwi

    # ----- mailboxes -----

    def mailboxes(self) -> set[str]:
        """Every mailbox: one per extension and per queue."""
        d = self.manager.directory
        return set(d.extensions) | set(d.queues)

    def routes(self) -> dict[str, ToMedia]:
        """*97, *97<queue> and *98<mailbox> for the dial plan (a route source)."""
        out = {ACCESS: ToMedia(MediaService.VOICEMAIL_MAIN, ACCESS)}
        for queue in self.manager.directory.queues:
            out[ACCESS + queue] = ToMedia(MediaService.VOICEMAIL_MAIN, queue)
        for box in self.mailboxes():
            out[DIRECT + box] = ToMedia(MediaService.VOICEMAIL, box)
        return out

    async def directory_changed(self) -> None:
        """Extensions or queues changed: route their mailbox numbers now (a directory listener).

        The dial plan asks its route sources while the old directory is still current, so a
        new extension's *98 number needs this second ask."""
        self.manager.refresh_routes()

    def _check(self, mailbox: str) -> None:
        if mailbox not in self.mailboxes():
            raise VoicemailError(f"no mailbox {mailbox!r}: mailboxes are extension and queue numbers")

    async def set_pin(self, mailbox: str, pin: str) -> None:
        """Set a mailbox's PIN (4-12 digits; stored as an argon2 hash)."""
        self._check(mailbox)
        if not _PIN.match(pin):
            raise VoicemailError("a PIN is 4-12 digits")
        await self.store.set_pin(mailbox, await asyncio.to_thread(hash_pin, pin))

    async def summary(self, mailbox: str) -> MailboxSummary:
        """Counts and settings of one mailbox."""
        self._check(mailbox)
        row = await self.store.mailbox(mailbox)
        new, old = await self.store.counts(mailbox)
        return MailboxSummary(mailbox, new, old, row.pin_hash is not None, row.language)

    async def messages(self, mailbox: str) -> list[MessageRow]:
        """A mailbox's messages, new first."""
        self._check(mailbox)
        return await self.store.messages(mailbox)

    async def delete_message(self, message_id: int) -> MessageRow | None:
        """Delete a message and its file; None when there was none."""
        msg = await self.store.message(message_id)
        if msg is None:
            return None
        await self.store.drop_message(message_id)
        (self.data_dir / msg.path).unlink(missing_ok=True)
        await self.notify(msg.mailbox)
        return msg

    async def recover(self) -> int:
        """At start: complete the rows of messages a crash left recording; return how many were kept."""
        kept = 0
        for msg in await self.store.unfinished():
            path = self.data_dir / msg.path
            seconds = wav_seconds(str(path)) if path.exists() else 0.0
            if seconds >= MIN_MESSAGE_S:
                await self.store.finish_message(msg.id, seconds)
                kept += 1
            else:
                await self.store.drop_message(msg.id)
                path.unlink(missing_ok=True)
        return kept

    async def notify(self, mailbox: str) -> bool:
        """Send the mailbox owner's phone a message-waiting NOTIFY (extensions only)."""
        if self.mwi is None or mailbox not in self.manager.directory.extensions:
            return False
        new, old = await self.store.counts(mailbox)
        try:
            return await self.mwi.notify(mailbox, new, old)
        except Exception:
            log.exception("MWI for %s failed", mailbox)
            return False

    # ----- flows -----

    async def run(self, s: Session) -> None:
        """The flow for VOICEMAIL (leave a message) and VOICEMAIL_MAIN (*97)."""
        if s.service is MediaService.VOICEMAIL_MAIN:
            await self._listen(s)
        else:
            await self._leave(s)

    def _language(self, s: Session, row: MailboxRow) -> str:
        return str(s.data.get("language") or row.language)

    async def _leave(self, s: Session) -> None:
        m = self.manager
        box = s.target.removeprefix(DIRECT)  # the edge names a session by the number dialled
        if box not in self.mailboxes():
            raise CallEnded(404, "no_such_mailbox")
        link, leg = m.need(s)
        await m.answer_caller(s)
        row = await self.store.mailbox(box)
        language = self._language(s, row)
        greeting = self.data_dir / row.greeting if row.greeting else None
        if greeting is None or not greeting.exists():
            greeting = await self.prompts.path("vm-greeting", language)
        await play_until_key(m, s, greeting, keys="#")
        await link.command("tone", leg=leg, loop=False, **BEEP)
        await m.wait_for(s, {"playback_done"}, leg, timeout=5)
        started = self.clock.now()
        folder = self.data_dir / "voicemail" / box
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", s.call_id)[:60]
        base = folder / f"{started:%Y%m%d-%H%M%S}-{safe}"
        wav = Path(f"{base}-0.wav")
        message_id = await self.store.start_message(
            box, s.caller, s.call_id, started, str(wav.relative_to(self.data_dir))
        )
        await m.mark_answered(s, f"voicemail:{box}")
        to_connected(s)
        recording: str | None = None
        ended: CallEnded | None = None
        try:
            data = await link.command("record", legs=[leg], path_base=str(base))
            recording = str(data["recording"])
            await wait_key(m, s, "#", MAX_MESSAGE_S)
        except CallEnded as exc:
            ended = exc  # hanging up is how most callers finish a message
        finally:
            if recording is not None and ended is None:
                try:
                    await link.command("stop_record", recording=recording)
                except RpcError:
                    log.warning("voicemail %s: stop_record failed", message_id)
            await self._finish(message_id, wav)
        await self.notify(box)
        if ended is not None:
            raise CallEnded(200, "normal")
        await play_until_key(m, s, await self.prompts.path("vm-saved", language), timeout=30)

    async def _finish(self, message_id: int, wav: Path) -> None:
        """Wait (bounded) for the worker to close the WAV, then complete or drop the row."""
        await wait_wav_closed(wav)
        seconds = wav_seconds(str(wav))
        if seconds >= MIN_MESSAGE_S:
            await self.store.finish_message(message_id, seconds)
            log.info("voicemail %d: %.1f s in %s", message_id, seconds, wav)
        else:
            await self.store.drop_message(message_id)
            wav.unlink(missing_ok=True)

    async def _pin(self, s: Session, box: str, row: MailboxRow, language: str) -> bool:
        """Ask for the PIN; True when right. Wrong PINs are counted and lock the mailbox."""
        m = self.manager
        _, leg = m.need(s)
        if row.locked_until and row.locked_until > self.clock.now().strftime("%Y-%m-%dT%H:%M:%S"):
            await play_until_key(m, s, await self.prompts.path("vm-locked", language), timeout=30)
            return False
        assert row.pin_hash is not None
        early: str | None = None  # a key pressed during "wrong PIN" starts the next attempt
        for _ in range(PIN_TRIES_PER_CALL):
            first = early or await play_until_key(m, s, await self.prompts.path("vm-enter-pin", language),
                                                  keys="0123456789#")
            pin = await self._collect(s, first, leg)
            right = bool(pin) and await asyncio.to_thread(pin_matches, row.pin_hash, pin)
            if right:
                await self.store.pin_ok(box)
                return True
            failures = (await self.store.mailbox(box)).failed_pins + 1
            lock = self.clock.now() + LOCK_FOR if failures >= LOCK_AFTER_FAILURES else None
            await self.store.pin_failed(box, lock)
            log.warning("mailbox %s: wrong PIN from %s (%d in a row)", box, s.caller, failures)
            if lock is not None:
                await play_until_key(m, s, await self.prompts.path("vm-locked", language), timeout=30)
                return False
            early = await play_until_key(m, s, await self.prompts.path("vm-wrong-pin", language),
                                         keys="0123456789#", timeout=30)
        return False

    async def _collect(self, s: Session, first: str | None, leg: str, max_digits: int = 12) -> str:
        """Digits up to '#' (or `max_digits`, or 5 s of silence)."""
        digits = "" if first in (None, "#") else str(first)
        if first == "#":
            return digits
        while len(digits) < max_digits:
            key = await wait_key(self.manager, s, "0123456789#", 5.0)
            if key is None or key == "#":
                break
            digits += key
        return digits

    async def _listen(self, s: Session) -> None:
        m = self.manager
        box = s.caller if s.target == ACCESS else s.target.removeprefix(ACCESS)
        await m.answer_caller(s)
        row = await self.store.mailbox(box)
        language = self._language(s, row)
        if box not in self.mailboxes() or row.pin_hash is None:
            await play_until_key(m, s, await self.prompts.path("vm-locked", language), timeout=30)
            raise CallEnded(403, "mailbox_unavailable")
        if not await self._pin(s, box, row, language):
            raise CallEnded(403, "pin_refused")
        await m.mark_answered(s, f"voicemail:{box}")
        to_connected(s)
        new, old = await self.store.counts(box)
        text = COUNT_TEXT.get(language, COUNT_TEXT["en"]).format(new=new, old=old)
        text += " " + greeting_text("offer", language)
        key = await play_until_key(m, s, await self.prompts.speech(text, language), keys="#" + GREETING_KEY)
        if key == GREETING_KEY:
            await self.record_greeting(s, box, language)
        try:
            for msg in await self.store.messages(box):
                await self._one_message(s, msg, language)
        finally:
            await self.notify(box)
        await play_until_key(m, s, await self.prompts.path("vm-no-more", language), timeout=30)

    async def record_greeting(self, s: Session, box: str, language: str) -> bool:
        """Record the owner's greeting: beep, record until '#' or the limit, play it back, 1 keeps it,
        2 records again. The kept file replaces the old greeting at once (rename, then the row)."""
        m = self.manager
        link, leg = m.need(s)
        folder = self.data_dir / "voicemail" / box
        folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(GREETING_TRIES):
            await play_until_key(m, s, await self.prompts.speech(greeting_text("record", language), language),
                                 keys="#")
            await link.command("tone", leg=leg, loop=False, **BEEP)
            await m.wait_for(s, {"playback_done"}, leg, timeout=5)
            base = folder / f"greeting-new-{self.clock.now():%Y%m%d%H%M%S}-{attempt}"
            wav = Path(f"{base}-0.wav")
            try:
                recording = str((await link.command("record", legs=[leg], path_base=str(base)))["recording"])
                try:
                    await wait_key(m, s, "#", MAX_GREETING_S)
                finally:
                    with contextlib.suppress(RpcError):
                        await link.command("stop_record", recording=recording)
                await wait_wav_closed(wav)
                if wav_seconds(str(wav)) < MIN_MESSAGE_S:
                    wav.unlink(missing_ok=True)
                    continue
                review = await self.prompts.speech(greeting_text("review", language), language)
                key = await play_until_key(m, s, wav, keys="12")
                if key is None:
                    key = await play_until_key(m, s, review, keys="12") or await wait_key(m, s, "12", 8.0)
            except BaseException:
                wav.unlink(missing_ok=True)
                raise
            if key != "1":
                wav.unlink(missing_ok=True)
                if key == "2":
                    continue
                return False
            await self.install_greeting(box, wav)
            await play_until_key(m, s, await self.prompts.speech(greeting_text("saved", language), language),
                                 keys="#")
            return True
        return False

    async def install_greeting(self, box: str, recorded: Path) -> Path:
        """Make a recorded WAV the mailbox's greeting (the old greeting file is replaced)."""
        final = self.data_dir / "voicemail" / box / "greeting.wav"
        os.replace(recorded, final)  # atomic: a caller hears the old or the new greeting, never half
        await self.store.set_greeting(box, str(final.relative_to(self.data_dir)))
        log.info("mailbox %s: new greeting recorded (%.1f s)", box, wav_seconds(str(final)))
        return final

    async def _one_message(self, s: Session, msg: MessageRow, language: str) -> None:
        """Play one message, then 1 replay, 7 delete, # (or silence) next."""
        m = self.manager
        menu = await self.prompts.path("vm-message-menu", language)
        while True:
            key = await play_until_key(m, s, self.data_dir / msg.path, keys="17#")
            if not msg.heard:
                await self.store.mark_heard(msg.id)
            if key is None:
                key = await play_until_key(m, s, menu, keys="17#") or await wait_key(m, s, "17#", 8.0)
            if key == "1":
                continue
            if key == "7":
                await self.store.drop_message(msg.id)
                (self.data_dir / msg.path).unlink(missing_ok=True)
                await play_until_key(m, s, await self.prompts.path("vm-deleted", language), timeout=30)
            return


async def wait_wav_closed(wav: Path) -> None:
    """Wait (bounded) until the worker has finalised a WAV's header."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAV_CLOSE_WAIT_S
    while not wav_is_final(str(wav)) and loop.time() < deadline:
        await asyncio.sleep(0.05)  # pjmedia finalises the header on its own thread; no event for it here


@dataclass
class IvrFeatures:
    """The IVR/DID and voicemail services as wired into the controller."""

    ivr: IvrService
    voicemail: VoicemailService


async def wire(sessions: SessionManager, db: aiosqlite.Connection, prompts: Prompts, settings: Settings,
               ) -> IvrFeatures:
    """Build the IVR, DID and voicemail services, register their flows and numbers, recover messages."""
    ivr = IvrService(manager=sessions, store=IvrStore(db), prompts=prompts, clock=sessions.clock)
    await ivr.load()
    host = settings.sip_ip if settings.sip_ip not in ("", "0.0.0.0") else "127.0.0.1"
    mwi = MwiNotifier(str(settings.run_dir / "kamailio_ctl"), f"{host}:{settings.sip_port}")
    voicemail = VoicemailService(
        manager=sessions, store=VoicemailStore(db), prompts=prompts, clock=sessions.clock,
        data_dir=settings.data_dir.resolve(), mwi=mwi,
    )
    kept = await voicemail.recover()
    if kept:
        log.warning("completed %d voicemail messages left open by an earlier crash", kept)
    sessions.flows[MediaService.IVR] = ivr.run
    sessions.flows[MediaService.VOICEMAIL] = voicemail.run
    sessions.flows[MediaService.VOICEMAIL_MAIN] = voicemail.run
    sessions.route_sources += [ivr.routes, voicemail.routes]
    sessions.refresh_routes()
    return IvrFeatures(ivr, voicemail)


def features_of(sessions: SessionManager) -> IvrFeatures:
    """The wired services, found through the flows they registered (the web API's way in)."""
    ivr = getattr(sessions.flows.get(MediaService.IVR), "__self__", None)
    voicemail = getattr(sessions.flows.get(MediaService.VOICEMAIL), "__self__", None)
    if not isinstance(ivr, IvrService) or not isinstance(voicemail, VoicemailService):
        raise RuntimeError("the IVR and voicemail services are wired in build_controller")
    return IvrFeatures(ivr, voicemail)
