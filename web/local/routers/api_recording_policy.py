"""API: recording policy per queue (record on/off, retention days) and the retention sweep."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from appliance.web_services.recording_policy import PolicyView, RecordingPolicy
from appliance.web_services.tx import Writer
from web.local.deps import AdminUser, RowId, ServicesDep, SupervisorUser
from web.local.models import _In

router = APIRouter(prefix="/api/v1", tags=["recordings"])


def policy_service(services: ServicesDep) -> RecordingPolicy:
    """The recording-policy service on the controller's database, queues and retention sweeper."""
    ctl = services.ctl
    return RecordingPolicy(ctl.db, Writer(ctl.settings.db_path), services.clock, services.queues,
                           ctl.sessions.indexer.retention)


PolicyDep = Annotated[RecordingPolicy, Depends(policy_service)]


class QueuePolicyPublic(BaseModel):
    """One queue: is it recorded, its own retention (null: the default), the days that apply."""

    number: str
    name: str
    record: bool
    days: int | None
    effective_days: int


class SweepPublic(BaseModel):
    """What a sweep did."""

    expired: int
    purged: int
    failed: int


class HeldPublic(BaseModel):
    """A recording on legal hold."""

    id: int
    call_id: str
    started_at: str
    parties: str


class RecordingPolicyPublic(BaseModel):
    """Retention default, per-queue policy, the recordings index by state, recordings on legal hold."""

    default_days: int
    queues: list[QueuePolicyPublic]
    counts: dict[str, int]
    last_sweep: SweepPublic | None
    held: list[HeldPublic]


class HoldUpdate(_In):
    """Legal hold on or off."""

    hold: bool


class RetentionUpdate(_In):
    """Retention days: the default (calls through no queue) and per queue (null: follow the default)."""

    default_days: int
    queues: dict[str, int | None] = Field(default_factory=dict, max_length=500)


class RecordUpdate(_In):
    """Record a queue's calls or not."""

    record: bool


def public(v: PolicyView) -> RecordingPolicyPublic:
    """The API's view of the policy."""
    return RecordingPolicyPublic(
        default_days=v.default_days,
        queues=[QueuePolicyPublic(number=q.number, name=q.name, record=q.record, days=q.days,
                                  effective_days=q.effective_days) for q in v.queues],
        counts={"kept": v.counts.kept, "held": v.counts.held, "pending": v.counts.pending,
                "expired": v.counts.expired},
        last_sweep=SweepPublic(**vars(v.last_sweep)) if v.last_sweep else None,
        held=[HeldPublic(**vars(h)) for h in v.held],
    )


@router.get("/recording-policy")
async def get_recording_policy(_: SupervisorUser, policy: PolicyDep) -> RecordingPolicyPublic:
    """Recording on/off and retention per queue, the default, and counts by retention state."""
    return public(await policy.view())


@router.put("/recording-policy")
async def put_retention(body: RetentionUpdate, auth: AdminUser, policy: PolicyDep) -> RecordingPolicyPublic:
    """Set retention days (audited); the next sweep applies them."""
    return public(await policy.set_retention(auth.actor, body.default_days, body.queues))


@router.put("/recording-policy/queues/{number}/record")
async def put_record(number: str, body: RecordUpdate, auth: AdminUser, policy: PolicyDep) -> RecordingPolicyPublic:
    """Switch a queue's recording on or off (the queue's own flag, as PUT /api/v1/queues/{number}; audited)."""
    return public(await policy.set_record(auth.actor, number, body.record))


@router.put("/recordings/{recording_id}/legal-hold")
async def put_legal_hold(recording_id: RowId, body: HoldUpdate, auth: AdminUser,
                         policy: PolicyDep) -> RecordingPolicyPublic:
    """Put a recording on legal hold (never deleted by retention) or release it (audited)."""
    return public(await policy.set_hold(auth.actor, recording_id, body.hold))


@router.post("/recording-policy/sweep")
async def sweep_now(_: AdminUser, policy: PolicyDep) -> SweepPublic:
    """Run the retention sweep now (it also runs at start and every hour)."""
    return SweepPublic(**vars(await policy.sweep()))
