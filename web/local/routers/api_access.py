"""API: first-run setup, login and logout, who am I, my bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from appliance.web_services.audit import Actor
from web.local import cookies
from web.local.deps import SESSION_COOKIE, AnyUser, ServicesDep, client_address
from web.local.models import LoginCreate, MePublic, SessionPublic, SetupCreate, TokenPublic

router = APIRouter(prefix="/api/v1", tags=["access"])


@router.post("/setup", status_code=201)
async def setup(body: SetupCreate, request: Request, response: Response, services: ServicesDep) -> SessionPublic:
    """Set the first admin's password (only while no admin exists) and log in."""
    source = client_address(request)
    user = await services.users.setup_first_admin(Actor(body.username, source), body.username, body.password)
    opened = await services.access.open_for(user, source)
    cookies.set_session(response, opened.token)
    return SessionPublic(username=user.username, role=user.role.value, csrf_token=opened.session.csrf)


@router.post("/session")
async def login(body: LoginCreate, request: Request, response: Response, services: ServicesDep) -> SessionPublic:
    """Log in: sets the session cookie; send csrf_token back as X-CSRF-Token on changes."""
    opened = await services.access.login(body.username, body.password, client_address(request))
    cookies.set_session(response, opened.token)
    s = opened.session
    return SessionPublic(username=s.user.username, role=s.user.role.value, csrf_token=s.csrf)


@router.delete("/session", status_code=204)
async def logout(auth: AnyUser, request: Request, response: Response, services: ServicesDep) -> None:
    """Log out (the session cookie stops working at once)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await services.access.logout(token, auth.actor)
    cookies.clear_session(response)


@router.get("/me")
async def me(auth: AnyUser) -> MePublic:
    """Who the caller is."""
    return MePublic(id=auth.user.id, username=auth.user.username, role=auth.user.role.value, via=auth.via)


@router.post("/me/token", status_code=201)
async def my_token(auth: AnyUser, services: ServicesDep) -> TokenPublic:
    """A new API bearer token for the caller (shown once; replaces the old one)."""
    return TokenPublic(token=await services.users.issue_token(auth.actor, auth.user.id))
