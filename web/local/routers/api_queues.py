"""API: queues (admins create, replace, delete; supervisors read) and agents' skills; live at once."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from appliance.storage.queues import QueueRow
from web.local.deps import AdminUser, ServicesDep, SupervisorUser

router = APIRouter(prefix="/api/v1", tags=["queues"])

Strategy = Literal["ringall", "leastrecent", "fewestcalls", "rrmemory", "linear", "random", "wrandom"]
EmptyRule = Literal["never", "no_agent_logged_in", "no_agent_ready"]
Destination = str  # 'hangup', 'queue:701', 'extension:105', 'voicemail:700', 'external:0501234567', 'ivr:800'


SkillName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Skills = dict[SkillName, Annotated[int, Field(ge=1, le=10)]]


Extension = Annotated[str, Field(max_length=8)]


class QueueMember(BaseModel):
    """A member: the extension, its penalty in this queue (0 = first choice), and skill levels that
    override the agent's own levels in this queue only."""

    model_config = ConfigDict(extra="forbid")
    extension: Extension
    penalty: int = Field(default=0, ge=0, le=100)
    skills: Skills = Field(default_factory=dict, max_length=50)


class QueueTier(BaseModel):
    """After `after_s` seconds of waiting, agents with every required skill at `min_level` or more qualify."""

    model_config = ConfigDict(extra="forbid")
    after_s: float = Field(ge=0, le=86400)
    min_level: int = Field(ge=1, le=10)


class QueueBody(BaseModel):
    """A queue's whole configuration: members in order (linear / round-robin order), strategy,
    wrap-up, overflow, required skills and widening tiers. Members may be plain extensions."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    members: list[Extension | QueueMember] = Field(max_length=200)
    strategy: Strategy = "leastrecent"
    wrap_up_s: float = Field(default=5.0, ge=0, le=3600)
    ring_timeout_s: float = Field(default=15.0, gt=0, le=300)
    max_wait_s: float | None = Field(default=None, gt=0, le=86400)
    on_timeout: Destination = Field(default="hangup", max_length=64)
    language: Literal["en", "he", "ar", "pl", "zh"] = "en"
    record: bool = True
    max_misses: int = Field(default=3, ge=1, le=20)
    position_every_s: float | None = Field(default=None, ge=10, le=3600)
    periodic_prompt: str | None = Field(default=None, max_length=64)
    periodic_every_s: float | None = Field(default=None, ge=10, le=3600)
    default_aht_s: float = Field(default=180.0, gt=0, le=36000)
    callback_after_s: float | None = Field(default=None, ge=0, le=86400)
    callback_max_attempts: int = Field(default=3, ge=1, le=10)
    callback_retry_s: float = Field(default=300.0, ge=10, le=86400)
    max_len: int | None = Field(default=None, ge=1, le=1000)
    on_full: Destination = Field(default="hangup", max_length=64)
    join_empty: EmptyRule = "never"
    leave_when_empty: EmptyRule = "never"
    on_empty: Destination = Field(default="hangup", max_length=64)
    survey: bool = False
    skills: list[SkillName] = Field(default_factory=list, max_length=50)
    tiers: list[QueueTier] = Field(default_factory=lambda: [QueueTier(after_s=0, min_level=1)], min_length=1,
                                   max_length=10)

    def row(self, number: str) -> QueueRow:
        """The stored form of this body for queue `number`."""
        members = [m if isinstance(m, QueueMember) else QueueMember(extension=m) for m in self.members]
        values = self.model_dump(exclude={"members", "skills", "tiers", "number"})
        return QueueRow(
            number=number, members=tuple(m.extension for m in members),
            penalties={m.extension: m.penalty for m in members if m.penalty},
            member_skills={m.extension: dict(m.skills) for m in members if m.skills},
            skills=tuple(self.skills), tiers=tuple((t.after_s, t.min_level) for t in self.tiers), **values,
        )


class QueueCreate(QueueBody):
    """A new queue: its number and its whole configuration."""

    number: str = Field(max_length=8)


class QueuePublic(QueueCreate):
    """A queue as configured (members always as objects, so a GET body can be PUT back as it is)."""

    members: list[Extension | QueueMember]


class AgentSkills(BaseModel):
    """An agent's own skills with levels 1-10, used in every queue the agent is a member of."""

    model_config = ConfigDict(extra="forbid")
    skills: Skills = Field(max_length=50)


def public(row: QueueRow) -> QueuePublic:
    """The API's view of a stored queue."""
    values = dataclasses.asdict(row)
    for key in ("members", "penalties", "member_skills", "skills", "tiers"):
        values.pop(key)
    members: list[Extension | QueueMember] = [
        QueueMember(extension=m, penalty=row.penalties.get(m, 0), skills=dict(row.member_skills.get(m, {})))
        for m in row.members
    ]
    return QueuePublic(**values, members=members, skills=list(row.skills),
                       tiers=[QueueTier(after_s=a, min_level=lv) for a, lv in row.tiers])


@router.get("/queues")
async def list_queues(_: SupervisorUser, services: ServicesDep) -> list[QueuePublic]:
    """Every queue the ACD runs, by number."""
    return [public(r) for r in services.queues.queues()]


@router.post("/queues", status_code=201)
async def create_queue(body: QueueCreate, auth: AdminUser, services: ServicesDep) -> QueuePublic:
    """Create a queue (audited); its number routes to it at once. Refusals write nothing."""
    return public(await services.queues.create(auth.actor, body.row(body.number)))


@router.get("/queues/{number}")
async def get_queue(number: str, _: SupervisorUser, services: ServicesDep) -> QueuePublic:
    """One queue as configured."""
    return public(services.queues.queue(number))


@router.put("/queues/{number}")
async def replace_queue(number: str, body: QueueBody, auth: AdminUser, services: ServicesDep) -> QueuePublic:
    """Replace a queue's whole configuration (audited), live at once: waiting callers keep their places."""
    return public(await services.queues.replace(auth.actor, body.row(number)))


@router.delete("/queues/{number}", status_code=204)
async def delete_queue(number: str, auth: AdminUser, services: ServicesDep) -> None:
    """Delete an idle queue (audited); 409 queue_busy while callers are in it, queue_in_use while routed to."""
    await services.queues.delete(auth.actor, number)


@router.get("/agents/{extension}/skills")
async def get_agent_skills(extension: str, _: SupervisorUser, services: ServicesDep) -> AgentSkills:
    """An agent's own skills."""
    return AgentSkills(skills=await services.queues.skills(extension))


@router.put("/agents/{extension}/skills")
async def put_agent_skills(extension: str, body: AgentSkills, auth: AdminUser, services: ServicesDep) -> AgentSkills:
    """Replace an agent's own skills (audited); queues route by them at once."""
    return AgentSkills(skills=await services.queues.set_skills(auth.actor, extension, body.skills))
