"""Admin pages: extensions, ring groups, users, the HTTPS certificate (forms post, then redirect)."""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from appliance.web_services import certs
from appliance.web_services.rules import Role
from web.local.deps import AdminUser, FormDep, RowId, ServicesDep, SupervisorUser, Tr
from web.local.render import render

router = APIRouter(include_in_schema=False)


def _members(text: str) -> list[str]:
    """Members typed in hunt order, separated by commas or spaces."""
    return [m for m in re.split(r"[\s,;]+", text.strip()) if m]


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/extensions")
async def extensions_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Extensions, with create/rename/enable/reset/delete for admins."""
    return render(request, "extensions.html", tr, auth, extensions=await services.directory.extensions(),
                  can_edit=auth.user.role is Role.ADMIN)


@router.post("/extensions")
async def extension_create(request: Request, auth: AdminUser, form: FormDep, services: ServicesDep,
                           tr: Tr) -> Response:
    """Create an extension and show its SIP password once."""
    ext, password = await services.directory.create_extension(
        auth.actor, form.required("number"), form.get("display_name"))
    return render(request, "secret.html", tr, auth, 201, title=tr("Extension {number} created", number=ext.number),
                  label=tr("SIP password"), secret=password, back="/extensions")


@router.post("/extensions/{number}")
async def extension_update(number: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Rename, enable or disable."""
    await services.directory.update_extension(auth.actor, number, display_name=form.get("display_name"),
                                              enabled=form.flag("enabled"))
    return _back("/extensions")


@router.post("/extensions/{number}/password")
async def extension_password(request: Request, number: str, auth: AdminUser, services: ServicesDep,
                             tr: Tr) -> Response:
    """A new SIP password, shown once."""
    password = await services.directory.reset_password(auth.actor, number)
    return render(request, "secret.html", tr, auth, title=tr("New password for {number}", number=number),
                  label=tr("SIP password"), secret=password, back="/extensions")


@router.post("/extensions/{number}/delete")
async def extension_delete(number: str, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete an extension."""
    await services.directory.delete_extension(auth.actor, number)
    return _back("/extensions")


@router.get("/ring-groups")
async def ring_groups_page(request: Request, auth: SupervisorUser, services: ServicesDep, tr: Tr) -> Response:
    """Ring groups and their members in hunt order."""
    return render(request, "ring_groups.html", tr, auth, groups=await services.directory.ring_groups(),
                  can_edit=auth.user.role is Role.ADMIN)


@router.post("/ring-groups")
async def ring_group_create(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Create a ring group."""
    await services.directory.create_ring_group(
        auth.actor, form.required("number"), form.required("name"), _members(form.get("members")),
        form.integer("ring_seconds", 15), form.flag("record"))
    return _back("/ring-groups")


@router.post("/ring-groups/{number}")
async def ring_group_update(number: str, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Change name, members and order, ring seconds, recording."""
    await services.directory.update_ring_group(
        auth.actor, number, name=form.required("name"), members=_members(form.get("members")),
        ring_seconds=form.integer("ring_seconds", 15), record=form.flag("record"))
    return _back("/ring-groups")


@router.post("/ring-groups/{number}/delete")
async def ring_group_delete(number: str, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete a ring group."""
    await services.directory.delete_ring_group(auth.actor, number)
    return _back("/ring-groups")


@router.get("/users")
async def users_page(request: Request, auth: AdminUser, services: ServicesDep, tr: Tr) -> Response:
    """Web users and their roles, and the desk extension each is linked to."""
    users = await services.users.list()
    links = {u.id: await services.desk.extension_of(u.id) for u in users}
    return render(request, "users.html", tr, auth, users=users, roles=list(Role), links=links,
                  extensions=await services.directory.extensions())


@router.post("/users")
async def user_create(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Create a user."""
    await services.users.create(auth.actor, form.required("username"), form.required("password"),
                                form.required("role"))
    return _back("/users")


@router.post("/users/{user_id}")
async def user_update(user_id: RowId, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Change role, enabled flag, and the password when one is typed."""
    await services.users.update(auth.actor, user_id, role=form.required("role"), enabled=form.flag("enabled"),
                                password=form.get("password") or None)
    return _back("/users")


@router.post("/users/{user_id}/extension")
async def user_extension(user_id: RowId, auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Link a user to their desk extension (blank unlinks); the desk and click-to-call use it."""
    await services.desk.link(auth.actor, user_id, form.get("extension").strip() or None)
    return _back("/users")


@router.post("/users/{user_id}/delete")
async def user_delete(user_id: RowId, auth: AdminUser, services: ServicesDep) -> Response:
    """Delete a user."""
    await services.users.delete(auth.actor, user_id)
    return _back("/users")


@router.post("/users/{user_id}/token")
async def user_token(request: Request, user_id: RowId, auth: AdminUser, services: ServicesDep, tr: Tr) -> Response:
    """A new API bearer token, shown once."""
    token = await services.users.issue_token(auth.actor, user_id)
    return render(request, "secret.html", tr, auth, title=tr("New API token"), label=tr("Bearer token"),
                  secret=token, back="/users")


@router.get("/settings/tls")
async def tls_page(request: Request, auth: AdminUser, services: ServicesDep, tr: Tr) -> Response:
    """The certificate in use, and a form to upload another."""
    cert, _key = await asyncio.to_thread(certs.ensure_certificate, services.data_dir)
    return render(request, "tls.html", tr, auth, cert=certs.describe(cert))


@router.post("/settings/tls")
async def tls_upload(auth: AdminUser, form: FormDep, services: ServicesDep) -> Response:
    """Install a pasted certificate and key (checked first)."""
    await services.system.install_certificate(auth.actor, form.required("certificate").encode(),
                                              form.required("key").encode())
    return _back("/settings/tls?installed=1")
