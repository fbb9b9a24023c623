"""Run the box side of cloud sync alone: `python -m appliance.sync --db ... --node ...`.

Used by the integration tests (as a process they can SIGKILL) and the benchmarks; with
`--produce N` it also generates N demo events at `--rate` per second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from appliance.sync.client import SyncSettings, TlsSettings
from appliance.sync.node import SyncHooks, SyncNode

DEMO_KEYS = {"timezone": str, "max_calls": int, "queues": list, "moh": str}


def demo_validate(config: dict[str, Any]) -> list[str]:
    """Validate the demo configuration schema."""
    errors = [f"unknown key {k!r}" for k in config if k not in DEMO_KEYS]
    errors += [f"{k} must be {t.__name__}" for k, t in DEMO_KEYS.items()
               if k in config and not isinstance(config[k], t)]
    if isinstance(config.get("max_calls"), int) and config["max_calls"] < 1:
        errors.append("max_calls must be >= 1")
    return errors


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m appliance.sync")
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--prefix", default="cc")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--keepalive", type=int, default=30)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--produce", type=int, default=0)
    p.add_argument("--rate", type=float, default=100.0)
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> None:
    """Start the node, produce if asked, run until SIGTERM/SIGINT."""
    tls = TlsSettings(args.ca, args.cert, args.key) if args.ca else None
    settings = SyncSettings(args.host, args.port, args.node, prefix=args.prefix,
                            username=args.username, password=args.password, tls=tls,
                            keepalive=args.keepalive, window=args.window,
                            backoff_initial=0.2, backoff_max=2.0)
    node = await SyncNode.open(args.db, settings, SyncHooks(validate_config=demo_validate))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await node.start()
    print(f"READY {node.outbox.session}", flush=True)
    if args.produce:
        for n in range(args.produce):
            await node.append("cdr", "cdr", {"n": n})
            await asyncio.sleep(1 / args.rate)
        print("PRODUCED", flush=True)
    await stop.wait()
    await node.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(amain(parse_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
