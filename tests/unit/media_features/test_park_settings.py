"""The park timeout setting (extra.parking) and the worker's local_targets command: validation."""

from __future__ import annotations

import pytest

from appliance.controller.parking import PARK_TIMEOUT_S, ParkingSettingsError, park_timeout
from appliance.media.protocol import LocalTargets, ProtocolError, parse_command


def test_park_timeout_defaults_to_60_s() -> None:
    assert park_timeout(None) == PARK_TIMEOUT_S == 60.0
    assert park_timeout({}) == 60.0


def test_park_timeout_is_read_in_seconds() -> None:
    assert park_timeout({"timeout_s": 45}) == 45.0
    assert park_timeout({"timeout_s": 7.5}) == 7.5


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"timeout_s": 0}, "from 3 to 3600"),
        ({"timeout_s": 4000}, "from 3 to 3600"),
        ({"timeout_s": "60"}, "got '60'"),
        ({"timeout_s": True}, "got True"),
        ({"timeout": 60}, "unknown settings timeout"),
        ([60], "must be an object"),
    ],
)
def test_bad_park_settings_say_why(raw: object, reason: str) -> None:
    with pytest.raises(ParkingSettingsError, match=reason):
        park_timeout(raw)


def test_local_targets_command_parses_user_parts() -> None:
    req = parse_command(b'{"type":"cmd","req":3,"cmd":"local_targets","users":["7001","*8"]}')
    assert req.cmd == LocalTargets(("7001", "*8"))


@pytest.mark.parametrize("users", ['"7001"', '["70 01"]', '[""]', "[7001]", '["a@b"]'])
def test_local_targets_refuses_what_is_not_a_user_part(users: str) -> None:
    line = f'{{"type":"cmd","req":4,"cmd":"local_targets","users":{users}}}'
    with pytest.raises(ProtocolError, match="users") as err:
        parse_command(line)
    assert err.value.req == 4
