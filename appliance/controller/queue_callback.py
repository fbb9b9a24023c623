"""A callback at the head of its queue: ring the agent first, then dial the customer and bridge.

The customer is not on the line, so the box originates the session itself: it reserves legs on
a worker (the agents rung plus the customer), opens a CDR of kind `queue_callback` (caller:
the queue, callee: the customer's number) and runs the same teardown as any session.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from appliance.acd.outcome import Offer, Outcome
from appliance.controller.queue_caller import ring_agents
from appliance.controller.rpc import RpcError
from appliance.controller.sessions import WORKER_LOST, CallEnded, Session
from appliance.domain.dialplan import MediaService
from appliance.domain.errors import DomainError
from appliance.domain.session_state import SessionState

if TYPE_CHECKING:
    from appliance.controller.queues import QueueService

log = logging.getLogger(__name__)

CUSTOMER_RING_S = 30
CALLBACK_KIND = "queue_callback"


async def run_callback(svc: QueueService, offer: Offer) -> None:
    """Carry out one callback offer to its end (connected, retry later, or given up)."""
    m, d = svc.manager, svc.dispatcher
    cb = d.callbacks.get(offer.call_id)
    if cb is None:
        log.error("callback offer for %s with no callback", offer.call_id)
        return
    sid = f"{offer.call_id}~cb{cb.attempts + 1}"
    worker = m.placement.place(sid, len(offer.agent_ids) + 1, m.clock.monotonic())
    if worker is None or worker not in m.links:
        m.placement.release(sid)
        log.error("callback %s: no worker has room; the agents are released", offer.call_id)
        out = Outcome()
        for agent in offer.agent_ids:
            with contextlib.suppress(DomainError):
                out.extend(d.no_answer(offer.call_id, agent))
        await svc.apply(out, step=True)
        return
    m.placement.arrived(sid)
    s = Session(sid, MediaService.QUEUE, offer.queue_id, offer.queue_id, worker, m.clock.now())
    s.link = m.links[worker]
    s.set_state(SessionState.ANSWERING)
    m.sessions[sid] = s
    await m.store.cdr_open(sid, CALLBACK_KIND, offer.queue_id, cb.number, s.started, worker)
    code, cause = 200, "normal"
    try:
        await _callback(svc, s, offer, cb.number)
    except CallEnded as ended:
        code, cause = ended.code, ended.cause
    except RpcError:
        code, cause = 500, WORKER_LOST if s.link.closed.is_set() else "controller_error"
        log.exception("callback %s failed", offer.call_id)
    except Exception:
        code, cause = 500, "controller_error"
        log.exception("callback %s failed", offer.call_id)
    finally:
        await _settle(svc, offer.call_id, lost=cause == WORKER_LOST)
        await m.hangup_all(s)
        await m.end(s, code, cause)


async def _callback(svc: QueueService, s: Session, offer: Offer, number: str) -> None:
    m, d = svc.manager, svc.dispatcher
    got = await ring_agents(m, s, list(offer.agent_ids), offer.ring_timeout_s, offer.queue_id)
    if got is None:
        out = Outcome()
        for agent in offer.agent_ids:
            with contextlib.suppress(DomainError):
                out.extend(d.no_answer(offer.call_id, agent))
        await svc.apply(out, step=True)
        raise CallEnded(480, "callback_agent_no_answer")
    agent, agent_leg = got
    s.caller_leg = agent_leg  # the agent's leg anchors this session from here on
    s.set_state(SessionState.HUNTING)
    await svc.apply(d.answered(offer.call_id, agent), step=True)
    link = s.link
    assert link is not None
    row = svc.rows[offer.queue_id]
    note = await link.command(
        "play", leg=agent_leg, file=str(await svc.voice.path("queue-callback-agent", row.language))
    )
    try:
        customer = await m.ring(s, number, CUSTOMER_RING_S)
    except CallEnded:
        customer = None  # the agent hung up while the customer was dialled: not the customer's fault
    if customer is None:
        await svc.apply(d.customer_failed(offer.call_id), step=True)
        raise CallEnded(480, "callback_customer_no_answer")
    await svc.apply(d.customer_answered(offer.call_id))
    with contextlib.suppress(RpcError):
        await link.command("stop_play", player=str(note["player"]))
    await link.command("bridge", a=agent_leg, b=customer)
    if row.record:
        await m.start_recording(s, [number, agent], [customer, agent_leg])
    await m.mark_answered(s, agent)
    s.set_state(SessionState.CONNECTED)
    await m.until_any_ends(s, {agent_leg, customer})


async def _settle(svc: QueueService, call_id: str, *, lost: bool) -> None:
    """After the session: an answered callback call goes to wrap-up (or straight back if lost)."""
    d = svc.dispatcher
    talking = d.answered_calls().get(call_id)
    if talking is None:
        return
    try:
        cb = d.callbacks.get(call_id)
        if cb is not None and cb.state.value == "dialing":
            out = d.customer_failed(call_id)
        else:
            out = d.hangup(call_id)
            agent = d.agent(talking[1])
            if lost and agent.state.value == "wrap_up":
                out.events += agent.ready()
        await svc.apply(out, step=True)
    except DomainError:
        log.exception("callback %s could not leave the ACD cleanly", call_id)
