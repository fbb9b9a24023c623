"""Form bodies (application/x-www-form-urlencoded) parsed without python-multipart."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from appliance.web_services.errors import Invalid

MAX_FORM_BYTES = 64 * 1024


class Form:
    """The fields of a posted form; a missing required field is a clear 422."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        """The first value of a field, or `default`."""
        values = self._fields.get(name)
        return values[0] if values else default

    def required(self, name: str) -> str:
        """The first value of a field that must be there."""
        values = self._fields.get(name)
        if not values:
            raise Invalid("field_missing", f"{name} is required", field=name)
        return values[0]

    def all(self, name: str) -> list[str]:
        """Every value of a repeated field."""
        return list(self._fields.get(name, []))

    def flag(self, name: str) -> bool:
        """A checkbox: present and not 'off'/'0'."""
        return self.get(name, "") not in ("", "0", "off", "false")

    def integer(self, name: str, default: int) -> int:
        """An integer field."""
        raw = self.get(name, "")
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise Invalid("field_not_integer", f"{name} must be a whole number", field=name) from None


async def read_form(request: Request) -> Form:
    """Parse the request body as an urlencoded form (empty for other content types)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return Form({})
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Invalid("form_too_large", f"a form is at most {MAX_FORM_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("form_not_utf8", "the form is not UTF-8") from None
    try:
        return Form(parse_qs(text, keep_blank_values=True, max_num_fields=500))
    except ValueError:
        raise Invalid("form_too_many_fields", "a form has at most 500 fields") from None
