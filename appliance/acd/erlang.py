"""Erlang C: probability of waiting, service level, ASA and the agents needed for a target."""

from __future__ import annotations

import math
from dataclasses import dataclass

from appliance.domain.errors import DomainError


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability with `agents` servers and `traffic` Erlangs (stable recurrence)."""
    if agents < 0 or traffic < 0:
        raise DomainError(f"Erlang B needs agents >= 0 and traffic >= 0, got {agents}, {traffic}")
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return b


def erlang_c(agents: int, traffic: float) -> float:
    """Probability a caller waits (1.0 when agents <= traffic: the queue grows without bound)."""
    if agents <= traffic:
        return 1.0
    b = erlang_b(agents, traffic)
    return agents * b / (agents - traffic * (1 - b))


def service_level(agents: int, traffic: float, aht_s: float, threshold_s: float) -> float:
    """Share of calls answered within `threshold_s`: 1 - C x exp(-(N - A) x T / AHT)."""
    if agents <= traffic:
        return 0.0
    return 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * threshold_s / aht_s)


def average_speed_of_answer(agents: int, traffic: float, aht_s: float) -> float:
    """Mean wait over all calls: C x AHT / (N - A)."""
    if agents <= traffic:
        return math.inf
    return erlang_c(agents, traffic) * aht_s / (agents - traffic)


@dataclass(frozen=True)
class StaffingPlan:
    """Agents needed and what they deliver."""

    agents: int
    traffic_erlangs: float
    service_level: float
    asa_s: float
    occupancy: float
    wait_probability: float


def agents_needed(
    calls_per_hour: float,
    aht_s: float,
    target_sl: float,
    threshold_s: float,
    *,
    max_occupancy: float = 1.0,
    max_agents: int = 10_000,
) -> StaffingPlan:
    """The fewest agents on the phones that meet the service-level target (and the occupancy cap)."""
    if calls_per_hour < 0 or aht_s <= 0 or threshold_s < 0 or not 0 < target_sl < 1 or not 0 < max_occupancy <= 1:
        raise DomainError(
            "staffing needs calls_per_hour >= 0, aht_s > 0, threshold_s >= 0, 0 < target_sl < 1, "
            f"0 < max_occupancy <= 1; got {calls_per_hour}, {aht_s}, {threshold_s}, {target_sl}, {max_occupancy}"
        )
    traffic = calls_per_hour * aht_s / 3600.0
    n = max(1, math.floor(traffic) + 1)
    while n <= max_agents:
        sl = service_level(n, traffic, aht_s, threshold_s)
        if sl >= target_sl and traffic / n <= max_occupancy:
            return StaffingPlan(
                n, traffic, sl, average_speed_of_answer(n, traffic, aht_s), traffic / n, erlang_c(n, traffic)
            )
        n += 1
    raise DomainError(f"more than {max_agents} agents would be needed for {traffic:.1f} Erlangs")
