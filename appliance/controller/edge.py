"""The controller's answers to the SIP edge: credentials, routing, call outcomes."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from appliance.controller.sessions import SessionManager
from appliance.domain.clock import Clock
from appliance.domain.dialplan import MediaService, Reject, ToExtension, ToMedia, route
from appliance.storage.calls import CallStore
from appliance.storage.directory import DirectoryStore

log = logging.getLogger(__name__)

POOL_FULL_ALARM = "media_pool_full"


class TrunkPeers(Protocol):
    """Which addresses are trunks, and which dialed numbers leave over them."""

    def trunk_at(self, addr: str) -> str | None:
        """The trunk whose requests come from `addr` ("ip:port"), if any."""
        ...

    def outbound_patterns(self) -> tuple[str, ...]:
        """Regexes of external numbers (the outbound routes)."""
        ...

    async def credentials(self, addr: str) -> tuple[str, str] | None:
        """Digest username and password of the trunk at `addr` ("host:port"), if it has them."""
        ...


@dataclass(frozen=True)
class RouteAnswer:
    """What the edge does with a new call (serialised to JSON for Kamailio)."""

    action: str  # extension | media | reject
    target: str = ""
    code: int = 0
    reason: str = ""

    def as_json(self) -> dict[str, Any]:
        """The JSON body Kamailio parses."""
        return {"action": self.action, "target": self.target, "code": self.code, "reason": self.reason}


class EdgeService:
    """Answers Kamailio's questions; records every attempt."""

    def __init__(
        self, *, directory: DirectoryStore, sessions: SessionManager, store: CallStore, clock: Clock
    ) -> None:
        self.directory = directory
        self.sessions = sessions
        self.store = store
        self.clock = clock
        self.trunks: TrunkPeers | None = None  # wired when trunks exist (appliance/app.py)

    def trunk_at(self, addr: str) -> str | None:
        """The configured trunk at `addr`: its INVITEs are not challenged like a phone's."""
        return self.trunks.trunk_at(addr) if self.trunks is not None else None

    async def trunk_credentials(self, addr: str) -> tuple[str, str] | None:
        """What answers a trunk's challenge to a call relayed to it (for Kamailio's uac_auth)."""
        return await self.trunks.credentials(addr) if self.trunks is not None else None

    async def ha1(self, user: str) -> str | None:
        """The HA1 for a SIP user, None if unknown or disabled."""
        return await self.directory.ha1_for(user)

    async def route(
        self, call_id: str, caller: str, dialed: str, src: str = "phone", addr: str = "", auth_user: str = ""
    ) -> RouteAnswer:
        """Decide where a new call goes (`src` "trunk": an inbound call to a DID from `addr`).

        `auth_user` is who authenticated (phones): an external call must come from that user's
        own number, or the toll-fraud limits of one extension could be used by another.
        """
        if not call_id:
            return RouteAnswer("reject", code=400, reason="Missing Call-ID")
        directory = self.sessions.directory
        if src == "trunk":
            if self.trunk_at(addr) is None:
                return RouteAnswer("reject", code=403, reason="Forbidden")
            if not dialed or not dialed.lstrip("+").isdigit():
                return RouteAnswer("reject", code=404, reason="Not Found")  # no feature codes from outside
            # A trunk's call never leaves over a trunk again (no hairpin for fraudsters).
            directory = dataclasses.replace(directory, outbound_patterns=())
        elif self.trunks is not None:
            # The routes' patterns win over a directory reloaded without them.
            directory = dataclasses.replace(directory, outbound_patterns=self.trunks.outbound_patterns())
        decision = route(dialed, caller, directory)
        if (isinstance(decision, ToMedia) and decision.service is MediaService.OUTBOUND and src == "phone"
                and auth_user and auth_user != caller):
            decision = Reject(403, "From Does Not Match Credentials")
        now = self.clock.now()
        if isinstance(decision, ToExtension):
            await self.store.cdr_open(call_id, "extension", caller, dialed, now)
            return RouteAnswer("extension", target=decision.extension)
        if isinstance(decision, ToMedia):
            sip = await self.sessions.reserve(call_id, decision.service, dialed, caller, decision.legs)
            if sip is None:
                await self.store.cdr_open(call_id, decision.service.value, caller, dialed, now)
                await self.store.cdr_close(call_id, now, 503, "media_pool_full")
                await self.store.raise_alarm(
                    now, "major", POOL_FULL_ALARM,
                    f"no media worker could take a {decision.service.value} call "
                    f"({decision.legs} legs needed, {self.sessions.placement.total_free} free)",
                )
                log.error("media pool full: call %s to %s refused with 503", call_id, dialed)
                return RouteAnswer("reject", code=503, reason="Service Unavailable")
            if self.sessions.placement.total_free > 0:
                await self.store.clear_alarm(now, POOL_FULL_ALARM)
            return RouteAnswer("media", target=f"sip:{sip}")
        assert isinstance(decision, Reject)
        await self.store.cdr_open(call_id, "rejected", caller, dialed, now)
        await self.store.cdr_close(call_id, now, decision.code, decision.reason.lower().replace(" ", "_"))
        return RouteAnswer("reject", code=decision.code, reason=decision.reason)

    async def report(self, event: str, call_id: str, code: int) -> None:
        """Kamailio reports how a call it relayed went."""
        now = self.clock.now()
        if call_id in self.sessions.sessions:
            if event == "final" and code >= 300:
                await self.sessions.edge_failed(call_id, code)
            return
        if event == "answer":
            await self.store.cdr_answered(call_id, now)
        elif event == "final":
            await self.store.cdr_close(call_id, now, code, "no_answer" if code in (408, 480, 487) else f"sip_{code}")
        elif event == "bye":
            await self.store.cdr_close(call_id, now, 200, "normal")
        else:
            raise ValueError(f"unknown report event {event!r}")
