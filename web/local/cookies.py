"""Session and language cookies, set one way everywhere."""

from __future__ import annotations

from fastapi import Response

from appliance.web_services.access import SESSION_HOURS
from web.local.deps import LANG_COOKIE, SESSION_COOKIE


def set_session(response: Response, token: str) -> None:
    """Secure, HttpOnly, SameSite=Strict: never sent by another site, never read by scripts."""
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, path="/", secure=True,
                        httponly=True, samesite="strict")


def clear_session(response: Response) -> None:
    """Forget the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")


def set_lang(response: Response, lang: str) -> None:
    """Remember the chosen language for a year."""
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", secure=True, samesite="strict")
