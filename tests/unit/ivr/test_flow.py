"""IVR menus as a state machine: navigation, timeouts, retries, repeat key, extension dialling,
business-hours branches with an injected clock, and configuration errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.acd.destination import Destination, DestinationKind
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError, IllegalTransition
from appliance.ivr.flow import Hangup, IvrSession, IvrState, Play, Transfer, WaitForDigit, transition
from appliance.ivr.menu import Directory, IvrConfigError, load_ivr

DIRECTORY = Directory(
    extensions=frozenset({"301", "302", "200", "7"}),
    queues=frozenset({"sales", "support"}),
    mailboxes=frozenset({"sales", "200"}),
)

CONFIG: dict[str, Any] = {
    "entry": "switch:hours",
    "switches": {
        "hours": {
            "hours": {
                "tz": "Europe/Warsaw",
                "hours": {"mon-fri": ["09:00-17:00"]},
                "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
            },
            "open": "menu:main",
            "closed": "menu:closed",
            "holiday": "voicemail:sales",
        }
    },
    "menus": {
        "main": {
            "prompt": "welcome-main",
            "options": {"1": "queue:sales", "2": "menu:support", "0": "extension:200", "9": "hangup"},
            "timeout_s": 5,
            "max_retries": 2,
            "dial_extensions": True,
            "on_fail": "queue:sales",
        },
        "support": {"prompt": "support", "options": {"1": "queue:support", "#": "menu:main"}, "repeat_key": "*"},
        "closed": {"prompt": "closed", "options": {"1": "voicemail:sales"}, "max_retries": 0},
    },
}

MONDAY_NOON_WARSAW = datetime(2026, 1, 12, 11, 0, tzinfo=UTC)
MONDAY_NIGHT_WARSAW = datetime(2026, 1, 12, 20, 0, tzinfo=UTC)
CHRISTMAS_NOON = datetime(2026, 12, 25, 11, 0, tzinfo=UTC)


def session(at: datetime = MONDAY_NOON_WARSAW, config: dict[str, Any] | None = None) -> IvrSession:
    return IvrSession(load_ivr(config or CONFIG, DIRECTORY), ManualClock(at))


def q(name: str) -> Transfer:
    return Transfer(Destination(DestinationKind.QUEUE, name))


def test_open_hours_reach_the_main_menu_and_a_digit_transfers() -> None:
    s = session()
    assert s.start() == [Play("welcome-main"), WaitForDigit(5)]
    assert s.state is IvrState.MENU
    assert s.digit("1") == [q("sales")]
    assert s.state is IvrState.DONE
    assert s.trail == ["switch:hours", "menu:main", "key:1", "queue:sales"]


def test_closed_and_holiday_branches_follow_the_clock() -> None:
    assert session(MONDAY_NIGHT_WARSAW).start() == [Play("closed"), WaitForDigit(5)]
    assert session(CHRISTMAS_NOON).start() == [Transfer(Destination(DestinationKind.VOICEMAIL, "sales"))]


def test_the_branch_changes_as_the_injected_clock_moves() -> None:
    clock = ManualClock(datetime(2026, 1, 12, 7, 59, tzinfo=UTC))  # 08:59 in Warsaw
    cfg = load_ivr(CONFIG, DIRECTORY)
    assert IvrSession(cfg, clock).start()[0] == Play("closed")
    clock.advance(60)
    assert IvrSession(cfg, clock).start()[0] == Play("welcome-main")


def enter_support(s: IvrSession) -> None:
    s.start()
    assert s.digit("2") == [WaitForDigit(3)]  # "2" could start extension 200: wait for more
    assert s.state is IvrState.COLLECTING
    assert s.timeout() == [Play("support"), WaitForDigit(5)]


def test_submenu_and_back() -> None:
    s = session()
    enter_support(s)
    assert s.digit("*") == [Play("support"), WaitForDigit(5)]  # repeat key, not counted
    assert s.retries == 0
    assert s.digit("#") == [Play("welcome-main"), WaitForDigit(5)]
    assert s.digit("1") == [q("sales")]


def test_invalid_input_retries_then_on_fail() -> None:
    s = session()
    s.start()
    assert s.digit("5") == [Play("invalid-option"), Play("welcome-main"), WaitForDigit(5)]
    assert s.timeout() == [Play("welcome-main"), WaitForDigit(5)]
    assert s.digit("#") == [q("sales")]  # third failure with max_retries=2 -> on_fail
    assert s.trail[-3:] == ["key:#", "invalid", "queue:sales"]


def test_silence_hangs_up_after_the_retries() -> None:
    s = session(MONDAY_NIGHT_WARSAW)
    s.start()
    assert s.timeout() == [Hangup()]  # closed menu: max_retries 0, on_fail hangup


def ext(number: str) -> Transfer:
    return Transfer(Destination(DestinationKind.EXTENSION, number))


def test_dialling_an_extension_directly() -> None:
    s = session()
    s.start()
    assert s.digit("3") == [WaitForDigit(3)]
    assert s.digit("0") == [WaitForDigit(3)]
    assert s.digit("2") == [ext("302")]


def test_an_ambiguous_prefix_becomes_the_extension_when_complete() -> None:
    s = session()
    s.start()
    s.digit("2")
    s.digit("0")
    assert s.digit("0") == [ext("200")]


def test_a_single_digit_extension_that_is_not_an_option() -> None:
    s = session()
    s.start()
    assert s.digit("7") == [ext("7")]


def test_an_unfinished_extension_counts_as_invalid() -> None:
    s = session()
    s.start()
    s.digit("3")
    assert s.timeout() == [Play("invalid-option"), Play("welcome-main"), WaitForDigit(5)]
    assert s.state is IvrState.MENU and s.buffer == ""
    s.digit("3")
    assert s.digit("9") == [Play("invalid-option"), Play("welcome-main"), WaitForDigit(5)]


def test_extension_dialling_off_means_options_answer_at_once() -> None:
    cfg = {**CONFIG, "menus": {**CONFIG["menus"], "main": {**CONFIG["menus"]["main"], "dial_extensions": False}}}
    s = session(config=cfg)
    s.start()
    assert s.digit("2") == [Play("support"), WaitForDigit(5)]
    s2 = session(config=cfg)
    s2.start()
    assert s2.digit("7")[0] == Play("invalid-option")


def test_hangup_option() -> None:
    s = session()
    s.start()
    assert s.digit("9") == [Hangup()]


def test_done_session_takes_no_input() -> None:
    s = session()
    s.start()
    s.digit("1")
    with pytest.raises(DomainError, match="takes no digits"):
        s.digit("1")
    with pytest.raises(DomainError, match="no timer"):
        s.timeout()
    with pytest.raises(IllegalTransition):
        s.start()


@pytest.mark.parametrize("key", ["", "12", "x", "A"])
def test_bad_key_is_refused_and_changes_nothing(key: str) -> None:
    s = session()
    s.start()
    with pytest.raises(DomainError, match="not a DTMF key"):
        s.digit(key)
    assert s.state is IvrState.MENU and s.retries == 0 and s.trail == ["switch:hours", "menu:main"]


def test_transition_table() -> None:
    assert transition(IvrState.IDLE, IvrState.MENU) is IvrState.MENU
    with pytest.raises(IllegalTransition):
        transition(IvrState.DONE, IvrState.MENU)
    with pytest.raises(IllegalTransition):
        transition(IvrState.IDLE, IvrState.COLLECTING)


def broken(**changes: Any) -> dict[str, Any]:
    cfg = {**CONFIG, "menus": {**CONFIG["menus"]}, "switches": {**CONFIG["switches"]}}
    for path, value in changes.items():
        section, key, *rest = path.split("__")
        target = cfg[section][key] = dict(cfg[section][key])
        if rest:
            target[rest[0]] = value
    return cfg


@pytest.mark.parametrize(
    "cfg, message",
    [
        (broken(menus__main__options={"1": "queue:nosuch"}), "unknown queue 'nosuch'"),
        (broken(menus__main__options={"1": "menu:ghost"}), "unknown menu 'ghost'"),
        (broken(menus__main__options={"1": "extension:999"}), "unknown extension '999'"),
        (broken(menus__main__options={"1": "voicemail:nobody"}), "unknown voicemail 'nobody'"),
        (broken(menus__main__options={"1": "external:call-me"}), "not a phone number"),
        (broken(menus__main__options={"12": "queue:sales"}), "not a single DTMF key"),
        (broken(menus__main__options={"x": "queue:sales"}), "not a single DTMF key"),
        (broken(menus__main__options={"*": "queue:sales"}), "both an option and the repeat key"),
        (broken(menus__main__options={"1": "fax:1"}), "unknown destination kind"),
        (broken(menus__main__options={}), "no options"),
        (broken(menus__main__prompt=""), "no prompt"),
        (broken(menus__main__timeout_s=0), "timeouts must be > 0"),
        (broken(menus__main__max_retries=-1), "max_retries"),
        (broken(menus__main__colour="red"), "unknown keys"),
        (broken(menus__main__timeout_s="soon"), "menu 'main'"),
        (broken(switches__hours__hours={"tz": "UTC", "hours": {"mon": ["09:00-12:00", "10:00-11:00"]}}), "overlap"),
        (broken(switches__hours__open="switch:hours"), "lead back to itself"),
        ({**CONFIG, "entry": "menu:nowhere"}, "entry: unknown menu"),
    ],
)
def test_bad_configuration_gets_a_clear_error(cfg: dict[str, Any], message: str) -> None:
    with pytest.raises(IvrConfigError, match=message):
        load_ivr(cfg, DIRECTORY)


def test_every_problem_is_listed_at_once() -> None:
    cfg = broken(menus__main__options={"1": "queue:nosuch", "2": "menu:ghost"})
    with pytest.raises(IvrConfigError) as err:
        load_ivr(cfg, DIRECTORY)
    assert len(err.value.problems) == 2


inputs = st.lists(st.one_of(st.sampled_from(sorted("0123456789*#")), st.just("timeout")), max_size=40)


@given(inputs, st.sampled_from([MONDAY_NOON_WARSAW, MONDAY_NIGHT_WARSAW, CHRISTMAS_NOON]))
def test_any_input_leads_somewhere_and_silence_always_ends_the_call(keys: list[str], at: datetime) -> None:
    s = session(at)
    actions = s.start()
    for key in keys:
        if s.state is IvrState.DONE:
            break
        actions = s.timeout() if key == "timeout" else s.digit(key)
        assert actions, "every input gets an answer"
        if s.state is not IvrState.DONE:
            assert isinstance(actions[-1], WaitForDigit)
    for _ in range(10):  # the caller goes silent: retries run out, so the IVR always moves the call on
        if s.state is IvrState.DONE:
            break
        actions = s.timeout()
    assert s.state is IvrState.DONE
    assert isinstance(actions[-1], (Transfer, Hangup))
