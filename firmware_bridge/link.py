"""The bridge's link to the controller: received SMS, delivery reports and send results go
through a durable spool; messages to send are long-polled; modem status is posted on change.

Order on receipt (kept): the modem's message is written to the spool (fsynced) before
`SmsService` deletes it from the SIM, and a spool item is removed only after the controller
answered 200 to it. The controller de-duplicates on the item's id, so a retry after a lost
answer (or after a crash between the answer and the removal) stores nothing twice: with the
controller down, messages wait in the spool and arrive later exactly once.

Loopback HTTP to the controller's internal port, `Authorization: Bearer <internal token>`
(`<data>/secrets/edge-token`, made by the controller). See docs/sms-channel.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from firmware_bridge.at.channel import AtError
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.health import Backoff
from firmware_bridge.sms.pdu import PduError
from firmware_bridge.sms_at import DeliveryReport, InboundSms, SmsService

log = logging.getLogger(__name__)

KINDS = ("inbound", "report", "result")


@dataclass(frozen=True)
class LinkConfig:
    """Where the controller's link API is and the token it wants."""

    url: str  # e.g. http://127.0.0.1:5081/internal/link
    token: str

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> LinkConfig:
        """Read the box's settings and the internal token the controller made."""
        from appliance import config

        settings = config.load(data_dir)
        token = (data_dir / "secrets" / "edge-token").read_text(encoding="utf-8").strip()
        return cls(f"http://127.0.0.1:{settings.internal_port}/internal/link", token)


@dataclass(frozen=True)
class SpoolItem:
    """One thing the controller must receive."""

    id: str
    kind: str
    doc: dict[str, Any]


class Spool:
    """A directory of JSON files, one per item, written atomically and fsynced (survives a power cut)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):  # a write a crash interrupted: its SIM copy is still there
            stale.unlink(missing_ok=True)

    def put(self, kind: str, doc: dict[str, Any]) -> str:
        """Store an item durably; return its id (ordered by time of arrival)."""
        if kind not in KINDS:
            raise ValueError(f"unknown spool kind {kind!r}")
        item_id = f"{time.time_ns():020d}-{secrets.token_hex(6)}"
        path = self.directory / f"{item_id}.json"
        tmp = path.with_suffix(".tmp")
        data = json.dumps({"kind": kind, "doc": doc}, ensure_ascii=False).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
        dfd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return item_id

    def items(self) -> list[SpoolItem]:
        """Every item, oldest first."""
        out: list[SpoolItem] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                out.append(SpoolItem(path.stem, str(raw["kind"]), dict(raw["doc"])))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("unreadable spool item %s kept aside: %s", path.name, exc)
                path.rename(path.with_suffix(".bad"))
        return out

    def remove(self, item_id: str) -> None:
        """Forget an item the controller has."""
        (self.directory / f"{item_id}.json").unlink(missing_ok=True)


class ControllerLink:
    """Forwards the spool, fetches messages to send, posts the modem's status."""

    def __init__(self, config: LinkConfig, spool: Spool, *, clock: Clock | None = None,
                 poll_wait_s: float = 20.0, heartbeat_s: float = 30.0,
                 backoff: Backoff | None = None) -> None:
        self.config = config
        self.spool = spool
        self._clock: Clock = clock or SystemClock()
        self._poll_wait = poll_wait_s
        self._heartbeat = heartbeat_s
        self._backoff = backoff or Backoff(initial=0.5, maximum=10.0)
        self._client = httpx.AsyncClient(base_url=config.url,
                                         headers={"authorization": f"Bearer {config.token}"},
                                         timeout=httpx.Timeout(10.0, read=poll_wait_s + 10.0))
        self._spooled = asyncio.Event()
        self._status_changed = asyncio.Event()
        self._status: dict[str, Any] | None = None
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.forwarded = 0

    # --- what the modem side calls ---------------------------------------------------

    async def store_inbound(self, sms: InboundSms) -> None:
        """SmsService's on_message: spool the message (it is then removed from the SIM)."""
        self.spool.put("inbound", {"sender": sms.sender, "text": sms.text, "parts": sms.parts,
                                   "missing": list(sms.missing), "timestamp": sms.timestamp.isoformat()})
        self._spooled.set()

    async def store_report(self, report: DeliveryReport) -> None:
        """SmsService's on_report: spool the delivery report."""
        self.spool.put("report", {"reference": report.reference, "recipient": report.recipient,
                                  "status": report.status, "delivered": report.delivered})
        self._spooled.set()

    def status_changed(self, doc: dict[str, Any]) -> None:
        """The modem's status document changed: post it (latest wins)."""
        self._status = doc
        if doc.get("state") == "ready":
            self._ready.set()
        else:
            self._ready.clear()
        self._status_changed.set()

    # --- lifecycle -------------------------------------------------------------------

    def start(self, sms: SmsService | None) -> None:
        """Start forwarding, status posting and (with an SMS service) sending."""
        self._tasks = [asyncio.create_task(self._forward(), name="link forward"),
                       asyncio.create_task(self._post_status(), name="link status")]
        if sms is not None:
            self._tasks.append(asyncio.create_task(self._send(sms), name="link send"))

    async def stop(self) -> None:
        """Stop the tasks and close the HTTP client."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._client.aclose()

    # --- loops -----------------------------------------------------------------------

    async def _retry_pause(self, attempt: int) -> None:
        await self._clock.sleep(self._backoff.delay(attempt))

    async def _post(self, path: str, doc: dict[str, Any]) -> dict[str, Any]:
        r = await self._client.post(path, json=doc)
        r.raise_for_status()
        body = r.json()
        return body if isinstance(body, dict) else {}

    async def _deliver(self, item: SpoolItem) -> None:
        if item.kind == "inbound":
            await self._post("/sms/inbound", {"id": item.id, **{k: item.doc[k] for k in
                                                                ("sender", "text", "parts", "missing")}})
        elif item.kind == "report":
            await self._post("/sms/report", item.doc)
        else:
            doc = dict(item.doc)
            await self._post(f"/sms/outbound/{int(doc.pop('message_id'))}/result", doc)

    async def _forward(self) -> None:
        attempt = 0
        while True:
            self._spooled.clear()
            items = self.spool.items()
            failed = False
            for item in items:
                try:
                    await self._deliver(item)
                except httpx.HTTPStatusError as exc:
                    if 400 <= exc.response.status_code < 500 and exc.response.status_code not in (403, 404, 408, 429):
                        log.error("controller refused spool item %s for good (%s): kept aside", item.id,
                                  exc.response.text[:200])
                        path = self.spool.directory / f"{item.id}.json"
                        path.rename(path.with_suffix(".refused"))
                        continue
                    failed = True
                except (httpx.HTTPError, OSError) as exc:
                    log.info("controller not reachable (%s); %d item(s) wait in the spool", exc, len(items))
                    failed = True
                if failed:
                    break
                self.spool.remove(item.id)
                self.forwarded += 1
            if failed:
                await self._retry_pause(attempt)
                attempt += 1
                continue
            attempt = 0
            await self._spooled.wait()

    async def _post_status(self) -> None:
        attempt = 0
        while True:
            doc = self._status
            if doc is not None:
                try:
                    await self._post("/modem/status", doc)
                    attempt = 0
                except (httpx.HTTPError, OSError) as exc:
                    log.info("modem status not posted (%s)", exc)
                    await self._retry_pause(attempt)
                    attempt += 1
                    continue
            if self._status is doc:
                self._status_changed.clear()
                sleeper = asyncio.ensure_future(self._clock.sleep(self._heartbeat))
                waker = asyncio.ensure_future(self._status_changed.wait())
                try:
                    await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    waker.cancel()

    async def _send(self, sms: SmsService) -> None:
        attempt = 0
        while True:
            await self._ready.wait()
            try:
                r = await self._client.get("/sms/outbound", params={"wait": self._poll_wait})
                r.raise_for_status()
                messages = list(r.json()["messages"])
                attempt = 0
            except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
                log.info("no outbound SMS from the controller (%s)", exc)
                await self._retry_pause(attempt)
                attempt += 1
                continue
            for m in messages:
                await self._send_one(sms, m)

    async def _send_one(self, sms: SmsService, m: dict[str, Any]) -> None:
        result: dict[str, Any]
        try:
            refs = await sms.send(str(m["number"]), str(m["body"]), status_report=True)
            result = {"refs": refs, "error": None, "retry": False}
        except PduError as exc:
            result = {"refs": [], "error": f"cannot encode: {exc}", "retry": False}
        except (AtError, ValueError) as exc:
            result = {"refs": [], "error": f"modem: {exc}", "retry": True}
        log.info("SMS %s to %s: %s", m.get("id"), m.get("number"), result["error"] or f"sent {result['refs']}")
        self.spool.put("result", {"message_id": int(m["id"]), **result})
        self._spooled.set()


def status_listener(link: ControllerLink, snapshot: Callable[[], dict[str, Any]]) -> Callable[[object], None]:
    """A modem listener that posts the status document on every event."""

    def on_event(_event: object) -> None:
        link.status_changed(snapshot())

    return on_event

