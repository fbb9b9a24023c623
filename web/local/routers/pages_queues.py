"""Queues admin page: admins create, edit and delete queues and set agents' skills; supervisors view.

The forms go through the same body model and service as `PUT /api/v1/queues/{number}`, so a page
refusal has the API's reason and, like it, writes nothing.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from appliance.storage.queues import QueueRow
from appliance.web_services.errors import Invalid
from appliance.web_services.rules import Role
from web.local.deps import AdminUser, Auth, FormDep, ServicesDep, SupervisorUser, Tr
from web.local.forms import Form
from web.local.render import render
from web.local.routers.api_queues import AgentSkills, QueueBody, QueueCreate, public

router = APIRouter(include_in_schema=False)

STRATEGIES = ["leastrecent", "fewestcalls", "rrmemory", "linear", "random", "wrandom", "ringall"]
EMPTY_RULES = ["never", "no_agent_logged_in", "no_agent_ready"]
LANGUAGES = ["en", "he", "ar", "pl", "zh"]
# Optional numbers and texts: an empty field means "not set" (or the default).
_FIELDS = ("name", "strategy", "wrap_up_s", "ring_timeout_s", "max_wait_s", "on_timeout", "language",
           "max_misses", "position_every_s", "periodic_prompt", "periodic_every_s", "default_aht_s",
           "callback_after_s", "callback_max_attempts", "callback_retry_s", "max_len", "on_full", "join_empty",
           "leave_when_empty", "on_empty")
_SKILL = re.compile(r"^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$")
EXTRA_MEMBER_ROWS = 3
EXTRA_TIER_ROWS = 2


def parse_skills(text: str, field: str) -> dict[str, Any]:
    """'he=9, billing=7' as {skill: level}; the levels are checked by the body model."""
    out: dict[str, Any] = {}
    for part in (p for p in re.split(r"[,;]", text) if p.strip()):
        m = _SKILL.match(part)
        if m is None:
            raise Invalid("skills_invalid", f"write skills as name=level, separated by commas: {part.strip()!r}",
                          field=field)
        out[m.group(1)] = m.group(2)
    return out


def _body(form: Form, model: type[QueueBody]) -> QueueBody:
    """The form as the API's body (validated by the same model: the same reasons)."""
    values: dict[str, Any] = {k: form.get(k).strip() for k in _FIELDS if form.get(k).strip() != ""}
    values["record"], values["survey"] = form.flag("record"), form.flag("survey")
    if model is QueueCreate:
        values["number"] = form.get("number").strip()
    members = []
    rows = zip(form.all("member"), form.all("penalty"), form.all("member_skills"), strict=False)
    for ext, penalty, skills in rows:
        if ext.strip():
            members.append({"extension": ext.strip(), "penalty": penalty.strip() or 0,
                            "skills": parse_skills(skills, "members")})
    values["members"] = members
    values["skills"] = [s for s in re.split(r"[\s,;]+", form.get("skills")) if s]
    tiers = [{"after_s": a.strip(), "min_level": lv.strip()}
             for a, lv in zip(form.all("tier_after"), form.all("tier_level"), strict=False) if a.strip() or lv.strip()]
    if tiers:
        values["tiers"] = tiers
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


def _back(path: str = "/queues") -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def _editor(request: Request, auth: Auth, tr: Tr, services: ServicesDep, row: QueueRow | None) -> Response:
    queue = public(row).model_dump() if row else None
    extensions = [e.number for e in await services.directory.extensions()]
    return render(request, "queue_edit.html", tr, auth, queue=queue, strategies=STRATEGIES, empty_rules=EMPTY_RULES,
                  prompt_languages=LANGUAGES, extra_members=EXTRA_MEMBER_ROWS, extra_tiers=EXTRA_TIER_ROWS,
                  extensions=extensions)


@router.get("/queues")
async def queues_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Every queue with members, strategy, wrap-up, announcements, overflow, skills and tiers."""
    queues = [public(r).model_dump() for r in services.queues.queues()]
    agents = sorted({m["extension"] for q in queues for m in q["members"]})
    skills = {a: await services.queues.skills(a) for a in agents}
    return render(request, "queues.html", tr, auth, queues=queues, agent_skills=skills,
                  can_edit=auth.user.role is Role.ADMIN)


@router.get("/queues/new")
async def queue_new(request: Request, auth: AdminUser, services: ServicesDep, tr: Tr) -> Response:
    """An empty queue form."""
    return await _editor(request, auth, tr, services, None)


@router.get("/queues/{number}/edit")
async def queue_edit(number: str, request: Request, auth: AdminUser, services: ServicesDep, tr: Tr) -> Response:
    """The queue's whole configuration in one form."""
    return await _editor(request, auth, tr, services, services.queues.queue(number))


@router.post("/queues")
async def queue_create(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Create a queue; it takes calls at once."""
    body = _body(form, QueueCreate)
    assert isinstance(body, QueueCreate)
    await services.queues.create(auth.actor, body.row(body.number))
    return _back()


@router.post("/queues/{number}")
async def queue_update(number: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Replace a queue's configuration; callers waiting in it keep their places."""
    services.queues.queue(number)  # 404 before anything else
    await services.queues.replace(auth.actor, _body(form, QueueBody).row(number))
    return _back()


@router.post("/queues/{number}/delete")
async def queue_delete(number: str, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete an idle queue."""
    await services.queues.delete(auth.actor, number)
    return _back()


@router.post("/agents/{extension}/skills")
async def agent_skills(extension: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Replace an agent's own skills ('he=9, billing=7')."""
    try:
        body = AgentSkills.model_validate({"skills": parse_skills(form.get("skills"), "skills")})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None
    await services.queues.set_skills(auth.actor, extension, body.skills)
    return _back()
