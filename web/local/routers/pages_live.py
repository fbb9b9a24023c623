"""Live pages: the supervisor wallboard, the agent desk, the Erlang C staffing calculator; /metrics."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from appliance.web_services import metrics
from appliance.web_services.errors import Invalid, NotFound
from web.local.deps import AnyUser, FormDep, MetricsReader, ServicesDep, SupervisorUser, Tr
from web.local.render import render
from web.local.routers.api_live import board, staffing
from web.local.routers.api_voicemail import mailbox_public

router = APIRouter(include_in_schema=False)


@router.get("/wallboard")
async def wallboard_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Queues, agents and live calls, kept live by server-sent events (rendered complete for no-script
    browsers); the listen / whisper / barge buttons ring the supervisor's own linked extension."""
    own = await services.desk.extension_of(auth.user.id)
    return render(request, "wallboard.html", tr, auth, board=board(services), own_extension=own)


@router.get("/desk")
async def desk_page(request: Request, auth: AnyUser, services: ServicesDep, tr: Tr) -> Response:
    """The agent's own state with log in / log out / pause / unpause buttons."""
    desk = await services.desk.state(auth.user.id)
    call = await services.calls.current(desk.extension) if desk.extension else None
    mailbox = None
    if desk.extension:
        with contextlib.suppress(NotFound):
            mailbox = await mailbox_public(services, desk.extension)
    return render(request, "desk.html", tr, auth, desk=desk, call=call, mailbox=mailbox)


@router.post("/desk")
async def desk_post(auth: AnyUser, form: FormDep, services: ServicesDep) -> Response:
    """Carry out the button pressed, then back to the desk."""
    await services.desk.command(auth.user.id, form.required("action"), form.get("reason"))
    return RedirectResponse("/desk", status_code=303)


def _number(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise Invalid("validation_failed", f"{name} must be a number", field=name) from None


@router.get("/staffing")
async def staffing_page(request: Request, auth: SupervisorUser, tr: Tr,
                        calls_per_hour: Annotated[str, Query(max_length=16)] = "",
                        aht_s: Annotated[str, Query(max_length=16)] = "",
                        target_sl: Annotated[str, Query(max_length=16)] = "0.8",
                        threshold_s: Annotated[str, Query(max_length=16)] = "20") -> Response:
    """The calculator form; with figures filled in, the agents needed and what they deliver."""
    form = {"calls_per_hour": calls_per_hour, "aht_s": aht_s, "target_sl": target_sl, "threshold_s": threshold_s}
    plan = None
    if calls_per_hour and aht_s:
        values = {k: _number(v, k) for k, v in form.items()}
        plan = staffing(values["calls_per_hour"], values["aht_s"], values["target_sl"], values["threshold_s"])
    return render(request, "staffing.html", tr, auth, form=form, plan=plan)


@router.get("/metrics", response_class=PlainTextResponse)
async def get_metrics(_: MetricsReader, services: ServicesDep) -> PlainTextResponse:
    """Prometheus text format: loopback without a login, else a supervisor's or admin's bearer token."""
    return PlainTextResponse(await metrics.exposition(services.ctl), media_type=metrics.CONTENT_TYPE)
