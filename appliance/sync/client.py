"""The box's MQTT sync client (paho-mqtt 2.x, CallbackAPIVersion.VERSION2, MQTT 5).

paho runs its network loop in its own thread; every paho callback enters asyncio through
one door, `_door`, via `loop.call_soon_threadsafe`. Each connection uses a fresh paho
client, so no stale paho session re-sends (and floods) after a reconnect: the SQLite
outbox is the only truth, and our own `SendWindow` bounds what is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from appliance.sync.clock import Clock, Sleep, real_sleep, system_uniform
from appliance.sync.envelope import Envelope
from appliance.sync.link import Backoff, InFlight, Link, SendWindow, State
from appliance.sync.outbox import Outbox
from appliance.sync.signal import ChangeSignal
from appliance.sync.topics import Topics

log = logging.getLogger(__name__)
MessageHandler = Callable[[str, bytes], Awaitable[None]]


@dataclass(frozen=True)
class TlsSettings:
    """TLS to the broker: CA to trust and, optionally, the box's client certificate."""

    ca_file: str
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class SyncSettings:
    """Everything the sync client needs to reach the broker."""

    host: str
    port: int
    node: str
    prefix: str = "cc"
    username: str | None = None
    password: str | None = None
    tls: TlsSettings | None = None
    keepalive: int = 30
    window: int = 64
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    connect_timeout: float = 10.0
    metrics_interval: float = 60.0
    shutdown_grace: float = 5.0
    stable_after: float = 5.0  # a session this long resets the reconnect backoff
    software_version: str = "0.1.0"
    extra_birth: dict[str, Any] = field(default_factory=dict)


class SyncClient:
    """Drains the outbox to the broker and routes cloud->box messages to handlers."""

    def __init__(
        self,
        settings: SyncSettings,
        outbox: Outbox,
        clock: Clock,
        *,
        metrics_provider: Callable[[], dict[str, Any]] | None = None,
        sleep: Sleep = real_sleep,
        uniform: Callable[[], float] = system_uniform,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.topics = Topics(settings.prefix)
        self._clock = clock
        self._sleep = sleep
        self._metrics_provider = metrics_provider
        self.link = Link()
        self.backoff = Backoff(uniform, settings.backoff_initial, settings.backoff_max)
        self.window = SendWindow(settings.window)
        self._handlers: dict[str, MessageHandler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._connack: asyncio.Future[ReasonCode] | None = None
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._ack_ready = asyncio.Event()
        self._resend = False
        self._stopping = asyncio.Event()
        self._acked: list[tuple[int, str]] = []
        self._acked_ids: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._direct_pending: dict[int, asyncio.Future[ReasonCode]] = {}
        self.connects = 0
        self.delivered = 0
        self.refused = 0
        self.heartbeats = 0
        self.on_connected: list[Callable[[], Awaitable[None]]] = []
        self._changed = ChangeSignal()
        outbox.add_listener(self._wake.set)

    # ---- public API -------------------------------------------------------------------
    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Route messages matching `topic_filter` to `handler`; (re)subscribed on every connect."""
        self._handlers[topic_filter] = handler

    async def start(self) -> None:
        """Start the connect/drain loop and the metrics loop."""
        self._loop = asyncio.get_running_loop()
        self._tasks.append(asyncio.create_task(self._run(), name="sync-link"))
        self._tasks.append(asyncio.create_task(self._flush_acks(), name="sync-acks"))
        if self._metrics_provider is not None:
            self._tasks.append(asyncio.create_task(self._metrics_loop(), name="sync-metrics"))

    async def stop(self) -> None:
        """Stop sending, wait (bounded) for pending acks, mark offline and disconnect."""
        self._stopping.set()
        self._wake.set()
        link_task = self._tasks[0] if self._tasks else None
        if link_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await link_task
        # Outbox transactions are shielded, so cancelling these never cuts one in half.
        for task in self._tasks[1:]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._remove_acked()
        self._tasks.clear()

    @property
    def connected(self) -> bool:
        """True while a broker session is up."""
        return self.link.state is State.CONNECTED

    async def publish_direct(
        self, topic: str, payload: bytes, *, retain: bool = False, timeout: float = 5.0
    ) -> bool:
        """Publish a non-outbox message at QoS 1; True when the broker acknowledged it."""
        client = self._client
        if client is None or self.link.state not in (State.CONNECTED, State.DRAINING):
            return False
        fut: asyncio.Future[ReasonCode] = asyncio.get_running_loop().create_future()
        info = client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return False
        self._direct_pending[info.mid] = fut
        try:
            rc = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self._direct_pending.pop(info.mid, None)
            return False
        return not rc.is_failure

    def request_resend(self) -> None:
        """Re-send everything still in the outbox from the oldest row (resync)."""
        self._resend = True
        self._wake.set()

    # ---- the one door from paho's thread ----------------------------------------------
    def _door(self, generation: int, kind: str, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closing during shutdown
            loop.call_soon_threadsafe(self._on_paho, generation, kind, args)

    def _on_paho(self, generation: int, kind: str, args: tuple[Any, ...]) -> None:
        if generation != self._generation:
            return  # from an older connection
        if kind == "connect":
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(args[0])
        elif kind == "disconnect":
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(args[0])
            self._lost.set()
            self._wake.set()
        elif kind == "publish":
            self._on_puback(int(args[0]), args[1])
        elif kind == "message":
            topic, payload = args
            for flt, handler in self._handlers.items():
                if mqtt.topic_matches_sub(flt, topic):
                    task = asyncio.create_task(self._safe(handler, topic, payload))
                    self._tasks.append(task)
                    task.add_done_callback(self._forget)

    async def _park(self, rowid: int, reason: str) -> None:
        await self.outbox.note_failure(rowid, reason)
        await self._notify()

    async def _notify(self) -> None:
        await self._changed.notify()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds after an ack, refusal or state change."""
        return await self._changed.wait_for(predicate, timeout)

    def _forget(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    async def _safe(self, handler: MessageHandler, topic: str, payload: bytes) -> None:
        try:
            await handler(topic, payload)
        except Exception:
            log.exception("handler for %s failed", topic)

    def _on_puback(self, mid: int, rc: ReasonCode) -> None:
        direct = self._direct_pending.pop(mid, None)
        if direct is not None:
            if not direct.done():
                direct.set_result(rc)
            return
        item = self.window.ack(mid)
        if item is None:
            return
        if rc.is_failure:
            self.refused += 1
            log.error("broker refused outbox row %d (%s): kept, parked until resync/restart",
                      item.rowid, rc)
            task = asyncio.create_task(self._park(item.rowid, str(rc)))
            self._tasks.append(task)
            task.add_done_callback(self._forget)
        else:
            self.delivered += 1
            self._acked.append((item.rowid, item.stream))
            self._acked_ids.add(item.rowid)
            self._ack_ready.set()
        self._wake.set()

    # ---- connection management ----------------------------------------------------------
    def _new_client(self) -> mqtt.Client:
        s = self.settings
        gen = self._generation
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"box-{s.node}",
            protocol=MQTTProtocolVersion.MQTTv5,
            reconnect_on_failure=False,
        )
        client.max_inflight_messages_set(s.window)
        client.max_queued_messages_set(0)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls is not None:
            client.tls_set(ca_certs=s.tls.ca_file, certfile=s.tls.cert_file,
                           keyfile=s.tls.key_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        will = self.outbox.envelope("state", {"state": "offline", "reason": "will"})
        client.will_set(self.topics.state(s.node), will.encode(), qos=1, retain=True)
        client.on_connect = lambda _c, _u, _f, rc, _p: self._door(gen, "connect", rc)
        client.on_disconnect = lambda _c, _u, _f, rc, _p: self._door(gen, "disconnect", rc)
        client.on_publish = lambda _c, _u, mid, rc, _p: self._door(gen, "publish", mid, rc)
        client.on_message = lambda _c, _u, m: self._door(gen, "message", m.topic, m.payload)
        return client

    async def _connect_once(self) -> bool:
        self._generation += 1
        self._lost.clear()
        client = self._new_client()
        self._connack = asyncio.get_running_loop().create_future()
        s = self.settings
        try:
            await asyncio.to_thread(client.connect, s.host, s.port, s.keepalive,
                                    clean_start=True)
        except (OSError, ssl.SSLError) as exc:
            log.info("connect to %s:%d failed: %s", s.host, s.port, exc)
            return False
        client.loop_start()
        self._client = client
        try:
            rc = await asyncio.wait_for(self._connack, s.connect_timeout)
        except TimeoutError:
            rc = None
        if rc is None or rc.is_failure or self._lost.is_set():
            log.warning("broker refused connection: %s", rc)
            await self._drop_client()
            return False
        return True

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self.link.set_state(State.CONNECTING)
            if await self._connect_once():
                self.link.set_state(State.CONNECTED)
                self.connects += 1
                await self._notify()
                began = asyncio.get_running_loop().time()
                await self._session()
                # Reset only after a stable session: a broker that accepts the connection
                # and then drops it (e.g. ACL refusals) must not cause a reconnect storm.
                if asyncio.get_running_loop().time() - began >= self.settings.stable_after:
                    self.backoff.reset()
                if self._stopping.is_set():
                    break
            self.link.set_state(State.WAITING)
            await self._drop_client()
            for item in self.window.clear():
                log.debug("row %d unacknowledged at disconnect: resent later", item.rowid)
            delay = self.backoff.next()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        await self._shutdown()

    async def _session(self) -> None:
        """One connected session: announce, subscribe, then drain until lost or stopping."""
        s = self.settings
        client = self._client
        assert client is not None
        online = self.outbox.envelope("state", self._online_data())
        client.publish(self.topics.state(s.node), online.encode(), qos=1, retain=True)
        birth = await self.birth()
        client.publish(self.topics.birth(s.node), birth.encode(), qos=1)
        for flt in self._handlers:
            client.subscribe(flt, qos=1)
        for hook in list(self.on_connected):
            await self._safe_hook(hook)
        heartbeat = asyncio.create_task(self._heartbeat(client), name="sync-heartbeat")
        try:
            await self._drain(client)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    def _online_data(self) -> dict[str, Any]:
        # The keepalive rides on every `state` online too (not only the birth), so a fleet
        # that missed the birth still knows how long this box may stay silent.
        return {"state": "online", "keepalive": self.settings.keepalive}

    async def _heartbeat(self, client: mqtt.Client) -> None:
        """Re-send the retained `state` online every keepalive/3 (QoS 0, not in the outbox).

        The fleet calls a box offline after 1.4 x keepalive of silence, well before a
        slow broker's Will; see web/fleet/liveness.py.
        """
        s = self.settings
        if s.keepalive <= 0:
            return
        while True:
            await self._sleep(s.keepalive / 3)
            online = self.outbox.envelope("state", self._online_data())
            client.publish(self.topics.state(s.node), online.encode(), qos=0, retain=True)
            self.heartbeats += 1

    async def _drain(self, client: mqtt.Client) -> None:
        s = self.settings
        connected_at = self._clock.now()
        cursor = 0
        self._resend = False
        while not self._lost.is_set() and not self._stopping.is_set():
            self._wake.clear()
            if self._resend:
                cursor, self._resend = 0, False
            room = self.window.room()
            rows = await self.outbox.pending(cursor, room) if room > 0 else []
            for row in rows:
                cursor = row.rowid
                if row.rowid in self._acked_ids:
                    continue
                env = row.envelope.as_history() if row.envelope.ts < connected_at else row.envelope
                info = client.publish(self.topics.event(s.node, row.stream), env.encode(), qos=1)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._lost.set()
                    break
                self.window.add(info.mid, InFlight(row.rowid, row.stream))
            if rows and self.window.room() > 0:
                continue  # more may be waiting
            await self._wake.wait()

    async def _safe_hook(self, hook: Callable[[], Awaitable[None]]) -> None:
        try:
            await hook()
        except Exception:
            log.exception("on_connected hook failed")

    async def birth(self) -> Envelope:
        """Build the birth message: version, session, seq watermark, backlog."""
        s = self.settings
        data = {"version": s.software_version, "session": self.outbox.session,
                "seq": self.outbox.seq, "first_pending_seq": await self.outbox.first_pending_seq(),
                "backlog": self.outbox.backlog_total(), "keepalive": s.keepalive,
                **s.extra_birth}
        return self.outbox.envelope("birth", data)

    async def republish_birth(self) -> bool:
        """Send state online and a fresh birth now (resync)."""
        s = self.settings
        online = self.outbox.envelope("state", self._online_data())
        ok = await self.publish_direct(self.topics.state(s.node), online.encode(), retain=True)
        birth = await self.birth()
        return ok and await self.publish_direct(self.topics.birth(s.node), birth.encode())

    async def _shutdown(self) -> None:
        if self.link.state is State.CONNECTED and self._client is not None:
            self.link.set_state(State.DRAINING)
            deadline = asyncio.get_running_loop().time() + self.settings.shutdown_grace
            while len(self.window) and not self._lost.is_set():
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    log.warning("shutdown: %d acks still pending", len(self.window))
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), left)
            if not self._lost.is_set():
                offline = self.outbox.envelope("state", {"state": "offline", "reason": "stop"})
                await self.publish_direct(self.topics.state(self.settings.node),
                                          offline.encode(), retain=True, timeout=1.0)
        await self._drop_client()
        self.link.set_state(State.STOPPED)

    async def _flush_acks(self) -> None:
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            await self._remove_acked()

    async def _remove_acked(self) -> None:
        if not self._acked:
            return
        batch, self._acked = self._acked, []
        await self.outbox.remove(batch)
        self._acked_ids.difference_update(rowid for rowid, _ in batch)
        await self._notify()

    async def _metrics_loop(self) -> None:
        assert self._metrics_provider is not None
        while True:
            await self._sleep(self.settings.metrics_interval)
            try:
                data = dict(self._metrics_provider())
            except Exception:
                log.exception("metrics provider failed")
                continue
            data["outbox_backlog"] = self.outbox.backlog_total()
            data["link"] = self.link.state.value
            await self.outbox.append("metrics", "metrics", data)
