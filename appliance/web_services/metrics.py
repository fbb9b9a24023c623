"""Prometheus text exposition (format 0.0.4) of the box's live figures; nothing is stored."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.app import Controller

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(v)


class Exposition:
    """Builds the text one metric family at a time (HELP and TYPE once per family)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[dict[str, str], float | None]]) -> None:
        """One family with its samples (labels, value)."""
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            body = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            self.lines.append(f"{name}{{{body}}} {_value(value)}" if body else f"{name} {_value(value)}")

    def text(self) -> str:
        """The whole exposition, newline-terminated."""
        return "\n".join(self.lines) + "\n"


async def sync_backlog(ctl: Controller) -> int:
    """Events in the cloud outbox not yet acknowledged by the broker."""
    async with ctl.db.execute("SELECT count(*) FROM sync_outbox") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def exposition(ctl: Controller) -> str:
    """Calls active, per-queue waiting/SL/ASA/abandons, agents by state, worker load, sync backlog."""
    out = Exposition()
    out.family("appliance_calls_active", "gauge", "Call sessions in progress.", [({}, len(ctl.sessions.sessions))])
    queues = ctl.queues
    kpis = queues.kpis()
    q = sorted(kpis.items())
    out.family("appliance_queue_waiting", "gauge", "Callers waiting in the queue.",
               [({"queue": n}, k.waiting) for n, k in q])
    out.family("appliance_queue_longest_wait_seconds", "gauge", "Wait of the longest-waiting caller.",
               [({"queue": n}, round(k.longest_wait_s, 3)) for n, k in q])
    out.family("appliance_queue_service_level_ratio", "gauge",
               "Share answered within the SL threshold since start (NaN before any call ended its wait).",
               [({"queue": n}, k.service_level) for n, k in q])
    out.family("appliance_queue_asa_seconds", "gauge", "Average speed of answer since start.",
               [({"queue": n}, k.asa_s) for n, k in q])
    out.family("appliance_queue_answered_total", "counter", "Calls answered since start.",
               [({"queue": n}, k.answered) for n, k in q])
    out.family("appliance_queue_abandoned_total", "counter", "Calls abandoned (after the short-abandon threshold).",
               [({"queue": n}, k.abandoned) for n, k in q])
    states: dict[str, int] = {}
    for agent in queues.dispatcher.agents.values():
        states[agent.state.value] = states.get(agent.state.value, 0) + 1
    out.family("appliance_agents", "gauge", "Queue agents by state.",
               [({"state": s}, n) for s, n in sorted(states.items())])
    load = sorted(ctl.sessions.placement.load().items())
    out.family("appliance_worker_legs_reserved", "gauge", "Call legs reserved on each media worker.",
               [({"worker": w}, used) for w, (used, _) in load])
    out.family("appliance_worker_legs_capacity", "gauge", "Call legs each media worker can hold (probed).",
               [({"worker": w}, cap) for w, (_, cap) in load])
    if ctl.settings.extra.get("cloud"):
        out.family("appliance_sync_backlog", "gauge", "Events in the cloud outbox awaiting the broker's ack.",
                   [({}, await sync_backlog(ctl))])
    if ctl.sms is not None:  # the SMS channel and the modem's health (signal, state, report age)
        for family in await ctl.sms.families():
            out.family(*family)
    return out.text()
