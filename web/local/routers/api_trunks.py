"""API: trunks with live status, outbound routes, toll-fraud limits (admins change, supervisors read)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, Field

from appliance.controller.outbound import TrunkService, find_service
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
    svc = _service(services)
    trunk = await _checked(svc.save_trunk(_trunk(body.name, body), body.password, create=True))
    await _audit(svc, auth, "trunk.create", trunk.name, host=trunk.address, kind=trunk.kind.value)
    return _trunk_public(svc, trunk, body.password is not None)


@router.put("/trunks/{name}")
async def replace_trunk(name: str, body: TrunkIn, auth: AdminUser, services: ServicesDep) -> TrunkPublic:
    """Replace a trunk's settings (the stored password is kept unless a new one is given)."""
    svc = _service(services)
    if name not in svc.config.trunks:
        raise NotFound("trunk_not_found", f"no trunk {name!r}", name=name)
    trunk = await _checked(svc.save_trunk(_trunk(name, body), body.password, create=False))
    await _audit(svc, auth, "trunk.update", name, host=trunk.address, enabled=trunk.enabled,
                 password_changed=body.password is not None)
    return _trunk_public(svc, trunk, await svc.store.password(name) is not None)


@router.delete("/trunks/{name}", status_code=204)
async def delete_trunk(name: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete a trunk no outbound route uses."""
    svc = _service(services)
    await _checked(svc.delete_trunk(name))
    await _audit(svc, auth, "trunk.delete", name)


# ----- outbound routes -----

@router.get("/outbound-routes")
async def list_routes(_: SupervisorUser, services: ServicesDep) -> list[RoutePublic]:
    """Every outbound route."""
    return [_route_public(r) for r in _service(services).config.routes]


@router.post("/outbound-routes", status_code=201)
async def create_route(body: RouteCreate, auth: AdminUser, services: ServicesDep) -> RoutePublic:
    """Create an outbound route; matching numbers leave by it at once."""
    svc = _service(services)
    route = await _checked(svc.save_route(_route(body.name, body), create=True))
    await _audit(svc, auth, "outbound_route.create", route.name, pattern=route.pattern, trunks=list(route.trunks))
    return _route_public(route)


@router.put("/outbound-routes/{name}")
async def replace_route(name: str, body: RouteIn, auth: AdminUser, services: ServicesDep) -> RoutePublic:
    """Replace an outbound route."""
    svc = _service(services)
    route = await _checked(svc.save_route(_route(name, body), create=False))
    await _audit(svc, auth, "outbound_route.update", name, pattern=route.pattern, trunks=list(route.trunks))
    return _route_public(route)


@router.delete("/outbound-routes/{name}", status_code=204)
async def delete_route(name: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete an outbound route."""
    svc = _service(services)
    await _checked(svc.delete_route(name))
    await _audit(svc, auth, "outbound_route.delete", name)


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


@router.put("/toll-policy")
async def put_policy(body: TollPolicyIn, auth: AdminUser, services: ServicesDep) -> TollPolicyIn:
    """Replace the toll-fraud limits (applied to the next call)."""
    svc = _service(services)
    blocked = tuple(_build(BlockedPrefix, b.prefix, PermissionClass(b.needs)) for b in body.blocked)
    policy = _build(TollPolicy, tuple(body.allowed_patterns), blocked, PermissionClass(body.default_class),
                    {k: PermissionClass(v) for k, v in body.classes.items()}, body.max_calls_per_hour)
    await _checked(svc.save_policy(policy))
    await _audit(svc, auth, "toll_policy.update", "toll_policy", max_calls_per_hour=policy.max_calls_per_hour)
    return _policy_public(policy)
