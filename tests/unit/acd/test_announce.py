"""Announcements: entry, position and wait every N seconds, periodic messages, callback offer."""

from __future__ import annotations

import pytest

from appliance.acd.announce import AnnouncementConfig, Announcer, Say, wait_words
from appliance.acd.estimate import WaitEstimate
from appliance.domain.errors import DomainError


def est(seconds: float | None, confident: bool = True) -> WaitEstimate:
    return WaitEstimate(3, seconds, 120, 2, 0, 10 if confident else 1, confident)


def test_entry_then_position_every_minute_with_periodic_and_callback() -> None:
    cfg = AnnouncementConfig(
        position_every_s=60, periodic_prompt="visit-our-website", periodic_every_s=45, callback_after_s=90
    )
    a = Announcer(cfg, joined_at=100)
    assert a.next_due() == 100
    assert a.due(100, 5, est(250)) == [Say("queue-welcome"), Say("queue-position", 5), Say("wait-minutes", 5)]
    assert a.next_due() == 145
    assert a.due(145, 4, est(200)) == [Say("visit-our-website")]
    assert a.next_due() == 160
    assert a.due(160, 3, est(30)) == [Say("queue-position", 3), Say("wait-less-than-a-minute")]
    assert a.next_due() == 190
    assert a.due(190, 2, est(10)) == [Say("visit-our-website"), Say("queue-callback-offer")]
    assert a.next_due() == 220  # the callback is offered once


def test_thin_history_says_the_position_but_not_a_wait() -> None:
    a = Announcer(AnnouncementConfig(entry_prompt=None), joined_at=0)
    assert a.due(0, 2, est(300, confident=False)) == [Say("queue-position", 2)]


def test_long_waits_are_capped_and_missing_estimates_say_nothing() -> None:
    assert wait_words(est(4000), 30) == Say("wait-more-than", 30)
    assert wait_words(est(None), 30) is None
    assert wait_words(est(61), 30) == Say("wait-minutes", 2)


def test_a_late_timer_does_not_repeat_missed_announcements() -> None:
    a = Announcer(AnnouncementConfig(entry_prompt=None, position_every_s=60), joined_at=0)
    a.due(0, 9, est(600))
    assert a.due(250, 4, est(240)) == [Say("queue-position", 4), Say("wait-minutes", 4)]
    assert a.next_due() == 300


def test_everything_off() -> None:
    a = Announcer(AnnouncementConfig(entry_prompt=None, position_every_s=None), joined_at=0)
    assert a.due(0, 1, est(10)) == [] and a.next_due() is None


@pytest.mark.parametrize("kwargs", [{"position_every_s": 0}, {"periodic_prompt": "x"}, {"callback_after_s": -1}])
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(DomainError):
        AnnouncementConfig(**kwargs)  # type: ignore[arg-type]


def test_position_at_entry_without_an_entry_prompt() -> None:
    a = Announcer(AnnouncementConfig(entry_prompt=None, position_every_s=30, position_at_entry=True), joined_at=10)
    assert a.next_due() == 10
    assert a.due(10, 2, est(45)) == [Say("queue-position", 2), Say("wait-less-than-a-minute")]
    assert a.next_due() == 40
    assert a.due(40, 1, est(20)) == [Say("queue-position", 1), Say("wait-less-than-a-minute")]


def test_without_position_at_entry_the_first_position_comes_after_the_interval() -> None:
    a = Announcer(AnnouncementConfig(entry_prompt=None, position_every_s=30), joined_at=10)
    assert a.next_due() == 40
