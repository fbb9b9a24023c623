"""Request and response bodies of the REST API: XCreate / XUpdate / XPublic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorPublic(BaseModel):
    """Every refusal: a stable id to branch on, a sentence for people, details for machines."""

    error_id: str
    message: str
    details: dict[str, Any] = {}


class LoginCreate(_In):
    """Username and password."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class SetupCreate(LoginCreate):
    """The first admin (accepted only while no admin exists)."""


class SessionPublic(BaseModel):
    """The logged-in user; pages send `csrf_token` back in the X-CSRF-Token header."""

    username: str
    role: str
    csrf_token: str


class MePublic(BaseModel):
    """Who the caller is."""

    id: int
    username: str
    role: str
    via: str


class TokenPublic(BaseModel):
    """An API bearer token, shown this once."""

    token: str


class ExtensionCreate(_In):
    """A new extension: 2-8 digits, not a ring group or feature code."""

    number: str = Field(max_length=16)
    display_name: str = Field(default="", max_length=200)


class ExtensionUpdate(_In):
    """Rename, enable or disable."""

    display_name: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class ExtensionPublic(BaseModel):
    """An extension (credentials never shown after creation)."""

    number: str
    display_name: str
    enabled: bool


class ExtensionCreated(ExtensionPublic):
    """A new extension with its SIP password, shown this once."""

    sip_password: str


class SipPasswordPublic(BaseModel):
    """A new SIP password, shown this once."""

    number: str
    sip_password: str


class RingGroupCreate(_In):
    """A number that hunts extensions in order."""

    number: str = Field(max_length=16)
    name: str = Field(max_length=200)
    members: list[str] = Field(max_length=64)
    ring_seconds: int = 15
    record: bool = True


class RingGroupUpdate(_In):
    """Change what is given."""

    name: str | None = Field(default=None, max_length=200)
    members: list[str] | None = Field(default=None, max_length=64)
    ring_seconds: int | None = None
    record: bool | None = None


class RingGroupPublic(BaseModel):
    """A ring group and its members in hunt order."""

    number: str
    name: str
    members: list[str]
    ring_seconds: int
    record: bool


class UserCreate(_In):
    """A web user with a role (admin, supervisor, agent)."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    role: str = Field(max_length=16)


class UserUpdate(_In):
    """Change role, enabled flag or password."""

    role: str | None = Field(default=None, max_length=16)
    enabled: bool | None = None
    password: str | None = Field(default=None, max_length=256)


class UserPublic(BaseModel):
    """A web user (never a hash)."""

    id: int
    username: str
    role: str
    enabled: bool
    has_token: bool


class CdrPublic(BaseModel):
    """One call attempt."""

    id: int
    call_id: str
    kind: str
    caller: str
    callee: str
    answered_by: str | None
    worker: str | None
    started_at: str
    answered_at: str | None
    ended_at: str | None
    duration_s: float
    sip_code: int | None
    cause: str
    recording_id: int | None


class RecordingPublic(BaseModel):
    """An indexed recording; fetch its audio by id."""

    id: int
    call_id: str
    parties: list[str]
    started_at: str
    duration_s: float
    size_bytes: int
    sha256: str
    channels: int
    expired_at: str | None = None  # set once the retention policy removed the file (audio answers 410)
    legal_hold: bool = False


class AlarmPublic(BaseModel):
    """An alarm, open while `cleared_at` is null."""

    id: int
    raised_at: str
    cleared_at: str | None
    severity: str
    code: str
    message: str


class ServiceEventPublic(BaseModel):
    """A supervisor event: a child started, died, restarted."""

    id: int
    at: str
    service: str
    event: str
    detail: str


class AuditPublic(BaseModel):
    """One audit log row."""

    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    source: str


class WorkerPublic(BaseModel):
    """A media worker and the legs reserved on it."""

    name: str
    legs_reserved: int
    capacity: int


class StatusPublic(BaseModel):
    """The box at a glance."""

    workers: list[WorkerPublic]
    sessions: int
    open_alarms: int
    load_average: list[float]
    disk_free_bytes: int
    disk_total_bytes: int


class TlsUpdate(_In):
    """An uploaded certificate (PEM, chain allowed) and its unencrypted private key (PEM)."""

    certificate: str = Field(max_length=65536)
    key: str = Field(max_length=16384)


class TlsPublic(BaseModel):
    """The certificate in use."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    sha256: str
