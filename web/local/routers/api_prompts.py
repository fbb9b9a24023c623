"""API: prompts: the built-in set per language, uploads (raw audio body) and their deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from appliance.controller.ivr import IvrError
from appliance.controller.prompts import MAX_UPLOAD_BYTES, MOH, TEXTS, VOICES, PromptError
from appliance.web_services.errors import Conflict, Invalid, NotFound
from web.local.deps import AdminUser, ServicesDep, SupervisorUser
from web.local.routers.api_ivr import ivr_admin, ivr_service

router = APIRouter(prefix="/api/v1", tags=["prompts"])


class CustomPromptPublic(BaseModel):
    """An uploaded prompt (stored as 8 kHz mono 16-bit WAV)."""

    name: str
    language: str
    duration_s: float
    size_bytes: int
    uploaded_at: str


class PromptsPublic(BaseModel):
    """Languages of the default set, built-in prompt names per language, uploads."""

    languages: list[str]
    builtin: dict[str, list[str]]
    custom: list[CustomPromptPublic]


def _public(row: object) -> CustomPromptPublic:
    return CustomPromptPublic.model_validate({k: v for k, v in vars(row).items() if k != "path"})


@router.get("/prompts")
async def list_prompts(_: SupervisorUser, services: ServicesDep) -> PromptsPublic:
    """Built-in and uploaded prompts."""
    custom = [_public(p) for p in await ivr_service(services).store.custom_prompts()]
    return PromptsPublic(languages=list(VOICES), builtin={k: sorted(v) for k, v in TEXTS.items()}, custom=custom)


@router.put("/prompts", status_code=201)
async def upload_prompt(language: Annotated[str, Query(max_length=12)], name: Annotated[str, Query(max_length=40)],
                        request: Request, auth: AdminUser, services: ServicesDep) -> CustomPromptPublic:
    """Upload prompt `name` in `language` as the raw body (WAV, MP3, FLAC or Ogg; converted with sox)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise Invalid("prompt_invalid", f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        row = await ivr_admin(services).upload_prompt(auth.actor, name, language, bytes(data))
    except PromptError as exc:
        raise Invalid("prompt_invalid", str(exc)) from None
    return _public(row)


@router.delete("/prompts", status_code=204)
async def delete_prompt(language: Annotated[str, Query(max_length=12)], name: Annotated[str, Query(max_length=40)],
                        auth: AdminUser, services: ServicesDep) -> None:
    """Delete an uploaded prompt (refused while an IVR plays it)."""
    try:
        gone = await ivr_admin(services).delete_prompt(auth.actor, name, language)
    except IvrError as exc:
        raise Conflict("prompt_in_use", str(exc), problems=exc.problems) from None
    if not gone:
        raise NotFound("prompt_not_found", f"no uploaded prompt {language}/{name}")


@router.get("/prompts/{language}/{name}/audio")
async def prompt_audio(language: Annotated[str, Path(max_length=12)],
                       name: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,40}$")], _: SupervisorUser,
                       services: ServicesDep) -> FileResponse:
    """A prompt's WAV as callers hear it (an upload wins over the built-in one; generated on first use)."""
    prompts = ivr_service(services).prompts
    known = language in VOICES and (name in TEXTS.get(language, {}) or name == MOH
                                    or prompts.custom_path(name, language).exists())
    if not known:
        raise NotFound("prompt_not_found", f"no prompt {language}/{name}", language=language, name=name)
    try:
        path = await prompts.path(name, language)
    except PromptError as exc:
        raise NotFound("prompt_not_found", str(exc), language=language, name=name) from None
    return FileResponse(path, media_type="audio/wav")
