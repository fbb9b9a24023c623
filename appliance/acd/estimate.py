"""Estimated wait time from the queue's recent handle times and the agents actually staffed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from appliance.acd.dispatcher import Dispatcher
from appliance.domain.errors import DomainError


@dataclass(frozen=True)
class WaitEstimate:
    """An estimate for one position; `seconds` is None when nobody staffs the queue."""

    position: int
    seconds: float | None
    aht_s: float  # the handle time used (history shrunk toward the prior while thin)
    staffed: int
    free: int
    samples: int
    confident: bool  # enough history: announce it; otherwise say "a few minutes" or nothing


def blended_aht(recent_handle_s: Sequence[float], prior_s: float, *, window: int = 20, min_samples: int = 5) -> float:
    """Mean of the last `window` handle times, padded with the prior up to `min_samples` values."""
    recent = list(recent_handle_s)[-window:]
    pad = max(0, min_samples - len(recent))
    return (sum(recent) + pad * prior_s) / (len(recent) + pad)


def estimate_wait(
    position: int,
    recent_handle_s: Sequence[float],
    staffed: int,
    free: int,
    prior_aht_s: float,
    *,
    window: int = 20,
    min_samples: int = 5,
) -> WaitEstimate:
    """EWT = max(0, position - free) x AHT / staffed (see docs/acd.md for why)."""
    if position < 1 or staffed < 0 or free < 0 or free > staffed or prior_aht_s <= 0:
        raise DomainError(f"bad wait-estimate input: position={position} staffed={staffed} free={free}")
    samples = min(len(recent_handle_s), window)
    aht = blended_aht(recent_handle_s, prior_aht_s, window=window, min_samples=min_samples)
    seconds = None if staffed == 0 else max(0, position - free) * aht / staffed
    return WaitEstimate(position, seconds, aht, staffed, free, samples, samples >= min_samples and staffed > 0)


def estimate_for_call(d: Dispatcher, queue_id: str, call_id: str) -> WaitEstimate:
    """The estimate for a caller waiting in a dispatcher's queue, from its live staffing and history.

    The position skips callers ahead whose offer is ringing: an agent is already theirs.
    """
    q = d.queue(queue_id)
    return estimate_wait(
        q.position_in_line(call_id), q.recent_handle_s, d.staffed(queue_id), d.free(queue_id), q.config.default_aht_s
    )


@dataclass(frozen=True)
class EstimateAccuracy:
    """How estimates compared with what really happened."""

    count: int
    mean_error_s: float  # estimate - actual: positive means we over-promised the wait
    mean_abs_error_s: float
    within_tolerance: float  # share of estimates within max(tolerance_s, tolerance_ratio x actual)


def compare_estimates(
    pairs: Iterable[tuple[float, float]], *, tolerance_s: float = 30.0, tolerance_ratio: float = 0.25
) -> EstimateAccuracy:
    """Compare (estimated, actual) waits in seconds."""
    data = list(pairs)
    if not data:
        raise DomainError("no (estimate, actual) pairs to compare")
    errors = [e - a for e, a in data]
    within = sum(1 for e, a in data if abs(e - a) <= max(tolerance_s, tolerance_ratio * a))
    n = len(data)
    return EstimateAccuracy(n, sum(errors) / n, sum(abs(x) for x in errors) / n, within / n)
