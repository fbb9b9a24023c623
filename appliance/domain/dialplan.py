"""Where a dialed number goes: the controller's answer to the SIP edge.

Kamailio asks, this decides. A decision is one of: ring a registered extension
directly (media flows phone to phone), hand the call to a media worker for a service
(echo test, ring group), or reject with a SIP code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from appliance.acd.feature_codes import FeatureCodes
from appliance.domain.errors import DomainError

ECHO_TEST = "*43"
FEATURE_CODES = FeatureCodes()  # agent log in / out / pause / unpause from the desk phone


class MediaService(Enum):
    """Services that need a media worker."""

    ECHO = "echo"
    RING_GROUP = "ring_group"
    QUEUE = "queue"
    AGENT_FEATURE = "agent_feature"
    IVR = "ivr"  # an auto-attendant menu (a DID or an internal number)
    VOICEMAIL = "voicemail"  # leave a message in a mailbox
    VOICEMAIL_MAIN = "voicemail_main"  # listen to one's messages (PIN)
    PARK = "park"  # park or retrieve a call in a slot
    OUTBOUND = "outbound"  # an external number over a trunk (SIP, then GSM)
    CLICK_TO_CALL = "click_to_call"  # the box rings an agent's desk phone, then dials the number


# Call legs a session of each service will hold at most on its worker: the caller's leg
# plus the legs it adds (a ring group hunts one member at a time; a queue rings one agent
# at a time; a feature code only plays a confirmation to the caller).
LEGS_NEEDED: dict[MediaService, int] = {
    MediaService.ECHO: 1,
    MediaService.RING_GROUP: 2,
    MediaService.QUEUE: 2,
    MediaService.AGENT_FEATURE: 1,
    MediaService.IVR: 2,
    MediaService.VOICEMAIL: 1,
    MediaService.VOICEMAIL_MAIN: 1,
    MediaService.PARK: 2,
    MediaService.OUTBOUND: 2,
    MediaService.CLICK_TO_CALL: 2,
}


@dataclass(frozen=True)
class RingGroup:
    """A number that hunts its members in order and bridges the one who answers."""

    number: str
    name: str
    members: tuple[str, ...]
    ring_seconds: int = 15
    record: bool = True


@dataclass(frozen=True)
class QueueNumber:
    """A number that puts the caller in an ACD queue."""

    number: str
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class ToExtension:
    """Ring a registered extension directly through the SIP edge."""

    extension: str


@dataclass(frozen=True)
class ToMedia:
    """Hand the call to a media worker for a service."""

    service: MediaService
    target: str

    @property
    def legs(self) -> int:
        """Legs the session will hold on its worker."""
        return LEGS_NEEDED[self.service]


@dataclass(frozen=True)
class Directory:
    """The numbering plan as the controller knows it."""

    extensions: frozenset[str]
    ring_groups: dict[str, RingGroup] = field(default_factory=dict)
    queues: dict[str, QueueNumber] = field(default_factory=dict)
    # Numbers owned by features (IVR menus, DIDs, voicemail access, park slots).
    services: dict[str, ToMedia] = field(default_factory=dict)
    # External numbers: a dialed number matching one of these goes out over a trunk.
    outbound_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    """Refuse the call with a SIP status."""

    code: int
    reason: str


RouteDecision = ToExtension | ToMedia | Reject


def route(dialed: str, caller: str, directory: Directory) -> RouteDecision:
    """Decide where `dialed`, called by `caller`, goes."""
    if dialed == ECHO_TEST:
        return ToMedia(MediaService.ECHO, dialed)
    feature = _feature_code(dialed, caller, directory)
    if feature is not None:
        return feature
    if dialed in directory.queues:
        return ToMedia(MediaService.QUEUE, dialed)
    if dialed in directory.ring_groups:
        group = directory.ring_groups[dialed]
        if not any(m != caller for m in group.members):
            return Reject(480, "No Members Available")
        return ToMedia(MediaService.RING_GROUP, dialed)
    if dialed in directory.services:
        return directory.services[dialed]
    if dialed in directory.extensions:
        if dialed == caller:
            return Reject(486, "Busy Here")
        return ToExtension(dialed)
    if any(re.fullmatch(p, dialed) for p in directory.outbound_patterns):
        return ToMedia(MediaService.OUTBOUND, dialed)
    return Reject(404, "Not Found")


def hunt_order(group: RingGroup, caller: str) -> list[str]:
    """Members to ring in order, never the caller themself."""
    return [m for m in group.members if m != caller]


def _feature_code(dialed: str, caller: str, directory: Directory) -> RouteDecision | None:
    """An agent feature code (*45, *46, *47+reason, *48): only from a queue member's phone."""
    try:
        command = FEATURE_CODES.parse(dialed)
    except DomainError:
        return Reject(404, "Unknown Pause Reason")
    if command is None:
        return None
    if not any(caller in q.members for q in directory.queues.values()):
        return Reject(403, "Not A Queue Agent")
    return ToMedia(MediaService.AGENT_FEATURE, dialed)
