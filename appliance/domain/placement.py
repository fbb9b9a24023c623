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
        self._pins: dict[str, str] = {}  # a key (e.g. "park:7001") -> the session it follows
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

    def place(self, session: str, legs: int, now: float, pin: str | None = None) -> str | None:
        """Reserve `legs` on the worker with most room (only on worker `pin` if given);
        None when no (allowed) worker can hold them."""
        if session in self._sessions:
            return self._sessions[session].worker
        self.expire(now)
        candidates = [w for w in self._workers.values() if w.free >= legs and pin in (None, w.name)]
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

    def add_legs(self, session: str, legs: int) -> bool:
        """Hold `legs` more for a live session on its worker (a transfer target, a supervisor);
        False, changing nothing, when the worker has no room."""
        res = self._sessions.get(session)
        if legs < 1 or res is None or res.worker not in self._workers:
            return False
        if self._workers[res.worker].free < legs:
            return False
        res.legs += legs
        return True

    def remove_legs(self, session: str, legs: int) -> None:
        """Give back legs taken with add_legs (never below one: the caller's own)."""
        res = self._sessions.get(session)
        if res is not None:
            res.legs = max(1, res.legs - legs)

    def pin(self, key: str, session: str) -> None:
        """New sessions asking for `key` go to the worker of `session` (e.g. a parked call's)."""
        self._pins[key] = session

    def unpin(self, key: str) -> None:
        """Forget a pin."""
        self._pins.pop(key, None)

    def pinned_worker(self, key: str) -> str | None:
        """The worker a new session for `key` must land on, or None when not pinned."""
        session = self._pins.get(key)
        if session is None:
            return None
        worker = self.worker_of(session)
        if worker is None:
            del self._pins[key]  # the session it followed is gone
        return worker

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
