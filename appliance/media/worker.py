"""Media worker process: `python -m appliance.media.worker --name w1 --ip ... --rpc SOCK`.

One pjsua2 Endpoint driven by this loop (threadCnt=0): block in libHandleEvents (5 ms
while legs exist, 50 ms when idle), then read the controller's unix socket without
blocking. Exits 0 when the socket closes, on `shutdown`, SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import errno
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from types import FrameType

import pjsua2 as pj

from appliance.media import protocol as p
from appliance.media.engine import Engine
from appliance.media.probe import probe_capacity
from appliance.media.sip import EndpointOptions, Inbox, local_account, start_endpoint

log = logging.getLogger("appliance.media.worker")

# The loop blocks in libHandleEvents this long at most; a command from the controller
# wakes it at once (RpcWaker), pjsip caps the wait at its next timer, and these bounds only
# pace the engine's own checks (dial deadlines, recordings being finalised).
BUSY_POLL_MS = 50
IDLE_POLL_MS = 200
WAKE_DATAGRAM = b"\r\n\r\n"  # a SIP CRLF keep-alive: pjsip drops it without a word
MAX_OUTBOX = 4 * 1024 * 1024  # a controller this far behind is treated as gone
SHUTDOWN_GRACE_S = 3.0


class ControllerLink:
    """The worker's side of the JSON-lines unix socket, never blocking the loop."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.setblocking(False)
        self.lines = p.LineBuffer()
        self.out = bytearray()
        self.closed = False

    def send(self, line: bytes) -> None:
        """Queue one line and try to write it now."""
        if self.closed:
            return
        self.out += line
        self.flush()

    def flush(self) -> None:
        """Write as much as the socket takes; mark closed if the peer is gone."""
        while self.out and not self.closed:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                break
            except OSError:
                self.closed = True
                return
            del self.out[:n]
        if len(self.out) > MAX_OUTBOX:
            log.error("controller is not reading; %d bytes queued", len(self.out))
            self.closed = True

    def receive(self) -> list[bytes | p.ProtocolError]:
        """Read what arrived; returns complete lines (or errors for over-long ones)."""
        items: list[bytes | p.ProtocolError] = []
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.EINTR:
                    self.closed = True
                break
            if not data:
                self.closed = True
                break
            items.extend(self.lines.feed(data))
        return items

    def close(self) -> None:
        """Flush what is possible with a short blocking write, then close."""
        if not self.closed and self.out:
            try:
                self.sock.settimeout(1.0)
                self.sock.sendall(self.out)
            except OSError:
                pass
        self.sock.close()
        self.closed = True


class RpcWaker:
    """Wakes the pjsua2 loop the moment the controller writes, so the loop can block long.

    A thread waits for the RPC socket to become readable and then sends a CRLF keep-alive
    datagram to the worker's own SIP port, which makes libHandleEvents return. The thread
    never touches pjsua2 (so it needs no libRegisterThread) and sends at most one wake-up
    per batch: it waits until the loop says it drained the socket.
    """

    def __init__(self, rpc: socket.socket, sip: tuple[str, int]) -> None:
        self._rpc = rpc
        self._sip = sip
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._drained = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="rpc-waker", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def drained(self) -> None:
        """The loop has read everything that was there."""
        self._drained.set()

    def _run(self) -> None:
        while not self._stopping:
            try:
                readable, _, _ = select.select([self._rpc], [], [], 0.5)
            except (OSError, ValueError):
                return  # socket closed: the loop sees it too
            if not readable or self._stopping:
                continue
            self._drained.clear()
            with contextlib.suppress(OSError):
                self._udp.sendto(WAKE_DATAGRAM, self._sip)
            self._drained.wait(1.0)

    def stop(self) -> None:
        """Stop the thread."""
        self._stopping = True
        self._thread.join(2.0)
        self._udp.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line arguments of the worker."""
    ap = argparse.ArgumentParser(prog="appliance.media.worker", description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--ip", required=True)
    ap.add_argument("--sip-port", type=int, required=True)
    ap.add_argument("--rpc", required=True, help="controller's unix socket path")
    ap.add_argument("--probe-ceiling", type=int, default=1024)
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one media worker until its controller goes away; return the exit code."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s {args.name} %(levelname)s %(name)s: %(message)s",
    )
    os.dup2(2, 1)  # pjlib prints its log with printf: keep it on stderr with ours
    stop = {"signal": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        link = ControllerLink(args.rpc)
    except OSError as exc:
        log.error("cannot connect to the controller at %s: %s", args.rpc, exc)
        return 2
    inbox: Inbox = collections.deque()
    pj_level = "warning" if args.log_level in ("info", "warning") else args.log_level
    try:
        ep = start_endpoint(
            EndpointOptions(args.ip, args.sip_port, args.probe_ceiling, log_level=pj_level)
        )
    except pj.Error as exc:
        log.error("cannot start SIP on %s:%d: %s", args.ip, args.sip_port, exc.reason)
        link.close()
        return 2
    own_uri = f"sip:{args.name}@{args.ip}:{args.sip_port}"
    acc = local_account(ep, inbox, own_uri)
    capacity = probe_capacity(ep, acc, inbox, f"sip:probe@{args.ip}:{args.sip_port}",
                              args.probe_ceiling)
    log.info("capacity probe: %d concurrent calls", capacity)
    engine = Engine(ep, acc, inbox, args.name, capacity, link.send, time.monotonic)
    link.send(
        p.hello_message(args.name, os.getpid(), f"{args.ip}:{args.sip_port}", capacity,
                        ep.libVersion().full)
    )
    waker = RpcWaker(link.sock, (args.ip, args.sip_port))
    waker.start()
    try:
        run(ep, engine, link, stop, waker)
    finally:
        waker.stop()
        shutdown(ep, engine, link)
        del acc
        ep.libDestroy()
        del ep
    log.info("worker %s stopped", args.name)
    return 0


def run(
    ep: pj.Endpoint, engine: Engine, link: ControllerLink, stop: dict[str, int], waker: RpcWaker | None = None
) -> None:
    """The event loop: pjsua2 events, then controller commands, until told to stop."""
    while not stop["signal"] and not link.closed:
        ep.libHandleEvents(BUSY_POLL_MS if engine.busy else IDLE_POLL_MS)
        engine.pump()
        received = link.receive()
        if waker is not None:
            waker.drained()
        for item in received:
            if isinstance(item, p.ProtocolError):
                link.send(p.result_error(item.req, str(item)))
                continue
            try:
                request = p.parse_command(item)
            except p.ProtocolError as exc:
                link.send(p.result_error(exc.req, str(exc)))
                continue
            link.send(engine.execute(request))
            if isinstance(request.cmd, p.Shutdown):
                stop["signal"] = -1
                break
        engine.pump()
        link.flush()
    if link.closed:
        log.info("controller socket closed: shutting down")
    elif stop["signal"] > 0:
        log.info("signal %d: shutting down", stop["signal"])


def shutdown(ep: pj.Endpoint, engine: Engine, link: ControllerLink) -> None:
    """Hang up all legs, wait (bounded) for them to end, destroy media objects."""
    engine.hangup_all()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    while engine.calls and time.monotonic() < deadline:
        ep.libHandleEvents(10)
        engine.pump()
    engine.destroy()
    while engine.closing and time.monotonic() < deadline + SHUTDOWN_GRACE_S:
        ep.libHandleEvents(10)
        engine.pump()
    link.close()


if __name__ == "__main__":
    sys.exit(main())
