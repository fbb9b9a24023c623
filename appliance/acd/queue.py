"""Queue configuration, members, waiting callers, skills tiers and the join/leave rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from appliance.acd.agent import STAFFED, Agent, AgentState
from appliance.acd.callback import CallbackPolicy
from appliance.acd.destination import HANGUP, Destination
from appliance.domain.errors import DomainError


class Strategy(Enum):
    """How a queue chooses among its eligible available members."""

    RING_ALL = "ringall"
    LONGEST_IDLE = "leastrecent"
    FEWEST_CALLS = "fewestcalls"
    ROUND_ROBIN = "rrmemory"
    LINEAR = "linear"
    RANDOM = "random"
    WEIGHTED_RANDOM = "wrandom"


class EmptyRule(Enum):
    """When a queue counts as empty, for join-empty and leave-when-empty."""

    NEVER = "never"  # never empty: callers join and stay whatever the staffing
    NO_AGENT_LOGGED_IN = "no_agent_logged_in"  # every member logged out
    NO_AGENT_READY = "no_agent_ready"  # every member logged out or paused


@dataclass(frozen=True)
class Tier:
    """After `after_s` seconds of waiting, agents with skill level >= min_level qualify."""

    after_s: float
    min_level: int


@dataclass(frozen=True)
class Member:
    """An agent's membership of a queue: penalty (0 = first choice) and skill levels (1-10)."""

    agent_id: str
    penalty: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)

    def level(self, skill: str) -> int:
        """The member's level in a skill, 0 when they lack it."""
        return self.skills.get(skill, 0)


@dataclass(frozen=True)
class QueueConfig:
    """A queue as the admin configures it."""

    queue_id: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    wrap_up_s: float = 0.0
    ring_timeout_s: float = 20.0
    max_wait_s: float | None = None
    on_timeout: Destination = HANGUP
    max_len: int | None = None
    on_full: Destination = HANGUP
    join_empty: EmptyRule = EmptyRule.NEVER
    leave_when_empty: EmptyRule = EmptyRule.NEVER
    on_empty: Destination = HANGUP
    skills: frozenset[str] = frozenset()  # skills every caller of this queue needs by default
    tiers: tuple[Tier, ...] = (Tier(0.0, 1),)
    default_aht_s: float = 180.0  # prior handle time for the wait estimate while history is thin
    sl_threshold_s: float = 20.0  # service level: answered within this many seconds
    short_abandon_s: float = 5.0  # abandons quicker than this are not counted against the queue
    callback_policy: CallbackPolicy | None = None  # None: the dispatcher's callback book policy

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.queue_id:
            problems.append("queue_id is empty")
        if self.wrap_up_s < 0:
            problems.append(f"wrap_up_s must be >= 0, got {self.wrap_up_s}")
        if self.ring_timeout_s <= 0:
            problems.append(f"ring_timeout_s must be > 0, got {self.ring_timeout_s}")
        if self.max_wait_s is not None and self.max_wait_s <= 0:
            problems.append(f"max_wait_s must be > 0, got {self.max_wait_s}")
        if self.max_len is not None and self.max_len < 1:
            problems.append(f"max_len must be >= 1, got {self.max_len}")
        if not self.tiers or self.tiers[0].after_s != 0:
            problems.append("tiers must start with one at after_s=0")
        for a, b in zip(self.tiers, self.tiers[1:], strict=False):
            if b.after_s <= a.after_s or b.min_level >= a.min_level:
                problems.append(f"tiers must widen: later tiers need a later after_s and a lower level ({a} -> {b})")
        if any(not 1 <= t.min_level <= 10 for t in self.tiers):
            problems.append("tier levels must be 1-10")
        if self.default_aht_s <= 0:
            problems.append("default_aht_s must be > 0")
        for name, dest in (("on_timeout", self.on_timeout), ("on_full", self.on_full), ("on_empty", self.on_empty)):
            if dest.kind.value == "queue" and dest.target == self.queue_id:
                problems.append(f"{name} sends the queue's callers back to itself")
        if problems:
            raise DomainError(f"queue {self.queue_id!r}: " + "; ".join(problems))

    def min_level(self, waited_s: float) -> int:
        """The skill level a caller who waited `waited_s` needs of an agent (tiers widen with time)."""
        level = self.tiers[0].min_level
        for tier in self.tiers:
            if waited_s >= tier.after_s:
                level = tier.min_level
        return level

    def next_widening(self, waited_s: float) -> float | None:
        """Seconds of waiting at which the next tier opens, if any is left."""
        for tier in self.tiers:
            if tier.after_s > waited_s:
                return tier.after_s
        return None


@dataclass
class Caller:
    """A caller waiting in a queue, or a callback holding a caller's place."""

    call_id: str
    number: str
    joined_at: float
    seq: int  # order of arrival, the FIFO key within a priority
    priority: int = 0  # higher is served first
    skills: frozenset[str] = frozenset()
    callback: bool = False
    offered_to: tuple[str, ...] = ()  # agents ringing with this call right now
    not_before: float = 0.0  # a callback waiting to retry is not offered before this

    def sort_key(self) -> tuple[int, int]:
        """Queue order: priority first (higher first), then arrival."""
        return (-self.priority, self.seq)

    def waited(self, now: float) -> float:
        """Seconds in queue."""
        return now - self.joined_at


def is_empty(rule: EmptyRule, members: Mapping[str, Member], agents: Mapping[str, Agent]) -> bool:
    """True when the queue counts as empty under `rule`, given its members' states."""
    if rule is EmptyRule.NEVER:
        return False
    states = [agents[a].state for a in members if a in agents]
    if rule is EmptyRule.NO_AGENT_LOGGED_IN:
        return all(s is AgentState.LOGGED_OUT for s in states)
    return not any(s in STAFFED for s in states)


class Queue:
    """One queue's members and waiting callers, in service order."""

    def __init__(self, config: QueueConfig, members: list[Member] | None = None) -> None:
        self.config = config
        self.members: dict[str, Member] = {}  # insertion order is the linear/round-robin order
        self.order: dict[str, int] = {}  # agent_id -> index in that order
        for m in members or []:
            self.add_member(m)
        self.waiting: list[Caller] = []
        self.last_offered: str | None = None  # round-robin memory
        self.recent_handle_s: list[float] = []  # talk + wrap-up of recent calls, newest last

    @property
    def queue_id(self) -> str:
        """The queue's id."""
        return self.config.queue_id

    def add_member(self, member: Member) -> None:
        """Add an agent to the queue (or replace their penalty and skills)."""
        if member.penalty < 0:
            raise DomainError(f"penalty must be >= 0, got {member.penalty} for {member.agent_id}")
        if any(not 1 <= lvl <= 10 for lvl in member.skills.values()):
            raise DomainError(f"skill levels must be 1-10 for {member.agent_id}: {dict(member.skills)}")
        self.members[member.agent_id] = member
        self.order.setdefault(member.agent_id, len(self.order))

    def remove_member(self, agent_id: str) -> None:
        """Remove an agent from the queue."""
        self.members.pop(agent_id, None)
        self.order = {a: i for i, a in enumerate(self.members)}

    def position(self, call_id: str) -> int:
        """1-based position of a waiting caller."""
        for i, c in enumerate(self.waiting, start=1):
            if c.call_id == call_id:
                return i
        raise DomainError(f"call {call_id} is not waiting in queue {self.queue_id}")

    def position_in_line(self, call_id: str) -> int:
        """1-based position counting only the callers ahead who are not ringing an agent already.

        A caller whose offer is ringing is being served: the ones behind have moved up.
        """
        ahead = 0
        for c in self.waiting:
            if c.call_id == call_id:
                return ahead + 1
            if not c.offered_to:
                ahead += 1
        raise DomainError(f"call {call_id} is not waiting in queue {self.queue_id}")

    def find(self, call_id: str) -> Caller | None:
        """The waiting caller with this call id, if any."""
        return next((c for c in self.waiting if c.call_id == call_id), None)

    def insert(self, caller: Caller) -> int:
        """Put a caller in service order; returns their position."""
        if self.find(caller.call_id) is not None:
            raise DomainError(f"call {caller.call_id} is already waiting in queue {self.queue_id}")
        key = caller.sort_key()
        index = next((i for i, c in enumerate(self.waiting) if c.sort_key() > key), len(self.waiting))
        self.waiting.insert(index, caller)
        return index + 1

    def remove(self, call_id: str) -> Caller:
        """Take a caller out of the queue."""
        caller = self.find(call_id)
        if caller is None:
            raise DomainError(f"call {call_id} is not waiting in queue {self.queue_id}")
        self.waiting.remove(caller)
        return caller

    def record_handle_time(self, seconds: float, keep: int = 50) -> None:
        """Remember a handled call's talk + wrap-up seconds for the wait estimate."""
        self.recent_handle_s.append(seconds)
        del self.recent_handle_s[:-keep]

    def eligible(self, caller: Caller, member: Member, now: float) -> bool:
        """True when the member has every skill the caller needs at the level the caller's tier asks."""
        if not caller.skills:
            return True
        need = self.config.min_level(caller.waited(now))
        return all(member.level(s) >= need for s in caller.skills)
