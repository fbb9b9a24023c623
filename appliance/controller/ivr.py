"""IVR menus and DIDs on real calls: the pure appliance.ivr machine driven by the caller's DTMF.

An IVR session plays the menu's prompt (digits barge in), feeds each DTMF key (RFC 2833 or
SIP INFO: the worker reports both as `dtmf` events) and each digit timeout to the pure
`IvrSession`, and carries out the destination it returns: hand the caller over to a queue or
a mailbox in the same session, ring an extension and bridge, or hang up politely.

DIDs map the called number (DNIS) to a queue, an IVR, an extension or a mailbox; they and
the IVR numbers are route sources of the SessionManager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from appliance.acd.destination import Destination, DestinationKind
from appliance.controller.prompts import TEXTS, PromptError, Prompts
from appliance.controller.rpc import RpcError
from appliance.controller.sessions import CallEnded, Session, SessionManager
from appliance.domain.clock import Clock, iso
from appliance.domain.dialplan import ECHO_TEST, MediaService, ToMedia
from appliance.domain.errors import DomainError
from appliance.domain.session_state import SessionState
from appliance.ivr.flow import Hangup, IvrSession, Play, Transfer, WaitForDigit
from appliance.ivr.menu import Directory as IvrDirectory
from appliance.ivr.menu import IvrConfig, IvrConfigError, load_ivr
from appliance.storage.ivr import CustomPromptRow, DidRow, IvrRow, IvrStore

log = logging.getLogger(__name__)

RING_EXTENSION_S = 25  # an IVR or DID caller rings an extension this long, then its mailbox
RINGBACK = {"freq1": 425, "on_ms": 1000, "off_ms": 4000}
SAY = "say:"  # a menu prompt given as words, spoken with espeak-ng in the IVR's language
_DID = re.compile(r"^\+?[0-9]{3,19}$")
DID_KINDS = ("queue", "ivr", "extension", "voicemail")
MAX_IVR_HOPS = 5  # IVR -> IVR hand-overs per call; one more plays the invalid prompt and hangs up


class IvrError(DomainError):
    """A refused IVR or DID change; `problems` lists every reason, nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class DidTarget:
    """Where a DID sends its calls, as the dial plan and the flows see it."""

    kind: str  # one of DID_KINDS
    target: str
    priority: int = 0  # queue callers from this DID are served before lower priorities (a VIP line)

    @classmethod
    def parse(cls, text: str) -> DidTarget:
        """Read 'queue:700', 'queue:700;priority=5', 'ivr:800', 'extension:101' or 'voicemail:101'."""
        head, _, option = text.strip().partition(";")
        kind, _, target = head.partition(":")
        if kind not in DID_KINDS or not target.strip():
            raise IvrError([f"bad DID destination {text!r}: use {', '.join(k + ':N' for k in DID_KINDS)}"])
        priority = 0
        if option:
            name, _, value = option.partition("=")
            if kind != "queue" or name.strip() != "priority" or not value.strip().isdigit() or int(value) > 100:
                raise IvrError([f"bad DID option {option!r}: only a queue takes ';priority=N' (0-100)"])
            priority = int(value)
        return cls(kind, target.strip(), priority)


# ----- media helpers shared with voicemail -----


async def play_file(m: SessionManager, s: Session, path: Path) -> str:
    """Start playing a WAV to the caller; return the player id."""
    link, leg = m.need(s)
    data = await link.command("play", leg=leg, file=str(path))
    return str(data["player"])


async def stop_player(m: SessionManager, s: Session, player: str | None) -> None:
    """Stop a player if it still runs (it may have just ended)."""
    if player is None or s.link is None:
        return
    with contextlib.suppress(RpcError):
        await s.link.command("stop_play", player=player)


async def play_until_key(
    m: SessionManager, s: Session, path: Path, keys: str = "", timeout: float = 300.0
) -> str | None:
    """Play a file; return the first key in `keys` pressed during it (playback stopped), else None."""
    _, leg = m.need(s)
    player: str | None = await play_file(m, s, path)
    try:
        async with asyncio.timeout(timeout):
            while True:
                msg = await s.events.get()
                m.check_caller(s, msg, leg)
                if msg.get("event") == "playback_done" and msg.get("player") == player:
                    player = None
                    return None
                if msg.get("event") == "dtmf" and msg.get("leg") == leg and str(msg.get("digit")) in keys:
                    return str(msg["digit"])
    finally:
        await stop_player(m, s, player)


async def wait_key(m: SessionManager, s: Session, keys: str, timeout: float) -> str | None:
    """The next key in `keys` the caller presses within `timeout` seconds, else None."""
    _, leg = m.need(s)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while True:
                msg = await s.events.get()
                m.check_caller(s, msg, leg)
                if msg.get("event") == "dtmf" and msg.get("leg") == leg and str(msg.get("digit")) in keys:
                    return str(msg["digit"])
    return None


def to_connected(s: Session) -> None:
    """Mark the session connected unless it already is."""
    if s.state is not SessionState.CONNECTED:
        s.set_state(SessionState.CONNECTED)


class IvrService:
    """Owner of IVR and DID configuration, their routes, and the IVR flow."""

    def __init__(self, *, manager: SessionManager, store: IvrStore, prompts: Prompts, clock: Clock) -> None:
        self.manager = manager
        self.store = store
        self.prompts = prompts
        self.clock = clock
        self.ivrs: dict[str, IvrRow] = {}
        self.dids: dict[str, DidTarget] = {}
        self._lock = asyncio.Lock()

    # ----- configuration -----

    async def load(self) -> None:
        """Read IVRs and DIDs (a DID with a bad destination is logged and skipped)."""
        self.ivrs = {r.number: r for r in await self.store.ivrs()}
        self.dids = {}
        for row in await self.store.dids():
            try:
                self.dids[row.did] = DidTarget.parse(row.destination)
            except IvrError as exc:
                log.error("DID %s not loaded: %s", row.did, exc)

    def routes(self) -> dict[str, ToMedia]:
        """IVR numbers and DIDs for the dial plan (a route source)."""
        out = {n: ToMedia(MediaService.IVR, n) for n in self.ivrs}
        # A DID starts in the IVR flow, which hands the caller to the DID's destination in the
        # same session: the edge names a session by the number dialled, so this holds whichever
        # target it passes on. Its legs are the most any destination needs (queue, IVR: 2).
        for did in self.dids:
            out[did] = ToMedia(MediaService.IVR, did)
        return out

    def ivr_directory(self) -> IvrDirectory:
        """What IVR destinations may name: extensions, queues, and their mailboxes."""
        d = self.manager.directory
        extensions = frozenset(d.extensions)
        queues = frozenset(d.queues)
        return IvrDirectory(extensions, queues, extensions | queues, frozenset(self.ivrs))

    def _taken(self) -> set[str]:
        d = self.manager.directory
        return {ECHO_TEST, *d.extensions, *d.queues, *d.ring_groups}

    def check_ivr(self, row: IvrRow) -> IvrConfig:
        """The pure IVR for a row; IvrError listing every problem when it cannot be used."""
        problems: list[str] = []
        if not re.fullmatch(r"[0-9]{2,8}", row.number):
            problems.append(f"IVR number {row.number!r} must be 2-8 digits")
        elif row.number in self._taken():
            problems.append(f"number {row.number} is already an extension, queue or ring group")
        elif row.number in self.dids:
            problems.append(f"number {row.number} is already a DID")
        if not row.name.strip():
            problems.append("the IVR needs a name")
        if row.language not in TEXTS:
            problems.append(f"language {row.language!r} has no prompt set (one of {', '.join(sorted(TEXTS))})")
        config: IvrConfig | None = None
        try:
            config = load_ivr(row.config, self.ivr_directory(), row.number)
        except IvrConfigError as exc:
            problems += exc.problems
        if config is not None:
            for menu in config.menus.values():
                for prompt in (menu.prompt, menu.invalid_prompt):
                    if not self._prompt_known(prompt, row.language):
                        problems.append(
                            f"menu {menu.menu_id!r}: unknown prompt {prompt!r} (a prompt name or 'say:...')"
                        )
        if problems or config is None:
            raise IvrError(problems)
        return config

    def _prompt_known(self, prompt: str, language: str) -> bool:
        if prompt.startswith(SAY):
            return bool(prompt[len(SAY):].strip())
        return prompt in TEXTS["en"] or any(
            self.prompts.custom_path(prompt, lang).exists() for lang in (language, "en")
        )

    async def save_ivr(self, row: IvrRow) -> IvrRow:
        """Validate and store an IVR, then route its number at once."""
        async with self._lock:
            self.check_ivr(row)
            await self.store.put_ivr(row, self.clock.now())
            self.ivrs[row.number] = row
            self.manager.refresh_routes()
        return row

    async def delete_ivr(self, number: str) -> bool:
        """Delete an IVR unless a DID or another IVR's key still points to it; False when there was none."""
        async with self._lock:
            problems = []
            users = sorted(d for d, t in self.dids.items() if t.kind == "ivr" and t.target == number)
            if users:
                problems.append(f"DIDs {', '.join(users)} still send calls to IVR {number}")
            menus = sorted(n for n, r in self.ivrs.items() if n != number and f"ivr:{number}" in _destinations(r))
            if menus:
                problems.append(f"IVRs {', '.join(menus)} still send callers to IVR {number}")
            if problems:
                raise IvrError(problems)
            gone = await self.store.delete_ivr(number)
            self.ivrs.pop(number, None)
            self.manager.refresh_routes()
        return gone

    def check_did(self, row: DidRow) -> DidTarget:
        """The DID's destination; IvrError when the number or the destination is unusable."""
        problems = []
        if not _DID.match(row.did):
            problems.append(f"DID {row.did!r} must be 3-19 digits, optionally after '+'")
        elif row.did in self._taken() or row.did in self.ivrs:
            problems.append(f"number {row.did} is already an extension, queue, ring group or IVR")
        try:
            dest = DidTarget.parse(row.destination)
        except IvrError as exc:
            raise IvrError(problems + exc.problems) from None
        d = self.manager.directory
        known = {
            "queue": set(d.queues), "ivr": set(self.ivrs), "extension": set(d.extensions),
            "voicemail": set(d.extensions) | set(d.queues),
        }  # fmt: skip
        if dest.target not in known[dest.kind]:
            problems.append(f"unknown {dest.kind} {dest.target!r}")
        if problems:
            raise IvrError(problems)
        return dest

    async def save_did(self, row: DidRow) -> DidRow:
        """Validate and store a DID, then route it at once."""
        async with self._lock:
            dest = self.check_did(row)
            await self.store.put_did(row)
            self.dids[row.did] = dest
            self.manager.refresh_routes()
        return row

    async def delete_did(self, did: str) -> bool:
        """Delete a DID; False when there was none."""
        async with self._lock:
            gone = await self.store.delete_did(did)
            self.dids.pop(did, None)
            self.manager.refresh_routes()
        return gone

    # ----- uploaded prompts -----

    async def prompts_in_use(self, name: str) -> list[str]:
        """IVR numbers whose menus play the prompt `name`."""
        used = []
        for row in self.ivrs.values():
            menus = row.config.get("menus", {}) if isinstance(row.config, dict) else {}
            if any(isinstance(m, dict) and name in (m.get("prompt"), m.get("invalid_prompt")) for m in menus.values()):
                used.append(row.number)
        return used

    async def upload_prompt(self, name: str, language: str, data: bytes) -> CustomPromptRow:
        """Validate, convert and install an uploaded prompt (PromptError: nothing changed)."""
        if name in TEXTS["en"]:
            raise PromptError(f"{name!r} is a built-in prompt name; choose another")
        async with self._lock:
            up = await self.prompts.import_upload(name, language, data)
            row = CustomPromptRow(
                name, language, str(up.path.relative_to(self.prompts.root.parent)), up.duration_s, up.size_bytes,
                iso(self.clock.now()),
            )
            await self.store.put_custom_prompt(row)
        return row

    async def delete_prompt(self, name: str, language: str) -> bool:
        """Delete an uploaded prompt unless an IVR plays it; False when there was none."""
        async with self._lock:
            others = [p for p in await self.store.custom_prompts() if p.name == name and p.language != language]
            users = await self.prompts_in_use(name)
            if users and not others:
                raise IvrError([f"IVRs {', '.join(users)} play prompt {name!r}"])
            row = await self.store.delete_custom_prompt(name, language)
            if row is None:
                return False
            self.prompts.custom_path(name, language).unlink(missing_ok=True)
        return True

    # ----- the flow -----

    async def run(self, s: Session) -> None:
        """The flow for an IVR number, or for a DID that rings an extension."""
        did = self.dids.get(s.target)
        if did is not None:
            s.data["did"] = s.target
            log.info("call %s: DID %s -> %s:%s", s.call_id, s.target, did.kind, did.target)
            if did.kind == "extension":
                await self.ring_extension(s, did.target, answered=False)
                return
            if did.kind == "queue":
                s.data["priority"] = did.priority
                await self.manager.hand_over(s, MediaService.QUEUE, did.target)
                return
            if did.kind == "voicemail":
                await self.manager.hand_over(s, MediaService.VOICEMAIL, did.target)
                return
            s.target = did.target  # an IVR
        row = self.ivrs.get(s.target)
        if row is None:
            raise CallEnded(404, "no_such_ivr")
        s.data.setdefault("language", row.language)
        m = self.manager
        await m.answer_caller(s)
        try:
            config = load_ivr(row.config, self.ivr_directory(), row.number)
        except IvrConfigError as exc:
            # The directory changed under a stored IVR: fail safe, never silence.
            log.error("IVR %s cannot run: %s", row.number, exc)
            await self._goodbye(s)
            raise CallEnded(500, "ivr_misconfigured") from None
        ivr = IvrSession(config, self.clock)
        before = list(s.data.pop("ivr_trail", []))  # an earlier IVR's walk, when one handed over
        try:
            await self._walk(s, ivr, row.language)
        finally:
            log.info("IVR %s call %s: %s", row.number, s.call_id, " > ".join(ivr.trail))
            s.data["ivr_trail"] = [*before, *ivr.trail, *s.data.get("ivr_trail", [])]

    async def _prompt_file(self, prompt: str, language: str) -> Path:
        if prompt.startswith(SAY):
            return await self.prompts.speech(prompt[len(SAY):].strip(), language)
        return await self.prompts.path(prompt, language)

    async def _walk(self, s: Session, ivr: IvrSession, language: str) -> None:
        """Play prompts, feed digits and timeouts to the machine, until it leaves the IVR."""
        m = self.manager
        _, leg = m.need(s)
        plays: deque[str] = deque()
        wait_s: float | None = None
        deadline: float | None = None
        player: str | None = None
        actions = ivr.start()
        while True:
            for act in actions:
                if isinstance(act, Play):
                    plays.append(act.prompt)
                elif isinstance(act, WaitForDigit):
                    wait_s, deadline = act.timeout_s, None
                elif isinstance(act, Transfer):
                    await stop_player(m, s, player)
                    await self.transfer(s, act.destination)
                    return
                elif isinstance(act, Hangup):
                    await stop_player(m, s, player)
                    await self._goodbye(s)
                    return
            actions = []
            while player is None and plays:
                try:
                    player = await play_file(m, s, await self._prompt_file(plays.popleft(), language))
                except PromptError as exc:
                    log.error("IVR prompt skipped: %s", exc)
            if player is None and wait_s is not None and deadline is None:
                deadline = self.clock.monotonic() + wait_s  # the digit timer runs once the prompt ended
            left = None if deadline is None else max(0.0, deadline - self.clock.monotonic())
            try:
                msg = await asyncio.wait_for(s.events.get(), left)
            except TimeoutError:
                if deadline is not None and self.clock.monotonic() >= deadline:
                    wait_s = deadline = None
                    actions = ivr.timeout()
                continue
            m.check_caller(s, msg, leg)
            kind = msg.get("event")
            if kind == "playback_done" and msg.get("player") == player:
                player = None
            elif kind == "dtmf" and msg.get("leg") == leg:
                await stop_player(m, s, player)  # barge-in
                player, wait_s, deadline = None, None, None
                plays.clear()
                try:
                    actions = ivr.digit(str(msg.get("digit")))
                except DomainError as exc:
                    log.warning("IVR call %s: key ignored: %s", s.call_id, exc)

    async def transfer(self, s: Session, dest: Destination) -> None:
        """Carry out where the IVR sent the caller."""
        m = self.manager
        kind = dest.kind
        if kind is DestinationKind.QUEUE:
            await m.hand_over(s, MediaService.QUEUE, dest.target)
        elif kind is DestinationKind.VOICEMAIL:
            await m.hand_over(s, MediaService.VOICEMAIL, dest.target)
        elif kind is DestinationKind.EXTENSION:
            await self.ring_extension(s, dest.target, answered=True)
        elif kind is DestinationKind.EXTERNAL and MediaService.OUTBOUND in m.flows:
            await m.hand_over(s, MediaService.OUTBOUND, dest.target)
        elif kind is DestinationKind.IVR:
            await self._to_ivr(s, dest.target)
        else:
            log.warning("call %s: IVR destination %s is not wired; hanging up politely", s.call_id, dest)
            await self._goodbye(s)

    async def _to_ivr(self, s: Session, number: str) -> None:
        """Hand the caller over to another IVR in the same session; a loop between IVRs ends politely."""
        hops = int(s.data.get("ivr_hops", 0)) + 1
        s.data["ivr_hops"] = hops
        if hops > MAX_IVR_HOPS or number not in self.ivrs:
            log.error("call %s: IVR hand-over %d to %s refused (loop or deleted IVR)", s.call_id, hops, number)
            language = str(s.data.get("language", "en"))
            with contextlib.suppress(PromptError, TimeoutError):
                await play_until_key(self.manager, s, await self.prompts.path("invalid-option", language), timeout=30)
            await self._goodbye(s)
            raise CallEnded(482, "ivr_loop")
        s.data["language"] = self.ivrs[number].language  # the next IVR speaks its own language
        await self.manager.hand_over(s, MediaService.IVR, number)

    async def ring_extension(self, s: Session, extension: str, *, answered: bool) -> None:
        """Ring an extension with ringback to the caller, bridge on answer, else its mailbox."""
        m = self.manager
        link, leg = m.need(s)
        if not answered:
            await link.command("answer", leg=leg, code=180)
        ringback: str | None = None
        if answered:
            ringback = str((await link.command("tone", leg=leg, loop=True, **RINGBACK))["player"])
        if s.state is SessionState.ANSWERING:
            s.set_state(SessionState.HUNTING)
        other = await m.ring(s, extension, RING_EXTENSION_S) if extension != s.caller else None
        await stop_player(m, s, ringback)
        if other is None:
            if MediaService.VOICEMAIL in m.flows:
                await m.hand_over(s, MediaService.VOICEMAIL, extension)
                return
            raise CallEnded(480, "no_answer")
        await m.answer_caller(s)
        await link.command("bridge", a=leg, b=other)
        await m.mark_answered(s, extension)
        to_connected(s)
        await m.until_any_ends(s, {leg, other})

    async def _goodbye(self, s: Session) -> None:
        language = str(s.data.get("language", "en"))
        with contextlib.suppress(PromptError, TimeoutError):
            await play_until_key(self.manager, s, await self.prompts.path("goodbye", language), timeout=30)



def _destinations(row: IvrRow) -> set[str]:
    """Every destination text an IVR row names (entry, keys, failure branches, switch branches)."""
    cfg = row.config if isinstance(row.config, dict) else {}
    out = {str(cfg.get("entry", ""))}
    for menu in dict(cfg.get("menus", {})).values():
        if isinstance(menu, dict):
            out |= {str(v) for v in dict(menu.get("options", {})).values()}
            out.add(str(menu.get("on_fail", "")))
    for sw in dict(cfg.get("switches", {})).values():
        if isinstance(sw, dict):
            out |= {str(sw.get(k, "")) for k in ("open", "closed", "holiday")}
    return {d.replace(" ", "") for d in out}
