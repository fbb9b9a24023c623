"""Test phone agent: a pjsua2 user agent driven by JSON lines on stdin/stdout.

Run as `python -m tests.support.phone_agent --ip 127.0.0.1 --port 0` from the repo root;
`tests/support/phone.py` is the client. Requests `{"id":N,"op":NAME,...}` get
`{"id":N,"ok":true,"data":{...}}` or `{"id":N,"ok":false,"error":"..."}`; events are
`{"event":NAME,...}`. Logs go to stderr (the stdout fd is reserved for the protocol).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import select
import socket
import sys
import time
from typing import Any

import pjsua2 as pj

from appliance.media.sip import (
    EndpointOptions,
    Inbox,
    LegCall,
    WorkerAccount,
    call_op,
    local_account,
    make_tone,
    rtp_base_port,
    start_endpoint,
)
from appliance.media.wavfile import wav_is_final

WAV_CLOSE_S = 2.0

STATE_NAMES = {
    pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming",
    pj.PJSIP_INV_STATE_EARLY: "ringing",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}


class AgentError(Exception):
    """A request the agent cannot carry out."""


class RegAccount(WorkerAccount):
    """An account that also reports REGISTER outcomes."""

    def __init__(self, inbox: Inbox, user: str) -> None:
        super().__init__(inbox)
        self.user = user

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        """Queue each final REGISTER status."""
        self._inbox.append(("reg", self.user, int(prm.code), prm.reason, int(prm.expiration)))

    def onMwiInfo(self, prm: pj.OnMwiInfoParam) -> None:
        """Queue a message-waiting NOTIFY's body (RFC 3842 message-summary)."""
        self._inbox.append(("mwi", self.user, prm.rdata.wholeMsg))


class Agent:
    """State of one phone process: accounts, calls, tones and recorders by name."""

    def __init__(self, ep: pj.Endpoint, ip: str, port: int, out: Any) -> None:
        self.ep, self.ip, self.port, self.out = ep, ip, port, out
        self.inbox: Inbox = collections.deque()
        self.default_acc = local_account(ep, self.inbox, f"sip:phone@{ip}:{port}")
        self.accounts: dict[str, RegAccount] = {}
        self.calls: dict[str, LegCall] = {}
        self.call_user: dict[str, str] = {}
        self.tones: dict[str, pj.ToneGenerator] = {}
        self.recorders: dict[str, pj.AudioMediaRecorder] = {}
        self.record_paths: dict[str, str] = {}
        self.deferred: list[tuple[float, str, dict[str, Any]]] = []  # (deadline, wav, event)
        self.pending_media: dict[str, list[tuple[str, Any]]] = {}
        self.auto_answer_code = 0
        self.seq = 0

    def send(self, obj: dict[str, Any]) -> None:
        """Write one JSON line to the client."""
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    # ---- requests ---------------------------------------------------------------------
    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        """Execute one request; raise AgentError with a clear reason."""
        op = req.get("op")
        fn = getattr(self, f"op_{op}", None)
        if fn is None:
            raise AgentError(f"unknown op {op!r}")
        result: dict[str, Any] = fn(req)
        return result

    def _call(self, req: dict[str, Any]) -> LegCall:
        call = self.calls.get(req.get("call", ""))
        if call is None:
            raise AgentError(f"unknown call {req.get('call')!r}")
        return call

    def op_register(self, req: dict[str, Any]) -> dict[str, Any]:
        user, registrar = req["user"], req["registrar"]
        host = registrar.split(";")[0]
        if user in self.accounts:
            raise AgentError(f"account {user} exists; unregister first")
        acc = RegAccount(self.inbox, user)
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:{user}@{host}"
        cfg.regConfig.registrarUri = f"sip:{registrar}"
        cfg.regConfig.timeoutSec = int(req.get("expires", 300))
        cfg.regConfig.retryIntervalSec = 0  # report a failure, do not retry behind the test
        cred = pj.AuthCredInfo("digest", "*", user, 0, req.get("password", ""))
        cfg.sipConfig.authCreds.append(cred)
        cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_DISABLED
        cfg.mediaConfig.transportConfig.port = rtp_base_port()
        cfg.mediaConfig.transportConfig.portRange = 2000
        acc.create(cfg, True)
        self.accounts[user] = acc
        return {"user": user}

    def op_unregister(self, req: dict[str, Any]) -> dict[str, Any]:
        acc = self.accounts.get(req["user"])
        if acc is None:
            raise AgentError(f"no account {req['user']}")
        acc.setRegistration(False)
        return {}

    def op_drop_account(self, req: dict[str, Any]) -> dict[str, Any]:
        acc = self.accounts.pop(req["user"], None)
        if acc is not None:
            acc.shutdown()
        return {}

    def op_call(self, req: dict[str, Any]) -> dict[str, Any]:
        user = req.get("user")
        acc: WorkerAccount = self.default_acc
        if user:
            if user not in self.accounts:
                raise AgentError(f"no account {user}")
            acc = self.accounts[user]
        call = LegCall(acc, self.inbox)
        call_id = self._new_call_id(call, user or "phone")
        try:
            call.makeCall(req["uri"], call_op(headers=req.get("headers") or {}))
        except pj.Error as exc:
            del self.calls[call_id]
            raise AgentError(f"makeCall failed: {exc.reason}") from None
        return {"call": call_id}

    def _new_call_id(self, call: LegCall, user: str) -> str:
        self.seq += 1
        call_id = f"c{self.seq}"
        call.leg_id = call_id
        self.calls[call_id] = call
        self.call_user[call_id] = user
        return call_id

    def op_answer(self, req: dict[str, Any]) -> dict[str, Any]:
        self._call(req).answer(call_op(int(req.get("code", 200))))
        return {}

    def op_auto_answer(self, req: dict[str, Any]) -> dict[str, Any]:
        self.auto_answer_code = int(req.get("code", 200)) if req.get("enabled") else 0
        return {}

    def op_hangup(self, req: dict[str, Any]) -> dict[str, Any]:
        call = self._call(req)
        call.hangup(call_op(int(req.get("code", 0))))
        return {}

    def op_send_tone(self, req: dict[str, Any]) -> dict[str, Any]:
        self._with_media(req["call"], "tone", int(req["freq"]))
        return {}

    def op_stop_tone(self, req: dict[str, Any]) -> dict[str, Any]:
        tone = self.tones.pop(req["call"], None)
        if tone is not None:
            tone.stop()
        return {}

    def op_record_rx(self, req: dict[str, Any]) -> dict[str, Any]:
        self._with_media(req["call"], "record", str(req["path"]))
        return {}

    def op_stop_record(self, req: dict[str, Any]) -> dict[str, Any]:
        path = self._drop_recorder(req["call"])
        deadline = time.monotonic() + WAV_CLOSE_S
        while path and not wav_is_final(path) and time.monotonic() < deadline:
            self.ep.libHandleEvents(5)
        return {}

    def _drop_recorder(self, call_id: str) -> str:
        """Delete the call's recorder; pjmedia finalises the WAV soon after, on its clock."""
        self.recorders.pop(call_id, None)
        return self.record_paths.pop(call_id, "")

    def op_send_dtmf(self, req: dict[str, Any]) -> dict[str, Any]:
        call = self._call(req)
        prm = pj.CallSendDtmfParam()
        prm.digits = str(req["digits"])
        prm.method = (
            pj.PJSUA_DTMF_METHOD_SIP_INFO
            if req.get("method") == "info"
            else pj.PJSUA_DTMF_METHOD_RFC2833
        )
        call.sendDtmf(prm)
        return {}

    def op_hold(self, req: dict[str, Any]) -> dict[str, Any]:
        self._call(req).setHold(call_op())
        return {}

    def op_transfer(self, req: dict[str, Any]) -> dict[str, Any]:
        """Blind transfer: REFER the far end of `call` to `uri`."""
        self._call(req).xfer(str(req["uri"]), call_op())
        return {}

    def op_transfer_replaces(self, req: dict[str, Any]) -> dict[str, Any]:
        """Attended transfer: REFER the far end of `call` to replace our call `other`."""
        other = self._call({"call": req["other"]})
        self._call(req).xferReplaces(other, call_op())
        return {}

    def op_calls(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"calls": sorted(self.calls)}

    # ---- media --------------------------------------------------------------------------
    def _with_media(self, call_id: str, what: str, arg: Any) -> None:
        call = self._call({"call": call_id})
        if call.audio_media() is None:
            self.pending_media.setdefault(call_id, []).append((what, arg))
        else:
            self._apply(call_id, what, arg)

    def _apply(self, call_id: str, what: str, arg: Any) -> None:
        media = self.calls[call_id].audio_media()
        if media is None:
            raise AgentError(f"call {call_id} has no audio")
        if what == "tone":
            old = self.tones.pop(call_id, None)
            if old is not None:
                old.stop()
            tone = make_tone(arg, 0, 30_000, 0, True)
            tone.startTransmit(media)
            self.tones[call_id] = tone
        else:
            self._drop_recorder(call_id)
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(arg)
            media.startTransmit(recorder)
            self.recorders[call_id] = recorder
            self.record_paths[call_id] = arg

    # ---- callbacks ----------------------------------------------------------------------
    def pump(self) -> None:
        """Act on what callbacks queued."""
        while self.inbox:
            item = self.inbox.popleft()
            kind = item[0]
            if kind == "incoming":
                call = item[1]
                acc_user = next(
                    (u for u, a in self.accounts.items() if a.getId() == call.getInfo().accId),
                    "phone",
                )
                call_id = self._new_call_id(call, acc_user)
                ci = call.getInfo()
                self.send({"event": "incoming", "call": call_id, "user": acc_user,
                           "from": ci.remoteUri, "to": ci.localUri})
                if self.auto_answer_code:
                    call.answer(call_op(self.auto_answer_code))
            elif kind == "state":
                self._on_state(item[1], item[2], item[3], item[4])
            elif kind == "media":
                call_id = item[1].leg_id
                if item[1].audio_media() is not None:
                    for what, arg in self.pending_media.pop(call_id, []):
                        self._apply(call_id, what, arg)
            elif kind == "xfer_status":
                self.send({"event": "xfer_status", "call": item[1].leg_id, "code": item[2],
                           "final": item[3]})
            elif kind in ("replaced", "transfer"):
                # Our call was replaced by an INVITE with Replaces (or we were REFERred):
                # the new Call is ours now, reported like an incoming call.
                new_call = item[2]
                user = self.call_user.get(item[1].leg_id, "phone")
                call_id = self._new_call_id(new_call, user)
                ci = new_call.getInfo()
                self.send({"event": "incoming", "call": call_id, "user": user,
                           "from": ci.remoteUri, "to": ci.localUri, "replaces": item[1].leg_id})
            elif kind == "dtmf":
                self.send({"event": "dtmf", "call": item[1].leg_id, "digit": item[2],
                           "method": item[3]})
            elif kind == "reg":
                self.send({"event": "reg", "user": item[1], "code": item[2],
                           "reason": item[3], "expires": item[4]})
            elif kind == "mwi":
                body = str(item[2]).split("\r\n\r\n", 1)[-1]
                self.send({"event": "mwi", "user": item[1], "body": body})
        now = time.monotonic()
        for entry in list(self.deferred):
            if wav_is_final(entry[1]) or now >= entry[0]:
                self.deferred.remove(entry)
                self.send(entry[2])

    def _on_state(self, call: LegCall, state: int, code: int, reason: str) -> None:
        call_id = call.leg_id
        path = ""
        if call_id not in self.calls:
            return
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            tone = self.tones.pop(call_id, None)
            if tone is not None:
                tone.stop()
                del tone
            path = self._drop_recorder(call_id)
            self.pending_media.pop(call_id, None)
            del self.calls[call_id]
        event = {"event": "call_state", "call": call_id, "state": STATE_NAMES.get(state, "?"),
                 "code": int(code), "reason": reason}
        if state == pj.PJSIP_INV_STATE_DISCONNECTED and path:
            # Report the end only once the WAV of what the phone heard is complete.
            self.deferred.append((time.monotonic() + WAV_CLOSE_S, path, event))
        else:
            self.send(event)

    def destroy(self) -> None:
        """Hang up and delete everything before libDestroy."""
        for call in self.calls.values():
            if call.isActive():
                call.hangup(call_op())
        for _ in range(100):
            if not any(c.isActive() for c in self.calls.values()):
                break
            self.ep.libHandleEvents(10)
        self.tones.clear()
        self.recorders.clear()
        self.inbox.clear()
        self.calls.clear()
        for acc in self.accounts.values():
            acc.shutdown()
        self.accounts.clear()
        self.default_acc.shutdown()


def _free_udp_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def main() -> int:
    """Run the agent until stdin closes or a `quit` request arrives."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log-level", default="error")
    args = ap.parse_args()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # pjlib logs with printf: keep them off the protocol stream
    port = args.port or _free_udp_port(args.ip)
    ep = start_endpoint(EndpointOptions(args.ip, port, 4, args.log_level, "edge-test-phone"))
    agent = Agent(ep, args.ip, port, out)
    agent.send({"event": "ready", "port": port, "uri": f"sip:phone@{args.ip}:{port}"})
    try:
        serve(ep, agent)
    finally:
        agent.destroy()
        del agent
        ep.libDestroy()
    return 0


def serve(ep: pj.Endpoint, agent: Agent) -> None:
    """Handle requests from stdin and pjsua2 events until stdin closes or `quit`."""
    stdin = sys.stdin.fileno()
    buf = b""
    running = True
    while running:
        ep.libHandleEvents(5 if agent.calls or agent.deferred else 20)
        agent.pump()
        while running and select.select([stdin], [], [], 0)[0]:
            data = os.read(stdin, 65536)
            if not data:
                running = False
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                req = json.loads(line)
                if req.get("op") == "quit":
                    agent.send({"id": req.get("id"), "ok": True, "data": {}})
                    running = False
                    break
                try:
                    agent.send({"id": req.get("id"), "ok": True, "data": agent.handle(req)})
                except Exception as exc:  # a test tool: report, keep serving
                    text = exc.reason if isinstance(exc, pj.Error) else repr(exc)
                    agent.send({"id": req.get("id"), "ok": False, "error": text})
        agent.pump()


if __name__ == "__main__":
    sys.exit(main())
