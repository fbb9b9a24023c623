"""Desired configuration from the cloud: parsing and the conflict rule (pure).

Conflict rule: the higher version wins. A desired doc with a lower version than the
box's is stale and ignored (the box reports what it has). Same version and same content:
nothing to do. Same version but different content (a local edit and a cloud push both
made version N): the cloud wins, and the overwritten local config is reported as
``overridden_local`` so nobody loses track of it. A local edit bumps the version by one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

MAX_DESIRED_BYTES = 64 * 1024


class ConfigError(ValueError):
    """A desired document that cannot even be considered."""


class Origin(Enum):
    """Who made a configuration version."""

    CLOUD = "cloud"
    LOCAL = "local"


@dataclass(frozen=True)
class ConfigDoc:
    """A versioned configuration."""

    version: int
    config: dict[str, Any]
    origin: Origin = Origin.CLOUD


class Action(Enum):
    """What to do with a desired doc."""

    APPLY = "apply"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Decision:
    """The outcome of comparing a desired doc with the current one."""

    action: Action
    reason: str
    overridden_local: dict[str, Any] | None = None


def parse_desired(payload: bytes) -> ConfigDoc:
    """Parse `{"version": int >= 1, "config": {...}}`; raise ConfigError with the reason."""
    if len(payload) > MAX_DESIRED_BYTES:
        raise ConfigError(f"desired config too large: {len(payload)} > {MAX_DESIRED_BYTES} bytes")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"desired config is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError("desired config must be a JSON object")
    version, config = raw.get("version"), raw.get("config")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError("desired config needs an integer version >= 1")
    if not isinstance(config, dict):
        raise ConfigError("desired config needs a 'config' object")
    return ConfigDoc(version, config, Origin.CLOUD)


def decide(current: ConfigDoc | None, desired: ConfigDoc) -> Decision:
    """Apply the conflict rule to a (parsed, not yet validated) desired doc."""
    if current is None or desired.version > current.version:
        return Decision(Action.APPLY, "newer version")
    if desired.version < current.version:
        return Decision(Action.IGNORE,
                        f"stale: desired version {desired.version} < current {current.version}")
    if desired.config == current.config:
        return Decision(Action.IGNORE, "already applied")
    overridden = current.config if current.origin is Origin.LOCAL else None
    return Decision(Action.APPLY, "same version, cloud wins", overridden)


def local_edit(current: ConfigDoc | None, changes: dict[str, Any]) -> ConfigDoc:
    """Return the config after a local edit: merged keys, version + 1, origin local."""
    base = current.config if current else {}
    version = current.version if current else 0
    return ConfigDoc(version + 1, {**base, **changes}, Origin.LOCAL)
