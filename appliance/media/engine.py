"""The media engine: executes controller commands on pjsua2 and turns callbacks into events.

Every pjsua2 object (Call, player, tone generator, recorder, extra account) lives in a dict
here and is deleted explicitly when its leg ends or its job is done, never by the GC.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

from appliance.media import protocol as p
from appliance.media.jobs import Clock, CommandError, MediaJobs, PlayerJob, Recording
from appliance.media.leg import IllegalTransition, Leg, LegState, request_user, uri_user
from appliance.media.sip import (
    Inbox,
    LegCall,
    WorkerAccount,
    call_op,
    error_text,
    is_local_target,
    local_account,
)

log = logging.getLogger(__name__)

MAX_FROM_ACCOUNTS = 6  # pjsua allows 8 accounts; keep room for the worker's own
TRANSFER_DIAL_S = 2.0  # a REFER target's Call must be bound to a pjsua call by then


_STATE_OF = {
    pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}


class Engine(MediaJobs):
    """Owns legs and media objects of one worker; `emit` receives protocol lines."""

    def __init__(
        self,
        ep: pj.Endpoint,
        acc: WorkerAccount,
        inbox: Inbox,
        name: str,
        capacity: int,
        emit: Callable[[bytes], None],
        clock: Clock,
    ) -> None:
        self.ep, self.acc, self.inbox = ep, acc, inbox
        self.name, self.capacity = name, capacity
        self.emit, self.clock = emit, clock
        self.legs: dict[str, Leg] = {}
        self.calls: dict[str, LegCall] = {}
        self.players: dict[str, PlayerJob] = {}
        self.recordings: dict[str, Recording] = {}
        self.closing: dict[str, Recording] = {}  # recorders destroyed, files not yet final
        self.from_accounts: dict[str, WorkerAccount] = {}
        self.bridges: set[frozenset[str]] = set()
        self.connections: set[tuple[str, str]] = set()  # one-way (src, dst)
        self.echoes: set[str] = set()
        self.dial_deadline: dict[str, float] = {}
        self.unborn: dict[str, float] = {}  # transfer legs not yet bound to a pjsua call id
        self.stopping = False  # set at shutdown: new INVITEs are refused, not reported
        self._refused: list[LegCall] = []  # kept until libDestroy: never GC a live Call
        self._seq = 0

    # ---- ids ----------------------------------------------------------------------
    def _new_id(self, kind: str) -> str:
        self._seq += 1
        return f"{self.name}-{kind}{self._seq}"

    @property
    def busy(self) -> bool:
        """True while any leg or media job exists (the loop then polls faster)."""
        return bool(self.calls or self.players or self.recordings or self.closing)

    # ---- commands -----------------------------------------------------------------
    def execute(self, request: p.Request) -> bytes:
        """Run one command; return its result line. Never raises for a bad command."""
        try:
            data = self._dispatch(request.cmd)
        except CommandError as exc:
            return p.result_error(request.req, str(exc))
        except pj.Error as exc:
            return p.result_error(request.req, error_text(exc))
        except Exception as exc:  # fail safe: a bug in one command must not end all calls
            log.exception("command %s failed", type(request.cmd).__name__)
            return p.result_error(request.req, f"internal error: {exc!r}")
        return p.result_ok(request.req, data)

    def _dispatch(self, cmd: p.Command) -> dict[str, Any]:
        handler = getattr(self, "_cmd_" + type(cmd).__name__.lower())
        result: dict[str, Any] = handler(cmd)
        return result

    def _leg(self, leg_id: str) -> tuple[Leg, LegCall]:
        leg = self.legs.get(leg_id)
        call = self.calls.get(leg_id)
        if leg is None or call is None or leg.ended:
            raise CommandError(f"unknown leg {leg_id!r}")
        return leg, call

    def _media(self, leg_id: str) -> pj.AudioMedia:
        _, call = self._leg(leg_id)
        media = call.audio_media()
        if media is None:
            raise CommandError(f"leg {leg_id!r} has no active audio yet")
        return media

    def _cmd_answer(self, cmd: p.Answer) -> dict[str, Any]:
        leg, call = self._leg(cmd.leg)
        try:
            leg.check_answerable(cmd.code)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        call.answer(call_op(cmd.code))
        return {}

    def _cmd_hangup(self, cmd: p.Hangup) -> dict[str, Any]:
        leg, call = self._leg(cmd.leg)
        leg.by_local = True
        code = cmd.code if leg.direction == "in" and not leg.answered else 0
        call.hangup(call_op(code))
        return {}

    def _cmd_dial(self, cmd: p.Dial) -> dict[str, Any]:
        if len(self.calls) >= self.capacity:
            raise CommandError(f"worker full: {len(self.calls)} of {self.capacity} legs in use")
        acc = self._account_for(cmd.from_uri)
        call = LegCall(acc, self.inbox)
        leg_id = self._new_id("L")
        call.leg_id = leg_id
        try:
            call.makeCall(cmd.uri, call_op(headers=cmd.headers))
        except pj.Error:
            del call
            raise
        self.calls[leg_id] = call
        self.legs[leg_id] = Leg(leg_id, "out", LegState.CALLING)
        if cmd.timeout_s is not None:
            self.dial_deadline[leg_id] = self.clock() + cmd.timeout_s
        return {"leg": leg_id}

    def _account_for(self, from_uri: str | None) -> WorkerAccount:
        """The worker's account, or a non-registering one whose identity is `from_uri`."""
        if from_uri is None:
            return self.acc
        if from_uri in self.from_accounts:
            return self.from_accounts[from_uri]
        if len(self.from_accounts) >= MAX_FROM_ACCOUNTS:
            self._evict_idle_account()
        try:
            acc = local_account(self.ep, self.inbox, from_uri)
        except pj.Error as exc:
            raise CommandError(f"bad from_uri {from_uri!r}: {exc.reason}") from None
        self.from_accounts[from_uri] = acc
        return acc

    def _evict_idle_account(self) -> None:
        in_use = {c.getInfo().accId for c in self.calls.values() if c.isActive()}
        for uri, acc in list(self.from_accounts.items()):
            if acc.getId() not in in_use:
                acc.shutdown()
                del self.from_accounts[uri]
                return
        raise CommandError(f"too many distinct from_uri values in use (max {MAX_FROM_ACCOUNTS})")

    def _cmd_bridge(self, cmd: p.Bridge) -> dict[str, Any]:
        ma, mb = self._media(cmd.a), self._media(cmd.b)
        ma.startTransmit(mb)
        mb.startTransmit(ma)
        self.bridges.add(frozenset((cmd.a, cmd.b)))
        return {}

    def _cmd_unbridge(self, cmd: p.Unbridge) -> dict[str, Any]:
        pair = frozenset((cmd.a, cmd.b))
        if pair not in self.bridges:
            raise CommandError(f"legs {cmd.a!r} and {cmd.b!r} are not bridged")
        ma, mb = self._media(cmd.a), self._media(cmd.b)
        ma.stopTransmit(mb)
        mb.stopTransmit(ma)
        self.bridges.discard(pair)
        return {}

    def _cmd_connect(self, cmd: p.Connect) -> dict[str, Any]:
        src, dst = self._media(cmd.src), self._media(cmd.dst)
        src.startTransmit(dst)
        self.connections.add((cmd.src, cmd.dst))
        return {}

    def _cmd_disconnect(self, cmd: p.Disconnect) -> dict[str, Any]:
        if (cmd.src, cmd.dst) not in self.connections:
            raise CommandError(f"leg {cmd.src!r} is not connected to {cmd.dst!r}")
        src, dst = self._media(cmd.src), self._media(cmd.dst)
        src.stopTransmit(dst)
        self.connections.discard((cmd.src, cmd.dst))
        return {}

    def _cmd_echo(self, cmd: p.Echo) -> dict[str, Any]:
        media = self._media(cmd.leg)
        media.startTransmit(media)
        self.echoes.add(cmd.leg)
        return {}

    def _cmd_status(self, cmd: p.Status) -> dict[str, Any]:
        return {
            "legs_in_use": len(self.calls),
            "capacity": self.capacity,
            "legs": [
                {"leg": leg.id, "direction": leg.direction, "state": leg.state.value}
                for leg in self.legs.values()
            ],
            "players": sorted(self.players),
            "recordings": sorted(self.recordings),
        }

    def _cmd_localtargets(self, cmd: p.LocalTargets) -> dict[str, Any]:
        LegCall.local_targets = frozenset(cmd.users)
        return {"users": sorted(LegCall.local_targets)}

    def _cmd_shutdown(self, cmd: p.Shutdown) -> dict[str, Any]:
        # The worker loop notices the Shutdown request itself and stops after replying.
        return {}

    # ---- callbacks -> events --------------------------------------------------------
    def pump(self) -> None:
        """Handle everything the callbacks queued, then due timers."""
        while self.inbox:
            item = self.inbox.popleft()
            try:
                self._on_item(item)
            except Exception:  # fail safe: one bad callback must not stop the worker
                log.exception("error handling %s", item[0])
        self._timers()

    def _on_item(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "incoming":
            self._on_incoming(item[1], item[2], item[3])
        elif kind == "state":
            self._on_state(item[1], item[2], item[3], item[4], item[5])
        elif kind == "dtmf":
            leg_id = item[1].leg_id
            if leg_id in self.legs:
                self.emit(p.event_message("dtmf", leg=leg_id, digit=item[2], method=item[3]))
        elif kind == "transfer":
            self._on_transfer(item[1], item[2], item[3])
        elif kind == "replaced":
            # An INVITE with Replaces aimed at one of our legs: not a feature of the worker.
            log.warning("INVITE with Replaces for %s refused", item[1].leg_id)
            with contextlib.suppress(pj.Error):
                item[2].hangup(call_op(603))
            self._refused.append(item[2])
        elif kind == "eof" and item[1] in self.players:
            self._end_player(item[1], notify=True)

    def _on_incoming(self, call: LegCall, whole_msg: str, src: str) -> None:
        if self.stopping:
            call.hangup(call_op(503))
            self._refused.append(call)
            return
        leg_id = self._new_id("L")
        call.leg_id = leg_id
        self.calls[leg_id] = call
        self.legs[leg_id] = Leg(leg_id, "in", LegState.INCOMING)
        ci = call.getInfo()
        self.emit(
            p.event_message(
                "leg_new",
                leg=leg_id,
                call_id=ci.callIdString,
                direction="in",
                from_uri=ci.remoteUri,
                to_uri=ci.localUri,
                request_user=request_user(whole_msg, ci.localUri),
                remote=src,
            )
        )

    def _on_transfer(self, call: LegCall, new_call: LegCall, refer_to: str) -> None:
        """A REFER was accepted on a leg and pjsua is dialling its target: report the new leg.

        pjsua2 binds the new Call object to its call id only at the call's first callback
        (media set-up may finish later), so a leg that never gets an id within
        TRANSFER_DIAL_S is reported ended (the dial failed; pjsua NOTIFYs the transferer).
        """
        leg = self.legs.get(call.leg_id)
        target, replaces = p.split_refer_target(refer_to)
        new_id = self._new_id("L")
        new_call.leg_id = new_id
        if leg is None or leg.ended:
            log.warning("REFER on %s to %s: the leg is gone", call.leg_id, target)
            self._refused.append(new_call)
            return
        self.calls[new_id] = new_call
        self.legs[new_id] = Leg(new_id, "out", LegState.CALLING)
        self.unborn[new_id] = self.clock() + TRANSFER_DIAL_S
        local = is_local_target(refer_to, LegCall.local_targets)  # NOTIFYed 200 already (sip.py)
        self.emit(
            p.event_message(
                "leg_transfer", leg=leg.id, new_leg=new_id, target=target,
                target_user=uri_user(target), replaces=replaces, local=local,
            )
        )

    def _on_state(
        self, call: LegCall, state: int, code: int, reason: str, connected_s: float
    ) -> None:
        leg = self.legs.get(call.leg_id)
        if leg is None or leg.ended:
            return
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._end_leg(leg, code, reason, connected_s)
            return
        early = LegState.RINGING if leg.direction == "out" else LegState.EARLY
        target = {
            pj.PJSIP_INV_STATE_EARLY: early,
            pj.PJSIP_INV_STATE_CONFIRMED: LegState.CONFIRMED,
        }.get(state)
        if target is None:
            return
        try:
            changed = leg.set_state(target)
        except IllegalTransition:
            log.warning("ignoring pjsua state %s for leg %s", _STATE_OF.get(state), leg.id)
            return
        if changed and target == LegState.RINGING:
            self.emit(p.event_message("leg_ringing", leg=leg.id))
        elif changed and target == LegState.CONFIRMED:
            self.dial_deadline.pop(leg.id, None)
            self.emit(p.event_message("leg_answered", leg=leg.id))

    def _end_leg(self, leg: Leg, code: int, reason: str, connected_s: float) -> None:
        was_answered = leg.answered
        leg.set_state(LegState.ENDED)
        for rec_id in [r.id for r in self.recordings.values() if leg.id in r.legs]:
            self._close_recording(rec_id)
        for player_id in [j.id for j in self.players.values() if j.leg == leg.id]:
            self._end_player(player_id, notify=True)
        self.bridges = {b for b in self.bridges if leg.id not in b}
        self.connections = {c for c in self.connections if leg.id not in c}
        self.echoes.discard(leg.id)
        self.dial_deadline.pop(leg.id, None)
        self.unborn.pop(leg.id, None)
        if leg.timeout_hit:
            code, reason = 408, "Request Timeout (dial timeout)"
        elif was_answered:
            code = 200  # an answered leg ends with BYE whatever the last transaction was
        self.emit(
            p.event_message(
                "leg_ended",
                leg=leg.id,
                code=int(code),
                reason=reason,
                duration_s=round(connected_s if was_answered else 0.0, 3),
                by="local" if leg.by_local else "remote",
            )
        )
        del self.legs[leg.id]
        call = self.calls.pop(leg.id)
        del call  # the Call is DISCONNECTED: deleting it now frees nothing else's slot

    def _timers(self) -> None:
        now = self.clock()
        for leg_id, deadline in list(self.unborn.items()):
            call = self.calls.get(leg_id)
            if call is None or call.getId() != pj.PJSUA_INVALID_ID:
                del self.unborn[leg_id]
            elif now >= deadline:
                del self.unborn[leg_id]
                log.warning("transfer leg %s was never dialled", leg_id)
                self._end_leg(self.legs[leg_id], 500, "transfer dial failed", 0.0)
        for leg_id, deadline in list(self.dial_deadline.items()):
            if now >= deadline:
                del self.dial_deadline[leg_id]
                leg, call = self.legs[leg_id], self.calls[leg_id]
                leg.timeout_hit = leg.by_local = True
                try:
                    call.hangup(call_op())
                except pj.Error as exc:
                    log.warning("dial timeout hangup of %s failed: %s", leg_id, exc.reason)
        self._job_timers(now)

    # ---- shutdown ------------------------------------------------------------------------
    def hangup_all(self) -> None:
        """Hang up every leg (shutdown); their leg_ended events follow from pump()."""
        self.stopping = True
        for leg_id, call in list(self.calls.items()):
            leg = self.legs[leg_id]
            leg.by_local = True
            try:
                code = 503 if leg.direction == "in" and not leg.answered else 0
                call.hangup(call_op(code))
            except pj.Error as exc:
                log.warning("hangup of %s failed: %s", leg_id, exc.reason)

    def destroy(self) -> None:
        """Delete every media object, then the calls and accounts (before libDestroy)."""
        for player_id in list(self.players):
            self._end_player(player_id, notify=False)
        for rec_id in list(self.recordings):
            self._close_recording(rec_id)
        self.calls.clear()
        self.legs.clear()
        self._refused.clear()
        for acc in self.from_accounts.values():
            acc.shutdown()
        self.from_accounts.clear()

