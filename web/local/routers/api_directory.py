"""API: extensions and ring groups (admins change, supervisors read)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from web.local.deps import AdminUser, ServicesDep, SupervisorUser
from web.local.models import (
    ExtensionCreate,
    ExtensionCreated,
    ExtensionPublic,
    ExtensionUpdate,
    RingGroupCreate,
    RingGroupPublic,
    RingGroupUpdate,
    SipPasswordPublic,
)

router = APIRouter(prefix="/api/v1", tags=["directory"])


@router.get("/extensions")
async def list_extensions(_: SupervisorUser, services: ServicesDep) -> list[ExtensionPublic]:
    """Every extension."""
    return [ExtensionPublic(**asdict(e)) for e in await services.directory.extensions()]


@router.post("/extensions", status_code=201)
async def create_extension(body: ExtensionCreate, auth: AdminUser, services: ServicesDep) -> ExtensionCreated:
    """Create an extension; its SIP password is in this answer only."""
    ext, password = await services.directory.create_extension(auth.actor, body.number, body.display_name)
    return ExtensionCreated(**asdict(ext), sip_password=password)


@router.get("/extensions/{number}")
async def get_extension(number: str, _: SupervisorUser, services: ServicesDep) -> ExtensionPublic:
    """One extension."""
    return ExtensionPublic(**asdict(await services.directory.extension(number)))


@router.patch("/extensions/{number}")
async def update_extension(number: str, body: ExtensionUpdate, auth: AdminUser,
                           services: ServicesDep) -> ExtensionPublic:
    """Rename, enable or disable an extension."""
    ext = await services.directory.update_extension(auth.actor, number, display_name=body.display_name,
                                                    enabled=body.enabled)
    return ExtensionPublic(**asdict(ext))


@router.post("/extensions/{number}/password")
async def reset_extension_password(number: str, auth: AdminUser, services: ServicesDep) -> SipPasswordPublic:
    """A new SIP password (shown once; the old one stops working)."""
    return SipPasswordPublic(number=number, sip_password=await services.directory.reset_password(auth.actor, number))


@router.delete("/extensions/{number}", status_code=204)
async def delete_extension(number: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete an extension (it leaves its ring groups)."""
    await services.directory.delete_extension(auth.actor, number)


@router.get("/ring-groups")
async def list_ring_groups(_: SupervisorUser, services: ServicesDep) -> list[RingGroupPublic]:
    """Every ring group."""
    return [RingGroupPublic(**asdict(g)) for g in await services.directory.ring_groups()]


@router.post("/ring-groups", status_code=201)
async def create_ring_group(body: RingGroupCreate, auth: AdminUser, services: ServicesDep) -> RingGroupPublic:
    """Create a ring group."""
    g = await services.directory.create_ring_group(auth.actor, body.number, body.name, body.members,
                                                   body.ring_seconds, body.record)
    return RingGroupPublic(**asdict(g))


@router.get("/ring-groups/{number}")
async def get_ring_group(number: str, _: SupervisorUser, services: ServicesDep) -> RingGroupPublic:
    """One ring group."""
    return RingGroupPublic(**asdict(await services.directory.ring_group(number)))


@router.patch("/ring-groups/{number}")
async def update_ring_group(number: str, body: RingGroupUpdate, auth: AdminUser,
                            services: ServicesDep) -> RingGroupPublic:
    """Change a ring group's name, members and order, ring seconds or recording."""
    g = await services.directory.update_ring_group(auth.actor, number, name=body.name, members=body.members,
                                                   ring_seconds=body.ring_seconds, record=body.record)
    return RingGroupPublic(**asdict(g))


@router.delete("/ring-groups/{number}", status_code=204)
async def delete_ring_group(number: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete a ring group."""
    await services.directory.delete_ring_group(auth.actor, number)
