"""`python -m firmware_bridge.simulator --profile quectel`: a simulated modem on a pty."""

from __future__ import annotations

import argparse
import signal
import threading

from firmware_bridge.simulator.dialect import SimConfig
from firmware_bridge.simulator.runner import ModemSimulator


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGINT/SIGTERM; print the port paths."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", choices=("quectel", "simcom", "huawei"), default="quectel")
    ap.add_argument("--dir", help="directory for the stable port symlinks (default: temp)")
    ap.add_argument("--auto-answer", type=float, default=2.0,
                    help="seconds after which the far end answers outgoing calls")
    args = ap.parse_args(argv)
    config = SimConfig(auto_answer_after=args.auto_answer)
    sim = ModemSimulator(args.profile, args.dir, config=config).start()
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(f"AT port: {sim.port}\nPCM port: {sim.audio_port}", flush=True)
    try:
        done.wait()
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
