"""`python -m web.fleet`: the fleet service and its dashboard in one process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import uvicorn

from appliance.sync.clock import SystemClock
from web.fleet.app import create_app
from web.fleet.service import FleetService, FleetSettings
from web.fleet.store import open_store


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="appliance fleet")
    p.add_argument("--db", type=Path, default=Path("fleet.db"), help="SQLite fleet store")
    p.add_argument("--dsn", help="PostgreSQL DSN (libpq form); when given, the fleet store is PostgreSQL, not --db")
    p.add_argument("--host", default="127.0.0.1", help="MQTT broker host")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--username", default="fleet")
    p.add_argument("--password")
    p.add_argument("--ca", help="CA file: connect with TLS")
    p.add_argument("--prefix", default="cc")
    p.add_argument("--http-host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, default=8090)
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Run ingest and the dashboard until interrupted."""
    store = await open_store(args.db, args.dsn)
    service = FleetService(FleetSettings(args.host, args.port, args.username, args.password,
                                         prefix=args.prefix, ca_file=args.ca),
                           store, SystemClock())
    await service.start()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host=args.http_host,
                                           port=args.http_port, log_level="info"))
    try:
        await server.serve()
    finally:
        await service.stop()
        await store.close()


def main(argv: list[str] | None = None) -> None:
    """Entry point for `python -m web.fleet` and `appliance fleet`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(parse_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
