"""API and page actions: the agent's current call with the caller's history, and the wrap-up disposition."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from appliance.domain.dialplan import MediaService
from appliance.web_services.errors import Conflict, Invalid
from web.local.deps import AnyUser, FormDep, ServicesDep
from web.local.models_ops import (
    ClickToCallCreate,
    ClickToCallPublic,
    DeskCallPublic,
    DispositionCreate,
    DispositionPublic,
)
from web.local.services import Services

router = APIRouter(tags=["live"])


@router.get("/api/v1/me/call", response_model=DeskCallPublic,
            responses={204: {"description": "the agent has had no call yet"}})
async def my_call(auth: AnyUser, services: ServicesDep) -> DeskCallPublic | Response:
    """The call offered to or taken by the caller's agent (or their last), with the caller's history."""
    ext = await services.desk.extension_of(auth.user.id)
    call = await services.calls.current(ext) if ext else None
    if call is None:
        return Response(status_code=204)
    return DeskCallPublic(**{**asdict(call), "codes": list(call.codes)})


@router.post("/api/v1/me/dispositions", status_code=201)
async def add_disposition(body: DispositionCreate, auth: AnyUser, services: ServicesDep) -> DispositionPublic:
    """The disposition code and note for a call the agent took (audited)."""
    ext = await services.desk.extension_of(auth.user.id)
    return DispositionPublic(**await services.calls.dispose(auth.actor, ext, body.call_id, body.code, body.note))


@router.post("/desk/disposition", include_in_schema=False)
async def desk_disposition(auth: AnyUser, form: FormDep, services: ServicesDep) -> Response:
    """The desk's wrap-up form, then back to the desk."""
    ext = await services.desk.extension_of(auth.user.id)
    await services.calls.dispose(auth.actor, ext, form.required("call_id"), form.required("code"), form.get("note"))
    return RedirectResponse("/desk?saved=1", status_code=303)


async def place_click_to_call(services: Services, user_id: int, number: str) -> ClickToCallPublic:
    """Ring the user's desk phone, then `number` (refusals: 409 with a stable id, nothing placed)."""
    ext = await services.desk.extension_of(user_id)
    if ext is None:
        raise Conflict("no_extension", "your user is not linked to an extension; ask an admin")
    sessions = services.ctl.sessions
    if any(s.caller == ext and s.service is MediaService.CLICK_TO_CALL for s in sessions.sessions.values()):
        raise Conflict("click_to_call_busy", f"extension {ext} is already placing a click-to-call", extension=ext)
    call_id = await sessions.originate(ext, number)
    if call_id is None:
        raise Conflict("media_pool_full", "no media worker has room for the call now; try again shortly")
    return ClickToCallPublic(call_id=call_id, extension=ext, number=number)


@router.post("/api/v1/me/click-to-call", status_code=202)
async def click_to_call(body: ClickToCallCreate, auth: AnyUser, services: ServicesDep) -> ClickToCallPublic:
    """Call a number through the agent's desk phone: it rings first, then the number is dialed
    with the extension's own routing and toll-fraud rules (the call's CDR says the outcome)."""
    return await place_click_to_call(services, auth.user.id, body.number)


@router.post("/desk/call", include_in_schema=False)
async def desk_call(auth: AnyUser, form: FormDep, services: ServicesDep) -> Response:
    """The desk's call form: the desk phone rings, then the number."""
    try:
        body = ClickToCallCreate(number=form.required("number").strip())
    except ValidationError:
        raise Invalid("number_invalid", "a number is digits with an optional leading +, * or #",
                      field="number") from None
    await place_click_to_call(services, auth.user.id, body.number)
    return RedirectResponse("/desk?calling=1", status_code=303)
