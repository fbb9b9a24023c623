"""GSM voice: the modem's calls as a SIP trunk (gateway, PCM port, call mapping)."""

from firmware_bridge.voice.gateway import (
    GatewayCallEnded,
    GatewayCallStarted,
    GatewayConfig,
    VoiceGateway,
)

__all__ = ["GatewayCallEnded", "GatewayCallStarted", "GatewayConfig", "VoiceGateway"]
