"""Trunks, routes and caller-ID rules: validation and what the far end receives."""

from __future__ import annotations

import pytest

from appliance.trunks.model import (
    CallerIdMode,
    CallerIdRule,
    OutboundRoute,
    Transport,
    Trunk,
    TrunkError,
    TrunkKind,
    check_routes,
    pick_route,
)


def test_trunk_destination_and_address() -> None:
    t = Trunk("itsp", TrunkKind.SIP, "127.0.0.1", 5090, Transport.TCP)
    assert t.address == "127.0.0.1:5090"
    assert t.destination() == "127.0.0.1:5090;transport=tcp"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"host": "not a host"}, "host"),
        ({"host": "1.2.3"}, "host"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"username": "a b"}, "username"),
        ({"answer_timeout_s": 0.1}, "answer_timeout_s"),
    ],
)
def test_bad_trunk_is_refused_with_the_field(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"name": "itsp", "kind": TrunkKind.SIP, "host": "sip.example.com"}
    base.update(kwargs)
    with pytest.raises(TrunkError) as err:
        Trunk(**base)  # type: ignore[arg-type]
    assert err.value.field == field


def test_caller_id_rules() -> None:
    assert CallerIdRule().apply("101") == "101"
    assert CallerIdRule(CallerIdMode.FIXED, number="+442071234567").apply("101") == "+442071234567"
    assert CallerIdRule(CallerIdMode.REWRITE, strip=1, prefix="+4420712345").apply("101") == "+442071234501"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": CallerIdMode.FIXED},  # no number
        {"mode": CallerIdMode.FIXED, "number": "12ab"},
        {"mode": CallerIdMode.KEEP, "number": "123"},
        {"mode": CallerIdMode.KEEP, "strip": 1},
        {"mode": CallerIdMode.REWRITE, "strip": 13},
        {"mode": CallerIdMode.REWRITE, "prefix": "x1"},
    ],
)
def test_bad_caller_id_rule_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(TrunkError):
        CallerIdRule(**kwargs)  # type: ignore[arg-type]


def route(**kw: object) -> OutboundRoute:
    base: dict[str, object] = {"name": "national", "pattern": r"0[1-9][0-9]{8}", "trunks": ("itsp", "gsm")}
    base.update(kw)
    return OutboundRoute(**base)  # type: ignore[arg-type]


def test_route_number_and_caller_id_per_trunk_kind() -> None:
    r = route(
        pattern=r"9[0-9]{4,15}", strip=1, prepend="+44",
        caller_id={TrunkKind.SIP: CallerIdRule(CallerIdMode.FIXED, number="+442071234567"),
                   TrunkKind.GSM: CallerIdRule()},
    )
    assert r.matches("902071234567") and not r.matches("101")
    assert r.number_to_send("902071234567") == "+4402071234567"
    assert r.caller_id_for(TrunkKind.SIP, "101") == "+442071234567"
    assert r.caller_id_for(TrunkKind.GSM, "101") == "101"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pattern": "("}, "pattern"),
        ({"pattern": ".*"}, "pattern"),  # matches the empty number
        ({"pattern": ""}, "pattern"),
        ({"trunks": ()}, "trunks"),
        ({"trunks": ("a", "a")}, "trunks"),
        ({"prepend": "1+2"}, "prepend"),
        ({"ring_seconds": 1}, "ring_seconds"),
        ({"name": "UPPER"}, "name"),
    ],
)
def test_bad_route_is_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(TrunkError) as err:
        route(**kwargs)
    assert err.value.field == field


def test_routes_must_name_existing_trunks() -> None:
    trunks = {"itsp": Trunk("itsp", TrunkKind.SIP, "127.0.0.1")}
    with pytest.raises(TrunkError, match="unknown trunk 'gsm'"):
        check_routes([route()], trunks)
    check_routes([route(trunks=("itsp",))], trunks)


def test_pick_route_by_priority_then_name() -> None:
    wide = route(name="any", pattern=r"[0-9]{5,}", priority=200)
    narrow = route(name="national", priority=10)
    assert pick_route([wide, narrow], "0201234567") is narrow
    assert pick_route([wide, narrow], "12345") is wide
    assert pick_route([wide, narrow], "12") is None
