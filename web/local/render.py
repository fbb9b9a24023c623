"""Jinja2 page rendering: the language, direction, navigation and CSRF token in every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from appliance.web_services.rules import Role
from web.local import i18n
from web.local.deps import Auth

TEMPLATES = Path(__file__).parent / "templates"

# (path, msgid, lowest role that sees it)
NAV: list[tuple[str, str, Role]] = [
    ("/status", "Status", Role.AGENT),
    ("/desk", "Agent desk", Role.AGENT),
    ("/system", "System", Role.SUPERVISOR),
    ("/wallboard", "Wallboard", Role.SUPERVISOR),
    ("/staffing", "Staffing", Role.SUPERVISOR),
    ("/extensions", "Extensions", Role.SUPERVISOR),
    ("/ring-groups", "Ring groups", Role.SUPERVISOR),
    ("/trunks", "Trunks", Role.SUPERVISOR),
    ("/routes", "Outbound routes", Role.SUPERVISOR),
    ("/recording-policy", "Recording policy", Role.SUPERVISOR),
    ("/queues", "Queues", Role.SUPERVISOR),
    ("/ivr", "IVR menus", Role.SUPERVISOR),
    ("/dids", "Inbound DIDs", Role.SUPERVISOR),
    ("/prompts", "Prompts", Role.SUPERVISOR),
    ("/mailboxes", "Mailboxes", Role.SUPERVISOR),
    ("/cdrs", "Calls", Role.SUPERVISOR),
    ("/recordings", "Recordings", Role.SUPERVISOR),
    ("/reports", "Reports", Role.SUPERVISOR),
    ("/alarms", "Alarms", Role.SUPERVISOR),
    ("/users", "Users", Role.ADMIN),
    ("/audit", "Audit log", Role.ADMIN),
    ("/settings/tls", "Certificate", Role.ADMIN),
    ("/settings/backup", "Backup", Role.ADMIN),
]

env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)


def render(request: Request, template: str, tr: i18n.Translator, auth: Auth | None = None,
           status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """Render a page for this caller."""
    nav = [(path, tr(label)) for path, label, role in NAV if auth and auth.user.role.at_least(role)]
    html = env.get_template(template).render(
        _=tr, lang=tr.lang, dir=tr.dir, auth=auth, csrf=auth.csrf if auth else "", nav=nav,
        path=request.url.path, languages=i18n.LANGUAGES, **ctx,
    )
    return HTMLResponse(html, status_code=status_code)
