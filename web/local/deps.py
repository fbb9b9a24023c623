"""Dependencies as Annotated aliases: services, who is asking (with role and CSRF checks), language."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from appliance.web_services.audit import Actor
from appliance.web_services.errors import Forbidden, Unauthenticated
from appliance.web_services.rules import Role
from appliance.web_services.users import User
from web.local import i18n
from web.local.forms import Form, read_form
from web.local.services import Services

SESSION_COOKIE = "appl_session"
LOGIN_CSRF_COOKIE = "appl_login_csrf"
LANG_COOKIE = "lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_services(request: Request) -> Services:
    """The services wired at app build."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str:
    """The peer's address as the audit log records it."""
    return request.client.host if request.client else ""


@dataclass(frozen=True)
class Auth:
    """Who is asking and how: a browser session (with its CSRF token) or an API bearer token."""

    user: User
    csrf: str
    via: str  # "session" | "bearer"
    source: str

    @property
    def actor(self) -> Actor:
        """The audit log's name for this caller."""
        return Actor(self.user.username, self.source)


async def current_auth(request: Request, services: ServicesDep) -> Auth:
    """The caller; state-changing requests made with a session cookie must carry its CSRF token."""
    source = client_address(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = await services.users.by_token(header[7:].strip())
        if user is None:
            raise Unauthenticated("token_invalid", "the bearer token is not valid")
        return Auth(user, "", "bearer", source)
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await services.access.session(cookie) if cookie else None
    if session is None:
        raise Unauthenticated("not_logged_in", "log in first")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or (await read_form(request)).get(CSRF_FIELD)
        if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise Forbidden("csrf_failed", "the form or request is missing its CSRF token; reload the page")
    return Auth(session.user, session.csrf, "session", source)


def check_role(auth: Auth, role: Role) -> Auth:
    """The caller if their role is `role` or above, else a `Forbidden` error."""
    if not auth.user.role.at_least(role):
        raise Forbidden("role_forbidden", f"this needs the {role.value} role", needs=role.value,
                        role=auth.user.role.value)
    return auth


def require(role: Role) -> Callable[[Auth], Awaitable[Auth]]:
    """A dependency that lets through `role` and the roles above it."""

    async def dep(auth: Annotated[Auth, Depends(current_auth)]) -> Auth:
        return check_role(auth, role)

    return dep


AnyUser = Annotated[Auth, Depends(require(Role.AGENT))]
SupervisorUser = Annotated[Auth, Depends(require(Role.SUPERVISOR))]
AdminUser = Annotated[Auth, Depends(require(Role.ADMIN))]


def is_loopback(request: Request) -> bool:
    """True for a peer on 127.0.0.0/8 or ::1 (the box's own supervisor and health checks)."""
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


async def status_reader(request: Request, services: ServicesDep) -> Auth | None:
    """Status is for any logged-in role, and for loopback callers without a login (health checks)."""
    if is_loopback(request) and SESSION_COOKIE not in request.cookies and "authorization" not in request.headers:
        return None
    return check_role(await current_auth(request, services), Role.AGENT)


StatusReader = Annotated[Auth | None, Depends(status_reader)]


async def metrics_reader(request: Request, services: ServicesDep) -> Auth | None:
    """/metrics: loopback scrapers without a login; from the LAN a supervisor's or admin's login or token."""
    if is_loopback(request) and SESSION_COOKIE not in request.cookies and "authorization" not in request.headers:
        return None
    return check_role(await current_auth(request, services), Role.SUPERVISOR)


MetricsReader = Annotated[Auth | None, Depends(metrics_reader)]


def translator(request: Request) -> i18n.Translator:
    """The caller's language."""
    return i18n.Translator(i18n.pick(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    ))


Tr = Annotated[i18n.Translator, Depends(translator)]


async def form(request: Request) -> Form:
    """The posted form."""
    return await read_form(request)


FormDep = Annotated[Form, Depends(form)]


# Row ids in paths: SQLite INTEGER is 64-bit signed; a larger number is a clear 422, not a crash.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
