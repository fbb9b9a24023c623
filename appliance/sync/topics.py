"""The one place where MQTT topics are built and parsed.

Layout under one prefix: ``<prefix>/v1/{node}/`` followed by ``state`` (retained
online/offline, also the Will), ``birth``, ``evt/{stream}``, ``alarm``, ``cfg/desired``
(cloud -> box, retained), ``cfg/reported``, ``cmd/{name}`` (cloud -> box),
``cmd_res/{cmd_id}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

VERSION = "v1"
ALARM_STREAM = "alarm"
_NODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_CMD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


class TopicError(ValueError):
    """A topic or topic part that is not valid in our layout."""


class Kind(Enum):
    """What a topic carries."""

    STATE = "state"
    BIRTH = "birth"
    EVENT = "evt"
    ALARM = "alarm"
    CFG_DESIRED = "cfg/desired"
    CFG_REPORTED = "cfg/reported"
    CMD = "cmd"
    CMD_RESULT = "cmd_res"


@dataclass(frozen=True)
class ParsedTopic:
    """A topic split into node, kind and its argument (stream, command name or id)."""

    node: str
    kind: Kind
    arg: str | None = None


def check_node(node: str) -> str:
    """Return node if it is a valid node id, else raise TopicError."""
    if not _NODE.match(node):
        raise TopicError(f"invalid node id {node!r}: use 1-64 of A-Z a-z 0-9 _ -")
    return node


def check_name(name: str, what: str = "name") -> str:
    """Return a stream or command name if valid, else raise TopicError."""
    if not _NAME.match(name):
        raise TopicError(f"invalid {what} {name!r}: use 1-32 of a-z 0-9 _")
    return name


def check_cmd_id(cmd_id: str) -> str:
    """Return a command id if valid, else raise TopicError."""
    if not _CMD_ID.match(cmd_id):
        raise TopicError(f"invalid command id {cmd_id!r}")
    return cmd_id


class Topics:
    """Topic builder for one prefix; `node` methods take the node id explicitly."""

    def __init__(self, prefix: str = "cc") -> None:
        if not _PREFIX.match(prefix):
            raise TopicError(f"invalid topic prefix {prefix!r}")
        self.prefix = prefix

    def base(self, node: str) -> str:
        """Return `<prefix>/v1/{node}`."""
        return f"{self.prefix}/{VERSION}/{check_node(node)}"

    def state(self, node: str) -> str:
        """Retained online/offline topic, also the Will."""
        return f"{self.base(node)}/state"

    def birth(self, node: str) -> str:
        """Birth message topic, published on every connect."""
        return f"{self.base(node)}/birth"

    def event(self, node: str, stream: str) -> str:
        """Topic of an outbox stream; the alarm stream has its own topic."""
        if stream == ALARM_STREAM:
            return f"{self.base(node)}/alarm"
        return f"{self.base(node)}/evt/{check_name(stream, 'stream')}"

    def cfg_desired(self, node: str) -> str:
        """Cloud -> box desired configuration (retained)."""
        return f"{self.base(node)}/cfg/desired"

    def cfg_reported(self, node: str) -> str:
        """Box -> cloud reported configuration (retained)."""
        return f"{self.base(node)}/cfg/reported"

    def cmd(self, node: str, name: str) -> str:
        """Cloud -> box command topic."""
        return f"{self.base(node)}/cmd/{check_name(name, 'command')}"

    def cmd_filter(self, node: str) -> str:
        """Subscription filter for all commands of a node."""
        return f"{self.base(node)}/cmd/+"

    def cmd_result(self, node: str, cmd_id: str) -> str:
        """Box -> cloud command result topic."""
        return f"{self.base(node)}/cmd_res/{check_cmd_id(cmd_id)}"

    def fleet_filter(self) -> str:
        """Subscription filter for everything every box publishes."""
        return f"{self.prefix}/{VERSION}/+/#"

    def parse(self, topic: str) -> ParsedTopic:
        """Split a topic of our layout; raise TopicError on anything else."""
        head = f"{self.prefix}/{VERSION}/"
        if not topic.startswith(head):
            raise TopicError(f"topic {topic!r} is not under {head}")
        parts = topic[len(head):].split("/")
        node = check_node(parts[0])
        rest = parts[1:]
        if rest == ["state"]:
            return ParsedTopic(node, Kind.STATE)
        if rest == ["birth"]:
            return ParsedTopic(node, Kind.BIRTH)
        if rest == ["alarm"]:
            return ParsedTopic(node, Kind.ALARM, ALARM_STREAM)
        if rest == ["cfg", "desired"]:
            return ParsedTopic(node, Kind.CFG_DESIRED)
        if rest == ["cfg", "reported"]:
            return ParsedTopic(node, Kind.CFG_REPORTED)
        if len(rest) == 2 and rest[0] == "evt":
            return ParsedTopic(node, Kind.EVENT, check_name(rest[1], "stream"))
        if len(rest) == 2 and rest[0] == "cmd":
            # The name is checked by the command layer so a bad name gets a reasoned reply.
            return ParsedTopic(node, Kind.CMD, rest[1])
        if len(rest) == 2 and rest[0] == "cmd_res":
            return ParsedTopic(node, Kind.CMD_RESULT, check_cmd_id(rest[1]))
        raise TopicError(f"unknown topic {topic!r}")
