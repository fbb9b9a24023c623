"""Reassembly of concatenated SMS parts, with an injected clock and an expiry list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_bridge.sms import gsm7
from firmware_bridge.sms.messages import Deliver, Encoding

MISSING_PART = "[…]"
DEFAULT_TTL_SECONDS = 24 * 3600.0

PartKey = tuple[str, int, int]


def join_parts(parts: list[Deliver]) -> str:
    """Text of parts in order; same-alphabet parts are joined before decoding.

    Joining the raw septets / UCS-2 octets first mends an escape pair or a surrogate pair
    that a non-compliant sender split across a part boundary.
    """
    encodings = {p.encoding for p in parts}
    if encodings == {Encoding.GSM7}:
        return gsm7.decode(b"".join(p.user_data for p in parts))
    if encodings == {Encoding.UCS2} and all(len(p.user_data) % 2 == 0 for p in parts):
        return b"".join(p.user_data for p in parts).decode("utf-16-be", errors="replace")
    return "".join(p.text for p in parts)


@dataclass(frozen=True)
class PartialMessage:
    """A concatenated message that expired before all of its parts arrived."""

    sender: str
    ref: int
    total: int
    parts: tuple[Deliver, ...]
    first_seen: float

    @property
    def missing(self) -> tuple[int, ...]:
        """Part numbers that never arrived."""
        have = {p.concat.seq for p in self.parts if p.concat is not None}
        return tuple(seq for seq in range(1, self.total + 1) if seq not in have)

    @property
    def text(self) -> str:
        """The text that did arrive, with a marker where each missing part belongs."""
        by_seq = {p.concat.seq: p for p in self.parts if p.concat is not None}
        return "".join(
            by_seq[seq].text if seq in by_seq else MISSING_PART
            for seq in range(1, self.total + 1)
        )


@dataclass
class _Group:
    first_seen: float
    parts: dict[int, Deliver] = field(default_factory=dict)


class Reassembler:
    """Collects parts keyed by (sender, ref, total) and hands back whole texts.

    Parts are kept in memory: the caller stores each raw PDU durably before deleting it
    from the modem, and after a restart re-adds the stored parts (duplicates are ignored).
    A group whose first part is older than ttl_seconds leaves through expired().
    """

    def __init__(
        self, clock: Callable[[], float], ttl_seconds: float = DEFAULT_TTL_SECONDS
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self._clock = clock
        self._ttl = ttl_seconds
        self._groups: dict[PartKey, _Group] = {}
        # Recently completed groups: a late duplicate of one of their parts is dropped.
        self._done: dict[PartKey, tuple[float, dict[int, bytes]]] = {}

    def add(self, part: Deliver) -> str | None:
        """Add one received message; the whole text once every part is in, else None."""
        concat = part.concat
        if concat is None or concat.total == 1:
            return part.text
        now = self._clock()
        self._forget_done(now)
        key = (part.sender, concat.ref, concat.total)
        done = self._done.get(key)
        if done is not None and done[1].get(concat.seq) == part.user_data:
            return None
        group = self._groups.setdefault(key, _Group(first_seen=now))
        if concat.seq in group.parts:
            return None
        group.parts[concat.seq] = part
        if len(group.parts) < concat.total:
            return None
        del self._groups[key]
        ordered = [group.parts[seq] for seq in range(1, concat.total + 1)]
        self._done[key] = (now, {seq: p.user_data for seq, p in group.parts.items()})
        return join_parts(ordered)

    def expired(self) -> list[PartialMessage]:
        """Remove and return the groups that waited longer than the TTL, oldest first."""
        now = self._clock()
        self._forget_done(now)
        out: list[PartialMessage] = []
        for key, group in sorted(self._groups.items(), key=lambda kv: kv[1].first_seen):
            if now - group.first_seen >= self._ttl:
                sender, ref, total = key
                parts = tuple(group.parts[s] for s in sorted(group.parts))
                out.append(PartialMessage(sender, ref, total, parts, group.first_seen))
                del self._groups[key]
        return out

    @property
    def pending(self) -> int:
        """Number of messages still waiting for parts."""
        return len(self._groups)

    def _forget_done(self, now: float) -> None:
        for key in [k for k, (t, _) in self._done.items() if now - t >= self._ttl]:
            del self._done[key]
