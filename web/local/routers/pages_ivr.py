"""Admin pages: IVR menus with business hours and holidays, DIDs, prompts, mailboxes (admins edit, supervisors view)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from appliance.controller.ivr import DID_KINDS, IvrError
from appliance.controller.prompts import TEXTS, VOICES
from appliance.controller.voicemail import VoicemailError
from appliance.ivr.calendar import DAYS
from appliance.storage.ivr import DidRow, IvrRow
from appliance.web_services.errors import Conflict, Invalid, NotFound
from appliance.web_services.ivr_form import (
    DEST_KINDS,
    KEYS,
    TIME_ZONES,
    IvrForm,
    config_from_form,
    form_from_config,
    form_from_post,
)
from appliance.web_services.rules import Role
from web.local.deps import AdminUser, Auth, FormDep, RowId, ServicesDep, SupervisorUser, Tr
from web.local.i18n import Translator
from web.local.render import render
from web.local.routers.api_ivr import ivr_admin, ivr_service
from web.local.routers.api_voicemail import voicemail
from web.local.services import Services

router = APIRouter(include_in_schema=False)

Number = Annotated[str, Path(pattern=r"^\+?[0-9]{2,19}$")]
Lang = Annotated[str, Query(max_length=12)]


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _can_edit(auth: Auth) -> bool:
    return auth.user.role is Role.ADMIN


# ----- IVR menus -----


@router.get("/ivr")
async def ivr_list_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Every IVR with its entry, and (for admins) a form to start a new one."""
    ivrs = await ivr_service(services).store.ivrs()
    return render(request, "ivr_list.html", tr, auth, ivrs=ivrs, can_edit=_can_edit(auth))


async def _ivr_page(request: Request, auth: Auth, services: Services, tr: Translator, f: IvrForm, *, new: bool,
                    problems: list[str] | None = None, status_code: int = 200) -> Response:
    svc = ivr_service(services)
    d = svc.manager.directory
    custom = sorted({p.name for p in await svc.store.custom_prompts()})
    stored = svc.ivrs.get(f.number)
    menus = sorted((stored.config.get("menus", {}) if stored else {}) or {f.menu_id: {}})
    switches = sorted(stored.config.get("switches", {}) if stored else {})
    others = [f"menu:{m}" for m in menus if m != f.menu_id] + [
        f"switch:{s}" for s in switches if not (f.hours_on and s == f.switch_id)]
    return render(request, "ivr_edit.html", tr, auth, status_code, f=f.padded(), new=new, problems=problems or [],
                  can_edit=_can_edit(auth), keys=KEYS, kinds=DEST_KINDS, days=DAYS, time_zones=TIME_ZONES,
                  prompt_languages=list(VOICES), builtin=sorted(TEXTS["en"]), custom=custom,
                  targets=sorted({*d.extensions, *d.queues}, key=lambda n: (len(n), n)), menus=menus, others=others,
                  saved=request.query_params.get("saved") == "1")


@router.get("/ivr/new")
async def ivr_new_page(request: Request, auth: AdminUser, services: ServicesDep, tr: Tr) -> Response:
    """A blank IVR form."""
    return await _ivr_page(request, auth, services, tr, IvrForm(), new=True)


@router.get("/ivr/{number}")
async def ivr_edit_page(number: Number, request: Request, auth: SupervisorUser, services: ServicesDep,
                        tr: Tr) -> Response:
    """One IVR: its main menu, business hours and holidays (read-only for supervisors)."""
    row = await ivr_service(services).store.ivr(number)
    if row is None:
        raise NotFound("ivr_not_found", f"no IVR {number}", number=number)
    f = form_from_config(row.number, row.name, row.language, row.config)
    return await _ivr_page(request, auth, services, tr, f, new=False)


@router.post("/ivr")
async def ivr_save(request: Request, auth: AdminUser, form: FormDep, services: ServicesDep, tr: Tr) -> Response:
    """Create or replace an IVR from the form; a refusal shows every reason and writes nothing."""
    new = form.flag("new")

    def get(name: str) -> str:
        if name == "prompt" and form.get("prompt") == "say:":
            return "say:" + form.get("say_text").strip()
        return form.get(name)

    f = form_from_post(form.get("number"), get)
    svc = ivr_service(services)
    stored = svc.ivrs.get(f.number)
    problems: list[str] = []
    if new and stored is not None:
        problems.append(f"IVR {f.number} already exists; open it from the list to change it")
    config, form_problems = config_from_form(f, stored.config if stored and not new else None)
    problems += form_problems
    if not problems:
        try:
            await ivr_admin(services).save_ivr(auth.actor, IvrRow(f.number, f.name, f.language, config))
        except IvrError as exc:
            problems = exc.problems
    if problems:
        return await _ivr_page(request, auth, services, tr, f, new=new, problems=problems, status_code=422)
    return _back(f"/ivr/{f.number}?saved=1")


@router.post("/ivr/{number}/delete")
async def ivr_delete(number: Number, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete an IVR (refused while a DID points to it)."""
    await ivr_admin(services).delete_ivr(auth.actor, number)
    return _back("/ivr")


# ----- DIDs -----


def _did_destination(kind: str, target: str, priority: str) -> str:
    dest = f"{kind.strip()}:{target.strip()}"
    if priority.strip() and priority.strip() != "0":
        dest += f";priority={priority.strip()}"
    return dest


@router.get("/dids")
async def dids_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Inbound DID routes: number -> destination, with a VIP priority for queue destinations."""
    svc = ivr_service(services)
    d = svc.manager.directory
    rows = [(r, svc.dids.get(r.did)) for r in await svc.store.dids()]
    targets = sorted({*d.extensions, *d.queues, *svc.ivrs}, key=lambda n: (len(n), n))
    return render(request, "dids.html", tr, auth, rows=rows, kinds=DID_KINDS, targets=targets,
                  can_edit=_can_edit(auth))


async def _save_did(auth: Auth, services: Services, number: str, form: FormDep) -> None:
    dest = _did_destination(form.get("kind"), form.get("target"), form.get("priority"))
    try:
        await ivr_admin(services).save_did(auth.actor, DidRow(number.strip(), dest, form.get("note").strip()))
    except IvrError as exc:
        raise Invalid("did_invalid", str(exc), problems=exc.problems) from None


@router.post("/dids")
async def did_create(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Create a DID route (a number that exists already is refused: change it in its row)."""
    number = form.required("did").strip()
    if number in ivr_service(services).dids:
        raise Conflict("did_exists", f"DID {number} exists already; change it in its row", did=number)
    await _save_did(auth, services, number, form)
    return _back("/dids")


@router.post("/dids/{number}")
async def did_update(number: Number, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Change where a DID's calls go."""
    if number not in ivr_service(services).dids:
        raise NotFound("did_not_found", f"no DID {number}", did=number)
    await _save_did(auth, services, number, form)
    return _back("/dids")


@router.post("/dids/{number}/delete")
async def did_delete(number: Number, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete a DID route."""
    if not await ivr_admin(services).delete_did(auth.actor, number):
        raise NotFound("did_not_found", f"no DID {number}", did=number)
    return _back("/dids")


# ----- prompts -----


@router.get("/prompts")
async def prompts_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr,
                       language: Lang = "") -> Response:
    """The prompt set of one language with playback, the uploads, and (admins) the upload form."""
    lang = language if language in VOICES else (tr.lang if tr.lang in VOICES else "en")
    custom = await ivr_service(services).store.custom_prompts()
    return render(request, "prompts.html", tr, auth, language=lang, voices=list(VOICES),
                  builtin=sorted(TEXTS[lang].items()), custom=custom, can_edit=_can_edit(auth),
                  uploaded=request.query_params.get("uploaded", "")[:40])


@router.post("/prompts/delete")
async def prompt_delete(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Delete an uploaded prompt (refused while an IVR plays it)."""
    name, language = form.required("name"), form.required("language")
    try:
        gone = await ivr_admin(services).delete_prompt(auth.actor, name, language)
    except IvrError as exc:
        raise Conflict("prompt_in_use", str(exc), problems=exc.problems) from None
    if not gone:
        raise NotFound("prompt_not_found", f"no uploaded prompt {language}/{name}")
    return _back(f"/prompts?language={language}")


# ----- mailboxes -----


@router.get("/mailboxes")
async def mailboxes_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Every mailbox (extension and queue numbers) with its counts and PIN state; admins reset PINs."""
    vm = voicemail(services)
    boxes = [await vm.summary(m) for m in sorted(vm.mailboxes(), key=lambda n: (len(n), n))]
    messages = {b.mailbox: await vm.messages(b.mailbox) for b in boxes if b.new or b.old}
    return render(request, "mailboxes.html", tr, auth, boxes=boxes, messages=messages, can_edit=_can_edit(auth),
                  pin_set=request.query_params.get("pin_set", "")[:20])


@router.post("/mailboxes/{number}/pin")
async def mailbox_pin(number: Number, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Set a new PIN (never shown back)."""
    if number not in voicemail(services).mailboxes():
        raise NotFound("mailbox_not_found", f"no mailbox {number}", mailbox=number)
    try:
        await ivr_admin(services).set_pin(auth.actor, number, form.get("pin").strip())
    except VoicemailError as exc:
        raise Invalid("pin_invalid", str(exc)) from None
    return _back(f"/mailboxes?pin_set={number}")


@router.post("/voicemails/{message_id}/delete")
async def voicemail_delete(message_id: RowId, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete a voicemail message and its file (the owner's phone gets MWI)."""
    if not await ivr_admin(services).delete_message(auth.actor, message_id):
        raise NotFound("voicemail_not_found", f"no voicemail {message_id}", id=message_id)
    return _back("/mailboxes")
