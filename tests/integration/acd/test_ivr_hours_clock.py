"""Business hours on real calls, driven by a clock the test sets (no waiting for 17:00).

The controller is built in-process by the production composition root (`build_controller`)
with a test clock, and serves Kamailio's loopback API from a thread; Kamailio and the media
workers are the real programs. No test-only switch exists in production code: the clock is
the same injection point every service already takes.

IVR 850 is open Sunday to Thursday 09:00-17:00 in Asia/Jerusalem (UTC+2 in November) with a
company holiday; the clock speaks UTC. Moments are chosen where UTC and Jerusalem disagree,
so a calendar read in the wrong zone takes the wrong branch.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from appliance import config
from appliance.app import Controller, build_controller, edge_config
from appliance.controller.edge_http import build_edge_app
from appliance.sip import kamailio
from appliance.storage.db import migrate_sync
from appliance.supervisor import python_argv
from tests.support.net import free_block, free_ports
from tests.support.phone import Phone

REPO_ROOT = Path(__file__).resolve().parents[3]
IVR = "850"
HOURS_IVR = {
    "entry": "switch:hours",
    "switches": {
        "hours": {
            "hours": {
                "tz": "Asia/Jerusalem",
                "hours": {"sun,mon-thu": ["09:00-17:00"]},
                "holidays": [{"date": "2026-12-15", "name": "Company day"}],
            },
            "open": "extension:102",
            "closed": "voicemail:101",
        }
    },
}
# Monday 09:30 in Jerusalem, 07:30 UTC: open (a calendar read in UTC would say closed).
OPEN_AT = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
# Monday 18:00 in Jerusalem, 16:00 UTC: closed (a calendar read in UTC would say open).
CLOSED_AT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
# Tuesday 12:00 in Jerusalem, inside the weekly hours, but the company holiday.
HOLIDAY_AT = datetime(2026, 12, 15, 10, 0, tzinfo=UTC)
_PASSWORD = re.compile(r"extension (\d+)\s+.*password (\S+)")


class SetClock:
    """Wall time the test sets (running on in real time from there); real monotonic seconds, so the
    flows' timers (ring time, digit timeouts) behave as on a real box."""

    def __init__(self, at: datetime) -> None:
        self._anchor = (at, time.monotonic())

    def set(self, at: datetime) -> None:
        """Jump the wall clock to `at` (one tuple assignment: safe across threads)."""
        self._anchor = (at, time.monotonic())

    def monotonic(self) -> float:
        """Seconds on the machine's monotonic scale."""
        return time.monotonic()

    def now(self) -> datetime:
        """The set time plus the real seconds since it was set."""
        at, since = self._anchor
        return at + timedelta(seconds=time.monotonic() - since)


@dataclass
class InProcessBox:
    """A controller built in this process with a test clock, plus real Kamailio and workers."""

    settings: config.Settings
    clock: SetClock
    passwords: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sip(self) -> str:
        """ip:port of the SIP edge."""
        return f"127.0.0.1:{self.settings.sip_port}"

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        """Read the box's database."""
        conn = sqlite3.connect(f"file:{self.settings.db_path}?mode=ro", uri=True, timeout=5)
        conn.row_factory = sqlite3.Row
        try:
            return list(conn.execute(sql, args))
        finally:
            conn.close()

    def wait_rows(self, sql: str, args: tuple[object, ...] = (), timeout: float = 20.0) -> list[sqlite3.Row]:
        """Poll until the query returns rows."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.query(sql, args)
            if rows:
                return rows
            time.sleep(0.2)
        raise TimeoutError(f"{sql} {args} gave no rows in {timeout} s")


class ControllerThread:
    """`build_controller` with the test clock and Kamailio's internal API, on a loop in a thread."""

    def __init__(self, settings: config.Settings, clock: SetClock) -> None:
        self.settings = settings
        self.clock = clock
        self.ctl: Controller | None = None
        self.seed_output = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)

    def start(self, timeout: float = 60.0) -> Controller:
        """Start and wait until the internal API answers."""
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None or self.ctl is None:
            raise RuntimeError(f"the controller did not start: {self._error!r}")
        return self.ctl

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving and close the database."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # the demo seed prints the generated passwords once
            ctl = await build_controller(self.settings, self.clock)
        self.seed_output = out.getvalue()
        await ctl.rpc.start()
        server = uvicorn.Server(uvicorn.Config(
            build_edge_app(ctl.edge, config.edge_token(self.settings)), host="127.0.0.1",
            port=self.settings.internal_port, log_level="warning", access_log=False, lifespan="off",
        ))
        task = asyncio.create_task(server.serve())
        try:
            for _ in range(500):  # uvicorn exposes no started event; bounded wait on its flag
                if server.started or task.done():
                    break
                await asyncio.sleep(0.01)
            if not server.started:
                raise RuntimeError("the internal API did not start")
            self._stop = asyncio.Event()
            self.ctl = ctl
            self._ready.set()
            await self._stop.wait()
        finally:
            server.should_exit = True
            await ctl.rpc.stop()
            for link in list(ctl.sessions.links.values()):
                link.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
            await ctl.sessions.drain()
            await ctl.db.close()


def _stop_proc(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's own process group, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessBox]:
    """IVR 850 seeded; the controller in-process on a SetClock; real Kamailio and 2 workers."""
    data_dir = Path(tmp_path_factory.mktemp("hours")) / "data"
    sip, web, internal = free_ports(3)
    settings = config.load(data_dir).with_overrides(
        sip_ip="127.0.0.1", sip_port=sip, web_ip="127.0.0.1", web_port=web, internal_port=internal,
        workers=2, worker_base_port=free_block(2), log_level="info",
    )
    settings.save()
    migrate_sync(settings.db_path)
    conn = sqlite3.connect(settings.db_path)
    try:
        with conn:
            conn.execute(
                "INSERT INTO ivrs(number, name, language, config, updated_at) VALUES (?, 'Hours', 'he', ?, '')",
                (IVR, json.dumps(HOURS_IVR)),
            )
    finally:
        conn.close()
    cfg = kamailio.write_config(edge_config(settings))
    kamailio.check_config(cfg)
    the_box = InProcessBox(settings, SetClock(OPEN_AT))
    controller = ControllerThread(settings, the_box.clock)
    try:
        ctl = controller.start()
        the_box.passwords = dict(_PASSWORD.findall(controller.seed_output))
        the_box.procs.append(subprocess.Popen(kamailio.command(cfg, settings.run_dir), cwd=REPO_ROOT,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                              start_new_session=True))
        asyncio.run(kamailio.wait_ready("127.0.0.1", sip))
        for i in (1, 2):
            the_box.procs.append(subprocess.Popen(
                python_argv("worker", "--name", f"w{i}", "--data-dir", str(data_dir)), cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            ))
        deadline = time.monotonic() + 60
        while len(ctl.sessions.links) < 2:
            assert time.monotonic() < deadline, "the workers did not say hello"
            time.sleep(0.1)
        yield the_box
    finally:
        for proc in reversed(the_box.procs):
            _stop_proc(proc)
        controller.stop()


def call_ivr(box: InProcessBox, caller_ext: str, *, expect_ring_at: str | None) -> tuple[str, str]:
    """`caller_ext` calls IVR 850; if `expect_ring_at` is set, that extension's phone must ring.
    Otherwise the caller leaves a one-second message. Returns (call id, CDR start)."""
    with Phone() as caller, Phone() as desk:
        assert caller.register(caller_ext, box.passwords[caller_ext], registrar=box.sip) == 200
        assert desk.register("102", box.passwords["102"], registrar=box.sip) == 200
        call = caller.call(f"sip:{IVR}@{box.sip}", user=caller_ext)
        caller.wait(call, "confirmed", timeout=15)
        if expect_ring_at is not None:
            desk.incoming(timeout=20)  # the open branch put the caller through to 102: it rings
        else:
            box.wait_rows("SELECT 1 FROM voicemails WHERE caller = ? AND state = 'recording'", (caller_ext,), 30)
            caller.send_tone(call, 1000)
            time.sleep(1.0)  # the message
        caller.hangup(call)
        caller.wait(call, "disconnected", timeout=10)
    row = box.wait_rows(
        "SELECT call_id, started_at FROM cdrs WHERE caller = ? AND callee = ? AND ended_at IS NOT NULL"
        " ORDER BY rowid DESC LIMIT 1", (caller_ext, IVR),
    )[0]
    return str(row["call_id"]), str(row["started_at"])


def test_in_hours_in_jerusalem_the_caller_is_put_through(box: InProcessBox) -> None:
    box.clock.set(OPEN_AT)
    call_id, started = call_ivr(box, "103", expect_ring_at="102")
    assert started.startswith("2026-11-23T07:3")  # the controller ran on the test's clock
    assert not box.query("SELECT 1 FROM voicemails WHERE call_id = ?", (call_id,))


def test_past_closing_in_jerusalem_the_caller_reaches_voicemail(box: InProcessBox) -> None:
    box.clock.set(CLOSED_AT)
    call_id, started = call_ivr(box, "104", expect_ring_at=None)
    assert started.startswith("2026-11-23T16:0")
    msg = box.wait_rows("SELECT * FROM voicemails WHERE call_id = ? AND state = 'ready'", (call_id,))[0]
    assert msg["mailbox"] == "101" and str(msg["started_at"]).startswith("2026-11-23T16:0")


def test_on_the_holiday_the_caller_reaches_voicemail_then_next_day_is_open(box: InProcessBox) -> None:
    box.clock.set(HOLIDAY_AT)
    call_id, _ = call_ivr(box, "105", expect_ring_at=None)
    msg = box.wait_rows("SELECT * FROM voicemails WHERE call_id = ? AND state = 'ready'", (call_id,))[0]
    assert msg["mailbox"] == "101" and str(msg["started_at"]).startswith("2026-12-15T10:0")
    box.clock.set(HOLIDAY_AT + timedelta(days=1))  # Wednesday, same hour: an ordinary open day
    call_ivr(box, "105", expect_ring_at="102")


def test_in_israeli_summer_time_the_box_opens_an_hour_earlier_in_utc(box: InProcessBox) -> None:
    # Tuesday 2026-10-20, before Israel leaves summer time (UTC+3) on 25 October: 06:30 UTC is
    # 09:30 local, open. Read in winter time (UTC+2) it would be 08:30, closed; in UTC, closed.
    box.clock.set(datetime(2026, 10, 20, 6, 30, tzinfo=UTC))
    call_id, started = call_ivr(box, "103", expect_ring_at="102")
    assert started.startswith("2026-10-20T06:3")
    assert not box.query("SELECT 1 FROM voicemails WHERE call_id = ?", (call_id,))
