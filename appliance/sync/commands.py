"""Commands from the cloud: schema, parsing and rejection reasons (pure).

Payload on ``cmd/{name}``: ``{"id": str, "expires": epoch seconds, "args": {...}}``.
Checks, in order: size, JSON shape (id, expires, args), known name, expiry, argument
schema. Every failure becomes a `CommandRejected` with a reason for ``cmd_res``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_COMMAND_BYTES = 8 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class CommandSpec:
    """A command's name and argument types (required and optional)."""

    name: str
    required: dict[str, type] = field(default_factory=dict)
    optional: dict[str, type] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """A valid, unexpired command."""

    id: str
    name: str
    expires: float
    args: dict[str, Any]


class CommandRejected(Exception):
    """A command refused before running; `cmd_id` is None when no usable id was sent."""

    def __init__(self, cmd_id: str | None, reason: str) -> None:
        super().__init__(reason)
        self.cmd_id = cmd_id
        self.reason = reason


BUILTIN_SPECS: dict[str, CommandSpec] = {
    "resync": CommandSpec("resync", optional={"from_seq": int}),
    "restart_services": CommandSpec("restart_services", required={"services": list}),
    "collect_diagnostics": CommandSpec("collect_diagnostics"),
    "recording_metadata": CommandSpec("recording_metadata", required={"recording_id": str}),
}


def parse_command(name: str, payload: bytes, specs: dict[str, CommandSpec],
                  now: float) -> Command:
    """Validate one command; raise CommandRejected with the reason."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRejected(None, f"oversized: {len(payload)} > {MAX_COMMAND_BYTES} bytes")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CommandRejected(None, "malformed: not JSON") from None
    if not isinstance(raw, dict):
        raise CommandRejected(None, "malformed: not a JSON object")
    cmd_id = raw.get("id")
    if not isinstance(cmd_id, str) or not _ID.match(cmd_id):
        raise CommandRejected(None, "malformed: id must be 1-64 of A-Z a-z 0-9 _ -")
    expires, args = raw.get("expires"), raw.get("args", {})
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise CommandRejected(cmd_id, "malformed: expires must be a number (epoch seconds)")
    if not isinstance(args, dict):
        raise CommandRejected(cmd_id, "malformed: args must be an object")
    spec = specs.get(name)
    if spec is None:
        raise CommandRejected(cmd_id, f"unknown command {name[:40]!r}")
    if expires <= now:
        raise CommandRejected(cmd_id, f"expired {now - expires:.1f} s ago")
    for key in spec.required:
        if key not in args:
            raise CommandRejected(cmd_id, f"malformed: missing argument {key!r}")
    for key, value in args.items():
        want = spec.required.get(key) or spec.optional.get(key)
        if want is None:
            raise CommandRejected(cmd_id, f"malformed: unexpected argument {key[:40]!r}")
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise CommandRejected(cmd_id, f"malformed: argument {key!r} must be {want.__name__}")
    return Command(cmd_id, name, float(expires), args)
