"""An SMS conversation: one per customer number while open; its state machine and agent routing.

Routing reads the ACD's agent states (the one truth for who is logged in, paused or free);
it never keeps a state of its own. A conversation stays with the agent who handles it
(sticky) while that agent is logged in; otherwise it goes to an available member of the
SMS queue with the fewest open conversations (then the longest idle), or waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from appliance.acd.agent import AgentState
from appliance.domain.errors import DomainError, IllegalTransition


class ConversationState(Enum):
    """Where a conversation is."""

    WAITING = "waiting"  # no agent has it (none free, or its agent logged out)
    ASSIGNED = "assigned"  # an agent handles it
    CLOSED = "closed"  # done; the next message from the number opens a new one


_S = ConversationState
_ALLOWED: dict[ConversationState, frozenset[ConversationState]] = {
    _S.WAITING: frozenset({_S.ASSIGNED, _S.CLOSED}),
    _S.ASSIGNED: frozenset({_S.ASSIGNED, _S.WAITING, _S.CLOSED}),
    _S.CLOSED: frozenset(),
}


def transition(old: ConversationState, new: ConversationState) -> ConversationState:
    """Return `new` if the table allows old -> new, else raise IllegalTransition."""
    if new not in _ALLOWED[old]:
        raise IllegalTransition("conversation", old.value, new.value)
    return new


class NotYourConversation(DomainError):
    """An agent acted on a conversation another agent (or nobody) handles."""


@dataclass(frozen=True)
class AgentView:
    """What routing needs to know of one agent, read from the ACD and the open conversations."""

    agent_id: str
    state: AgentState
    open_conversations: int = 0
    idle_since: float = 0.0


def choose_agent(current: str | None, members: Sequence[str], agents: Mapping[str, AgentView]) -> str | None:
    """The agent for a conversation: its current agent while logged in, else the best free member."""
    if current is not None:
        view = agents.get(current)
        if view is not None and view.state is not AgentState.LOGGED_OUT:
            return current
    free = [agents[m] for m in members if m in agents and agents[m].state is AgentState.AVAILABLE]
    if not free:
        return None
    best = min(free, key=lambda a: (a.open_conversations, a.idle_since, a.agent_id))
    return best.agent_id


def next_state(current: ConversationState, agent: str | None) -> ConversationState:
    """The state a routing decision leads to; CLOSED conversations are never routed (raises)."""
    if agent is not None:
        return transition(current, ConversationState.ASSIGNED)
    if current is ConversationState.WAITING:
        return current  # still nobody free: it keeps waiting
    return transition(current, ConversationState.WAITING)
