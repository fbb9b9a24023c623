"""Composition root: builds the controller by hand from settings and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TextIO

import aiosqlite
import uvicorn
from fastapi import FastAPI

from appliance import provisioning_wiring
from appliance.cloud import start_cloud
from appliance.config import Settings, edge_token
from appliance.controller.edge import EdgeService
from appliance.controller.edge_http import build_edge_app
from appliance.controller.messaging import SmsChannel
from appliance.controller.outbound import wire_trunks
from appliance.controller.prompts import MOH, Prompts
from appliance.controller.queue_config import DEMO_QUEUE
from appliance.controller.queues import QueueService
from appliance.controller.recordings import RecordingIndexer, wire_retention
from appliance.controller.rpc import RpcServer
from appliance.controller.sessions import SessionManager
from appliance.controller.supervision import wire_call_features
from appliance.controller.voicemail import features_of
from appliance.controller.voicemail import wire as wire_ivr_voicemail
from appliance.demo_modem import seed_simulated_line
from appliance.domain.clock import Clock, SystemClock
from appliance.domain.dialplan import MediaService
from appliance.domain.placement import Placement
from appliance.sdnotify import notify, watchdog_loop
from appliance.sip.kamailio import EdgeConfig
from appliance.storage.calls import CallStore
from appliance.storage.db import open_db
from appliance.storage.directory import DirectoryStore, NewExtension
from appliance.storage.queues import QueueStore
from appliance.web_services.certs import ensure_certificate
from web.local.app import build_web_app

log = logging.getLogger(__name__)

DEMO_EXTENSIONS = [
    ("101", "Reception"), ("102", "Agent Dana"), ("103", "Agent Omar"),
    ("104", "Agent Wei"), ("105", "Agent Ola"),
]
DEMO_RING_GROUP = ("600", "Support", ["102", "103", "104", "105"])


def edge_config(settings: Settings) -> EdgeConfig:
    """Kamailio's view of the settings."""
    return EdgeConfig(
        ip=settings.sip_ip,
        sip_port=settings.sip_port,
        controller_url=f"http://127.0.0.1:{settings.internal_port}/internal/{edge_token(settings)}",
        run_dir=settings.run_dir,
        realm=settings.realm,
        workers=settings.worker_addresses,
        trusted=settings.trusted,
        children=settings.kamailio_children,
        natping_interval=settings.natping_interval,
        pike_window_s=settings.pike_window_s,
        pike_density=settings.pike_density,
        ban_seconds=settings.ban_seconds,
        auth_fail_max=settings.auth_fail_max,
        auth_fail_window_s=settings.auth_fail_window_s,
    )


async def seed_demo(directory: DirectoryStore, out: TextIO) -> list[NewExtension]:
    """First start: demo extensions with generated passwords (printed once), a ring group."""
    if not await directory.is_empty():
        return []
    created = [await directory.create_extension(n, name) for n, name in DEMO_EXTENSIONS]
    number, name, members = DEMO_RING_GROUP
    await directory.create_ring_group(number, name, members)
    out.write(
        "\nFirst start: demo extensions created. Their SIP passwords are shown this once;\n"
        "only their digest hashes are stored. Reset one with `appliance extension passwd N`.\n\n"
    )
    for ext in created:
        out.write(f"  extension {ext.number:<4} {ext.display_name:<12} password {ext.password}\n")
    out.write(f"\n  ring group {number} ({name}) hunts {', '.join(members)}; echo test: *43\n\n")
    out.flush()
    return created


@dataclass
class Controller:
    """The wired controller and the things it must close."""

    settings: Settings
    db: aiosqlite.Connection
    sessions: SessionManager
    edge: EdgeService
    rpc: RpcServer
    clock: Clock
    # told after every change of extensions / ring groups (the cloud reports local edits)
    directory_listeners: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    sms: SmsChannel | None = None  # SMS conversations and the modem's health (bridge link)
    cloud_state: Callable[[], dict[str, object]] | None = None  # the cloud link's view (set by start_cloud)

    @property
    def queues(self) -> QueueService:
        """The ACD: queues, agents, live KPIs (`kpis()`, `agent_states()`)."""
        if self.sessions.queues is None:
            raise RuntimeError("the queue service is wired in build_controller")
        return self.sessions.queues

    async def reload_directory(self) -> None:
        """Re-read extensions and ring groups after an admin change (routing uses it at once)."""
        self.sessions.directory = await self.edge.directory.load()
        for listener in self.directory_listeners:
            await listener()


async def build_controller(settings: Settings, clock: Clock | None = None) -> Controller:
    """Open storage and wire the controller's services."""
    clock = clock or SystemClock()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    db = await open_db(settings.db_path)
    store = CallStore(db)
    closed = await store.close_interrupted(clock.now())
    if closed:
        log.warning("closed %d CDRs left open by an earlier crash or power cut", closed)
    directory = DirectoryStore(db, settings.realm)
    created: list[NewExtension] = []
    if settings.demo:
        created = await seed_demo(directory, sys.stdout)
    indexer = RecordingIndexer(settings.data_dir.resolve(), store)
    recovered = await indexer.recover()
    if recovered:
        log.warning("indexed %d recordings left unindexed by an earlier crash", recovered)
    wire_retention(indexer, settings.db_path, clock)  # recording files past retention: swept at start, then hourly
    sessions = SessionManager(
        placement=Placement(),
        store=store,
        indexer=indexer,
        clock=clock,
        data_dir=settings.data_dir.resolve(),
        edge_uri=f"127.0.0.1:{settings.sip_port}",
        directory=await directory.load(),
    )
    queue_store = QueueStore(db)
    if created:
        await queue_store.create_queue(DEMO_QUEUE)
        sys.stdout.write(f"  queue {DEMO_QUEUE.number} ({DEMO_QUEUE.name}): agents log in with *45\n\n")
    prompts = Prompts(settings.data_dir.resolve())
    sessions.queues = QueueService(manager=sessions, store=queue_store, prompts=prompts, clock=clock)
    sessions.flows[MediaService.QUEUE] = sessions.queues.run
    sessions.flows[MediaService.AGENT_FEATURE] = sessions.queues.run
    sessions.queues.configure(await queue_store.load())
    restored = await sessions.queues.restore()
    if restored:
        log.warning("%d agents logged back in as the queue event log left them", restored)
    sessions.directory = sessions.directory  # add the queue numbers to the dial plan
    if sessions.queues.rows:
        await prompts.prepare(["queue-welcome", MOH])
    await seed_simulated_line(db, settings.data_dir, settings.extra.get("modem") or {})  # demo mode only
    await wire_ivr_voicemail(sessions, db, prompts, settings)  # IVRs, DIDs, voicemail, *97, MWI
    wire_call_features(sessions, prompts, settings.extra.get("parking"))  # transfer, parking 7001-7009, supervision
    edge = EdgeService(directory=directory, sessions=sessions, store=store, clock=clock)
    edge.trunks = await wire_trunks(sessions, db, store, clock, settings.data_dir, settings.extra.get("trunks", {}))
    rpc = RpcServer(settings.rpc_socket, sessions.worker_up, sessions.on_event, sessions.worker_gone)
    sms = SmsChannel.open(settings.db_path, db, store, clock, lambda: sessions.queues)
    ctl = Controller(settings, db, sessions, edge, rpc, clock, sms=sms)
    ctl.directory_listeners.append(features_of(sessions).voicemail.directory_changed)  # *98<new extension>
    return ctl


def _with_sms_link(app: FastAPI, ctl: Controller, token: str) -> FastAPI:
    """The internal app plus the firmware bridge's link routes (SMS, modem status)."""
    if ctl.sms is not None:
        app.include_router(ctl.sms.link_router(token))
    return app


async def run_controller(settings: Settings) -> None:
    """Run the controller until SIGINT/SIGTERM."""
    ctl = await build_controller(settings)
    await ctl.rpc.start()
    cloud = await start_cloud(ctl)
    internal = uvicorn.Server(
        uvicorn.Config(
            _with_sms_link(build_edge_app(ctl.edge, edge_token(settings)), ctl, edge_token(settings)),
            host="127.0.0.1", port=settings.internal_port, log_level="warning",
            access_log=False, lifespan="off",
        )
    )
    cert, key = ensure_certificate(settings.data_dir)
    web_app = build_web_app(ctl)
    prov = provisioning_wiring.build_for(ctl)
    provisioning_wiring.mount(web_app, prov)
    pnp = await provisioning_wiring.start_pnp(prov) if settings.extra.get("pnp", True) else None
    web = uvicorn.Server(
        uvicorn.Config(
            web_app, host=settings.web_ip, port=settings.web_port,
            log_level="warning", lifespan="off", ssl_certfile=str(cert), ssl_keyfile=str(key),
        )
    )
    # uvicorn captures SIGINT/SIGTERM while serving and re-raises them when it exits,
    # so the handlers below still see them and stop the rest.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(internal.serve()), asyncio.create_task(web.serve())]
    watchdog = asyncio.create_task(watchdog_loop())
    while not (internal.started and web.started) and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    notify("READY=1")
    log.info(
        "controller up: internal 127.0.0.1:%d, web %s:%d",
        settings.internal_port, settings.web_ip, settings.web_port,
    )
    done, _ = await asyncio.wait([*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    for t in done:
        if t in tasks and t.exception():
            log.error("server failed: %r", t.exception())
    notify("STOPPING=1")
    watchdog.cancel()
    internal.should_exit = True
    web.should_exit = True
    await ctl.rpc.stop()
    for link in list(ctl.sessions.links.values()):
        link.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    await ctl.sessions.drain()
    if pnp is not None:
        pnp.close()
    if cloud is not None:
        await cloud.stop()
    await ctl.db.close()
