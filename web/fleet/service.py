"""Fleet ingest: subscribes to every box's topics and writes them into the fleet store.

paho callbacks enter asyncio through one door (`call_soon_threadsafe`). Messages are
acknowledged to the broker (manual ack) only after their batch is committed, and the
session is persistent, so nothing acknowledged by the broker is lost by the fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.sync.clock import Clock, RandomBytes, system_random_bytes
from appliance.sync.envelope import EnvelopeError, decode
from appliance.sync.signal import ChangeSignal
from appliance.sync.topics import Kind, TopicError, Topics
from appliance.sync.ulid import UlidGenerator
from web.fleet.liveness import Liveness
from web.fleet.seq import SeqTracker
from web.fleet.store import BEST_EFFORT_STREAMS, FleetStorage

log = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True)
class FleetSettings:
    """Broker access for the fleet service."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    prefix: str = "cc"
    client_id: str = "fleet"
    ca_file: str | None = None
    resync_interval: float = 10.0
    command_ttl: float = 120.0


@dataclass(frozen=True)
class _Msg:
    topic: str
    payload: bytes
    mid: int
    qos: int


class FleetService:
    """Owns the fleet's MQTT session and is the only writer of the fleet store."""

    def __init__(self, settings: FleetSettings, store: FleetStorage, clock: Clock,
                 random_bytes: RandomBytes = system_random_bytes) -> None:
        self.settings = settings
        self.store = store
        self.topics = Topics(settings.prefix)
        self._clock = clock
        self._ids = UlidGenerator(clock, random_bytes)
        self._queue: asyncio.Queue[_Msg | None] = asyncio.Queue()
        self._trackers: dict[str, SeqTracker] = {}
        self._changed = ChangeSignal()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._db_lock = asyncio.Lock()
        self.duplicates = 0
        self.stored = 0
        self.invalid = 0
        self.resyncs_sent = 0
        self._last_resync: dict[str, float] = {}
        # Small caches of what the last batches said, for wait_for predicates.
        self.online: dict[str, bool] = {}
        self.reported: dict[str, dict[str, Any]] = {}
        self.command_results: dict[str, list[dict[str, Any]]] = {}
        self.lost: list[tuple[str, int, int]] = []
        self.liveness = Liveness()
        self.offline_reasons: dict[str, str] = {}  # last `state` offline reason (will, stop)
        self.silenced = 0  # boxes marked offline by the fleet's own liveness watch
        self._watch: asyncio.Task[None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Rebuild gap trackers from the store, connect and start ingesting."""
        self._loop = asyncio.get_running_loop()
        for node, floor in (await self.store.seq_floors()).items():
            tracker = SeqTracker(floor)
            for seq in await self.store.seqs_above(node, floor):
                tracker.observe(seq)
            self._trackers[node] = tracker
        now = self._clock.now()
        for box in await self.store.boxes():
            if box.online:  # watched again from now, with the keepalive of its last birth
                birth = await self.store.birth(box.node) or {}
                ka = birth.get("keepalive")
                self.liveness.announce(box.node, ka if isinstance(ka, int | float) else None, now)
        s = self.settings
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=s.client_id,
            protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True,
        )
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.ca_file is not None:
            client.tls_set(ca_certs=s.ca_file)
        client.reconnect_delay_set(1, 5)
        client.on_connect = lambda _c, _u, _f, rc, _p: self._door("connect", rc)
        client.on_disconnect = lambda _c, _u, _f, rc, _p: self._door("disconnect", rc)
        client.on_message = lambda _c, _u, m: self._door(
            "message", _Msg(m.topic, bytes(m.payload), m.mid, m.qos))
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 7 * 24 * 3600
        client.connect_async(s.host, s.port, keepalive=30, clean_start=False, properties=props)
        client.loop_start()
        self._client = client
        self._task = asyncio.create_task(self._ingest(), name="fleet-ingest")
        self._watch = asyncio.create_task(self._watch_liveness(), name="fleet-liveness")
        await asyncio.wait_for(self._connected.wait(), 10)

    async def stop(self) -> None:
        """Finish the current batch and disconnect."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._task is not None:
            self._queue.put_nowait(None)  # finish what is queued, then stop
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._client is not None:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)

    def _door(self, kind: str, arg: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._on_paho, kind, arg)

    def _on_paho(self, kind: str, arg: Any) -> None:
        if kind == "connect":
            if arg.is_failure:
                log.error("fleet: broker refused connection: %s", arg)
                return
            assert self._client is not None
            self._client.subscribe(self.topics.fleet_filter(), qos=1)
            self._connected.set()
        elif kind == "disconnect":
            self._connected.clear()
        else:
            self._heard(arg.topic)
            self._queue.put_nowait(arg)

    def _heard(self, topic: str) -> None:
        # Stamped on arrival, not at ingest, so a long ingest queue never looks like silence.
        # The broker's ACL makes the topic's node the sender's own.
        try:
            parsed = self.topics.parse(topic)
        except TopicError:
            return
        if parsed.kind not in (Kind.CFG_DESIRED, Kind.CMD):
            self.liveness.heard(parsed.node, self._clock.now())

    async def _watch_liveness(self) -> None:
        """Mark boxes offline that have been silent too long (see web.fleet.liveness)."""
        while True:
            now = self._clock.now()
            for node in self.liveness.expire(now):
                await self._mark_silent(node, now)
            nxt = self.liveness.next_deadline()
            delay = 0.5 if nxt is None else min(0.5, max(0.005, nxt - now + 0.001))
            await asyncio.sleep(delay)

    async def _mark_silent(self, node: str, now: float) -> None:
        log.warning("fleet: %s silent past 1.4 x keepalive: offline", node)
        async with self._db_lock:
            await self.store.begin()
            try:
                await self.store.set_online(node, False, now)
                await self.store.commit()
            except BaseException:
                await self.store.rollback()
                raise
        self.online[node] = False
        self.silenced += 1
        await self._changed.notify()

    # ---- waiting (for tests and the dashboard) ------------------------------------------
    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds after some batch; False on timeout."""
        return await self._changed.wait_for(predicate, timeout)

    def tracker(self, node: str) -> SeqTracker:
        """The gap tracker of a node."""
        return self._trackers.setdefault(node, SeqTracker())

    # ---- ingest ------------------------------------------------------------------------
    async def _ingest(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stop = True
                    break
                batch.append(item)
            await asyncio.shield(self._ingest_batch(batch))
            if stop:
                return

    async def _ingest_batch(self, batch: list[_Msg]) -> None:
        touched: set[str] = set()
        async with self._db_lock:
            await self.store.begin()
            try:
                for msg in batch:
                    node = await self._one(msg)
                    if node is not None:
                        touched.add(node)
                for node in touched:
                    await self.store.set_seq_floor(node, self.tracker(node).floor)
                await self.store.commit()
            except BaseException:
                await self.store.rollback()
                raise
        client = self._client
        if client is not None:
            for msg in batch:
                if msg.qos > 0:
                    client.ack(msg.mid, msg.qos)
        for node in touched:
            await self._maybe_resync(node)
        await self._changed.notify()

    async def _one(self, msg: _Msg) -> str | None:
        now = self._clock.now()
        try:
            parsed = self.topics.parse(msg.topic)
            if parsed.kind in (Kind.CFG_DESIRED, Kind.CMD):
                return None  # our own cloud->box traffic
            env = decode(msg.payload)
        except (TopicError, EnvelopeError) as exc:
            self.invalid += 1
            log.warning("fleet: dropping invalid message on %s: %s", msg.topic, exc)
            return None
        node = parsed.node
        if env.node != node:
            self.invalid += 1
            log.warning("fleet: envelope node %s on topic of %s: dropped", env.node, node)
            return None
        await self.store.touch(node, now)
        if parsed.kind is Kind.STATE:
            self.online[node] = env.data.get("state") == "online"
            ka = env.data.get("keepalive")
            if self.online[node] and isinstance(ka, int | float):
                self.liveness.announce(node, ka, now)
            if not self.online[node]:
                self.liveness.gone(node)
                self.offline_reasons[node] = str(env.data.get("reason", ""))
            await self.store.set_online(node, self.online[node], now)
        elif parsed.kind is Kind.BIRTH:
            self.online[node] = True
            ka = env.data.get("keepalive")
            self.liveness.announce(node, ka if isinstance(ka, int | float) else None, now)
            await self.store.set_online(node, True, now)
            await self.store.set_birth(node, env)
            first = env.data.get("first_pending_seq")
            if isinstance(first, int):
                for a, b in self.tracker(node).skip_below(first):
                    log.error("fleet: %s seq %d..%d lost (no longer on the box)", node, a, b)
                    self.lost.append((node, a, b))
        elif parsed.kind in (Kind.EVENT, Kind.ALARM):
            stream = parsed.arg or "alarm"
            if await self.store.add_event(node, stream, env, now):
                self.stored += 1
                if stream in BEST_EFFORT_STREAMS:
                    await self.store.set_metrics(node, env.data)
                else:
                    self.tracker(node).observe(env.seq)
            else:
                self.duplicates += 1
        elif parsed.kind is Kind.CFG_REPORTED:
            version = env.data.get("version")
            self.reported[node] = env.data
            await self.store.set_reported(node, version if isinstance(version, int) else None,
                                          env.data, now)
        elif parsed.kind is Kind.CMD_RESULT:
            self.command_results.setdefault(parsed.arg or "", []).append(env.data)
            await self.store.add_command_result(node, parsed.arg or "", str(
                env.data.get("status", "")), env.data, now)
        return node

    async def _maybe_resync(self, node: str) -> None:
        tracker = self.tracker(node)
        gaps = tracker.gaps()
        if not gaps:
            return
        now = self._clock.now()
        last = self._last_resync.get(node)
        if last is not None and now - last < self.settings.resync_interval:
            return
        log.warning("fleet: %s has seq gaps %s: asking for resync", node, gaps[:3])
        self._last_resync[node] = now
        await self.send_command(node, "resync", {"from_seq": gaps[0][0]})
        async with self._db_lock:
            await self.store.set_resync(node, now)
        self.resyncs_sent += 1

    # ---- cloud -> box ------------------------------------------------------------------
    async def send_command(self, node: str, name: str, args: dict[str, Any] | None = None,
                           ttl: float | None = None) -> str:
        """Publish a command to a box; return its id."""
        cmd_id = self._ids.new()
        expires = self._clock.now() + (ttl if ttl is not None else self.settings.command_ttl)
        body = {"id": cmd_id, "expires": expires, "args": args or {}}
        self._publish(self.topics.cmd(node, name), json.dumps(body).encode(), retain=False)
        return cmd_id

    async def push_desired(self, node: str, config: dict[str, Any]) -> int:
        """Publish a new desired configuration (retained) with the next version; return it."""
        current = await self.store.config(node)
        version = 1 + max(current.get("desired_version") or 0,
                          current.get("reported_version") or 0)
        doc = {"version": version, "config": config}
        self._publish(self.topics.cfg_desired(node), json.dumps(doc).encode(), retain=True)
        async with self._db_lock:
            await self.store.set_desired(node, version, config, self._clock.now())
        return version

    def publish_raw(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish bytes as they are (used to push hand-made or hostile payloads in tests)."""
        self._publish(topic, payload, retain=retain)

    def _publish(self, topic: str, payload: bytes, *, retain: bool) -> None:
        if self._client is None:
            raise RuntimeError("fleet service not started")
        self._client.publish(topic, payload, qos=1, retain=retain)
