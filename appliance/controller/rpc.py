"""JSON-lines RPC with media workers over a Unix socket (docs/media-rpc.md).

The controller listens; each worker connects, says hello with its probed capacity, then
sends events and answers commands. One `WorkerLink` per connected worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_LINE = 1 << 20


class RpcError(Exception):
    """A worker refused a command or went away before answering."""


@dataclass(frozen=True)
class Hello:
    """What a worker says when it connects."""

    worker: str
    pid: int
    sip: str
    capacity: int


class WorkerLink:
    """One connected worker: send commands, await results."""

    def __init__(self, hello: Hello, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.hello = hello
        self._reader = reader
        self._writer = writer
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.closed = asyncio.Event()

    @property
    def name(self) -> str:
        """The worker's name."""
        return self.hello.worker

    async def command(self, cmd: str, timeout: float = 5.0, **args: Any) -> dict[str, Any]:
        """Send a command and return its result data; raise RpcError on refusal or loss."""
        if self.closed.is_set():
            raise RpcError(f"worker {self.name} is gone")
        req = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req] = fut
        line = json.dumps({"type": "cmd", "req": req, "cmd": cmd, **args}) + "\n"
        try:
            self._writer.write(line.encode())
            await self._writer.drain()
            return await asyncio.wait_for(fut, timeout)
        except (ConnectionError, TimeoutError) as exc:
            raise RpcError(f"worker {self.name}: {cmd} failed: {exc!r}") from exc
        finally:
            self._pending.pop(req, None)

    def _resolve(self, msg: dict[str, Any]) -> None:
        fut = self._pending.get(int(msg.get("req", -1)))
        if fut is None or fut.done():
            return
        if msg.get("ok"):
            fut.set_result(dict(msg.get("data") or {}))
        else:
            fut.set_exception(RpcError(str(msg.get("error", "refused"))))

    async def pump(self, on_event: Callable[[WorkerLink, dict[str, Any]], Awaitable[None]]) -> None:
        """Read messages until the worker goes away."""
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:
                    log.warning("worker %s sent a line that is not JSON: %r", self.name, line[:200])
                    continue
                kind = msg.get("type")
                if kind == "result":
                    self._resolve(msg)
                elif kind == "event":
                    try:
                        await on_event(self, msg)
                    except Exception:
                        log.exception("handler failed for event %s from %s", msg.get("event"), self.name)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            log.warning("worker %s link error: %r", self.name, exc)
        finally:
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(RpcError(f"worker {self.name} went away"))
            with contextlib.suppress(Exception):
                self._writer.close()

    def close(self) -> None:
        """Drop the connection."""
        with contextlib.suppress(Exception):
            self._writer.close()


class RpcServer:
    """Accepts worker connections on a Unix socket."""

    def __init__(
        self,
        path: Path,
        on_hello: Callable[[WorkerLink], Awaitable[None]],
        on_event: Callable[[WorkerLink, dict[str, Any]], Awaitable[None]],
        on_gone: Callable[[WorkerLink], Awaitable[None]],
    ) -> None:
        self.path = path
        self._on_hello = on_hello
        self._on_event = on_event
        self._on_gone = on_gone
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen on the socket (replacing a stale one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path), limit=MAX_LINE)
        self.path.chmod(0o660)

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 30)
            msg = json.loads(line)
            if msg.get("type") != "hello":
                raise ValueError(f"expected hello, got {msg.get('type')!r}")
            hello = Hello(str(msg["worker"]), int(msg["pid"]), str(msg["sip"]), int(msg["capacity"]))
        except (ValueError, KeyError, TypeError, TimeoutError) as exc:
            log.warning("rejecting worker connection: %r", exc)
            writer.close()
            return
        link = WorkerLink(hello, reader, writer)
        await self._on_hello(link)
        try:
            await link.pump(self._on_event)
        finally:
            await self._on_gone(link)
