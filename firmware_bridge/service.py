"""`appliance firmware-bridge`: own the modem's serial port, keep it healthy, carry SMS, report.

The status is written atomically to `<data>/run/modem.json` on every change (state,
IMEI, signal, registration, operator, SIM, call, last error, open alarms) for the web UI
to read, and posted to the controller over the link (firmware_bridge/link.py) with
received SMS, delivery reports and send results; messages to send are fetched from the
controller. With no modem configured the bridge idles (a box without a modem is normal)
instead of restart-looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from dataclasses import asdict, dataclass, is_dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_bridge.link import ControllerLink, LinkConfig, Spool
from firmware_bridge.modem import Modem, ModemEvent
from firmware_bridge.profiles import get_profile
from firmware_bridge.sms_at import SmsService
from firmware_bridge.usb import reenumerate

if TYPE_CHECKING:
    from firmware_bridge.voice.gateway import VoiceGateway

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """Dataclasses and enums as JSON-ready values."""
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def status_doc(modem: Modem) -> dict[str, Any]:
    """The modem's status as a JSON-ready document."""
    doc = _plain(modem.status())
    return json.loads(json.dumps(doc, default=str))  # type: ignore[no-any-return]


def write_status(path: Path, modem: Modem) -> None:
    """Write the modem's status document atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status_doc(modem), sort_keys=True), encoding="utf-8")
    tmp.replace(path)


async def _link_config(data_dir: Path, stop: asyncio.Event) -> LinkConfig | None:
    """The controller's link settings, waiting for the controller to have made its token."""
    while not stop.is_set():
        try:
            return LinkConfig.from_data_dir(data_dir)
        except FileNotFoundError:
            log.info("waiting for the controller's internal token")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return None


@dataclass(frozen=True)
class VoiceSettings:
    """The GSM voice gateway's settings: the modem's PCM port and the SIP side."""

    pcm_port: str
    sip_port: int
    did: str
    edge_sip_port: int

    @classmethod
    def from_settings(cls, modem: dict[str, Any], edge_sip_port: int) -> VoiceSettings | None:
        """From `extra.modem.voice` ({"pcm_port", "sip_port", "did"}); None when voice is off."""
        voice = modem.get("voice")
        if not voice:
            return None
        if not isinstance(voice, dict) or not voice.get("pcm_port") or not voice.get("did"):
            raise ValueError("extra.modem.voice needs pcm_port and did (and optionally sip_port)")
        sip_port = int(voice.get("sip_port", 5080))
        if not 1 <= sip_port <= 65535 or sip_port == edge_sip_port:
            raise ValueError(f"extra.modem.voice.sip_port {sip_port} is not a free port of its own")
        did = str(voice["did"])
        if not did.lstrip("+").isdigit():
            raise ValueError(f"extra.modem.voice.did {did!r} is not a phone number")
        return cls(str(voice["pcm_port"]), sip_port, did, edge_sip_port)

    def gateway(self, modem: Modem) -> VoiceGateway:
        """The gateway (pjsua2 is imported only when voice is configured: SMS-only boxes need none)."""
        from firmware_bridge.voice.gateway import GatewayConfig, VoiceGateway

        config = GatewayConfig(sip_port=self.sip_port, did=self.did,
                               inbound_uri=f"sip:{{did}}@127.0.0.1:{self.edge_sip_port}")
        return VoiceGateway(modem, self.pcm_port, config)


class Bridge:
    """The modem, its SMS service and the controller link, wired as the bridge process runs them."""

    def __init__(self, port: str, profile: str, status_path: Path, link: LinkConfig, spool_dir: Path, *,
                 modem_options: dict[str, Any] | None = None, link_options: dict[str, Any] | None = None,
                 voice: VoiceSettings | None = None) -> None:
        self.status_path = status_path
        self.link = ControllerLink(link, Spool(spool_dir), **(link_options or {}))
        options: dict[str, Any] = {"power_cycle": lambda: reenumerate(port, pause_s=0.5), **(modem_options or {})}
        self.modem = Modem(port, get_profile(profile), **options)  # AT resets first, then USB re-enumeration
        self.sms = SmsService(self.modem, self.link.store_inbound, self.link.store_report)
        # GSM voice: a SIP trunk of kind gsm at 127.0.0.1:<voice sip_port> (docs/gsm-voice.md).
        self.voice = None if voice is None else voice.gateway(self.modem)
        self.modem.add_listener(self._on_event)

    def _on_event(self, event: ModemEvent) -> None:
        log.info("modem event: %s", event)
        write_status(self.status_path, self.modem)
        self.link.status_changed(status_doc(self.modem))

    async def start(self) -> None:
        """Start the link, the SMS service and the modem supervisor."""
        self.status_path.parent.mkdir(parents=True, exist_ok=True)
        self.link.status_changed(status_doc(self.modem))
        self.link.start(self.sms)
        self.sms.start()
        await self.modem.start()
        if self.voice is not None:
            await self.voice.start()
        write_status(self.status_path, self.modem)

    async def stop(self) -> None:
        """Stop everything; spooled items stay on disk for the next start."""
        if self.voice is not None:
            await self.voice.stop()
        await self.sms.stop()
        await self.modem.stop()
        await self.link.stop()
        write_status(self.status_path, self.modem)


async def run_bridge(port: str | None, profile: str, status_path: Path, *,
                     link: LinkConfig | None = None, voice: VoiceSettings | None = None) -> int:
    """Run until SIGINT/SIGTERM; return the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    status_path.parent.mkdir(parents=True, exist_ok=True)
    data_dir = status_path.parent.parent  # status_path is <data>/run/modem.json
    if not port:
        log.info("no modem configured (settings extra.modem.port); the bridge idles")
        status_path.write_text(json.dumps({"state": "not_configured"}), encoding="utf-8")
        await stop.wait()
        return 0
    config = link or await _link_config(data_dir, stop)
    if config is None:
        return 0
    bridge = Bridge(port, profile, status_path, config, data_dir / "spool" / "sms", voice=voice)
    await bridge.start()
    try:
        await stop.wait()
    finally:
        await bridge.stop()
    return 0
