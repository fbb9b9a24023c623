"""Phone numbers as the SMS channel keys them: the form the network gives, punctuation dropped."""

from __future__ import annotations

import re

from appliance.domain.errors import DomainError

_DROP = re.compile(r"[\s\-.()]")
_VALID = re.compile(r"^\+?[0-9*#]{1,20}$")


class InvalidNumber(DomainError):
    """Not a number an SMS can be sent to."""


def normalize_number(text: str) -> str:
    """Drop spaces, dashes, dots and parentheses; refuse anything that is not a dialable number."""
    number = _DROP.sub("", text or "")
    if not _VALID.match(number):
        raise InvalidNumber(f"not a phone number: {text!r} (digits, * and #, at most 20, optional leading +)")
    return number
