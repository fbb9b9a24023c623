"""The SMS channel in the controller: conversations routed to ACD agents, replies queued for the
firmware bridge, opt-out honoured, and the loopback link the bridge talks to.

Link (loopback HTTP on the controller's internal port, `Authorization: Bearer <internal token>`):
  POST /internal/link/sms/inbound     a received SMS (idempotent on its `id`)
  GET  /internal/link/sms/outbound    long-poll: messages to send (claimed for `lease_s`)
  POST /internal/link/sms/outbound/{id}/result   the modem's answer (refs, or an error)
  POST /internal/link/sms/report      a delivery report (+CDS)
  POST /internal/link/modem/status    the modem's status document (on change and as heartbeat)
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import aiosqlite
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from appliance.controller.modem_health import AlarmSink, InvalidStatus, ModemHealthMonitor
from appliance.domain.clock import Clock, iso
from appliance.domain.errors import DomainError
from appliance.messaging.conversation import AgentView, ConversationState, choose_agent, next_state
from appliance.messaging.numbers import InvalidNumber, normalize_number
from appliance.messaging.optout import Keyword, classify
from appliance.storage.messaging import MessageRow, MessagingStore, Outbound
from firmware_bridge.sms.pdu import PduError, split_text

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService

log = logging.getLogger(__name__)

MAX_PARTS = 10  # a reply longer than this many SMS parts is refused


class InvalidText(DomainError):
    """A reply that cannot be sent as SMS (empty, too long, unencodable)."""


def check_text(text: str, max_parts: int = MAX_PARTS) -> int:
    """The number of SMS parts the text needs; InvalidText when it cannot or should not be sent."""
    if not text or not text.strip():
        raise InvalidText("the message is empty")
    try:
        _, parts = split_text(text)
    except PduError as exc:
        raise InvalidText(str(exc)) from None
    if len(parts) > max_parts:
        raise InvalidText(f"the message needs {len(parts)} SMS parts; at most {max_parts} are allowed")
    return len(parts)


class MessagingService:
    """Conversations, routing to agents, replies, opt-out; the bridge's outbound queue."""

    def __init__(self, store: MessagingStore, clock: Clock, queues: Callable[[], QueueService | None], *,
                 lease_s: float = 120.0, max_attempts: int = 5) -> None:
        self.store = store
        self._clock = clock
        self._queues = queues
        self._lease = lease_s
        self._max_attempts = max_attempts
        self._outbound = asyncio.Event()
        self._route_lock = asyncio.Lock()

    def _now(self) -> str:
        return iso(self._clock.now())

    # --- inbound ---------------------------------------------------------------------

    async def inbound(self, link_id: str, sender: str, text: str, *, parts: int = 1,
                      missing: tuple[int, ...] = ()) -> dict[str, Any]:
        """Store a received SMS once, apply opt-out/opt-in keywords, route its conversation."""
        try:
            number = normalize_number(sender)
        except InvalidNumber:
            number = sender.strip()[:32] or "unknown"  # an alphanumeric sender: kept, never replied to
        got = await self.store.receive(link_id, number, text, self._now(), parts, missing)
        if got.duplicate:
            return {"message_id": got.message_id, "conversation_id": got.conversation_id, "duplicate": True}
        keyword = classify(text)
        if keyword is Keyword.OPT_OUT and await self.store.block(number, text.strip()[:40], self._now(),
                                                                  got.message_id):
            log.info("SMS opt-out: %s is on the block list", number)
        elif keyword is Keyword.OPT_IN and await self.store.unblock(number):
            log.info("SMS opt-in: %s is off the block list", number)
        await self.route()
        return {"message_id": got.message_id, "conversation_id": got.conversation_id, "duplicate": False,
                "keyword": keyword.value if keyword else None}

    # --- routing ---------------------------------------------------------------------

    async def sms_queue(self) -> str | None:
        """The queue whose agents answer SMS: the configured one, else the first queue."""
        service = self._queues()
        if service is None:
            return None
        configured = await self.store.sms_queue()
        if configured is not None:
            return configured if configured in service.rows else None
        return min(service.rows) if service.rows else None

    async def route(self) -> None:
        """Give every open conversation an agent (sticky), as the ACD's agent states allow."""
        service = self._queues()
        if service is None:
            return
        async with self._route_lock:
            queue = await self.sms_queue()
            members = tuple(service.rows[queue].members) if queue else ()
            convs = await self.store.open_conversations()
            load: dict[str, int] = {}
            for c in convs:
                if c.agent:
                    load[c.agent] = load.get(c.agent, 0) + 1
            for c in convs:
                agents = {a: AgentView(a, ag.state, load.get(a, 0), ag.idle_since())
                          for a, ag in service.dispatcher.agents.items()}
                agent = choose_agent(c.agent, members, agents)
                state = next_state(ConversationState(c.state), agent)
                if agent == c.agent and state.value == c.state:
                    continue
                await self.store.set_route(c.id, state, agent, queue)
                if c.agent:
                    load[c.agent] -= 1
                if agent:
                    load[agent] = load.get(agent, 0) + 1
                log.info("SMS conversation %d (%s) -> %s", c.id, c.number, agent or "waiting")

    # --- the agent's side ------------------------------------------------------------

    async def reply(self, conv_id: int, agent: str | None, text: str, sender: str) -> tuple[int, int]:
        """Queue a reply; (message id, SMS parts). Refused for an opted-out number, a closed or
        someone else's conversation, an empty or over-long text: nothing is written then."""
        parts = check_text(text)
        message_id = await self.store.queue_reply(conv_id, agent, text, self._now(), sender)
        self._outbound.set()
        return message_id, parts

    async def block(self, number: str, by: str) -> bool:
        """Block a number by hand; False when it was blocked already."""
        return await self.store.block(normalize_number(number), by, self._now())

    async def close(self, conv_id: int, agent: str | None) -> None:
        """Close a conversation."""
        await self.store.close_conversation(conv_id, agent, self._now())

    async def history(self, number: str) -> list[MessageRow]:
        """Every SMS to or from a number, newest first (the agent desk's caller history)."""
        try:
            number = normalize_number(number)
        except InvalidNumber:
            return []
        return await self.store.history(number)

    # --- the bridge's side -----------------------------------------------------------

    async def claim(self, wait_s: float) -> list[Outbound]:
        """Messages for the bridge to send; waits up to `wait_s` for one to be queued."""
        loop = asyncio.get_running_loop()  # the long-poll waits real time (it measures the HTTP wait)
        deadline = loop.time() + wait_s
        while True:
            self._outbound.clear()
            now = self._clock.now()
            claimed = await self.store.claim_outbound(iso(now), iso(now - timedelta(seconds=self._lease)))
            left = deadline - loop.time()
            if claimed or left <= 0:
                return claimed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbound.wait(), min(left, 1.0))

    async def result(self, message_id: int, refs: list[int], error: str | None, retry: bool) -> str:
        """The modem's answer to a send: sent with refs, or failed (queued again while retries remain)."""
        if error is None:
            return "sent" if await self.store.sent(message_id, refs, self._now()) else "unknown"
        status = await self.store.send_failed(message_id, error, self._now(), retry=retry,
                                              max_attempts=self._max_attempts)
        if status == "queued":
            self._outbound.set()
        log.warning("SMS %d not sent (%s): %s", message_id, status, error)
        return status

    async def report(self, reference: int, recipient: str, status: int, delivered: bool) -> int | None:
        """Apply a delivery report."""
        with contextlib.suppress(InvalidNumber):
            recipient = normalize_number(recipient)
        return await self.store.report(reference, recipient, status, delivered, self._now())

    async def families(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float | None]]]]:
        """Prometheus families for /metrics."""
        counts = await self.store.counts()
        return [
            ("appliance_sms_conversations", "gauge", "SMS conversations by state.",
             [({"state": s.value}, counts.get(s.value, 0)) for s in ConversationState]),
            ("appliance_sms_outbound_pending", "gauge", "Outbound SMS queued or being sent.",
             [({}, await self.store.outbound_waiting())]),
        ]


# --- the link the firmware bridge talks to ----------------------------------------------


class InboundSmsIn(BaseModel):
    """A received SMS as the bridge hands it over."""

    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    sender: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=40_000)
    parts: int = Field(default=1, ge=1, le=255)
    missing: list[int] = Field(default_factory=list, max_length=255)


class SendResultIn(BaseModel):
    """The modem's answer to a send."""

    refs: list[int] = Field(default_factory=list, max_length=255)
    error: str | None = Field(default=None, max_length=500)
    retry: bool = False


class ReportIn(BaseModel):
    """A delivery report."""

    reference: int = Field(ge=0, le=255)
    recipient: str = Field(min_length=1, max_length=64)
    status: int = Field(ge=0, le=255)
    delivered: bool


@dataclass
class SmsChannel:
    """The SMS channel and the modem's health, wired for the controller."""

    service: MessagingService
    modem: ModemHealthMonitor
    store: MessagingStore

    @classmethod
    def open(cls, db_path: Path, db: aiosqlite.Connection, alarms: AlarmSink, clock: Clock,
             queues: Callable[[], QueueService | None]) -> SmsChannel:
        """Open the channel's storage and build its services."""
        store = MessagingStore(db_path)
        return cls(MessagingService(store, clock, queues), ModemHealthMonitor(db, alarms, store, clock), store)

    def close(self) -> None:
        """Close the channel's storage."""
        self.store.shutdown()

    async def families(self) -> list[tuple[str, str, str, list[tuple[dict[str, str], float | None]]]]:
        """Every Prometheus family of the channel and the modem."""
        return [*self.modem.families(), *await self.service.families()]

    def link_router(self, token: str) -> APIRouter:
        """The loopback API of the bridge link, behind the internal token."""

        def auth(authorization: Annotated[str, Header()] = "") -> None:
            sent = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
            if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
                raise HTTPException(status_code=403, detail="forbidden")

        router = APIRouter(prefix="/internal/link", dependencies=[Depends(auth)])
        service, modem = self.service, self.modem

        @router.post("/sms/inbound")
        async def inbound(body: InboundSmsIn) -> JSONResponse:
            got = await service.inbound(body.id, body.sender, body.text, parts=body.parts,
                                        missing=tuple(body.missing))
            return JSONResponse(got)

        @router.get("/sms/outbound")
        async def outbound(wait: Annotated[float, Query(ge=0, le=60)] = 0) -> JSONResponse:
            claimed = await service.claim(wait)
            return JSONResponse({"messages": [vars(m) for m in claimed]})

        @router.post("/sms/outbound/{message_id}/result")
        async def result(message_id: int, body: SendResultIn) -> JSONResponse:
            status = await service.result(message_id, body.refs, body.error, body.retry)
            return JSONResponse({"status": status})

        @router.post("/sms/report")
        async def report(body: ReportIn) -> JSONResponse:
            mid = await service.report(body.reference, body.recipient, body.status, body.delivered)
            return JSONResponse({"message_id": mid})

        @router.post("/modem/status")
        async def modem_status(body: dict[str, Any]) -> JSONResponse:
            try:
                changes = await modem.update(body)
            except InvalidStatus as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse({"raised": sorted(changes.raise_), "cleared": sorted(changes.clear)})

        return router
