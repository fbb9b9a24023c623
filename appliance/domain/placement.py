"""Placing media sessions on workers that can hold them.

A caller's whole session (caller leg and every leg it will add) lives on one worker,
because the conference bridge is per process. A worker's capacity is what it probed at
start. A reservation is taken when the edge asks where a call goes, before the INVITE
reaches the worker, so a worker is never sent a call it cannot complete; it expires if
the call never arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Reservation:
    """Legs held for one session on one worker."""

    session: str
    worker: str
    legs: int
    expires_at: float | None  # monotonic deadline until the caller's leg arrives


@dataclass
class WorkerSlots:
    """One worker's capacity and what is reserved on it."""

    name: str
    capacity: int
    reservations: dict[str, Reservation] = field(default_factory=dict)

    @property
    def used(self) -> int:
        """Legs reserved."""
        return sum(r.legs for r in self.reservations.values())

    @property
    def free(self) -> int:
        """Legs still free."""
        return self.capacity - self.used


class Placement:
    """The pool's bookkeeping: which session holds how many legs where."""

    def __init__(self, arrival_timeout_s: float = 32.0) -> None:
        self._workers: dict[str, WorkerSlots] = {}
        self._sessions: dict[str, Reservation] = {}
        self.arrival_timeout_s = arrival_timeout_s

    def add_worker(self, name: str, capacity: int) -> None:
        """A worker came up with its probed capacity."""
        if capacity < 1:
            raise ValueError(f"worker {name} probed capacity {capacity}")
        self.remove_worker(name)
        self._workers[name] = WorkerSlots(name, capacity)

    def remove_worker(self, name: str) -> list[str]:
        """A worker went away; return the sessions it held."""
        slots = self._workers.pop(name, None)
        if slots is None:
            return []
        for session in slots.reservations:
            self._sessions.pop(session, None)
        return list(slots.reservations)

    def place(self, session: str, legs: int, now: float) -> str | None:
        """Reserve `legs` on the worker with most room; None when no worker can hold them."""
        if session in self._sessions:
            return self._sessions[session].worker
        self.expire(now)
        candidates = [w for w in self._workers.values() if w.free >= legs]
        if not candidates:
            return None
        best = max(candidates, key=lambda w: (w.free, -len(w.reservations), w.name))
        res = Reservation(session, best.name, legs, now + self.arrival_timeout_s)
        best.reservations[session] = res
        self._sessions[session] = res
        return best.name

    def arrived(self, session: str) -> None:
        """The caller's leg reached its worker: the reservation no longer expires."""
        res = self._sessions.get(session)
        if res is not None:
            res.expires_at = None

    def release(self, session: str) -> None:
        """The session ended: free its legs."""
        res = self._sessions.pop(session, None)
        if res is not None and res.worker in self._workers:
            self._workers[res.worker].reservations.pop(session, None)

    def expire(self, now: float) -> list[str]:
        """Drop reservations whose caller never arrived; return their sessions."""
        gone = [
            s for s, r in self._sessions.items() if r.expires_at is not None and r.expires_at <= now
        ]
        for s in gone:
            self.release(s)
        return gone

    def worker_of(self, session: str) -> str | None:
        """The worker holding a session."""
        res = self._sessions.get(session)
        return res.worker if res else None

    def load(self) -> dict[str, tuple[int, int]]:
        """Per worker: (legs reserved, capacity)."""
        return {n: (w.used, w.capacity) for n, w in sorted(self._workers.items())}

    @property
    def total_free(self) -> int:
        """Free legs over the pool."""
        return sum(w.free for w in self._workers.values())
