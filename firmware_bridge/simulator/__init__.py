"""A GSM modem simulator on pseudo-terminals, speaking each profile's AT dialect."""

from firmware_bridge.simulator.runner import ModemSimulator

__all__ = ["ModemSimulator"]
