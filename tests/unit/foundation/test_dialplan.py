"""Where calls go: the controller's pure routing decisions."""

from appliance.domain.dialplan import (
    ECHO_TEST,
    Directory,
    MediaService,
    Reject,
    RingGroup,
    ToExtension,
    ToMedia,
    hunt_order,
    route,
)

DIR = Directory(
    extensions=frozenset({"101", "102", "103"}),
    ring_groups={
        "600": RingGroup("600", "Support", ("102", "103")),
        "601": RingGroup("601", "Solo", ("101",)),
    },
)


def test_registered_extension_is_rung_directly() -> None:
    assert route("102", "101", DIR) == ToExtension("102")


def test_unknown_number_is_404() -> None:
    assert route("999", "101", DIR) == Reject(404, "Not Found")


def test_calling_yourself_is_busy() -> None:
    assert route("101", "101", DIR) == Reject(486, "Busy Here")


def test_echo_test_needs_one_leg_and_ring_group_two() -> None:
    echo = route(ECHO_TEST, "101", DIR)
    group = route("600", "101", DIR)
    assert isinstance(echo, ToMedia) and echo.service is MediaService.ECHO and echo.legs == 1
    assert isinstance(group, ToMedia) and group.service is MediaService.RING_GROUP and group.legs == 2


def test_ring_group_never_rings_the_caller() -> None:
    assert hunt_order(DIR.ring_groups["600"], "102") == ["103"]
    assert route("601", "101", DIR) == Reject(480, "No Members Available")
