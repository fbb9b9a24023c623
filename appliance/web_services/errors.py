"""Errors the web services raise on purpose; the web app maps each to one HTTP status."""

from __future__ import annotations

from typing import Any

from appliance.domain.errors import DomainError


class WebError(DomainError):
    """A refusal with a stable `error_id` and machine-readable `details`."""

    status = 400

    def __init__(self, error_id: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.details = details


class Invalid(WebError):
    """The input breaks a rule (bad number, unknown member, weak password)."""

    status = 422


class NotFound(WebError):
    """The thing asked for does not exist."""

    status = 404


class Gone(WebError):
    """The thing existed and was removed on purpose (a recording past its retention)."""

    status = 410


class Conflict(WebError):
    """The input collides with what exists (number taken, admin already set up)."""

    status = 409


class Unauthenticated(WebError):
    """No valid session or bearer token."""

    status = 401


class Forbidden(WebError):
    """Logged in, but the role does not allow this (or the CSRF token is wrong)."""

    status = 403


class Locked(WebError):
    """Too many failed logins: locked out for a while."""

    status = 429
