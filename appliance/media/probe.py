"""Capacity probe: how many concurrent calls this pjsua2 build really allows.

The PyPI wheel clamps `UaConfig.maxCalls` to PJSUA_MAX_CALLS (4) without a word, so the
number is measured, never assumed: open outgoing calls to our own address without pumping
events until makeCall refuses (PJ_ETOOMANY) or the ceiling is reached, then pump events,
reject any probe INVITE that does reach us, wait for every probe call to end, delete them.
"""

from __future__ import annotations

import logging
import time

import pjsua2 as pj

from appliance.media.sip import Inbox, LegCall, call_op

log = logging.getLogger(__name__)

PJ_ETOOMANY = 70010  # PJ_ERRNO_START_STATUS (70000) + 10


def probe_capacity(
    ep: pj.Endpoint, acc: pj.Account, inbox: Inbox, self_uri: str, ceiling: int,
    settle_s: float = 5.0,
) -> int:
    """Return the effective max concurrent calls; leaves no call and an empty inbox."""
    probes: list[LegCall] = []
    try:
        while len(probes) < ceiling:
            call = LegCall(acc, inbox)
            try:
                call.makeCall(self_uri, call_op(headers={"X-Probe": "capacity"}))
            except pj.Error as exc:
                del call
                if exc.status != PJ_ETOOMANY:
                    log.warning("capacity probe stopped by: %s", exc.reason)
                break
            probes.append(call)
        capacity = len(probes)
        # No hangup here: our own INVITEs meet full slots and get 486 from pjsua, which
        # ends the probe calls cleanly; a CANCEL now would race the INVITEs we sent.
        _settle(ep, inbox, probes, settle_s)
    finally:
        probes.clear()
    return capacity


def _settle(ep: pj.Endpoint, inbox: Inbox, probes: list[LegCall], settle_s: float) -> None:
    """Pump events until every probe call (ours and any INVITE we accept) has ended."""
    waiting: set[int] = {id(c) for c in probes}
    incoming: list[LegCall] = []
    deadline = time.monotonic() + settle_s
    while waiting and time.monotonic() < deadline:
        ep.libHandleEvents(10)
        while inbox:
            item = inbox.popleft()
            if item[0] == "incoming":
                call = item[1]
                incoming.append(call)
                waiting.add(id(call))
                try:
                    call.hangup(call_op(503))
                except pj.Error:
                    waiting.discard(id(call))
            elif item[0] == "state" and item[2] == pj.PJSIP_INV_STATE_DISCONNECTED:
                waiting.discard(id(item[1]))
    if waiting:
        log.warning("capacity probe: %d calls still up after %.1f s", len(waiting), settle_s)
        for call in probes + incoming:
            if call.isActive():
                call.hangup(call_op())
        for _ in range(50):
            ep.libHandleEvents(10)
    inbox.clear()
    incoming.clear()
