"""`VoiceGateway`: the modem's voice calls as a SIP trunk (GSM <-> SIP, audio both ways).

An inbound GSM call (RING/+CLIP or the profile's call-state URCs) becomes an INVITE to
`inbound_uri` (Kamailio, Request-URI = the line's DID, From = the caller's number); an
INVITE to the gateway's SIP port becomes ATD<number>;. The modem's PCM port is bridged to
the SIP call's audio through a `GsmAudioPort`. Either side hanging up ends the other; a
modem that goes away (reset, port lost) ends the SIP call with a BYE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pjsua2 as pj
import serial

from appliance.media.sip import LegCall
from firmware_bridge.at.channel import AtError
from firmware_bridge.at.parser import Urc
from firmware_bridge.calls import CallState, CallStateChanged
from firmware_bridge.health import ModemState
from firmware_bridge.modem import Modem, ModemEvent
from firmware_bridge.pcm import PcmPort
from firmware_bridge.plumbing import notify, spawn
from firmware_bridge.voice.jitter import FrameQueue, interval_stats
from firmware_bridge.voice.mapping import (
    Action,
    CallMapping,
    Direction,
    Event,
    MappingError,
    State,
    is_dialable,
    number_from_uri,
    request_uri,
)
from firmware_bridge.voice.port import GsmAudioPort
from firmware_bridge.voice.sip import SipCallInfo, SipError, SipSide

log = logging.getLogger(__name__)

DTMF_DIGITS = "0123456789*#ABCD"
CLIP_WAIT_S = 1.0  # a RING without the caller's number waits this long for +CLIP
FINISHED_KEPT = 50


@dataclass(frozen=True)
class GatewayConfig:
    """Where the gateway listens and where inbound GSM calls go."""

    sip_port: int = 5080
    ip: str = "127.0.0.1"
    did: str = ""  # the GSM line's own number: Request-URI user of inbound calls
    inbound_uri: str = "sip:{did}@127.0.0.1:5060"  # {did} is replaced
    prebuffer_frames: int = 2
    max_buffered_frames: int = 6
    log_level: str = "warning"


@dataclass(frozen=True)
class GatewayCallStarted:
    """Event: a gateway call was mapped."""

    direction: Direction
    number: str


@dataclass(frozen=True)
class GatewayCallEnded:
    """Event: a gateway call is over, with why and its audio figures."""

    direction: Direction
    number: str
    cause: str
    answered: bool
    audio: dict[str, float] = field(default_factory=dict)


GatewayEvent = GatewayCallStarted | GatewayCallEnded


class VoiceGateway:
    """SIP <-> GSM gateway for one modem (one call at a time, as the modem carries)."""

    def __init__(self, modem: Modem, pcm_url: str, config: GatewayConfig | None = None) -> None:
        self.modem = modem
        self.pcm_url = pcm_url
        self.config = config or GatewayConfig()
        self.sip = SipSide(self.config.ip, self.config.sip_port, self.config.log_level)
        self.mapping: CallMapping | None = None
        self.sip_call: LegCall | None = None
        self.finished: list[GatewayCallEnded] = []
        self._listeners: list[Callable[[GatewayEvent], None]] = []
        self._waiting_for_clip = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._rx: FrameQueue | None = None
        self._port: GsmAudioPort | None = None
        self._pcm: PcmPort | None = None
        self._bridge_wanted = False
        self._audio_connected = False
        self._answered = False
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dtmf_lock = asyncio.Lock()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start the SIP side and follow the modem's calls."""
        self._loop = asyncio.get_running_loop()
        self.sip.on_incoming = self._on_invite
        self.sip.on_state = self._on_sip_state
        self.sip.on_media = self._on_sip_media
        self.sip.on_dtmf = self._on_sip_dtmf
        self.sip.start()
        self._running = True
        self.modem.add_listener(self._on_modem_event)
        self.modem.subscribe_urcs(self._on_urc)
        log.info("GSM gateway on sip:%s:%d, inbound to %s", self.config.ip,
                 self.config.sip_port, self._inbound_target())

    async def stop(self) -> None:
        """End the call in progress on both sides, then stop the SIP side."""
        if not self._running:
            return
        mapping = self.mapping
        if mapping is not None and not mapping.ended:
            self._feed(Event.SIP_ENDED, "gateway stopping")
        self._running = False
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2.0)
        self._unbridge()
        self.sip_call = None  # the SIP side deletes its Calls before libDestroy
        await self.sip.stop()

    def add_listener(self, listener: Callable[[GatewayEvent], None]) -> None:
        """Receive GatewayCallStarted / GatewayCallEnded."""
        self._listeners.append(listener)

    @property
    def busy(self) -> bool:
        """True while a call is mapped."""
        return self.mapping is not None and not self.mapping.ended

    def audio_stats(self) -> dict[str, float]:
        """Frame timing into pjsua2 and buffer figures of the current call (empty if none)."""
        port, rx = self._port, self._rx
        if port is None or rx is None:
            return {}
        stats = interval_stats(list(port.requested_at))
        stats.update(pushed=rx.pushed, played=rx.played, underruns=rx.underruns,
                     dropped=rx.dropped, to_modem=port.received)
        return stats

    # --- GSM side ----------------------------------------------------------------------

    def _on_modem_event(self, event: ModemEvent) -> None:
        if not self._running or not isinstance(event, CallStateChanged):
            return
        if event.new is CallState.RINGING and not self.busy:
            if event.number:
                self._start_inbound(event.number)
            else:
                self._waiting_for_clip = True
                self._spawn(self._clip_timeout())
            return
        if self.mapping is None:
            return
        if event.new is CallState.ALERTING:
            self._feed(Event.GSM_ALERTING)
        elif event.new is CallState.ACTIVE:
            self._feed(Event.GSM_ACTIVE)
        elif event.new is CallState.ENDED:
            self._waiting_for_clip = False
            # the modem ends its call itself when it goes away: port lost or not answering
            lost = self.modem.state is not ModemState.READY or not self.modem.channel.is_open
            self._feed(Event.GSM_ENDED, "modem lost" if lost else "gsm hangup")

    def _on_urc(self, urc: Urc) -> None:
        if self._waiting_for_clip and self.modem.calls.number:
            self._waiting_for_clip = False
            self._start_inbound(self.modem.calls.number)

    async def _clip_timeout(self) -> None:
        await self.modem.clock.sleep(CLIP_WAIT_S)
        if self._waiting_for_clip and self.modem.calls.state is CallState.RINGING:
            self._waiting_for_clip = False
            self._start_inbound(self.modem.calls.number)  # withheld number: anonymous

    def _start_inbound(self, caller: str | None) -> None:
        mapping, actions = CallMapping.inbound(caller)
        self._begin(mapping)
        self._run(actions)

    # --- SIP side ----------------------------------------------------------------------

    def _on_invite(self, call: LegCall, message: str, source: str) -> None:
        number = number_from_uri(request_uri(message))
        log.info("INVITE for %r from %s", number, source)
        if not self._running:
            self.sip.respond(call, 503)
        elif not is_dialable(number):
            self.sip.respond(call, 484)  # Address Incomplete: nothing ATD could dial
        elif self.busy or self.modem.calls.state is not CallState.IDLE:
            self.sip.respond(call, 486)
        elif self.modem.state is not ModemState.READY:
            self.sip.respond(call, 503)
        else:
            mapping, actions = CallMapping.outbound(number)
            self.sip_call = call
            self._begin(mapping)
            self.sip.respond(call, 100)
            self._run(actions)

    def _on_sip_state(self, call: LegCall, info: SipCallInfo) -> None:
        if call is not self.sip_call:
            return
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self._feed(Event.SIP_ANSWERED)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._disconnect_audio()
            self.sip_call = None
            self._feed(Event.SIP_ENDED, f"sip {info.code} {info.reason}".strip())

    def _on_sip_dtmf(self, call: LegCall, digit: str) -> None:
        """Relay a digit from the SIP side (RFC 2833 or SIP INFO) to the GSM call (AT+VTS)."""
        mapping = self.mapping
        if call is not self.sip_call or mapping is None or mapping.state is not State.ACTIVE:
            return
        if len(digit) != 1 or digit.upper() not in DTMF_DIGITS:
            log.info("DTMF %r not relayed", digit)
            return
        self._spawn(self._send_dtmf(digit.upper()))

    async def _send_dtmf(self, digit: str) -> None:
        async with self._dtmf_lock:  # one AT+VTS at a time, in the order received
            try:
                await self.modem.command(f"AT+VTS={digit}")
            except AtError as exc:
                log.info("DTMF %s not sent to the GSM call: %s", digit, exc)

    def _on_sip_media(self, call: LegCall) -> None:
        if call is self.sip_call:
            self._connect_audio()

    # --- the mapping -------------------------------------------------------------------

    def _begin(self, mapping: CallMapping) -> None:
        self.mapping = mapping
        self._answered = False
        self._emit(GatewayCallStarted(mapping.direction, mapping.number))

    def _feed(self, event: Event, cause: str = "") -> None:
        mapping = self.mapping
        if mapping is None:
            return
        was_ended = mapping.ended
        try:
            actions = mapping.handle(event, cause)
        except MappingError as exc:
            log.warning("ignored: %s", exc)
            return
        if event is Event.GSM_ACTIVE and not mapping.ended:
            self._answered = True
        self._run(actions)
        if mapping.ended and not was_ended:
            self._finish(mapping)

    def _finish(self, mapping: CallMapping) -> None:
        audio = self.audio_stats()
        self._unbridge()
        ended = GatewayCallEnded(mapping.direction, mapping.number, mapping.end_cause,
                                 self._answered, audio)
        self.finished.append(ended)
        del self.finished[:-FINISHED_KEPT]
        log.info("gsm %s call with %s ended: %s", mapping.direction.value, mapping.number,
                 mapping.end_cause)
        self._emit(ended)

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            try:
                self._do(action)
            except Exception:  # fail safe: log, and make sure both sides end
                log.exception("gateway action %s failed", action.value)
                self._spawn(self._gsm_hangup())
                if self.sip_call is not None:
                    self.sip.hangup(self.sip_call)

    def _do(self, action: Action) -> None:
        mapping = self.mapping
        assert mapping is not None
        call = self.sip_call
        if action is Action.SIP_INVITE:
            try:
                self.sip_call = self.sip.make_call(self._inbound_target(), mapping.number)
            except SipError as exc:
                log.warning("INVITE failed: %s", exc)
                self._feed(Event.SIP_ENDED, f"invite failed: {exc}")
        elif action is Action.SIP_RING and call is not None:
            self.sip.respond(call, 180)
        elif action is Action.SIP_ANSWER and call is not None:
            self.sip.respond(call, 200)
        elif action is Action.SIP_REJECT and call is not None:
            self.sip.hangup(call, mapping.reject_code)
        elif action is Action.SIP_HANGUP and call is not None:
            self.sip.hangup(call)
        elif action is Action.GSM_DIAL:
            self._spawn(self._gsm_command(self.modem.dial(mapping.number)))
        elif action is Action.GSM_ANSWER:
            self._spawn(self._gsm_command(self.modem.answer()))
        elif action is Action.GSM_HANGUP:
            self._spawn(self._gsm_hangup())
        elif action is Action.AUDIO_BRIDGE:
            self._bridge()
        elif action is Action.AUDIO_UNBRIDGE:
            self._unbridge()

    async def _gsm_command(self, command: Awaitable[None]) -> None:
        try:
            await command
        except AtError as exc:
            log.warning("modem refused the call command: %s", exc)
            self._feed(Event.GSM_FAILED, f"modem: {exc}")

    async def _gsm_hangup(self) -> None:
        if self.modem.calls.state is CallState.IDLE:
            return
        try:
            await self.modem.hangup()
        except AtError as exc:
            log.info("hang-up on the modem failed: %s", exc)

    def _inbound_target(self) -> str:
        return self.config.inbound_uri.format(did=self.config.did)

    # --- audio -------------------------------------------------------------------------

    def _bridge(self) -> None:
        loop = self._loop
        assert loop is not None
        self._bridge_wanted = True
        self._rx = FrameQueue(self.config.prebuffer_frames, self.config.max_buffered_frames)
        self._port = GsmAudioPort(self._rx, loop, self._flush_to_modem)
        self._port.create("gsm")
        pcm = PcmPort(self.pcm_url, self._rx.push)
        try:
            pcm.open()
            self._pcm = pcm
        except (serial.SerialException, OSError) as exc:
            log.error("PCM port %s cannot be opened: %s (the call has no audio)",
                      self.pcm_url, exc)
        self._connect_audio()

    def _connect_audio(self) -> None:
        call, port = self.sip_call, self._port
        if not self._bridge_wanted or self._audio_connected or call is None or port is None:
            return
        media = call.audio_media()
        if media is None:
            return  # onCallMediaState will come
        media.startTransmit(port)
        port.startTransmit(media)
        self._audio_connected = True
        log.info("GSM audio bridged")

    def _disconnect_audio(self) -> None:
        call, port = self.sip_call, self._port
        if self._audio_connected and call is not None and port is not None:
            media = call.audio_media()
            if media is not None:
                with contextlib.suppress(pj.Error):
                    media.stopTransmit(port)
                    port.stopTransmit(media)
        self._audio_connected = False

    def _unbridge(self) -> None:
        self._disconnect_audio()
        self._bridge_wanted = False
        if self._pcm is not None:
            self._pcm.close()
            self._pcm = None
        port, self._port = self._port, None
        if port is not None:
            del port  # removed from the bridge here, on the loop thread
        self._rx = None

    def _flush_to_modem(self) -> None:
        port, pcm = self._port, self._pcm
        if port is None or pcm is None:
            return
        try:
            while port.tx:
                pcm.write_frame(port.tx.popleft())
        except (serial.SerialException, OSError) as exc:
            log.info("PCM write failed: %s", exc)
            pcm.close()
            self._pcm = None

    # --- plumbing ----------------------------------------------------------------------

    def _emit(self, event: GatewayEvent) -> None:
        notify(self._listeners, event, "gateway")

    def _spawn(self, coro: Awaitable[None]) -> None:
        spawn(self._tasks, coro, "gateway")


__all__ = ["GatewayCallEnded", "GatewayCallStarted", "GatewayConfig", "VoiceGateway",
           "time"]
