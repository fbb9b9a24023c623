"""Pages: first-run setup, login, logout, language choice."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from appliance.web_services.audit import Actor
from appliance.web_services.errors import Forbidden, Invalid, Locked, Unauthenticated
from web.local import cookies, i18n
from web.local.deps import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AnyUser,
    FormDep,
    ServicesDep,
    Tr,
    client_address,
)
from web.local.render import render

router = APIRouter(include_in_schema=False)


def _login_form(request: Request, template: str, tr: i18n.Translator, status_code: int = 200,
                **ctx: object) -> HTMLResponse:
    """A pre-login form with a double-submit CSRF token (cookie + hidden field)."""
    token = secrets.token_urlsafe(24)
    response = render(request, template, tr, None, status_code, login_csrf=token, **ctx)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/", secure=True, httponly=True,
                        samesite="strict")
    return response


def _check_login_csrf(request: Request, sent: str) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise Forbidden("csrf_failed", "the form is missing its CSRF token; reload the page")


@router.get("/")
async def home(request: Request, services: ServicesDep) -> Response:
    """Setup on the first visit, then the status page (which asks for a login)."""
    if not await services.users.has_admin():
        return RedirectResponse("/setup", status_code=303)
    return RedirectResponse("/status", status_code=303)


@router.get("/setup")
async def setup_page(request: Request, services: ServicesDep, tr: Tr) -> Response:
    """The first visit sets the admin password (there is no default one)."""
    if await services.users.has_admin():
        return RedirectResponse("/login", status_code=303)
    return _login_form(request, "setup.html", tr)


@router.post("/setup")
async def setup_submit(request: Request, form: FormDep, services: ServicesDep) -> Response:
    """Create the first admin and log them in."""
    _check_login_csrf(request, form.get(CSRF_FIELD))
    username, password = form.required("username"), form.required("password")
    if password != form.get("password_again"):
        raise Invalid("passwords_differ", "the two passwords differ", field="password_again")
    source = client_address(request)
    user = await services.users.setup_first_admin(Actor(username, source), username, password)
    opened = await services.access.open_for(user, source)
    response = RedirectResponse("/extensions", status_code=303)
    cookies.set_session(response, opened.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.get("/login")
async def login_page(request: Request, services: ServicesDep, tr: Tr) -> Response:
    """The login form."""
    if not await services.users.has_admin():
        return RedirectResponse("/setup", status_code=303)
    return _login_form(request, "login.html", tr)


@router.post("/login")
async def login_submit(request: Request, form: FormDep, services: ServicesDep, tr: Tr) -> Response:
    """Check the password; a wrong one shows the form again, a lockout says for how long."""
    _check_login_csrf(request, form.get(CSRF_FIELD))
    username = form.required("username")
    try:
        opened = await services.access.login(username, form.required("password"), client_address(request))
    except Locked as exc:
        return _login_form(request, "login.html", tr, 429, username=username,
                           error=tr("Too many failed logins. Try again in {seconds} seconds.",
                                    seconds=exc.details["retry_after_s"]))
    except Unauthenticated:
        return _login_form(request, "login.html", tr, 401, username=username,
                           error=tr("Wrong username or password."))
    response = RedirectResponse("/status", status_code=303)
    cookies.set_session(response, opened.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(auth: AnyUser, request: Request, services: ServicesDep) -> Response:
    """End the session."""
    await services.access.logout(request.cookies.get(SESSION_COOKIE, ""), auth.actor)
    response = RedirectResponse("/login", status_code=303)
    cookies.clear_session(response)
    return response


@router.get("/lang")
async def choose_language(lang: Annotated[str, Query(max_length=8)] = "en",
                          back: Annotated[str, Query(max_length=200)] = "/") -> Response:
    """Remember a language and go back (only to a local path)."""
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if lang in i18n.LANGUAGES:
        cookies.set_lang(response, lang)
    return response
