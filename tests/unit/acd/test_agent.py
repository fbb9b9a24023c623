"""The agent state machine: every transition, the illegal ones, auto-pause, wrap-up, pending requests."""

from __future__ import annotations

import pytest

from appliance.acd.agent import AUTO_PAUSE_REASON, Agent, AgentState, transition
from appliance.acd.events import (
    AgentAnswered,
    AgentCallEnded,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentReleased,
    AgentReserved,
    AgentRingNoAnswer,
    AgentUnpaused,
    AgentWrapUpEnded,
)
from appliance.domain.clock import ManualClock
from appliance.domain.errors import DomainError, IllegalTransition

S = AgentState

LEGAL = {
    (S.LOGGED_OUT, S.AVAILABLE), (S.LOGGED_OUT, S.PAUSED),
    (S.AVAILABLE, S.RESERVED), (S.AVAILABLE, S.ON_CALL), (S.AVAILABLE, S.PAUSED), (S.AVAILABLE, S.LOGGED_OUT),
    (S.RESERVED, S.ON_CALL), (S.RESERVED, S.AVAILABLE), (S.RESERVED, S.PAUSED), (S.RESERVED, S.LOGGED_OUT),
    (S.ON_CALL, S.WRAP_UP), (S.ON_CALL, S.AVAILABLE), (S.ON_CALL, S.PAUSED), (S.ON_CALL, S.LOGGED_OUT),
    (S.WRAP_UP, S.AVAILABLE), (S.WRAP_UP, S.PAUSED), (S.WRAP_UP, S.LOGGED_OUT),
    (S.PAUSED, S.AVAILABLE), (S.PAUSED, S.PAUSED), (S.PAUSED, S.LOGGED_OUT),
}  # fmt: skip


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transition_table(old: AgentState, new: AgentState) -> None:
    if (old, new) in LEGAL:
        assert transition(old, new) is new
    else:
        with pytest.raises(IllegalTransition):
            transition(old, new)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def agent(clock: ManualClock) -> Agent:
    a = Agent("a1", clock, max_misses=2)
    a.login()
    return a


def test_full_call_cycle_with_wrap_up(agent: Agent, clock: ManualClock) -> None:
    [ev] = agent.reserve("c1", "sales")
    assert isinstance(ev, AgentReserved) and (ev.old, ev.new, ev.call_id) == ("available", "reserved", "c1")
    clock.advance(3)
    [ev] = agent.answer("c1")
    assert isinstance(ev, AgentAnswered) and ev.queue_id == "sales"
    clock.advance(60)
    [ev] = agent.end_call("c1", wrap_up_s=15)
    assert isinstance(ev, AgentCallEnded) and ev.wrap_up_s == 15 and agent.state is S.WRAP_UP
    assert agent.next_deadline() == 63 + 15
    clock.advance(14.9)
    assert agent.tick() == [] and agent.state is S.WRAP_UP
    assert agent.time_in_state() == pytest.approx(14.9)
    clock.advance(0.1)
    [ev] = agent.tick()
    assert isinstance(ev, AgentWrapUpEnded) and agent.state is S.AVAILABLE
    assert agent.calls_by_queue == {"sales": 1} and agent.idle_since() == 63


def test_zero_wrap_up_goes_straight_to_available(agent: Agent) -> None:
    agent.reserve("c1", "q")
    agent.answer("c1")
    [ev] = agent.end_call("c1", 0)
    assert isinstance(ev, AgentCallEnded) and agent.state is S.AVAILABLE


def test_ready_ends_wrap_up_early(agent: Agent) -> None:
    agent.reserve("c1", "q")
    agent.answer("c1")
    agent.end_call("c1", 30)
    [ev] = agent.ready()
    assert isinstance(ev, AgentWrapUpEnded) and agent.state is S.AVAILABLE and agent.next_deadline() is None


def test_ring_no_answer_auto_pauses_after_n_misses(agent: Agent) -> None:
    agent.reserve("c1", "q")
    [ev] = agent.ring_no_answer("c1")
    assert isinstance(ev, AgentRingNoAnswer) and ev.misses == 1 and agent.state is S.AVAILABLE
    agent.reserve("c2", "q")
    [ev] = agent.ring_no_answer("c2")
    assert isinstance(ev, AgentPaused) and ev.auto and ev.reason == AUTO_PAUSE_REASON
    assert agent.state is S.PAUSED and agent.pause_reason == AUTO_PAUSE_REASON
    [ev] = agent.unpause()
    assert isinstance(ev, AgentUnpaused) and agent.misses == 0


def test_an_answer_resets_the_miss_count(agent: Agent) -> None:
    agent.reserve("c1", "q")
    agent.ring_no_answer("c1")
    agent.reserve("c2", "q")
    agent.answer("c2")
    agent.end_call("c2", 0)
    agent.reserve("c3", "q")
    agent.ring_no_answer("c3")
    assert agent.state is S.AVAILABLE and agent.misses == 1


def test_release_is_not_a_miss(agent: Agent) -> None:
    agent.reserve("c1", "q")
    [ev] = agent.release("c1")
    assert isinstance(ev, AgentReleased) and agent.misses == 0 and agent.state is S.AVAILABLE


def test_pause_while_on_call_applies_after_the_call(agent: Agent) -> None:
    agent.reserve("c1", "q")
    agent.answer("c1")
    assert agent.pause("lunch") == [] and agent.state is S.ON_CALL
    [ev] = agent.end_call("c1", 0)
    assert isinstance(ev, AgentPaused) and ev.reason == "lunch" and agent.state is S.PAUSED


def test_pause_requested_on_call_waits_for_wrap_up(agent: Agent, clock: ManualClock) -> None:
    agent.reserve("c1", "q")
    agent.answer("c1")
    agent.pause("training")
    agent.end_call("c1", 10)
    assert agent.state is S.WRAP_UP
    clock.advance(10)
    [ev] = agent.tick()
    assert isinstance(ev, AgentPaused) and ev.reason == "training"


def test_logout_while_ringing_applies_when_the_offer_ends(agent: Agent) -> None:
    agent.reserve("c1", "q")
    assert agent.logout() == []
    [ev] = agent.ring_no_answer("c1")
    assert isinstance(ev, AgentLoggedOut) and agent.state is S.LOGGED_OUT


def test_unpause_cancels_a_pending_pause(agent: Agent) -> None:
    agent.reserve("c1", "q")
    agent.answer("c1")
    agent.pause("lunch")
    agent.unpause()
    agent.end_call("c1", 0)
    assert agent.state is S.AVAILABLE


def test_login_paused_and_change_reason(clock: ManualClock) -> None:
    a = Agent("a2", clock)
    evs = a.login(paused_reason="briefing")
    assert [type(e) for e in evs] == [AgentLoggedIn, AgentPaused] and a.state is S.PAUSED
    [ev] = a.pause("meeting")
    assert isinstance(ev, AgentPaused) and ev.old == ev.new == "paused" and a.pause_reason == "meeting"


def test_direct_call_blocks_offers(agent: Agent) -> None:
    agent.direct_call("d1")
    assert not agent.is_available()
    with pytest.raises(IllegalTransition):
        agent.reserve("c1", "q")
    agent.end_call("d1", 0)
    assert agent.calls_by_queue == {}


def test_an_agent_on_a_call_is_never_reserved_again(agent: Agent) -> None:
    agent.reserve("c1", "q")
    with pytest.raises(IllegalTransition):
        agent.reserve("c2", "q")
    agent.answer("c1")
    with pytest.raises(IllegalTransition):
        agent.reserve("c2", "q")


@pytest.mark.parametrize(
    "action",
    [
        lambda a: a.answer("c1"),
        lambda a: a.end_call("c1", 0),
        lambda a: a.ring_no_answer("c1"),
        lambda a: a.ready(),
        lambda a: a.unpause(),
        lambda a: a.login(),
    ],
)
def test_illegal_commands_raise_and_change_nothing(agent: Agent, action: object) -> None:
    with pytest.raises(DomainError):
        action(agent)  # type: ignore[operator]
    assert agent.state is S.AVAILABLE


def test_wrong_call_id_is_refused(agent: Agent) -> None:
    agent.reserve("c1", "q")
    with pytest.raises(DomainError, match="holds call c1"):
        agent.answer("c2")
    assert agent.state is S.RESERVED


@pytest.mark.parametrize("reason", ["", " ", "x" * 33, "bad reason", "a;b"])
def test_bad_pause_reason_is_refused(agent: Agent, reason: str) -> None:
    with pytest.raises(DomainError, match="pause reason"):
        agent.pause(reason)
    assert agent.state is S.AVAILABLE


def test_logged_out_agent_cannot_pause(clock: ManualClock) -> None:
    with pytest.raises(IllegalTransition):
        Agent("x", clock).pause("lunch")
