"""`python -m firmware_bridge.simulator --profile quectel`: a simulated modem on a pty."""

from __future__ import annotations

import argparse
import signal

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
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # blocked before the simulator thread starts, so only sigwait below receives them
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    sim = ModemSimulator(args.profile, args.dir, config=config).start()
    print(f"AT port: {sim.port}\nPCM port: {sim.audio_port}", flush=True)
    try:
        signal.sigwait(stop_signals)
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
