"""Cloud sync benchmarks against a real mosquitto on loopback.

    .venv/bin/python -m bench.sync_bench outage --seconds 60 --events 10000
    .venv/bin/python -m bench.sync_bench write --count 500
    .venv/bin/python -m bench.sync_bench drain --events 50000
    .venv/bin/python -m bench.sync_bench memory --events 100000

outage: the broker is stopped for --seconds while the box appends --events evenly; then
        it returns and we time until every event is in the fleet store exactly once and
        in order (the issue's proof at full size; the test suite runs a shorter outage).
write:  cost of one durable outbox append (commit with synchronous=FULL).
drain:  backlog drain rate from the outbox through mosquitto into the fleet store.
memory: RSS of the box process (python -m appliance.sync) holding a backlog, broker down.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from appliance.storage.db import open_db
from appliance.sync.client import SyncClient, SyncSettings
from appliance.sync.clock import SystemClock
from appliance.sync.outbox import Outbox
from appliance.sync.ulid import UlidGenerator
from tests.support.mosquitto import FLEET_USER, Mosquitto
from tests.support.net import free_port
from web.fleet.service import FleetService, FleetSettings
from web.fleet.store import FleetStore

USERS = {FLEET_USER: "fleet-pw", "box-1": "pw-1"}


async def _outbox(db: Path) -> Outbox:
    clock = SystemClock()
    return await Outbox.open(await open_db(db), "box-1", clock, UlidGenerator(clock))


async def _fleet(broker: Mosquitto, d: Path) -> FleetService:
    store = await FleetStore.open(d / "fleet.db")
    svc = FleetService(FleetSettings("127.0.0.1", broker.port, FLEET_USER, USERS[FLEET_USER]),
                       store, SystemClock())
    await svc.start()
    return svc


async def _prefill(outbox: Outbox, n: int) -> None:
    for start in range(0, n, 1000):
        await outbox.append_many("cdr", [("cdr", {"n": i, "pad": "x" * 200})
                                         for i in range(start, min(n, start + 1000))])


async def bench_write(count: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        outbox = await _outbox(Path(d) / "box.db")
        times = []
        for i in range(count):
            t0 = time.perf_counter()
            await outbox.append("cdr", "cdr", {"n": i, "pad": "x" * 200})
            times.append((time.perf_counter() - t0) * 1000)
        await outbox._conn.close()
    times.sort()
    print(f"outbox append x{count}: mean {statistics.mean(times):.2f} ms, "
          f"p50 {times[len(times) // 2]:.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms "
          f"=> {1000 / statistics.mean(times):.0f} durable appends/s (one at a time)")


async def bench_drain(events: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        dp = Path(d)
        broker = Mosquitto(dp / "broker", dict(USERS))
        broker.start()
        try:
            fleet = await _fleet(broker, dp)
            outbox = await _outbox(dp / "box.db")
            await _prefill(outbox, events)
            clock = SystemClock()
            client = SyncClient(SyncSettings("127.0.0.1", broker.port, "box-1",
                                             username="box-1", password=USERS["box-1"]),
                                outbox, clock)
            t0 = time.perf_counter()
            await client.start()
            await fleet.wait_for(lambda: fleet.stored >= events, 600)
            took = time.perf_counter() - t0
            await client.stop()
            print(f"drain {events} events: {took:.1f} s => {events / took:.0f} events/s "
                  f"into the fleet store (window {client.settings.window}); "
                  f"duplicates {fleet.duplicates}, outbox left {outbox.backlog_total()}")
            await outbox._conn.close()
            await fleet.stop()
            await fleet.store.close()
        finally:
            broker.stop()


async def bench_outage(seconds: float, events: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        dp = Path(d)
        broker = Mosquitto(dp / "broker", dict(USERS))
        broker.start()
        try:
            fleet = await _fleet(broker, dp)
            outbox = await _outbox(dp / "box.db")
            client = SyncClient(SyncSettings("127.0.0.1", broker.port, "box-1",
                                             username="box-1", password=USERS["box-1"],
                                             backoff_max=5.0), outbox, SystemClock())
            await client.start()
            ids: list[str] = []
            broker.stop()
            t0 = time.perf_counter()
            per = seconds / events
            for i in range(events):
                ids.append((await outbox.append("cdr", "cdr", {"n": i})).id)
                delay = t0 + (i + 1) * per - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            outage = time.perf_counter() - t0
            backlog = outbox.backlog_total()
            broker.start()
            t1 = time.perf_counter()
            ok = await fleet.wait_for(lambda: fleet.stored >= events, 600)
            took = time.perf_counter() - t1
            stored = await fleet.store.events("box-1", "cdr")
            exact = [e["id"] for e in stored] == ids
            seqs = [e["seq"] for e in stored]
            print(f"outage {outage:.1f} s with {events} events appended (backlog {backlog}); "
                  f"after the broker returned: all stored={ok}, exactly once and in order="
                  f"{exact and seqs == sorted(seqs)}, caught up in {took:.1f} s "
                  f"(incl. reconnect backoff), duplicates {fleet.duplicates}")
            await client.stop()
            await outbox._conn.close()
            await fleet.stop()
            await fleet.store.close()
        finally:
            broker.stop()


async def bench_memory(events: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "box.db"
        outbox = await _outbox(db)
        await _prefill(outbox, events)
        await outbox._conn.close()
        port = free_port()  # nothing listens: the box keeps its backlog
        proc = subprocess.Popen([sys.executable, "-m", "appliance.sync", "--db", str(db),
                                 "--node", "box-1", "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            await asyncio.sleep(3)  # a few reconnect attempts
            rss = next(int(line.split()[1]) for line in
                       Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                       if line.startswith("VmRSS"))
            size = sum(p.stat().st_size for p in Path(d).glob("box.db*"))
            print(f"box process with a {events}-event backlog: RSS {rss / 1024:.1f} MiB; "
                  f"database {size / 1e6:.1f} MB on disk")
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    """Run one benchmark."""
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    o = sub.add_parser("outage")
    o.add_argument("--seconds", type=float, default=60)
    o.add_argument("--events", type=int, default=10_000)
    w = sub.add_parser("write")
    w.add_argument("--count", type=int, default=500)
    dr = sub.add_parser("drain")
    dr.add_argument("--events", type=int, default=50_000)
    m = sub.add_parser("memory")
    m.add_argument("--events", type=int, default=100_000)
    a = p.parse_args()
    if a.what == "outage":
        asyncio.run(bench_outage(a.seconds, a.events))
    elif a.what == "write":
        asyncio.run(bench_write(a.count))
    elif a.what == "drain":
        asyncio.run(bench_drain(a.events))
    else:
        asyncio.run(bench_memory(a.events))


if __name__ == "__main__":
    main()
