"""The udev rules name the AT and audio port of every supported modem (static check)."""

from __future__ import annotations

import re
from pathlib import Path

RULES = Path(__file__).parents[3] / "hardware" / "udev" / "70-appliance-modems.rules"
_KEYS = re.compile(r'(\w+)(?:\{([^}]*)\})?\s*(==|!=|\+=|=)\s*"([^"]*)"')


def rules() -> list[list[tuple[str, str, str, str]]]:
    out = []
    for line in RULES.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            body = line.strip()
            pairs = _KEYS.findall(body)
            # every comma-separated item of the line must be a well-formed key op "value"
            assert len(pairs) == body.count('"') // 2, body
            out.append(pairs)
    return out


def test_every_profile_has_an_at_and_an_audio_port() -> None:
    named: dict[str, set[str]] = {}
    for pairs in rules():
        env = {(k, a): v for k, a, op, v in pairs if op == "="}
        port = env.get(("ENV", "APPLIANCE_MODEM_PORT"))
        profile = env.get(("ENV", "APPLIANCE_MODEM_PROFILE"))
        if port and profile:
            named.setdefault(profile, set()).add(port)
    assert named == {"quectel": {"at", "audio"}, "simcom": {"at", "audio"},
                     "huawei": {"at", "audio"}}


def test_labels_match_gotos() -> None:
    text = RULES.read_text()
    gotos = set(re.findall(r'GOTO="([^"]+)"', text))
    labels = set(re.findall(r'LABEL="([^"]+)"', text))
    assert gotos and gotos <= labels
