"""Toll-fraud limits: classes, blocked prefixes, allowed destinations, calls per hour."""

from __future__ import annotations

import pytest

from appliance.trunks.model import TrunkError
from appliance.trunks.tollfraud import BlockedPrefix, PermissionClass, TollPolicy, check_call

POLICY = TollPolicy(
    allowed_patterns=(r"0[0-9]{9,15}", r"\+[0-9]{8,15}"),
    default_class=PermissionClass.NATIONAL,
    classes={"101": PermissionClass.INTERNATIONAL, "105": PermissionClass.INTERNAL, "104": PermissionClass.PREMIUM},
    max_calls_per_hour=3,
)


def test_national_call_allowed_by_default_class() -> None:
    assert check_call(POLICY, "102", "0201234567", 0).allowed


@pytest.mark.parametrize(
    ("ext", "dialed", "cause"),
    [
        ("102", "0044201234567", "toll_blocked_prefix"),  # international needs its class
        ("102", "+44201234567", "toll_blocked_prefix"),
        ("101", "0901234567", "toll_blocked_prefix"),  # premium even for international
        ("105", "0201234567", "toll_no_external"),
        ("102", "12345", "toll_not_allowed"),  # matches no allowed destination
    ],
)
def test_refusals_carry_a_cause_and_403(ext: str, dialed: str, cause: str) -> None:
    v = check_call(POLICY, ext, dialed, 0)
    assert not v.allowed and v.cause == cause and v.code == 403 and v.detail


def test_higher_classes_may_do_what_lower_ones_may() -> None:
    assert check_call(POLICY, "101", "0044201234567", 0).allowed
    assert check_call(POLICY, "104", "0901234567", 0).allowed


def test_calls_per_hour_limit() -> None:
    assert check_call(POLICY, "102", "0201234567", 2).allowed
    v = check_call(POLICY, "102", "0201234567", 3)
    assert not v.allowed and v.cause == "toll_rate_limit"


def test_bad_policy_is_refused() -> None:
    with pytest.raises(TrunkError):
        TollPolicy(allowed_patterns=())
    with pytest.raises(TrunkError):
        TollPolicy(allowed_patterns=("[",))
    with pytest.raises(TrunkError):
        TollPolicy(max_calls_per_hour=0)
    with pytest.raises(TrunkError):
        BlockedPrefix("9x", PermissionClass.PREMIUM)
