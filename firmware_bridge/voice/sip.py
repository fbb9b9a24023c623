"""The gateway's SIP side: one pjsua2 Endpoint polled from the asyncio loop.

pjsua2 runs with `threadCnt=0` and `mainThreadOnly=True` on the asyncio thread: a task
calls `libHandleEvents(0)` every few milliseconds and hands the queued callbacks
(`appliance.media.sip` Inbox) to the gateway. Every Call and Account lives in a dict and
is deleted explicitly once its call is over; nothing is left for the GC.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pjsua2 as pj

from appliance.media.sip import (
    EndpointOptions,
    Inbox,
    LegCall,
    WorkerAccount,
    call_op,
    error_text,
    local_account,
    start_endpoint,
)

log = logging.getLogger(__name__)

BUSY_POLL_S = 0.005  # while a call is up: RTP is read in libHandleEvents (threadCnt=0)
IDLE_POLL_S = 0.05
SHUTDOWN_GRACE_S = 2.0


class SipError(Exception):
    """pjsua2 refused an operation."""


@dataclass
class SipCallInfo:
    """What the gateway learns about a SIP call from a callback."""

    state: int
    code: int
    reason: str


class SipSide:
    """A non-registering SIP user agent bound to ip:port."""

    def __init__(self, ip: str, port: int, log_level: str = "warning") -> None:
        self.ip = ip
        self.port = port
        self._log_level = log_level
        self.ep: pj.Endpoint | None = None
        self.inbox: Inbox = collections.deque()
        self._default: WorkerAccount | None = None
        self._accounts: dict[int, WorkerAccount] = {}  # per outgoing call: its From identity
        self.calls: dict[int, LegCall] = {}  # by id(call)
        self._task: asyncio.Task[None] | None = None
        self.on_incoming: Callable[[LegCall, str, str], None] = lambda c, m, s: None
        self.on_state: Callable[[LegCall, SipCallInfo], None] = lambda c, i: None
        self.on_media: Callable[[LegCall], None] = lambda c: None
        self.on_dtmf: Callable[[LegCall, str], None] = lambda c, d: None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Create the Endpoint, its UDP transport and the polling task."""
        self.ep = start_endpoint(EndpointOptions(self.ip, self.port, max_calls=4,
                                                 log_level=self._log_level,
                                                 user_agent="edge-appliance-gsm-gateway"))
        self._default = local_account(self.ep, self.inbox, f"sip:gsm@{self.ip}:{self.port}")
        self._task = asyncio.create_task(self._poll(), name="gsm-gateway-sip")

    async def stop(self) -> None:
        """Hang up every call, wait (bounded) for them to end, destroy everything."""
        ep = self.ep
        if ep is None:
            return
        self._hangup_all()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_GRACE_S
        while self._any_active() and loop.time() < deadline:
            await asyncio.sleep(BUSY_POLL_S)  # the poller keeps running meanwhile
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.inbox.clear()
        for key in list(self.calls):
            self._forget(key)
        for key in list(self._accounts):
            self._drop_account(key)
        if self._default is not None:
            with contextlib.suppress(pj.Error):
                self._default.shutdown()
            self._default = None
        self.ep = None
        ep.libDestroy(pj.PJSUA_DESTROY_NO_NETWORK)  # calls are over; nothing to unregister
        del ep

    def _any_active(self) -> bool:
        return any(call.isActive() for call in self.calls.values())

    def _hangup_all(self) -> None:
        # a helper, so no loop variable keeps a Call alive in stop()'s frame past libDestroy
        for call in list(self.calls.values()):
            if call.isActive():
                self.hangup(call)

    # --- calls -------------------------------------------------------------------------

    def make_call(self, uri: str, caller: str) -> LegCall:
        """INVITE `uri` with From sip:<caller>@ip:port (an account made for this call)."""
        assert self.ep is not None, "SIP side not started"
        acc = local_account(self.ep, self.inbox, f"sip:{caller}@{self.ip}:{self.port}")
        call = LegCall(acc, self.inbox)
        key = id(call)
        self._accounts[key] = acc
        self.calls[key] = call
        prm = call_op(headers={"P-Asserted-Identity": f"<sip:{caller}@{self.ip}>"})
        try:
            call.makeCall(uri, prm)
        except pj.Error as exc:
            self._forget(key)
            raise SipError(error_text(exc)) from None
        return call

    def adopt(self, call: LegCall) -> None:
        """Keep an incoming call alive until it is over."""
        self.calls[id(call)] = call

    def respond(self, call: LegCall, code: int) -> None:
        """Answer an incoming call with 180, 183, 200 or a final error code."""
        try:
            call.answer(call_op(code))
        except pj.Error as exc:
            log.warning("answer %d failed: %s", code, error_text(exc))

    def hangup(self, call: LegCall, code: int = 0) -> None:
        """CANCEL, BYE, or reject with `code` when still ringing here."""
        try:
            call.hangup(call_op(code))
        except pj.Error as exc:
            log.info("hangup: %s", error_text(exc))

    # --- the loop ----------------------------------------------------------------------

    async def _poll(self) -> None:
        ep = self.ep
        assert ep is not None
        while True:
            ep.libHandleEvents(0)
            self._drain()
            await asyncio.sleep(BUSY_POLL_S if self.calls else IDLE_POLL_S)

    def _drain(self) -> None:
        while self.inbox:
            item = self.inbox.popleft()
            kind = item[0]
            try:
                if kind == "incoming":
                    _, call, whole_msg, src = item
                    self.adopt(call)
                    self.on_incoming(call, str(whole_msg), str(src))
                elif kind == "state":
                    _, call, state, code, reason, _connected = item
                    if id(call) not in self.calls:
                        continue
                    self.on_state(call, SipCallInfo(int(state), int(code), str(reason)))
                    if state == pj.PJSIP_INV_STATE_DISCONNECTED:
                        self._forget(id(call))
                elif kind == "media" and id(item[1]) in self.calls:
                    self.on_media(item[1])
                elif kind == "dtmf" and id(item[1]) in self.calls:
                    self.on_dtmf(item[1], str(item[2]))
            except Exception:  # fail safe: one bad callback never stops the SIP side
                log.exception("gateway failed on SIP event %s", kind)

    def _forget(self, key: int) -> None:
        call = self.calls.pop(key, None)
        if call is not None:
            del call
        self._drop_account(key)

    def _drop_account(self, key: int) -> None:
        acc = self._accounts.pop(key, None)
        if acc is not None:
            with contextlib.suppress(pj.Error):
                acc.shutdown()
            del acc
