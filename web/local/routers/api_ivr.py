"""API: IVR menus and DIDs (admins change, supervisors read); changes route at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from appliance.controller.ivr import IvrError, IvrService
from appliance.controller.voicemail import features_of
from appliance.storage.ivr import DidRow, IvrRow
from appliance.web_services.errors import Invalid, NotFound
from appliance.web_services.ivr_admin import IvrAdmin
from appliance.web_services.tx import Writer
from web.local.deps import AdminUser, ServicesDep, SupervisorUser
from web.local.services import Services

router = APIRouter(prefix="/api/v1", tags=["ivr"])


class IvrUpdate(BaseModel):
    """An IVR's name, prompt language and menu configuration (entry, menus, switches)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    language: str = Field(default="en", max_length=12)
    config: dict[str, Any]


class IvrPublic(BaseModel):
    """An IVR as stored."""

    number: str
    name: str
    language: str
    config: dict[str, Any]


class DidUpdate(BaseModel):
    """Where a DID's calls go: queue:N, ivr:N, extension:N or voicemail:N."""

    model_config = ConfigDict(extra="forbid")
    destination: str = Field(max_length=40)
    note: str = Field(default="", max_length=200)


class DidPublic(BaseModel):
    """A DID as stored."""

    did: str
    destination: str
    note: str


def ivr_service(services: Services) -> IvrService:
    """The controller's IVR service."""
    return features_of(services.ctl.sessions).ivr


def ivr_admin(services: Services) -> IvrAdmin:
    """IVR, DID, prompt and mailbox changes, audited."""
    return IvrAdmin(Writer(services.ctl.settings.db_path), services.clock, lambda: ivr_service(services),
                    lambda: features_of(services.ctl.sessions).voicemail)


def _invalid(exc: IvrError, error_id: str) -> Invalid:
    return Invalid(error_id, str(exc), problems=exc.problems)


@router.get("/ivrs")
async def list_ivrs(_: SupervisorUser, services: ServicesDep) -> list[IvrPublic]:
    """Every IVR."""
    return [IvrPublic(**vars(r)) for r in await ivr_service(services).store.ivrs()]


@router.get("/ivrs/{number}")
async def get_ivr(number: str, _: SupervisorUser, services: ServicesDep) -> IvrPublic:
    """One IVR."""
    row = await ivr_service(services).store.ivr(number)
    if row is None:
        raise NotFound("ivr_not_found", f"no IVR {number}", number=number)
    return IvrPublic(**vars(row))


@router.put("/ivrs/{number}")
async def put_ivr(number: str, body: IvrUpdate, auth: AdminUser, services: ServicesDep) -> IvrPublic:
    """Create or replace an IVR; every problem of a bad one is listed and nothing is written."""
    try:
        row = await ivr_admin(services).save_ivr(auth.actor, IvrRow(number, body.name, body.language, body.config))
    except IvrError as exc:
        raise _invalid(exc, "ivr_invalid") from None
    return IvrPublic(**vars(row))


@router.delete("/ivrs/{number}", status_code=204)
async def delete_ivr(number: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete an IVR (refused while a DID points to it)."""
    await ivr_admin(services).delete_ivr(auth.actor, number)


@router.get("/dids")
async def list_dids(_: SupervisorUser, services: ServicesDep) -> list[DidPublic]:
    """Every DID."""
    return [DidPublic(**vars(r)) for r in await ivr_service(services).store.dids()]


@router.put("/dids/{number}")
async def put_did(number: str, body: DidUpdate, auth: AdminUser, services: ServicesDep) -> DidPublic:
    """Create or replace a DID."""
    try:
        row = await ivr_admin(services).save_did(auth.actor, DidRow(number, body.destination, body.note))
    except IvrError as exc:
        raise _invalid(exc, "did_invalid") from None
    return DidPublic(**vars(row))


@router.delete("/dids/{number}", status_code=204)
async def delete_did(number: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete a DID."""
    if not await ivr_admin(services).delete_did(auth.actor, number):
        raise NotFound("did_not_found", f"no DID {number}", did=number)
