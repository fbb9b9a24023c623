"""A menu key that sends the caller on to another IVR number: parsing, validation, the session's Transfer."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.acd.destination import Destination, DestinationKind
from appliance.domain.clock import ManualClock
from appliance.ivr.flow import IvrSession, IvrState, Transfer
from appliance.ivr.menu import Directory, IvrConfigError, load_ivr
from tests.unit.web.conftest import Box

DIRECTORY = Directory(extensions=frozenset({"101", "102"}), ivrs=frozenset({"800", "810"}))


def main_menu(option: str) -> dict[str, Any]:
    """IVR data whose main menu key 3 goes to `option`."""
    options = {"1": "extension:101", "3": option}
    return {"entry": "menu:main", "menus": {"main": {"prompt": "welcome", "options": options}}}


def test_a_key_may_name_another_ivr_and_the_session_transfers_there() -> None:
    cfg = load_ivr(main_menu("ivr:810"), DIRECTORY, number="800")
    assert cfg.menus["main"].options["3"] == Destination(DestinationKind.IVR, "810")
    ivr = IvrSession(cfg, ManualClock())
    ivr.start()
    assert ivr.digit("3") == [Transfer(Destination(DestinationKind.IVR, "810"))]
    assert ivr.state is IvrState.DONE
    assert ivr.trail[-1] == "ivr:810"


def test_an_unknown_ivr_number_is_a_clear_problem() -> None:
    with pytest.raises(IvrConfigError) as exc:
        load_ivr(main_menu("ivr:999"), DIRECTORY, number="800")
    assert exc.value.problems == ["menu 'main' option '3': unknown ivr '999'"]


def test_an_ivr_that_sends_to_itself_directly_is_refused() -> None:
    with pytest.raises(IvrConfigError) as exc:
        load_ivr(main_menu("ivr:800"), DIRECTORY, number="800")
    assert len(exc.value.problems) == 1
    assert "IVR 800 sends the caller to itself" in exc.value.problems[0]


def test_self_reference_is_refused_on_the_failure_branch_and_entry_too() -> None:
    data = {**main_menu("ivr:810"), "entry": "ivr:800"}
    data["menus"]["main"]["on_fail"] = "ivr:800"
    with pytest.raises(IvrConfigError) as exc:
        load_ivr(data, DIRECTORY, number="800")
    assert [p.split(":")[0] for p in exc.value.problems] == ["entry", "menu 'main' on_fail"]


def test_without_its_own_number_only_existence_is_checked() -> None:
    assert load_ivr(main_menu("ivr:800"), DIRECTORY).menus["main"].options["3"].target == "800"


def test_an_ivr_target_needs_a_number() -> None:
    with pytest.raises(IvrConfigError) as exc:
        load_ivr(main_menu("ivr:"), DIRECTORY, number="800")
    assert "needs a target" in exc.value.problems[0]


def ivr_body(name: str, option: str) -> dict[str, Any]:
    """An /api/v1/ivrs body whose key 3 goes to `option`."""
    menu = {"prompt": "say:Press 3", "options": {"1": "extension:102", "3": option}}
    return {"name": name, "config": {"entry": "menu:main", "menus": {"main": menu}}}


async def test_api_ivr_key_to_another_ivr_and_delete_in_use(box: Box) -> None:
    admin = await box.login("admin")
    assert (await admin.put("/api/v1/ivrs/810", json=ivr_body("Hebrew", "extension:101"))).status_code == 200
    r = await admin.put("/api/v1/ivrs/800", json=ivr_body("Main", "ivr:811"))
    assert r.status_code == 422 and "unknown ivr '811'" in r.text
    r = await admin.put("/api/v1/ivrs/800", json=ivr_body("Main", "ivr:800"))
    assert r.status_code == 422 and "sends the caller to itself" in r.text
    assert (await admin.get("/api/v1/ivrs/800")).status_code == 404  # refused: nothing written
    assert (await admin.put("/api/v1/ivrs/800", json=ivr_body("Main", "ivr:810"))).status_code == 200
    before = await box.rows("SELECT number FROM ivrs ORDER BY 1")
    r = await admin.delete("/api/v1/ivrs/810")
    assert r.status_code == 409 and r.json()["error_id"] == "ivr_in_use"
    assert "IVRs 800 still send callers to IVR 810" in r.text
    assert await box.rows("SELECT number FROM ivrs ORDER BY 1") == before
    assert (await admin.delete("/api/v1/ivrs/800")).status_code == 204
    assert (await admin.delete("/api/v1/ivrs/810")).status_code == 204
