"""Queues as the admin creates, edits, deletes and lists them, and agents' skills: validated like the
ACD loads them, live at once (waiting callers keep their places), audited; refusals write nothing."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from appliance.acd.dispatcher import QueueBusy
from appliance.controller.queue_config import queue_from_row
from appliance.domain.clock import Clock
from appliance.domain.errors import DomainError
from appliance.storage.queues import INSERT_MEMBERS, QueueRow, member_values, row_values
from appliance.web_services import audit, rules
from appliance.web_services.audit import Actor
from appliance.web_services.directory_admin import require_free_number
from appliance.web_services.errors import Conflict, Invalid, NotFound
from appliance.web_services.tx import Writer

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService
    from appliance.controller.sessions import SessionManager

MAX_MEMBERS = 200
MAX_SKILLS = 50
MAX_TIERS = 10
SKILL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def check_skills(skills: Mapping[str, int], field: str) -> dict[str, int]:
    """Skill names of 1-32 letters, digits, '-' or '_' (any name: there is no catalogue), levels 1-10."""
    if len(skills) > MAX_SKILLS:
        raise Invalid("skills_invalid", f"at most {MAX_SKILLS} skills", field=field)
    for name, level in skills.items():
        if not SKILL_NAME.fullmatch(name):
            raise Invalid("skill_name_invalid", f"skill {name!r}: a name is 1-32 letters, digits, '-' or '_'",
                          field=field, skill=name)
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
            raise Invalid("skill_level_invalid", f"skill {name!r}: a level is a whole number from 1 to 10",
                          field=field, skill=name, level=level)
    return dict(skills)


def check_row(row: QueueRow, agent_skills: Mapping[str, Mapping[str, int]]) -> None:
    """Every rule a queue must meet before it is stored (raises Invalid with the reason)."""
    rules.number(row.number)
    rules.display_name(row.name, "name")
    if not row.members or len(row.members) > MAX_MEMBERS:
        raise Invalid("members_invalid", f"a queue has 1 to {MAX_MEMBERS} members", field="members")
    if len(set(row.members)) != len(row.members):
        raise Invalid("duplicate_member", "a member appears twice", field="members")
    strangers = sorted(set(row.penalties) - set(row.members)) + sorted(set(row.member_skills) - set(row.members))
    if strangers:
        raise Invalid("members_invalid", "penalties and skills are for members only", field="members",
                      unknown=strangers)
    for member, penalty in row.penalties.items():
        if not 0 <= penalty <= 100:
            raise Invalid("penalty_invalid", f"member {member}: a penalty is 0 to 100", field="members")
    for skills in row.member_skills.values():
        check_skills(skills, "members")
    check_skills(dict.fromkeys(row.skills, 1), "skills")
    if len(set(row.skills)) != len(row.skills):
        raise Invalid("skills_invalid", "a required skill appears twice", field="skills")
    if not 1 <= len(row.tiers) <= MAX_TIERS:
        raise Invalid("tiers_invalid", f"a queue has 1 to {MAX_TIERS} tiers", field="tiers")
    try:
        queue_from_row(row, agent_skills)  # every rule the ACD applies when it loads a queue (tiers widen...)
    except DomainError as exc:
        raise Invalid("queue_invalid", str(exc)) from None


def _require_members(conn: sqlite3.Connection, row: QueueRow) -> None:
    known = {str(r[0]) for r in conn.execute("SELECT number FROM extensions")}
    unknown = [m for m in row.members if m not in known]
    if unknown:
        raise Invalid("unknown_member", "members must be existing extensions", field="members", unknown=unknown)


def _insert(conn: sqlite3.Connection, row: QueueRow) -> None:
    values = row_values(row)
    conn.execute(f"INSERT INTO queues({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                 tuple(values.values()))
    conn.executemany(INSERT_MEMBERS, member_values(row))


def _detail(row: QueueRow) -> dict[str, object]:
    return {"name": row.name, "members": list(row.members), "strategy": row.strategy,
            "skills": list(row.skills), "tiers": [list(t) for t in row.tiers], "record": row.record}


def _referrers(conn: sqlite3.Connection, number: str) -> list[str]:
    """What would send callers to this queue: other queues' overflows, DIDs and IVR menus."""
    out = []
    dest = f"queue:{number}"
    for other, *dests in conn.execute("SELECT number, on_timeout, on_full, on_empty FROM queues WHERE number != ?",
                                      (number,)):
        if any(d == dest or str(d).startswith(dest + ";") for d in dests):
            out.append(f"queue {other}")
    for did, d in conn.execute("SELECT did, destination FROM dids"):
        if d == dest or str(d).startswith(dest + ";"):
            out.append(f"DID {did}")
    in_menu = re.compile(r'"' + re.escape(dest) + r'(;[^"]*)?"')
    for ivr, config in conn.execute("SELECT number, config FROM ivrs"):
        if in_menu.search(str(config)):
            out.append(f"IVR {ivr}")
    return out


class QueueAdmin:
    """Create, replace, delete and list queues; set agents' skills. Every change is live at once."""

    def __init__(self, writer: Writer, clock: Clock, service: Callable[[], QueueService],
                 sessions: Callable[[], SessionManager]) -> None:
        self._writer = writer
        self._clock = clock
        self._service = service
        self._sessions = sessions

    def queues(self) -> list[QueueRow]:
        """The queues the ACD runs, by number."""
        return [self._service().rows[n] for n in sorted(self._service().rows)]

    def queue(self, number: str) -> QueueRow:
        """One queue as the ACD runs it (NotFound when there is none)."""
        row = self._service().rows.get(number)
        if row is None:
            raise NotFound("queue_not_found", f"there is no queue {number}", number=number)
        return row

    async def create(self, actor: Actor, row: QueueRow) -> QueueRow:
        """Validate, store (audited) and load a new queue; refusals write nothing."""
        service = self._service()
        check_row(row, service.agent_skills)

        def go(conn: sqlite3.Connection) -> None:
            require_free_number(conn, row.number)
            _require_members(conn, row)
            _insert(conn, row)
            audit.record(conn, self._clock, actor, "queue.create", row.number, **_detail(row))

        await self._writer.run(go)
        await self._go_live(row)
        return row

    async def replace(self, actor: Actor, row: QueueRow) -> QueueRow:
        """Replace a queue's whole configuration (audited); callers waiting in it keep their places."""
        old = self.queue(row.number)
        service = self._service()
        check_row(row, service.agent_skills)

        def go(conn: sqlite3.Connection) -> None:
            _require_members(conn, row)
            conn.execute("DELETE FROM queue_members WHERE queue = ?", (row.number,))
            values = row_values(row)
            conn.execute(f"UPDATE queues SET {', '.join(f'{k} = ?' for k in values)} WHERE number = ?",
                         (*values.values(), row.number))
            conn.executemany(INSERT_MEMBERS, member_values(row))
            audit.record(conn, self._clock, actor, "queue.update", row.number, **_detail(row),
                         before=_detail(old))

        await self._writer.run(go)
        await self._go_live(row)
        return row

    async def delete(self, actor: Actor, number: str) -> None:
        """Delete an idle queue (audited) and take its number out of the dial plan.

        Refused with `queue_busy` while callers wait or talk in it, and with `queue_in_use` while
        another queue overflows into it or a DID routes to it.
        """
        row = self.queue(number)
        service = self._service()
        queue = service.dispatcher.queue(number)
        try:
            service.remove(number)  # first, so nobody joins while the row is deleted
        except QueueBusy as exc:
            raise Conflict("queue_busy", f"{exc}: wait until it is idle", number=number) from None
        self._reroute()

        def go(conn: sqlite3.Connection) -> None:
            users = _referrers(conn, number)
            if users:
                raise Conflict("queue_in_use", f"queue {number} is a destination of {', '.join(users)}",
                               number=number, used_by=users)
            conn.execute("DELETE FROM queue_members WHERE queue = ?", (number,))
            conn.execute("DELETE FROM queues WHERE number = ?", (number,))
            audit.record(conn, self._clock, actor, "queue.delete", number, **_detail(row))

        try:
            await self._writer.run(go)
        except BaseException:
            service.reinstate(queue, row)  # put it back as it was (history and round-robin memory too)
            self._reroute()
            raise

    def _reroute(self) -> None:
        """The dial plan takes the queue numbers the ACD runs now (added, kept or removed)."""
        sessions = self._sessions()
        sessions.directory = dataclasses.replace(sessions.directory, queues=self._service().numbers())

    async def _go_live(self, row: QueueRow) -> None:
        service = self._service()
        service.configure([row])
        self._reroute()
        await service.tick()  # a change can make a waiting caller eligible now
        await service.prompts.prepare(["queue-welcome"], row.language)

    # ----- agents' skills -----

    async def skills(self, extension: str) -> dict[str, int]:
        """An agent's own skills (NotFound when the extension does not exist)."""
        def go(conn: sqlite3.Connection) -> dict[str, int]:
            self._require_extension(conn, extension)
            return {str(s): int(lv) for s, lv in conn.execute(
                "SELECT skill, level FROM agent_skills WHERE extension = ? ORDER BY skill", (extension,))}

        return await self._writer.run(go)

    async def set_skills(self, actor: Actor, extension: str, skills: Mapping[str, int]) -> dict[str, int]:
        """Replace an agent's own skills (audited); every queue they serve routes by them at once."""
        skills = check_skills(skills, "skills")

        def go(conn: sqlite3.Connection) -> dict[str, int]:
            self._require_extension(conn, extension)
            before = {str(s): int(lv) for s, lv in conn.execute(
                "SELECT skill, level FROM agent_skills WHERE extension = ?", (extension,))}
            conn.execute("DELETE FROM agent_skills WHERE extension = ?", (extension,))
            conn.executemany("INSERT INTO agent_skills(extension, skill, level) VALUES (?, ?, ?)",
                             [(extension, s, lv) for s, lv in sorted(skills.items())])
            audit.record(conn, self._clock, actor, "agent.skills", extension, skills=skills, before=before)
            return skills

        await self._writer.run(go)
        service = self._service()
        service.set_agent_skills(extension, skills)
        await service.tick()
        return dict(sorted(skills.items()))

    @staticmethod
    def _require_extension(conn: sqlite3.Connection, extension: str) -> None:
        if conn.execute("SELECT 1 FROM extensions WHERE number = ?", (extension,)).fetchone() is None:
            raise NotFound("extension_not_found", f"there is no extension {extension}", extension=extension)
