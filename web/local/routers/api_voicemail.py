"""API: mailboxes and voicemail messages (supervisors read, admins set PINs and delete)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from appliance.controller.voicemail import VoicemailError, VoicemailService, features_of
from appliance.web_services.errors import Invalid, NotFound
from web.local.deps import AdminUser, RowId, ServicesDep, SupervisorUser
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
    vm, mailbox = voicemail(services), number
    try:
        summary = await vm.summary(mailbox)
    except VoicemailError as exc:
        raise NotFound("mailbox_not_found", str(exc), mailbox=mailbox) from None
    messages = [MessagePublic(id=m.id, caller=m.caller, started_at=m.started_at, duration_s=m.duration_s,
                              heard=m.heard) for m in await vm.messages(mailbox)]
    return MailboxPublic(**vars(summary), messages=messages)


@router.put("/mailboxes/{number}/pin", status_code=204)
async def put_pin(number: str, body: PinUpdate, _: AdminUser, services: ServicesDep) -> None:
    """Set a mailbox's PIN (stored as an argon2 hash; failed attempts are reset)."""
    vm, mailbox = voicemail(services), number
    if mailbox not in vm.mailboxes():
        raise NotFound("mailbox_not_found", f"no mailbox {mailbox}", mailbox=mailbox)
    try:
        await vm.set_pin(mailbox, body.pin)
    except VoicemailError as exc:
        raise Invalid("pin_invalid", str(exc)) from None


@router.get("/voicemails/{recording_id}/audio")
async def get_audio(recording_id: RowId, _: SupervisorUser, services: ServicesDep) -> FileResponse:
    """The message's WAV."""
    vm, message_id = voicemail(services), recording_id
    msg = await vm.store.message(message_id)
    path = vm.data_dir / msg.path if msg is not None else None
    if msg is None or msg.state != "ready" or path is None or not path.exists():
        raise NotFound("voicemail_not_found", f"no voicemail {message_id}", id=message_id)
    return FileResponse(path, media_type="audio/wav")


@router.delete("/voicemails/{recording_id}", status_code=204)
async def delete_voicemail(recording_id: RowId, _: AdminUser, services: ServicesDep) -> None:
    """Delete a message and its file (the owner's phone gets MWI)."""
    if await voicemail(services).delete_message(recording_id) is None:
        raise NotFound("voicemail_not_found", f"no voicemail {recording_id}", id=recording_id)
