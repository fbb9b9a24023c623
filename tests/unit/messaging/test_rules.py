"""Pure rules of the SMS channel: opt-out keywords, numbers, the conversation state machine, routing."""

from __future__ import annotations

import pytest

from appliance.acd.agent import AgentState
from appliance.domain.errors import IllegalTransition
from appliance.messaging.conversation import (
    AgentView,
    ConversationState,
    choose_agent,
    next_state,
    transition,
)
from appliance.messaging.numbers import InvalidNumber, normalize_number
from appliance.messaging.optout import (
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    Keyword,
    RecipientOptedOut,
    check_outbound,
    classify,
)

S = ConversationState


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop! ", "STOPALL", "stop all", "UNSUBSCRIBE", "Cancel.",
                                  "end", "QUIT", "הסר", "הָסֵר", "עצור", "إلغاء", "الغاء", "إلغاءُ", "توقف",
                                  "WYPISZ", "rezygnuję", "Rezygnuje", "退订", "td", "取消订阅"])
def test_opt_out_keywords_in_several_languages(text: str) -> None:
    assert classify(text) is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["START", "start", "Unstop", "הרשם", "ابدأ", "ZAPISZ", "订阅"])
def test_opt_in_keywords(text: str) -> None:
    assert classify(text) is Keyword.OPT_IN


@pytest.mark.parametrize("text", ["stop calling me at work", "Please stop", "", "   ", "הסר אותי מהרשימה בבקשה",
                                  "STOPP", "the end is near", "starting now"])
def test_a_keyword_counts_only_as_the_whole_message(text: str) -> None:
    assert classify(text) is None


def test_every_listed_word_is_recognised_and_no_word_is_both() -> None:
    for words, kind in ((OPT_OUT_WORDS, Keyword.OPT_OUT), (OPT_IN_WORDS, Keyword.OPT_IN)):
        for lang, ws in words.items():
            for w in ws:
                assert classify(w) is kind, (lang, w)


def test_block_list_refuses_outbound() -> None:
    check_outbound("+972501234567", {"+15550100"})
    with pytest.raises(RecipientOptedOut, match="opted out") as exc:
        check_outbound("+972501234567", {"+972501234567"})
    assert exc.value.number == "+972501234567"


def test_numbers_are_normalised_or_refused() -> None:
    assert normalize_number("+972 (50) 123-4567") == "+972501234567"
    assert normalize_number("*100#") == "*100#"
    for bad in ("", "abc", "+", "12+34", "1" * 21, "+44 20 7946 0958 ext 2"):
        with pytest.raises(InvalidNumber):
            normalize_number(bad)


def test_conversation_state_machine() -> None:
    assert transition(S.WAITING, S.ASSIGNED) is S.ASSIGNED
    assert transition(S.ASSIGNED, S.WAITING) is S.WAITING
    assert transition(S.ASSIGNED, S.CLOSED) is S.CLOSED
    for new in S:
        with pytest.raises(IllegalTransition):
            transition(S.CLOSED, new)
    assert next_state(S.WAITING, None) is S.WAITING
    assert next_state(S.WAITING, "102") is S.ASSIGNED
    assert next_state(S.ASSIGNED, None) is S.WAITING
    with pytest.raises(IllegalTransition):
        next_state(S.CLOSED, "102")


def views(**states: tuple[AgentState, int, float]) -> dict[str, AgentView]:
    return {a: AgentView(a, st, n, idle) for a, (st, n, idle) in states.items()}


def test_routing_prefers_the_free_member_with_fewest_conversations_then_longest_idle() -> None:
    agents = views(a102=(AgentState.AVAILABLE, 2, 0.0), a103=(AgentState.AVAILABLE, 1, 50.0),
                   a104=(AgentState.AVAILABLE, 1, 10.0), a105=(AgentState.PAUSED, 0, 0.0))
    members = ["a102", "a103", "a104", "a105"]
    assert choose_agent(None, members, agents) == "a104"
    assert choose_agent(None, ["a102", "a105"], agents) == "a102"
    assert choose_agent(None, ["a105"], agents) is None  # paused: not offered
    assert choose_agent(None, ["a999"], agents) is None  # not an ACD agent


@pytest.mark.parametrize("state", [AgentState.AVAILABLE, AgentState.ON_CALL, AgentState.PAUSED,
                                   AgentState.WRAP_UP, AgentState.RESERVED])
def test_routing_is_sticky_while_the_agent_is_logged_in(state: AgentState) -> None:
    agents = views(a102=(state, 9, 0.0), a103=(AgentState.AVAILABLE, 0, 0.0))
    assert choose_agent("a102", ["a102", "a103"], agents) == "a102"


def test_a_logged_out_agent_loses_the_conversation() -> None:
    agents = views(a102=(AgentState.LOGGED_OUT, 1, 0.0), a103=(AgentState.AVAILABLE, 0, 0.0))
    assert choose_agent("a102", ["a102", "a103"], agents) == "a103"
    agents = views(a102=(AgentState.LOGGED_OUT, 1, 0.0))
    assert choose_agent("a102", ["a102"], agents) is None
