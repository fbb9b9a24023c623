"""Queue and agent reports by interval, read from the queue event log, with CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import aiosqlite

from appliance.domain.clock import Clock
from appliance.domain.errors import DomainError
from appliance.web_services.errors import Invalid
from appliance.web_services.kpi_report import (
    AcdEvent,
    AgentInterval,
    GroupBy,
    Interval,
    QueueInterval,
    agent_report,
    decode,
    queue_report,
)

MAX_DAYS = {Interval.HOUR: 31, Interval.DAY: 366}
QUEUE_CSV = ("interval_start", "key", "entered", "answered", "answered_in_sl", "abandoned", "short_abandoned",
             "timed_out", "service_level", "asa_s", "aht_s", "abandon_rate")
AGENT_CSV = ("interval_start", "agent_id", "available_s", "reserved_s", "on_call_s", "wrap_up_s", "paused_s",
             "occupancy")
PAUSE_CSV = ("interval_start", "agent_id", "reason", "paused_s")


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `since` to `until` (inclusive), cut in intervals."""

    since: date
    until: date
    interval: Interval

    def check(self) -> None:
        """Refuse a reversed or too long range (hourly reports cover at most 31 days)."""
        if self.since > self.until:
            raise Invalid("date_range_invalid", "'since' is after 'until'", field="since")
        days = (self.until - self.since).days + 1
        if days > MAX_DAYS[self.interval]:
            raise Invalid("date_range_too_long", f"{self.interval.value}ly reports cover at most "
                          f"{MAX_DAYS[self.interval]} days", field="until", days=days,
                          max_days=MAX_DAYS[self.interval])

    @property
    def start(self) -> datetime:
        """First instant."""
        return datetime.combine(self.since, time(), UTC)

    @property
    def end(self) -> datetime:
        """The instant after the last day."""
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)


def _wall(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def _num(v: float | None, digits: int = 3) -> str:
    return "" if v is None else str(round(v, digits))


class KpiReports:
    """Reports over `queue_events` (the ACD's append-only log)."""

    def __init__(self, db: aiosqlite.Connection, clock: Clock, sl_threshold_s: float = 20.0) -> None:
        self._db = db
        self._clock = clock
        self.sl_threshold_s = sl_threshold_s

    async def _events(self, period: Period, agents_only: bool = False) -> list[tuple[datetime, AcdEvent]]:
        sql = "SELECT at, type, data FROM queue_events WHERE at >= ? AND at < ?"
        if agents_only:
            sql += " AND type LIKE 'Agent%'"
        out: list[tuple[datetime, AcdEvent]] = []
        async with self._db.execute(sql + " ORDER BY id", (period.start.isoformat()[:10],
                                                           period.end.isoformat()[:10])) as cur:
            async for at, type_name, data in cur:
                try:
                    ev = decode(str(type_name), json.loads(data))
                except (DomainError, ValueError):
                    continue  # an unreadable row is left out of reports, not a failed page
                if ev is not None:
                    out.append((_wall(str(at)), ev))
        return out

    async def queues(self, period: Period, by: GroupBy) -> list[QueueInterval]:
        """Volume, SL, ASA, AHT and abandonment per interval and queue (or agent, or all)."""
        period.check()
        return queue_report(await self._events(period), period.interval, by, self.sl_threshold_s)

    async def agents(self, period: Period) -> list[AgentInterval]:
        """Time per state, occupancy and pause time by reason per interval and agent."""
        period.check()
        async with self._db.execute(
            "SELECT agent_id, json_extract(data, '$.new'), COALESCE(json_extract(data, '$.reason'), '')"
            " FROM queue_events WHERE id IN (SELECT MAX(id) FROM queue_events WHERE type LIKE 'Agent%'"
            " AND at < ? GROUP BY agent_id)", (period.start.isoformat()[:10],),
        ) as cur:
            before = {str(a): (str(s), str(r)) for a, s, r in await cur.fetchall()}
        end = min(period.end, max(period.start, self._clock.now()))
        if end <= period.start:
            return []
        return agent_report(await self._events(period, agents_only=True), period.start, end, period.interval,
                            before)


def _csv(header: tuple[str, ...], rows: Iterator[list[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def queues_csv(rows: list[QueueInterval]) -> str:
    """The queue report as CSV, header first."""
    return _csv(QUEUE_CSV, ([r.interval_start.isoformat(), r.key, r.entered, r.answered, r.answered_in_sl,
                             r.abandoned, r.short_abandoned, r.timed_out, _num(r.service_level), _num(r.asa_s, 1),
                             _num(r.aht_s, 1), _num(r.abandon_rate)] for r in rows))


def agents_csv(rows: list[AgentInterval]) -> str:
    """The agent report as CSV, header first."""
    return _csv(AGENT_CSV, ([r.interval_start.isoformat(), r.agent_id, round(r.available_s, 1),
                             round(r.reserved_s, 1), round(r.on_call_s, 1), round(r.wrap_up_s, 1),
                             round(r.paused_s, 1), _num(r.occupancy)] for r in rows))


def pauses_csv(rows: list[AgentInterval]) -> str:
    """Pause time by reason as CSV, one row per interval, agent and reason."""
    return _csv(PAUSE_CSV, ([r.interval_start.isoformat(), r.agent_id, reason, round(secs, 1)]
                            for r in rows for reason, secs in r.pauses.items()))
