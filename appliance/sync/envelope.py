"""The sync envelope: one JSON shape for everything a box publishes.

``{"v":1,"type","id","node","session","seq","ts","hist","data"}``. ``id`` is a ULID and
the idempotency key (the fleet de-duplicates on ``(node, id)``); ``seq`` is monotonic
per node over durable streams; ``hist`` is true when the event is replayed from the
outbox after it could not be sent live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from appliance.sync.ulid import ULID_RE

ENVELOPE_VERSION = 1
MAX_ENVELOPE_BYTES = 256 * 1024
_TYPE_MAX = 64


class EnvelopeError(ValueError):
    """A payload that is not a valid envelope."""


@dataclass(frozen=True)
class Envelope:
    """One message from a box, as published on MQTT."""

    type: str
    id: str
    node: str
    session: str
    seq: int
    ts: float
    data: dict[str, Any] = field(default_factory=dict)
    hist: bool = False
    v: int = ENVELOPE_VERSION

    def as_history(self) -> Envelope:
        """Return the same envelope marked as replayed."""
        return replace(self, hist=True)

    def to_dict(self) -> dict[str, Any]:
        """Return the wire dictionary."""
        return {
            "v": self.v,
            "type": self.type,
            "id": self.id,
            "node": self.node,
            "session": self.session,
            "seq": self.seq,
            "ts": self.ts,
            "hist": self.hist,
            "data": self.data,
        }

    def encode(self) -> bytes:
        """Return compact UTF-8 JSON bytes."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


def decode(payload: bytes) -> Envelope:
    """Parse and validate an envelope; raise EnvelopeError with the reason."""
    if len(payload) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"envelope too large: {len(payload)} bytes > {MAX_ENVELOPE_BYTES}")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"not JSON: {exc}") from None
    return from_dict(raw)


def from_dict(raw: object) -> Envelope:
    """Validate a decoded JSON value as an envelope."""
    if not isinstance(raw, dict):
        raise EnvelopeError("envelope must be a JSON object")
    if raw.get("v") != ENVELOPE_VERSION:
        raise EnvelopeError(f"unsupported envelope version {raw.get('v')!r}")
    typ, eid, node, session = raw.get("type"), raw.get("id"), raw.get("node"), raw.get("session")
    if not isinstance(typ, str) or not 0 < len(typ) <= _TYPE_MAX:
        raise EnvelopeError("type must be a non-empty string")
    if not isinstance(eid, str) or not ULID_RE.match(eid):
        raise EnvelopeError("id must be a ULID")
    if not isinstance(node, str) or not node:
        raise EnvelopeError("node must be a non-empty string")
    if not isinstance(session, str):
        raise EnvelopeError("session must be a string")
    seq, ts = raw.get("seq"), raw.get("ts")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise EnvelopeError("seq must be a non-negative integer")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        raise EnvelopeError("ts must be a number")
    hist, data = raw.get("hist", False), raw.get("data", {})
    if not isinstance(hist, bool):
        raise EnvelopeError("hist must be a boolean")
    if not isinstance(data, dict):
        raise EnvelopeError("data must be a JSON object")
    return Envelope(typ, eid, node, session, seq, float(ts), data, hist)
