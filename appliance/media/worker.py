"""Media worker process: `python -m appliance.media.worker --name w1 --ip ... --rpc SOCK`.

One pjsua2 Endpoint driven by this loop (threadCnt=0): block in libHandleEvents (5 ms
while legs exist, 50 ms when idle), then read the controller's unix socket without
blocking. Exits 0 when the socket closes, on `shutdown`, SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import collections
import errno
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType

import pjsua2 as pj

from appliance.media import protocol as p
from appliance.media.engine import Engine
from appliance.media.probe import probe_capacity
from appliance.media.sip import EndpointOptions, Inbox, local_account, start_endpoint

log = logging.getLogger("appliance.media.worker")

BUSY_POLL_MS = 5
IDLE_POLL_MS = 50
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
    try:
        run(ep, engine, link, stop)
    finally:
        shutdown(ep, engine, link)
        del acc
        ep.libDestroy()
        del ep
    log.info("worker %s stopped", args.name)
    return 0


def run(ep: pj.Endpoint, engine: Engine, link: ControllerLink, stop: dict[str, int]) -> None:
    """The event loop: pjsua2 events, then controller commands, until told to stop."""
    while not stop["signal"] and not link.closed:
        ep.libHandleEvents(BUSY_POLL_MS if engine.busy else IDLE_POLL_MS)
        engine.pump()
        for item in link.receive():
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
