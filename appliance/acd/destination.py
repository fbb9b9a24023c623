"""Where a call goes when it leaves a queue or a menu: one small value type."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from appliance.domain.errors import DomainError


class DestinationKind(Enum):
    """The kinds of place a call can be sent to."""

    QUEUE = "queue"
    VOICEMAIL = "voicemail"  # target: the mailbox (extension or queue id)
    EXTENSION = "extension"
    EXTERNAL = "external"  # target: a number dialled out through a trunk or the modem
    MENU = "menu"  # target: an IVR menu id
    SWITCH = "switch"  # target: an IVR business-hours switch id
    IVR = "ivr"  # target: another IVR number (an IVR menu key only)
    HANGUP = "hangup"  # no target


@dataclass(frozen=True)
class Destination:
    """A place to send a call, such as queue 'sales' or voicemail '200'."""

    kind: DestinationKind
    target: str = ""

    def __post_init__(self) -> None:
        if self.kind is DestinationKind.HANGUP:
            if self.target:
                raise DomainError("a hangup destination takes no target")
        elif not self.target:
            raise DomainError(f"a {self.kind.value} destination needs a target")

    def __str__(self) -> str:
        return self.kind.value if self.kind is DestinationKind.HANGUP else f"{self.kind.value}:{self.target}"

    @classmethod
    def parse(cls, text: str) -> Destination:
        """Read 'queue:sales', 'voicemail:200', 'external:+4812...' or 'hangup'."""
        kind_text, _, target = text.strip().partition(":")
        try:
            kind = DestinationKind(kind_text)
        except ValueError:
            known = ", ".join(k.value for k in DestinationKind)
            raise DomainError(f"unknown destination kind {kind_text!r} in {text!r} (known: {known})") from None
        return cls(kind, target.strip())


HANGUP = Destination(DestinationKind.HANGUP)
