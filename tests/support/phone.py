"""A synchronous test phone: a pjsua2 user agent in a subprocess (tests/support/phone_agent.py).

    with Phone() as phone:
        assert phone.register("101", "secret", registrar=f"127.0.0.1:{port}") == 200
        call = phone.call(f"sip:102@127.0.0.1:{port}", user="101")
        phone.wait(call, "confirmed", timeout=5)
        phone.send_tone(call, 1000)
        phone.record_rx(call, str(tmp_path / "heard.wav"))
        phone.hangup(call)
        phone.wait(call, "disconnected", timeout=5)   # the WAV is closed by then

One Phone process holds several accounts on one UDP transport, but at most 4 calls (the
PyPI pjsua2 wheel's PJSUA_MAX_CALLS).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
STATES = ("calling", "incoming", "ringing", "connecting", "confirmed", "disconnected")


class PhoneError(RuntimeError):
    """The phone agent refused a request, died, or a wait timed out."""


@dataclass
class CallRecord:
    """What the phone knows about one call: its state history and SIP codes."""

    id: str
    user: str = "phone"
    from_uri: str = ""
    to_uri: str = ""
    states: list[str] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    dtmf: list[str] = field(default_factory=list)
    xfer: list[int] = field(default_factory=list)  # NOTIFY codes of a transfer we asked for
    replaces: str = ""  # the call this one replaced (attended transfer) or was REFERred from

    @property
    def state(self) -> str:
        """Latest state (calling, incoming, ringing, connecting, confirmed, disconnected)."""
        return self.states[-1] if self.states else "calling"


class Phone:
    """Client for one phone agent process; use as a context manager."""

    def __init__(self, ip: str = "127.0.0.1", port: int = 0, log_level: str = "error") -> None:
        self.ip, self._port, self._log_level = ip, port, log_level
        self.port = 0
        self.uri = ""
        self._proc: subprocess.Popen[str] | None = None
        self._cond = threading.Condition()
        self._results: dict[int, dict[str, Any]] = {}
        self._calls: dict[str, CallRecord] = {}
        self._incoming: queue.Queue[str] = queue.Queue()
        self._reg: dict[str, list[dict[str, Any]]] = {}
        self._mwi: dict[str, list[str]] = {}  # message-summary bodies received, per account
        self._next_id = 0
        self._reader: threading.Thread | None = None
        self._dead = False

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Phone:
        """Start the agent process and wait until its SIP transport is up."""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.phone_agent", "--ip", self.ip,
             "--port", str(self._port), "--log-level", self._log_level],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            bufsize=1,
        )
        ready: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(ready,), daemon=True)
        self._reader.start()
        try:
            hello = ready.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise PhoneError("phone agent did not start") from None
        self.port, self.uri = int(hello["port"]), str(hello["uri"])
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Hang up all calls and end the agent process (killed if it does not exit)."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        try:
            if proc.poll() is None and proc.stdin:
                proc.stdin.write(json.dumps({"id": -1, "op": "quit"}) + "\n")
                proc.stdin.flush()
                proc.stdin.close()
            proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=timeout)
        finally:
            if proc.stdout:
                proc.stdout.close()

    def __enter__(self) -> Phone:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- plumbing -----------------------------------------------------------------------
    def _read(self, ready: queue.Queue[dict[str, Any]]) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            msg = json.loads(line)
            with self._cond:
                self._dispatch(msg, ready)
                self._cond.notify_all()
        with self._cond:
            self._dead = True
            self._cond.notify_all()

    def _dispatch(self, msg: dict[str, Any], ready: queue.Queue[dict[str, Any]]) -> None:
        event = msg.get("event")
        if event is None:
            self._results[int(msg["id"])] = msg
        elif event == "ready":
            ready.put(msg)
        elif event == "incoming":
            rec = CallRecord(msg["call"], msg["user"], msg["from"], msg["to"], ["incoming"],
                             replaces=msg.get("replaces", ""))
            self._calls[rec.id] = rec
            self._incoming.put(rec.id)
        elif event == "call_state":
            rec = self._calls.setdefault(msg["call"], CallRecord(msg["call"]))
            rec.states.append(msg["state"])
            rec.codes.append(int(msg["code"]))
        elif event == "dtmf":
            self._calls[msg["call"]].dtmf.append(msg["digit"])
        elif event == "xfer_status":
            self._calls[msg["call"]].xfer.append(int(msg["code"]))
        elif event == "reg":
            self._reg.setdefault(msg["user"], []).append(msg)
        elif event == "mwi":
            self._mwi.setdefault(msg["user"], []).append(str(msg["body"]))

    def _request(self, op: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise PhoneError("phone is not started")
        with self._cond:
            self._next_id += 1
            req_id = self._next_id
        proc.stdin.write(json.dumps({"id": req_id, "op": op, **fields}) + "\n")
        proc.stdin.flush()
        with self._cond:
            if not self._cond.wait_for(lambda: req_id in self._results or self._dead, timeout):
                raise PhoneError(f"no reply to {op} within {timeout} s")
            if req_id not in self._results:
                raise PhoneError("phone agent died")
            reply = self._results.pop(req_id)
        if not reply["ok"]:
            raise PhoneError(f"{op}: {reply['error']}")
        data: dict[str, Any] = reply["data"]
        return data

    def _wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate() or self._dead, timeout):
                raise PhoneError(f"timed out after {timeout} s waiting for {what}")
            if not predicate():
                raise PhoneError(f"phone agent died while waiting for {what}")

    # ---- registration ---------------------------------------------------------------------
    def register(
        self, user: str, password: str, registrar: str, expires: int = 300, timeout: float = 10.0
    ) -> int:
        """Register `user` at `registrar` ("ip:port"); return the final REGISTER status code."""
        with self._cond:
            seen = len(self._reg.get(user, []))
        self._request("register", user=user, password=password, registrar=registrar,
                      expires=expires)
        self._wait_for(lambda: len(self._reg.get(user, [])) > seen, timeout,
                       f"REGISTER outcome for {user}")
        code = int(self._reg[user][seen]["code"])
        if code >= 300:
            self._request("drop_account", user=user)
        return code

    def unregister(self, user: str, timeout: float = 10.0) -> int:
        """Send REGISTER with Expires 0 for `user`; return its status and drop the account."""
        with self._cond:
            seen = len(self._reg.get(user, []))
        self._request("unregister", user=user)
        self._wait_for(lambda: len(self._reg.get(user, [])) > seen, timeout,
                       f"un-REGISTER outcome for {user}")
        self._request("drop_account", user=user)
        return int(self._reg[user][seen]["code"])

    def mwi(self, user: str) -> list[str]:
        """Message-waiting NOTIFY bodies `user`'s account received so far, oldest first."""
        with self._cond:
            return list(self._mwi.get(user, []))

    # ---- calls ----------------------------------------------------------------------------
    def call(self, uri: str, user: str | None = None, headers: dict[str, str] | None = None) -> str:
        """Start a call to `uri` (from registered `user`, else the local account)."""
        data = self._request("call", uri=uri, user=user, headers=headers or {})
        call_id = str(data["call"])
        with self._cond:
            self._calls.setdefault(call_id, CallRecord(call_id, user or "phone"))
        return call_id

    def incoming(self, timeout: float = 10.0) -> str:
        """Wait for the next incoming call and return its handle."""
        try:
            return self._incoming.get(timeout=timeout)
        except queue.Empty:
            raise PhoneError(f"no incoming call within {timeout} s") from None

    def info(self, call: str) -> CallRecord:
        """The phone's record of `call`."""
        with self._cond:
            return self._calls[call]

    def wait(self, call: str, state: str, timeout: float = 10.0) -> None:
        """Wait until `call` reached `state`; fail early if it ended before that."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; one of {STATES}")

        def reached() -> bool:
            rec = self._calls.get(call)
            if rec is None:
                return False
            if state in rec.states:
                return True
            if "disconnected" in rec.states:
                raise PhoneError(
                    f"call {call} ended ({rec.codes[-1]}) before reaching {state}"
                )
            return False

        self._wait_for(reached, timeout, f"call {call} to be {state}")

    def answer(self, call: str, code: int = 200) -> None:
        """Answer an incoming call (180, 183 or 200)."""
        self._request("answer", call=call, code=code)

    def auto_answer(self, enabled: bool, code: int = 200) -> None:
        """Answer every future incoming call at once with `code`."""
        self._request("auto_answer", enabled=enabled, code=code)

    def hangup(self, call: str, code: int = 0) -> None:
        """Hang up (BYE, CANCEL, or reject with `code` if still ringing here)."""
        self._request("hangup", call=call, code=code)

    def send_tone(self, call: str, freq_hz: int) -> None:
        """Send a continuous sine tone into the call (starts when media is up)."""
        self._request("send_tone", call=call, freq=freq_hz)

    def stop_tone(self, call: str) -> None:
        """Stop the tone sent into the call."""
        self._request("stop_tone", call=call)

    def send_dtmf(self, call: str, digits: str, method: str = "rfc2833") -> None:
        """Send DTMF digits (RFC 2833 events or SIP INFO)."""
        self._request("send_dtmf", call=call, digits=digits, method=method)

    def hold(self, call: str) -> None:
        """Put `call` on hold (re-INVITE with sendonly)."""
        self._request("hold", call=call)

    def transfer(self, call: str, uri: str) -> None:
        """Blind transfer: send REFER on `call` with Refer-To `uri`."""
        self._request("transfer", call=call, uri=uri)

    def transfer_replaces(self, call: str, other: str) -> None:
        """Attended transfer: REFER the far end of `call` to replace our call `other`."""
        self._request("transfer_replaces", call=call, other=other)

    def transfer_status(self, call: str) -> list[int]:
        """NOTIFY sipfrag codes received so far for a transfer asked on `call`."""
        with self._cond:
            return list(self._calls[call].xfer)

    def received_dtmf(self, call: str) -> str:
        """Digits this phone received on `call` so far."""
        with self._cond:
            return "".join(self._calls[call].dtmf)

    def record_rx(self, call: str, path: str) -> None:
        """Record what the phone hears on `call` to a WAV (closed when the call ends)."""
        self._request("record_rx", call=call, path=path)

    def stop_record(self, call: str) -> None:
        """Close the WAV started by record_rx."""
        self._request("stop_record", call=call)

    def last_status(self, call: str) -> int:
        """The last SIP status code seen on `call` (final code once disconnected)."""
        with self._cond:
            codes = self._calls[call].codes
            return codes[-1] if codes else 0

    def state(self, call: str) -> str:
        """The call's current state."""
        with self._cond:
            return self._calls[call].state

    def wait_until(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
        """Wait (event-driven) until predicate(self) is true."""
        deadline = time.monotonic() + timeout
        self._wait_for(lambda: predicate(self), max(0.0, deadline - time.monotonic()), what)
