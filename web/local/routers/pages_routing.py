"""Admin pages: trunks (live status), outbound routes, toll-fraud limits, recording policy (forms post, redirect).

Handlers are thin: a form becomes the API's request model and goes through the same functions
the API uses (`api_trunks.save_trunk` ...), so a refusal carries the API's error id and reason
and writes nothing.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from appliance.web_services.errors import Invalid
from appliance.web_services.rules import Role
from web.local.deps import AdminUser, FormDep, ServicesDep, SupervisorUser, Tr
from web.local.forms import Form
from web.local.render import render
from web.local.routers import api_trunks as api
from web.local.routers.api_recording_policy import policy_service

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)
KINDS = ("sip", "gsm")
CLASSES = ("internal", "local", "national", "international", "premium")
CALLER_ID_MODES = ("keep", "fixed", "rewrite")


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def model(cls: type[M], data: dict[str, Any]) -> M:
    """A form's fields as the API's request model; a schema error names the field and the reason."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "form"
        raise Invalid(f"{field.split('.')[0]}_invalid", f"{field}: {first.get('msg', 'invalid')}",
                      field=field) from None


def split_list(text: str) -> list[str]:
    """Items typed in order, separated by commas, spaces or new lines."""
    return [m for m in re.split(r"[\s,;]+", text.strip()) if m]


def lines(text: str) -> list[str]:
    """Non-empty lines."""
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _number(form: Form, name: str, default: str) -> str:
    return form.get(name, default).strip() or default


# ----- trunks -----

def trunk_fields(form: Form) -> dict[str, Any]:
    """The trunk form as the API's body (an empty password keeps the stored one)."""
    return {
        "kind": form.get("kind", "sip"), "host": form.get("host").strip(), "port": _number(form, "port", "5060"),
        "transport": form.get("transport", "udp"), "username": form.get("username").strip() or None,
        "password": form.get("password") or None, "enabled": form.flag("enabled"),
        "answer_timeout_s": _number(form, "answer_timeout_s", "4"), "health_check": form.flag("health_check"),
    }


@router.get("/trunks")
async def trunks_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """SIP and GSM trunks with their live status; admins create, edit, enable/disable and delete."""
    svc = api.service_of(services)
    trunks = await api.list_trunks(auth, services)
    status = {s.name: s for s in api.trunk_status(svc)}
    used = {t: [r.name for r in svc.config.routes if t in r.trunks] for t in svc.config.trunks}
    return render(request, "trunks.html", tr, auth, trunks=trunks, status=status, used=used,
                  kinds=KINDS, can_edit=auth.user.role is Role.ADMIN)


@router.post("/trunks")
async def trunk_create(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Create a trunk."""
    body = model(api.TrunkCreate, {"name": form.get("name").strip(), **trunk_fields(form)})
    await api.save_trunk(api.service_of(services), auth, body.name, body, create=True)
    return _back("/trunks")


@router.post("/trunks/{name}")
async def trunk_update(name: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Change a trunk (a blank password keeps the stored one)."""
    body = model(api.TrunkIn, trunk_fields(form))
    await api.save_trunk(api.service_of(services), auth, name, body, create=False)
    return _back("/trunks")


@router.post("/trunks/{name}/enabled")
async def trunk_enable(name: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Enable or disable a trunk, keeping every other setting."""
    current = await api.get_trunk(name, auth, services)
    body = model(api.TrunkIn, {**current.model_dump(include=set(api.TrunkIn.model_fields) - {"password"}),
                               "enabled": form.flag("enabled")})
    await api.save_trunk(api.service_of(services), auth, name, body, create=False)
    return _back("/trunks")


@router.post("/trunks/{name}/delete")
async def trunk_delete(name: str, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete a trunk no route uses."""
    await api.remove_trunk(api.service_of(services), auth, name)
    return _back("/trunks")


# ----- outbound routes and toll-fraud limits -----

def route_fields(form: Form) -> dict[str, Any]:
    """The route form as the API's body: trunks in failover order, a caller-ID rule per trunk kind."""
    caller_id: dict[str, dict[str, str]] = {}
    for kind in KINDS:  # only the fields the chosen rule uses; "keep" needs no rule at all
        mode = form.get(f"cid_{kind}_mode", "keep")
        if mode == "fixed":
            caller_id[kind] = {"mode": mode, "number": form.get(f"cid_{kind}_number").strip()}
        elif mode != "keep":
            caller_id[kind] = {"mode": mode, "strip": _number(form, f"cid_{kind}_strip", "0"),
                               "prefix": form.get(f"cid_{kind}_prefix").strip()}
    return {
        "pattern": form.get("pattern").strip(), "trunks": split_list(form.get("trunks")), "caller_id": caller_id,
        "strip": _number(form, "strip", "0"), "prepend": form.get("prepend").strip(),
        "ring_seconds": _number(form, "ring_seconds", "60"), "record": form.flag("record"),
        "priority": _number(form, "priority", "100"),
    }


def policy_fields(form: Form, extensions: list[str]) -> dict[str, Any]:
    """The toll-fraud form: allowed patterns and blocked prefixes one a line, a class per extension."""
    blocked = []
    for ln in lines(form.get("blocked")):
        parts = ln.split()
        if len(parts) != 2:
            raise Invalid("blocked_invalid", f"{ln!r}: write a prefix and the class it needs, e.g. '00 international'",
                          field="blocked")
        blocked.append({"prefix": parts[0], "needs": parts[1]})
    classes = {ext: form.get(f"class_{ext}") for ext in extensions if form.get(f"class_{ext}")}
    return {"allowed_patterns": lines(form.get("allowed_patterns")), "blocked": blocked,
            "default_class": form.get("default_class", "national"), "classes": classes,
            "max_calls_per_hour": _number(form, "max_calls_per_hour", "30")}


@router.get("/routes")
async def routes_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Outbound routes (pattern, trunk order, caller-ID rules) and the toll-fraud limits."""
    svc = api.service_of(services)
    extensions = [e.number for e in await services.directory.extensions()]
    return render(request, "routes.html", tr, auth, routes=api.routes_of(svc), trunks=list(svc.config.trunks),
                  policy=api.policy_of(svc), extensions=extensions, kinds=KINDS, classes=CLASSES,
                  modes=CALLER_ID_MODES, can_edit=auth.user.role is Role.ADMIN)


@router.post("/routes")
async def route_create(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Create an outbound route."""
    body = model(api.RouteCreate, {"name": form.get("name").strip(), **route_fields(form)})
    await api.save_route(api.service_of(services), auth, body.name, body, create=True)
    return _back("/routes")


@router.post("/routes/{name}")
async def route_update(name: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Change an outbound route."""
    body = model(api.RouteIn, route_fields(form))
    await api.save_route(api.service_of(services), auth, name, body, create=False)
    return _back("/routes")


@router.post("/routes/{name}/delete")
async def route_delete(name: str, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete an outbound route."""
    await api.remove_route(api.service_of(services), auth, name)
    return _back("/routes")


@router.post("/toll-policy")
async def toll_update(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Replace the toll-fraud limits."""
    extensions = [e.number for e in await services.directory.extensions()]
    body = model(api.TollPolicyIn, policy_fields(form, extensions))
    await api.save_policy(api.service_of(services), auth, body)
    return _back("/routes#toll")


# ----- recording policy and retention -----

@router.get("/recording-policy")
async def recording_policy_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Per queue: recorded or not, retention days; the default for other calls; the sweep."""
    view = await policy_service(services).view()
    return render(request, "recording_policy.html", tr, auth, policy=view, can_edit=auth.user.role is Role.ADMIN,
                  swept=request.query_params.get("swept"))


@router.post("/recording-policy")
async def recording_policy_update(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Set the default and each queue's retention days (blank: the queue follows the default)."""
    svc = policy_service(services)
    queues = [q.number for q in (await svc.view()).queues]
    days: dict[str, int | None] = {}
    for number in queues:
        raw = form.get(f"days_{number}").strip()
        days[number] = None if raw == "" else form.integer(f"days_{number}", 0)
    await svc.set_retention(auth.actor, form.integer("default_days", 0), days)
    return _back("/recording-policy")


@router.post("/recording-policy/record/{number}")
async def recording_policy_record(number: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Switch a queue's recording on or off."""
    await policy_service(services).set_record(auth.actor, number, form.flag("record"))
    return _back("/recording-policy")


@router.post("/recording-policy/hold")
async def recording_policy_hold(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Put a recording on legal hold, or release it."""
    recording_id = form.integer("recording_id", 0)
    if not 1 <= recording_id <= 2**63 - 1:
        raise Invalid("recording_id_invalid", "give the recording's number (from the recordings page)",
                      field="recording_id")
    await policy_service(services).set_hold(auth.actor, recording_id, form.flag("hold"))
    return _back("/recording-policy")


@router.post("/recording-policy/sweep")
async def recording_policy_sweep(_: AdminUser, services: ServicesDep) -> Response:
    """Run the retention sweep now."""
    r = await policy_service(services).sweep()
    return _back(f"/recording-policy?swept={r.purged}")
