"""Queue configuration as stored, turned into the pure ACD's queues (skills, tiers, overflow)."""

from __future__ import annotations

from collections.abc import Mapping

from appliance.acd.callback import CallbackPolicy
from appliance.acd.destination import Destination
from appliance.acd.queue import EmptyRule, Member, Queue, QueueConfig, Strategy, Tier
from appliance.domain.errors import DomainError
from appliance.storage.queues import QueueRow

MIN_MISSES, MAX_MISSES = 1, 20  # missed rings before auto-pause (the queues table's CHECK)

# Seeded at the first start with the demo extensions (like the demo ring group).
DEMO_QUEUE = QueueRow(
    number="700", name="Support queue", members=("102", "103", "104", "105"), strategy="leastrecent",
    wrap_up_s=5.0, ring_timeout_s=15.0, max_wait_s=120.0, on_timeout="extension:600",
)


def member_skills(row: QueueRow, agent_skills: Mapping[str, Mapping[str, int]], agent_id: str) -> dict[str, int]:
    """A member's levels in this queue: the agent's own skills, with the queue's overrides on top."""
    return {**agent_skills.get(agent_id, {}), **row.member_skills.get(agent_id, {})}


def queue_from_row(row: QueueRow, agent_skills: Mapping[str, Mapping[str, int]] | None = None) -> Queue:
    """The pure ACD queue for a stored one (raises DomainError on bad configuration)."""
    try:
        strategy = Strategy(row.strategy)
    except ValueError:
        raise DomainError(f"queue {row.number}: unknown strategy {row.strategy!r}") from None
    if not MIN_MISSES <= row.max_misses <= MAX_MISSES:
        raise DomainError(f"queue {row.number}: max_misses must be {MIN_MISSES}-{MAX_MISSES}, got {row.max_misses}")
    try:
        join_empty, leave_when_empty = EmptyRule(row.join_empty), EmptyRule(row.leave_when_empty)
    except ValueError as exc:
        raise DomainError(f"queue {row.number}: {exc}") from None
    config = QueueConfig(
        queue_id=row.number,
        strategy=strategy,
        wrap_up_s=row.wrap_up_s,
        ring_timeout_s=row.ring_timeout_s,
        max_wait_s=row.max_wait_s,
        on_timeout=Destination.parse(row.on_timeout),
        max_len=row.max_len,
        on_full=Destination.parse(row.on_full),
        join_empty=join_empty,
        leave_when_empty=leave_when_empty,
        on_empty=Destination.parse(row.on_empty),
        default_aht_s=row.default_aht_s,
        callback_policy=CallbackPolicy(row.callback_max_attempts, row.callback_retry_s),
        skills=frozenset(row.skills),
        tiers=tuple(Tier(float(after), int(level)) for after, level in row.tiers),
    )
    skills = agent_skills or {}
    return Queue(config, [Member(m, row.penalties.get(m, 0), member_skills(row, skills, m)) for m in row.members])
