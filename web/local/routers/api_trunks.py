"""API: trunks with live status, outbound routes, toll-fraud limits (admins change, supervisors read)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Literal, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, Field

from appliance.controller.outbound import TrunkService, find_service
from appliance.domain.clock import iso
from appliance.trunks.model import (
    CallerIdMode,
    CallerIdRule,
    OutboundRoute,
    Transport,
    Trunk,
    TrunkError,
    TrunkKind,
)
from appliance.trunks.tollfraud import BlockedPrefix, PermissionClass, TollPolicy
from appliance.web_services.errors import Invalid, NotFound
from web.local.deps import AdminUser, Auth, ServicesDep, SupervisorUser
from web.local.models import _In

router = APIRouter(prefix="/api/v1", tags=["trunks"])
T = TypeVar("T")
Kind = Literal["sip", "gsm"]
Class = Literal["internal", "local", "national", "international", "premium"]


class TrunkIn(_In):
    """A trunk: where it is, and the digest credentials that answer its challenge."""

    kind: Kind = "sip"
    host: str = Field(max_length=253)
    port: int = 5060
    transport: Literal["udp", "tcp"] = "udp"
    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=128)  # None keeps the stored one
    enabled: bool = True
    answer_timeout_s: float = 4.0
    health_check: bool = True


class TrunkCreate(TrunkIn):
    """A new trunk."""

    name: str = Field(max_length=32)


class TrunkPublic(BaseModel):
    """A trunk with its live health (never its password)."""

    name: str
    kind: str
    host: str
    port: int
    transport: str
    username: str | None
    has_password: bool
    enabled: bool
    answer_timeout_s: float
    health_check: bool
    state: str  # unknown | up | down
    last_code: int | None


class CallerIdIn(_In):
    """Caller-ID rule for one trunk kind."""

    mode: Literal["keep", "fixed", "rewrite"] = "keep"
    number: str = Field(default="", max_length=21)
    strip: int = 0
    prefix: str = Field(default="", max_length=21)


class RouteIn(_In):
    """An outbound route: pattern, trunks in failover order, caller-ID rules per trunk kind."""

    pattern: str = Field(max_length=200)
    trunks: list[str] = Field(max_length=8)
    caller_id: dict[Kind, CallerIdIn] = Field(default_factory=dict)
    strip: int = 0
    prepend: str = Field(default="", max_length=13)
    ring_seconds: int = 60
    record: bool = True
    priority: int = 100


class RouteCreate(RouteIn):
    """A new outbound route."""

    name: str = Field(max_length=32)


class RoutePublic(RouteIn):
    """An outbound route as stored."""

    name: str


class BlockedIn(_In):
    """A prefix that needs at least a permission class."""

    prefix: str = Field(max_length=13)
    needs: Class


class TollPolicyIn(_In):
    """Toll-fraud limits: allowed destinations, blocked prefixes, classes, calls per hour."""

    allowed_patterns: list[str] = Field(max_length=32)
    blocked: list[BlockedIn] = Field(max_length=64)
    default_class: Class = "national"
    classes: dict[str, Class] = Field(default_factory=dict, max_length=2000)
    max_calls_per_hour: int = 30


def _service(services: ServicesDep) -> TrunkService:
    return find_service(services.ctl.sessions.flows)


async def _checked(coro: Awaitable[T]) -> T:
    """Domain refusals become 422 with the field; unknown names 404."""
    try:
        return await coro
    except TrunkError as exc:
        raise Invalid(f"{exc.field.replace('.', '_')}_invalid", exc.message, field=exc.field) from None
    except KeyError as exc:
        raise NotFound("not_found", f"{exc.args[0]!r} does not exist", name=str(exc.args[0])) from None


def _build(fn: type[T], *args: object, **kwargs: object) -> T:
    try:
        return fn(*args, **kwargs)
    except TrunkError as exc:
        raise Invalid(f"{exc.field.replace('.', '_')}_invalid", exc.message, field=exc.field) from None


def _trunk_public(svc: TrunkService, t: Trunk, has_password: bool) -> TrunkPublic:
    h = svc.monitor.health.get(t.name)
    return TrunkPublic(
        name=t.name, kind=t.kind.value, host=t.host, port=t.port, transport=t.transport.value, username=t.username,
        has_password=has_password, enabled=t.enabled, answer_timeout_s=t.answer_timeout_s,
        health_check=t.health_check, state=h.state.value if h else "unknown", last_code=h.last_code if h else None,
    )


def _trunk(name: str, body: TrunkIn) -> Trunk:
    return _build(Trunk, name, TrunkKind(body.kind), body.host, body.port, Transport(body.transport),
                  body.username, body.enabled, body.answer_timeout_s, body.health_check)


def _route(name: str, body: RouteIn) -> OutboundRoute:
    cid = {TrunkKind(k): _build(CallerIdRule, CallerIdMode(r.mode), r.number, r.strip, r.prefix)
           for k, r in body.caller_id.items()}
    return _build(OutboundRoute, name, body.pattern, tuple(body.trunks), cid, body.strip, body.prepend,
                  body.ring_seconds, body.record, body.priority)


def _route_public(r: OutboundRoute) -> RoutePublic:
    return RoutePublic(
        name=r.name, pattern=r.pattern, trunks=list(r.trunks),
        caller_id={k.value: CallerIdIn(mode=c.mode.value, number=c.number, strip=c.strip, prefix=c.prefix)
                   for k, c in r.caller_id.items()},
        strip=r.strip, prepend=r.prepend, ring_seconds=r.ring_seconds, record=r.record, priority=r.priority,
    )


async def _audit(svc: TrunkService, auth: Auth, action: str, target: str, **detail: object) -> None:
    await svc.store.audit(svc.clock.now(), auth.actor.username, auth.actor.source, action, target, **detail)


class TrunkStatusPublic(BaseModel):
    """A trunk's live health for the status poll: state, last OPTIONS/call answer, since when."""

    name: str
    kind: str
    enabled: bool
    health_check: bool
    state: str  # unknown | up | down
    last_code: int | None
    since: str | None  # UTC time of the last state change (None while unknown)


def service_of(services: ServicesDep) -> TrunkService:
    """The trunk service (the same one the API uses), for the pages."""
    return _service(services)


def trunk_status(svc: TrunkService) -> list[TrunkStatusPublic]:
    """Every trunk's live state; `since` is derived from the monitor's monotonic change time."""
    now, mono = svc.clock.now(), svc.clock.monotonic()
    out = []
    for t in svc.config.trunks.values():
        h = svc.monitor.health.get(t.name)
        state = h.state.value if h else "unknown"
        since = iso(now - timedelta(seconds=max(0.0, mono - h.changed_at))) if h and state != "unknown" else None
        out.append(TrunkStatusPublic(name=t.name, kind=t.kind.value, enabled=t.enabled, health_check=t.health_check,
                                     state=state, last_code=h.last_code if h else None, since=since))
    return out


async def save_trunk(svc: TrunkService, auth: Auth, name: str, body: TrunkIn, *, create: bool) -> TrunkPublic:
    """Create or replace a trunk (checked, audited); the page and the API do the same."""
    if not create and name not in svc.config.trunks:
        raise NotFound("trunk_not_found", f"no trunk {name!r}", name=name)
    trunk = await _checked(svc.save_trunk(_trunk(name, body), body.password, create=create))
    if create:
        await _audit(svc, auth, "trunk.create", trunk.name, host=trunk.address, kind=trunk.kind.value)
    else:
        await _audit(svc, auth, "trunk.update", name, host=trunk.address, enabled=trunk.enabled,
                     password_changed=body.password is not None)
    return _trunk_public(svc, trunk, await svc.store.password(trunk.name) is not None)


async def remove_trunk(svc: TrunkService, auth: Auth, name: str) -> None:
    """Delete a trunk no outbound route uses (audited)."""
    await _checked(svc.delete_trunk(name))
    await _audit(svc, auth, "trunk.delete", name)


async def save_route(svc: TrunkService, auth: Auth, name: str, body: RouteIn, *, create: bool) -> RoutePublic:
    """Create or replace an outbound route (checked, audited)."""
    route = await _checked(svc.save_route(_route(name, body), create=create))
    await _audit(svc, auth, "outbound_route.create" if create else "outbound_route.update", route.name,
                 pattern=route.pattern, trunks=list(route.trunks))
    return _route_public(route)


async def remove_route(svc: TrunkService, auth: Auth, name: str) -> None:
    """Delete an outbound route (audited)."""
    await _checked(svc.delete_route(name))
    await _audit(svc, auth, "outbound_route.delete", name)


def routes_of(svc: TrunkService) -> list[RoutePublic]:
    """Every outbound route as the API shows it."""
    return [_route_public(r) for r in svc.config.routes]


@router.get("/trunk-status")
async def get_trunk_status(_: SupervisorUser, services: ServicesDep) -> list[TrunkStatusPublic]:
    """Live trunk health (up, down, unknown), the last answer and since when; polled by the trunks page."""
    return trunk_status(_service(services))


# ----- trunks -----

@router.get("/trunks")
async def list_trunks(_: SupervisorUser, services: ServicesDep) -> list[TrunkPublic]:
    """Every trunk with its live state (up, down, unknown)."""
    svc = _service(services)
    return [_trunk_public(svc, t, await svc.store.password(t.name) is not None) for t in svc.config.trunks.values()]


@router.get("/trunks/{name}")
async def get_trunk(name: str, _: SupervisorUser, services: ServicesDep) -> TrunkPublic:
    """One trunk with its live state."""
    svc = _service(services)
    t = svc.config.trunks.get(name)
    if t is None:
        raise NotFound("trunk_not_found", f"no trunk {name!r}", name=name)
    return _trunk_public(svc, t, await svc.store.password(name) is not None)


@router.post("/trunks", status_code=201)
async def create_trunk(body: TrunkCreate, auth: AdminUser, services: ServicesDep) -> TrunkPublic:
    """Create a trunk; calls may use it at once."""
    return await save_trunk(_service(services), auth, body.name, body, create=True)


@router.put("/trunks/{name}")
async def replace_trunk(name: str, body: TrunkIn, auth: AdminUser, services: ServicesDep) -> TrunkPublic:
    """Replace a trunk's settings (the stored password is kept unless a new one is given)."""
    return await save_trunk(_service(services), auth, name, body, create=False)


@router.delete("/trunks/{name}", status_code=204)
async def delete_trunk(name: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete a trunk no outbound route uses."""
    await remove_trunk(_service(services), auth, name)


# ----- outbound routes -----

@router.get("/outbound-routes")
async def list_routes(_: SupervisorUser, services: ServicesDep) -> list[RoutePublic]:
    """Every outbound route."""
    return routes_of(_service(services))


@router.post("/outbound-routes", status_code=201)
async def create_route(body: RouteCreate, auth: AdminUser, services: ServicesDep) -> RoutePublic:
    """Create an outbound route; matching numbers leave by it at once."""
    return await save_route(_service(services), auth, body.name, body, create=True)


@router.put("/outbound-routes/{name}")
async def replace_route(name: str, body: RouteIn, auth: AdminUser, services: ServicesDep) -> RoutePublic:
    """Replace an outbound route."""
    return await save_route(_service(services), auth, name, body, create=False)


@router.delete("/outbound-routes/{name}", status_code=204)
async def delete_route(name: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete an outbound route."""
    await remove_route(_service(services), auth, name)


# ----- toll-fraud limits -----

def _policy_public(p: TollPolicy) -> TollPolicyIn:
    return TollPolicyIn(
        allowed_patterns=list(p.allowed_patterns),
        blocked=[BlockedIn(prefix=b.prefix, needs=b.needs.value) for b in p.blocked],
        default_class=p.default_class.value, classes={k: v.value for k, v in p.classes.items()},
        max_calls_per_hour=p.max_calls_per_hour,
    )


@router.get("/toll-policy")
async def get_policy(_: SupervisorUser, services: ServicesDep) -> TollPolicyIn:
    """The toll-fraud limits."""
    return _policy_public(_service(services).config.policy)


async def save_policy(svc: TrunkService, auth: Auth, body: TollPolicyIn) -> TollPolicyIn:
    """Replace the toll-fraud limits (checked, audited; applied to the next call)."""
    blocked = tuple(_build(BlockedPrefix, b.prefix, PermissionClass(b.needs)) for b in body.blocked)
    policy = _build(TollPolicy, tuple(body.allowed_patterns), blocked, PermissionClass(body.default_class),
                    {k: PermissionClass(v) for k, v in body.classes.items()}, body.max_calls_per_hour)
    await _checked(svc.save_policy(policy))
    await _audit(svc, auth, "toll_policy.update", "toll_policy", max_calls_per_hour=policy.max_calls_per_hour)
    return _policy_public(policy)


def policy_of(svc: TrunkService) -> TollPolicyIn:
    """The toll-fraud limits as the API shows them."""
    return _policy_public(svc.config.policy)


@router.put("/toll-policy")
async def put_policy(body: TollPolicyIn, auth: AdminUser, services: ServicesDep) -> TollPolicyIn:
    """Replace the toll-fraud limits (applied to the next call)."""
    return await save_policy(_service(services), auth, body)
