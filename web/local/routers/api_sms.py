"""API: SMS conversations for agents (list, read, reply, close), caller history, block list, settings."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from appliance.controller.messaging import InvalidText, SmsChannel
from appliance.messaging.conversation import NotYourConversation
from appliance.messaging.numbers import InvalidNumber, normalize_number
from appliance.messaging.optout import RecipientOptedOut
from appliance.storage.messaging import ConversationClosed, ConversationNotFound
from appliance.web_services.errors import Conflict, Forbidden, Invalid, NotFound, WebError
from appliance.web_services.rules import Role
from web.local.deps import AdminUser, AnyUser, Auth, RowId, ServicesDep, SupervisorUser
from web.local.services import Services

router = APIRouter(prefix="/api/v1/sms", tags=["sms"])
T = TypeVar("T")


class ConversationPublic(BaseModel):
    """A conversation as an agent sees it in the list."""

    id: int
    number: str
    state: str
    agent: str | None
    queue: str | None
    opened_at: str
    closed_at: str | None
    last_message_at: str
    unanswered: int


class MessagePublic(BaseModel):
    """One SMS in a conversation."""

    id: int
    conversation_id: int
    direction: str
    number: str
    body: str
    at: str
    status: str
    agent: str | None
    parts: int
    missing: list[int]
    error: str | None


class ConversationDetail(BaseModel):
    """A conversation with its messages, oldest first."""

    conversation: ConversationPublic
    messages: list[MessagePublic]


class ReplyCreate(BaseModel):
    """An agent's reply."""

    text: str = Field(min_length=1, max_length=4000)


class ReplyQueued(BaseModel):
    """The reply is queued for the modem."""

    message_id: int
    status: str
    parts: int


class BlockCreate(BaseModel):
    """A number an admin puts on the block list."""

    number: str = Field(min_length=1, max_length=40)


class BlockPublic(BaseModel):
    """A blocked number."""

    number: str
    since: str
    keyword: str


class SmsSettings(BaseModel):
    """The queue whose agents answer SMS (null: the first queue)."""

    queue: str | None = Field(default=None, max_length=32)


def _channel(services: Services) -> SmsChannel:
    sms = getattr(services.ctl, "sms", None)
    if not isinstance(sms, SmsChannel):
        raise WebError("sms_unavailable", "the SMS channel is not wired in this controller")
    return sms


async def _mapped(call: Awaitable[T]) -> T:
    """Run a channel call, mapping its refusals to stable error ids (one place)."""
    try:
        return await call
    except RecipientOptedOut as exc:
        raise Conflict("recipient_opted_out", str(exc), number=exc.number) from None
    except ConversationNotFound as exc:
        raise NotFound("conversation_not_found", str(exc)) from None
    except ConversationClosed as exc:
        raise Conflict("conversation_closed", str(exc)) from None
    except NotYourConversation as exc:
        raise Forbidden("not_your_conversation", str(exc)) from None
    except InvalidText as exc:
        raise Invalid("text_invalid", str(exc), field="text") from None


async def _acting_agent(auth: Auth, services: Services) -> str | None:
    """The extension an agent acts as; None for supervisors and admins (they may act on any)."""
    if auth.user.role.at_least(Role.SUPERVISOR):
        return None
    ext = await services.desk.extension_of(auth.user.id)
    if ext is None:
        raise Conflict("no_extension", "your user is not linked to an extension; ask an admin")
    return ext


@router.get("/conversations")
async def list_conversations(
    auth: AnyUser, services: ServicesDep,
    scope: Annotated[str, Query(pattern="^(mine|all)$")] = "mine",
    closed: bool = False,
) -> list[ConversationPublic]:
    """The caller's conversations (scope=all: everyone's, supervisors); routing runs first."""
    sms = _channel(services)
    if scope == "all":
        if not auth.user.role.at_least(Role.SUPERVISOR):
            raise Forbidden("role_forbidden", "scope=all needs the supervisor role", needs="supervisor",
                            role=auth.user.role.value)
        agent = None
    else:
        agent = await services.desk.extension_of(auth.user.id)
        if agent is None:
            raise Conflict("no_extension", "your user is not linked to an extension; ask an admin")
    await sms.service.route()
    return [ConversationPublic(**asdict(c)) for c in await sms.store.conversations(agent, closed=closed)]


async def _detail(sms: SmsChannel, conv_id: int, agent: str | None) -> ConversationDetail:
    conv = await _mapped(sms.store.conversation(conv_id))
    if agent is not None and conv.agent != agent:
        raise Forbidden("not_your_conversation", f"conversation {conv_id} is handled by {conv.agent or 'nobody yet'}")
    messages = await sms.store.messages(conv_id)
    return ConversationDetail(conversation=ConversationPublic(**asdict(conv)),
                              messages=[MessagePublic(**asdict(m)) for m in messages])


@router.get("/conversations/{conv_id}")
async def get_conversation(conv_id: RowId, auth: AnyUser, services: ServicesDep) -> ConversationDetail:
    """A conversation and its messages (its agent, or a supervisor)."""
    return await _detail(_channel(services), conv_id, await _acting_agent(auth, services))


@router.post("/conversations/{conv_id}/reply", status_code=201)
async def reply(conv_id: RowId, body: ReplyCreate, auth: AnyUser, services: ServicesDep) -> ReplyQueued:
    """Queue a reply for the modem; refused for an opted-out number (nothing is written)."""
    sms = _channel(services)
    agent = await _acting_agent(auth, services)
    mid, parts = await _mapped(sms.service.reply(conv_id, agent, body.text, agent or auth.user.username))
    return ReplyQueued(message_id=mid, status="queued", parts=parts)


@router.post("/conversations/{conv_id}/close")
async def close(conv_id: RowId, auth: AnyUser, services: ServicesDep) -> ConversationDetail:
    """Close a conversation (the next SMS from the number opens a new one)."""
    sms = _channel(services)
    agent = await _acting_agent(auth, services)
    await _mapped(sms.service.close(conv_id, agent))
    return await _detail(sms, conv_id, agent)


@router.get("/history")
async def history(
    _: AnyUser, services: ServicesDep, number: Annotated[str, Query(min_length=1, max_length=40)],
) -> list[MessagePublic]:
    """Every SMS to or from a number, newest first (the agent desk's caller history)."""
    return [MessagePublic(**asdict(m)) for m in await _channel(services).service.history(number)]


def _number(text: str) -> str:
    try:
        return normalize_number(text)
    except InvalidNumber as exc:
        raise Invalid("number_invalid", str(exc), field="number") from None


@router.get("/blocklist")
async def blocklist(_: SupervisorUser, services: ServicesDep) -> list[BlockPublic]:
    """Numbers that opted out (or an admin blocked)."""
    return [BlockPublic(**b) for b in await _channel(services).store.blocklist()]


@router.post("/blocklist", status_code=201)
async def block(body: BlockCreate, auth: AdminUser, services: ServicesDep) -> BlockPublic:
    """Block a number by hand."""
    sms = _channel(services)
    number = _number(body.number)
    if not await sms.service.block(number, f"admin:{auth.user.username}"):
        raise Conflict("number_blocked", f"{number} is on the block list already", number=number)
    return next(BlockPublic(**b) for b in await sms.store.blocklist() if b["number"] == number)


@router.delete("/blocklist/{number}", status_code=204)
async def unblock(number: Annotated[str, Path(max_length=40)], _: AdminUser, services: ServicesDep) -> None:
    """Take a number off the block list (as the customer's START would)."""
    if not await _channel(services).store.unblock(_number(number)):
        raise NotFound("number_not_blocked", f"{number} is not on the block list")


@router.get("/settings")
async def get_settings(_: SupervisorUser, services: ServicesDep) -> dict[str, Any]:
    """The SMS queue: configured and in effect."""
    sms = _channel(services)
    return {"queue": await sms.store.sms_queue(), "effective_queue": await sms.service.sms_queue()}


@router.put("/settings")
async def put_settings(body: SmsSettings, _: AdminUser, services: ServicesDep) -> dict[str, Any]:
    """Choose the queue whose agents answer SMS."""
    sms = _channel(services)
    if body.queue is not None and body.queue not in services.ctl.queues.rows:
        raise Invalid("queue_unknown", f"no queue {body.queue}", field="queue", known=sorted(services.ctl.queues.rows))
    await sms.store.set_sms_queue(body.queue)
    await sms.service.route()
    return {"queue": body.queue, "effective_queue": await sms.service.sms_queue()}
