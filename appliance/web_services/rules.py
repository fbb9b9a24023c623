"""Input rules shared by the API and the pages: pure checks that raise `Invalid`."""

from __future__ import annotations

import re
from enum import StrEnum

from appliance.domain.dialplan import ECHO_TEST
from appliance.web_services.errors import Invalid

EXTENSION_NUMBER = re.compile(r"^[0-9]{2,8}$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Feature codes the dial plan owns (echo test today); a number may never shadow them.
FEATURE_CODES = frozenset({ECHO_TEST})
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_NAME = 64


class Role(StrEnum):
    """Who a web user is: each role may do what the ones below it may."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Agent 0, supervisor 1, admin 2."""
        return [Role.AGENT, Role.SUPERVISOR, Role.ADMIN].index(self)

    def at_least(self, other: Role) -> bool:
        """True when this role may do what `other` may."""
        return self.rank >= other.rank


def number(value: str, field: str = "number") -> str:
    """A dialable number of 2-8 digits, not a feature code."""
    if value in FEATURE_CODES or value.startswith("*"):
        raise Invalid("number_reserved", f"{value!r} is a feature code", field=field, value=value)
    if not EXTENSION_NUMBER.fullmatch(value):
        raise Invalid("number_invalid", "a number is 2 to 8 digits", field=field, value=value)
    return value


def display_name(value: str, field: str = "display_name") -> str:
    """A printable name of at most 64 characters, trimmed."""
    value = value.strip()
    if len(value) > MAX_NAME or any(not ch.isprintable() for ch in value):
        raise Invalid("name_invalid", f"a name is at most {MAX_NAME} printable characters", field=field)
    return value


def username(value: str) -> str:
    """Letters, digits, dot, dash, underscore; 1-64 characters, starting with a letter or digit."""
    if not USERNAME.fullmatch(value):
        raise Invalid(
            "username_invalid", "a username is 1-64 letters, digits, '.', '-' or '_'", field="username"
        )
    return value


def password(value: str, username: str = "") -> str:
    """At least 10 characters, at most 256, not the username."""
    if len(value) < MIN_PASSWORD:
        raise Invalid("password_too_short", f"a password has at least {MIN_PASSWORD} characters",
                      field="password", min_length=MIN_PASSWORD)
    if len(value) > MAX_PASSWORD:
        raise Invalid("password_too_long", f"a password has at most {MAX_PASSWORD} characters", field="password")
    if username and value.lower() == username.lower():
        raise Invalid("password_is_username", "the password may not be the username", field="password")
    return value


def role(value: str) -> Role:
    """One of admin, supervisor, agent."""
    try:
        return Role(value)
    except ValueError:
        raise Invalid("role_invalid", "role is admin, supervisor or agent", field="role") from None


def ring_seconds(value: int) -> int:
    """Seconds each member rings: 3 to 120."""
    if not 3 <= value <= 120:
        raise Invalid("ring_seconds_invalid", "ring seconds are 3 to 120", field="ring_seconds")
    return value
