"""Input rules: numbers, names, passwords, roles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.web_services import rules
from appliance.web_services.errors import Invalid
from appliance.web_services.rules import Role


@pytest.mark.parametrize("good", ["10", "101", "12345678"])
def test_numbers_of_2_to_8_digits(good: str) -> None:
    assert rules.number(good) == good


@pytest.mark.parametrize(("bad", "error_id"), [
    ("1", "number_invalid"), ("123456789", "number_invalid"), ("12a", "number_invalid"), ("", "number_invalid"),
    ("*43", "number_reserved"), ("*1", "number_reserved"), ("١٠١", "number_invalid"), ("101\n", "number_invalid"),
])
def test_bad_numbers_say_why(bad: str, error_id: str) -> None:
    with pytest.raises(Invalid) as e:
        rules.number(bad)
    assert e.value.error_id == error_id


@given(st.text(max_size=12))
def test_number_rule_accepts_exactly_ascii_digits(s: str) -> None:
    ok = s.isascii() and s.isdigit() and 2 <= len(s) <= 8
    try:
        rules.number(s)
        assert ok
    except Invalid:
        assert not ok


def test_passwords_and_usernames() -> None:
    assert rules.password("long enough pw") == "long enough pw"
    for bad, eid in (("short", "password_too_short"), ("x" * 300, "password_too_long")):
        with pytest.raises(Invalid) as e:
            rules.password(bad)
        assert e.value.error_id == eid
    with pytest.raises(Invalid) as e:
        rules.password("Administrator", "administrator")
    assert e.value.error_id == "password_is_username"
    assert rules.username("dana.k") == "dana.k"
    for bad in ("", "-x", "a b", "x" * 65, "a/b", "dana\n"):
        with pytest.raises(Invalid):
            rules.username(bad)


def test_roles_rank() -> None:
    assert Role.ADMIN.at_least(Role.SUPERVISOR) and Role.SUPERVISOR.at_least(Role.AGENT)
    assert not Role.AGENT.at_least(Role.SUPERVISOR)
    assert rules.role("agent") is Role.AGENT
    with pytest.raises(Invalid):
        rules.role("root")


def test_names_and_ring_seconds() -> None:
    assert rules.display_name("  Reception ") == "Reception"
    with pytest.raises(Invalid):
        rules.display_name("bad\x00name")
    with pytest.raises(Invalid):
        rules.display_name("x" * 65)
    assert rules.ring_seconds(3) == 3
    with pytest.raises(Invalid):
        rules.ring_seconds(2)
    with pytest.raises(Invalid):
        rules.ring_seconds(121)
