"""API: supervise a live call (listen, whisper, barge), switch mode, stop (supervisors and admins)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from appliance.controller.supervision import Mode, SupervisionError, SupervisionService, service_of
from appliance.web_services.errors import Conflict, Invalid, NotFound, WebError
from web.local.deps import ServicesDep, SupervisorUser

router = APIRouter(prefix="/api/v1", tags=["supervision"])

ModeName = Literal["listen", "whisper", "barge"]


class SupervisionCreate(BaseModel):
    """Which call, which supervisor's phone, which mode."""

    model_config = ConfigDict(extra="forbid")
    call_id: str = Field(min_length=1, max_length=200)
    supervisor_extension: str = Field(pattern=r"^[0-9]{2,8}$")
    mode: ModeName


class SupervisionUpdate(BaseModel):
    """The new mode."""

    model_config = ConfigDict(extra="forbid")
    mode: ModeName


class SupervisionPublic(BaseModel):
    """A supervision as the API shows it."""

    call_id: str
    supervisor_extension: str
    mode: str
    state: str


def _service(services: ServicesDep) -> SupervisionService:
    return service_of(services.ctl.sessions)


def _web(exc: SupervisionError) -> WebError:
    kind = {404: NotFound, 409: Conflict}.get(exc.status, Invalid)
    return kind(exc.error_id, exc.message)


@router.get("/supervision")
async def list_supervision(_: SupervisorUser, services: ServicesDep) -> list[SupervisionPublic]:
    """Calls being supervised now."""
    return [SupervisionPublic(**s.public()) for s in _service(services).list()]


@router.post("/supervision", status_code=201)
async def start_supervision(body: SupervisionCreate, _: SupervisorUser, services: ServicesDep) -> SupervisionPublic:
    """Call the supervisor's phone from the call's worker; it joins in `mode` when answered."""
    try:
        sup = await _service(services).start(body.call_id, body.supervisor_extension, Mode(body.mode))
    except SupervisionError as exc:
        raise _web(exc) from None
    return SupervisionPublic(**sup.public())


@router.patch("/supervision/{call_id}")
async def change_supervision(call_id: str, body: SupervisionUpdate, _: SupervisorUser,
                             services: ServicesDep) -> SupervisionPublic:
    """Switch listen / whisper / barge during the call."""
    try:
        sup = await _service(services).change(call_id, Mode(body.mode))
    except SupervisionError as exc:
        raise _web(exc) from None
    return SupervisionPublic(**sup.public())


@router.delete("/supervision/{call_id}", status_code=204)
async def stop_supervision(call_id: str, _: SupervisorUser, services: ServicesDep) -> None:
    """Hang up the supervisor's leg."""
    try:
        await _service(services).stop(call_id)
    except SupervisionError as exc:
        raise _web(exc) from None
