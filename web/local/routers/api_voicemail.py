"""API: mailboxes and voicemail messages (supervisors read, admins set PINs and delete)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from appliance.controller.voicemail import VoicemailError, VoicemailService, features_of
from appliance.web_services.errors import Invalid, NotFound
from web.local.deps import AdminUser, AnyUser, RowId, ServicesDep, SupervisorUser
from web.local.routers.api_ivr import ivr_admin
from web.local.services import Services

router = APIRouter(prefix="/api/v1", tags=["voicemail"])


class PinUpdate(BaseModel):
    """A new mailbox PIN (4-12 digits)."""

    model_config = ConfigDict(extra="forbid")
    pin: str = Field(max_length=32)


class MessagePublic(BaseModel):
    """One voicemail message (audio at /api/v1/voicemails/{id}/audio)."""

    id: int
    caller: str
    started_at: str
    duration_s: float
    heard: bool


class MailboxPublic(BaseModel):
    """A mailbox: counts, whether a PIN is set, its messages (new first)."""

    mailbox: str
    new: int
    old: int
    has_pin: bool
    language: str
    messages: list[MessagePublic]


def voicemail(services: Services) -> VoicemailService:
    """The controller's voicemail service."""
    return features_of(services.ctl.sessions).voicemail


@router.get("/mailboxes/{number}")
async def get_mailbox(number: str, _: SupervisorUser, services: ServicesDep) -> MailboxPublic:
    """A mailbox and its messages."""
    return await mailbox_public(services, number)


async def mailbox_public(services: Services, mailbox: str) -> MailboxPublic:
    """A mailbox and its messages as the API shows them."""
    vm = voicemail(services)
    try:
        summary = await vm.summary(mailbox)
    except VoicemailError as exc:
        raise NotFound("mailbox_not_found", str(exc), mailbox=mailbox) from None
    messages = [MessagePublic(id=m.id, caller=m.caller, started_at=m.started_at, duration_s=m.duration_s,
                              heard=m.heard) for m in await vm.messages(mailbox)]
    return MailboxPublic(**vars(summary), messages=messages)


@router.put("/mailboxes/{number}/pin", status_code=204)
async def put_pin(number: str, body: PinUpdate, auth: AdminUser, services: ServicesDep) -> None:
    """Set a mailbox's PIN (stored as an argon2 hash; failed attempts are reset)."""
    vm, mailbox = voicemail(services), number
    if mailbox not in vm.mailboxes():
        raise NotFound("mailbox_not_found", f"no mailbox {mailbox}", mailbox=mailbox)
    try:
        await ivr_admin(services).set_pin(auth.actor, mailbox, body.pin)
    except VoicemailError as exc:
        raise Invalid("pin_invalid", str(exc)) from None


@router.get("/voicemails/{recording_id}/audio")
async def get_audio(recording_id: RowId, _: SupervisorUser, services: ServicesDep) -> FileResponse:
    """The message's WAV."""
    return await audio(services, recording_id)


async def audio(services: Services, message_id: int) -> FileResponse:
    """A message's WAV, or 404 when it is not (or no longer) there."""
    vm = voicemail(services)
    msg = await vm.store.message(message_id)
    path = vm.data_dir / msg.path if msg is not None else None
    if msg is None or msg.state != "ready" or path is None or not path.exists():
        raise NotFound("voicemail_not_found", f"no voicemail {message_id}", id=message_id)
    return FileResponse(path, media_type="audio/wav")


@router.delete("/voicemails/{recording_id}", status_code=204)
async def delete_voicemail(recording_id: RowId, auth: AdminUser, services: ServicesDep) -> None:
    """Delete a message and its file (the owner's phone gets MWI)."""
    if not await ivr_admin(services).delete_message(auth.actor, recording_id):
        raise NotFound("voicemail_not_found", f"no voicemail {recording_id}", id=recording_id)


async def my_mailbox(services: Services, user_id: int) -> str:
    """The mailbox of the extension linked to this user (agents see only their own)."""
    ext = await services.desk.extension_of(user_id)
    if ext is None:
        raise NotFound("no_extension", "your user is not linked to an extension; ask an admin")
    return ext


@router.get("/me/voicemail")
async def get_my_mailbox(auth: AnyUser, services: ServicesDep) -> MailboxPublic:
    """The caller's own mailbox (their linked extension's) and its messages, new first."""
    return await mailbox_public(services, await my_mailbox(services, auth.user.id))


@router.get("/me/voicemails/{recording_id}/audio")
async def get_my_audio(recording_id: RowId, auth: AnyUser, services: ServicesDep) -> FileResponse:
    """A message of the caller's own mailbox; another mailbox's message is 404, as if absent."""
    mailbox = await my_mailbox(services, auth.user.id)
    msg = await voicemail(services).store.message(recording_id)
    if msg is None or msg.mailbox != mailbox:
        raise NotFound("voicemail_not_found", f"no voicemail {recording_id}", id=recording_id)
    return await audio(services, recording_id)
