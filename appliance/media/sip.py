"""pjsua2 glue: the Endpoint, accounts and Call subclass of a media worker.

Callbacks never act: they append a small tuple to a thread-safe queue (`Inbox`) that the
worker loop drains after each `libHandleEvents`, because some callbacks (DTMF, player EOF)
arrive on media threads and a Call must never be deleted from inside its own callback.
"""

from __future__ import annotations

import collections
import logging
import random
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

from appliance.media.leg import uri_user
from appliance.media.protocol import split_refer_target

log = logging.getLogger(__name__)

LOG_LEVELS = {"debug": 5, "info": 3, "warning": 2, "error": 1}

Inbox = collections.deque[tuple[Any, ...]]


@dataclass(frozen=True)
class EndpointOptions:
    """What an Endpoint needs to start."""

    ip: str
    sip_port: int
    max_calls: int = 4
    log_level: str = "warning"
    user_agent: str = "edge-appliance-media"


def start_endpoint(opts: EndpointOptions) -> pj.Endpoint:
    """Create, configure and start an Endpoint: event-loop driven, 8 kHz, null sound device."""
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = opts.max_calls
    cfg.uaConfig.userAgent = opts.user_agent
    cfg.logConfig.level = LOG_LEVELS.get(opts.log_level, 2)
    cfg.logConfig.consoleLevel = LOG_LEVELS.get(opts.log_level, 2)
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.channelCount = 1
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    # bridge slots: one per call plus players, tone generators and recorders
    cfg.medConfig.maxMediaPorts = max(254, 3 * opts.max_calls + 16)
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.boundAddress = opts.ip
    tcfg.publicAddress = opts.ip
    tcfg.port = opts.sip_port
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    _prefer_g711(ep)
    return ep


def _prefer_g711(ep: pj.Endpoint) -> None:
    """G.711 first: it is what desk phones and trunks speak, and it costs no CPU."""
    for codec in ep.codecEnum2():
        cid = codec.codecId
        if cid.startswith("PCMU/"):
            prio = 255
        elif cid.startswith("PCMA/"):
            prio = 254
        else:
            # Disabled: the bridge runs at 8 kHz, so wideband codecs would only add
            # resampling, and CPU-heavy codecs (speex, iLBC, GSM) are not used here.
            prio = 0
        ep.codecSetPriority(cid, prio)


def rtp_base_port() -> int:
    """A random even RTP base port, so processes on one box do not all probe from 4000."""
    return 2 * random.randrange(10_000, 28_000)


def local_account(ep: pj.Endpoint, inbox: Inbox, id_uri: str) -> WorkerAccount:
    """A non-registering account whose identity is `id_uri`."""
    acc = WorkerAccount(inbox)
    cfg = pj.AccountConfig()
    cfg.idUri = id_uri
    cfg.regConfig.registerOnAdd = False
    cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_DISABLED
    cfg.mediaConfig.transportConfig.port = rtp_base_port()
    cfg.mediaConfig.transportConfig.portRange = 2000
    acc.create(cfg, False)
    return acc


class WorkerAccount(pj.Account):
    """Account whose incoming calls become LegCall objects queued in the inbox."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self._inbox = inbox

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        """Own the new call at once (else pjsua2 rejects it) and queue it."""
        call = LegCall(self, self._inbox, prm.callId)
        rdata = prm.rdata
        self._inbox.append(("incoming", call, rdata.wholeMsg, rdata.srcAddress))


def is_local_target(refer_to: str, local: frozenset[str]) -> bool:
    """True when a Refer-To names one of `local` (a blind transfer to a number the box serves)."""
    target, replaces = split_refer_target(refer_to)
    return replaces is None and uri_user(target) in local


class LegCall(pj.Call):
    """A pjsua2 Call that reports its callbacks into the inbox."""

    # Numbers the box serves itself (the `local_targets` command; one worker per process).
    local_targets: frozenset[str] = frozenset()

    def __init__(self, acc: pj.Account, inbox: Inbox, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self._inbox = inbox
        self._acc = acc
        self.leg_id = ""
        self.notify_parent: LegCall | None = None  # a REFER to a local target: tell its sender 200

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        """Queue the new INVITE-session state with its last SIP status."""
        ci = self.getInfo()
        parent, self.notify_parent = self.notify_parent, None
        if parent is not None:
            # The one callback that acts: pjsua runs it while sending this transfer call's
            # INVITE, after its 202 and NOTIFY 100 to the transferer and before any answer
            # to the INVITE is read, so this NOTIFY 200 always precedes the failure NOTIFY
            # pjsua sends when the edge refuses the INVITE (the phone answers that one 481).
            notify_transfer_done(parent)
        connected = ci.connectDuration.sec + ci.connectDuration.msec / 1000.0
        self._inbox.append(
            ("state", self, ci.state, ci.lastStatusCode, ci.lastReason, connected)
        )

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        """Queue a media change."""
        self._inbox.append(("media", self))

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        """Queue a received DTMF digit (may run on a media thread)."""
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc2833"
        self._inbox.append(("dtmf", self, prm.digit, method))

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:
        """Accept a REFER (202): pjsua dials the target as a new Call we own, queued here.

        pjsua then sends the transferer NOTIFYs with the new call's progress (100, 180,
        then 200 when the target answers, or its failure code).
        """
        new_call = LegCall(self._acc, self._inbox)
        if is_local_target(prm.dstUri, LegCall.local_targets):
            new_call.notify_parent = self
        prm.newCall = new_call
        prm.statusCode = 202
        self._inbox.append(("transfer", self, new_call, prm.dstUri))

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        """Queue a NOTIFY about a transfer this call asked for (we sent the REFER)."""
        self._inbox.append(("xfer_status", self, int(prm.statusCode), bool(prm.finalNotify)))

    def onCallReplaced(self, prm: pj.OnCallReplacedParam) -> None:
        """An INVITE with Replaces took this call's place: own the new Call and queue it."""
        new_call = LegCall(self._acc, self._inbox, prm.newCallId)
        prm.newCall = new_call
        self._inbox.append(("replaced", self, new_call))

    def audio_media(self) -> pj.AudioMedia | None:
        """The call's active audio port on the bridge, or None if media is not up."""
        try:
            ci = self.getInfo()
        except pj.Error:
            return None
        for i, m in enumerate(ci.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status in (
                pj.PJSUA_CALL_MEDIA_ACTIVE,
                pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
            ):
                return self.getAudioMedia(i)
        return None


class Player(pj.AudioMediaPlayer):
    """A WAV player that queues its end-of-file (called on the bridge clock thread)."""

    def __init__(self, inbox: Inbox, player_id: str) -> None:
        super().__init__()
        self._inbox = inbox
        self.player_id = player_id

    def onEof2(self) -> None:
        """Queue end-of-file; never destroy the player here."""
        self._inbox.append(("eof", self.player_id))


def make_tone(freq1: int, freq2: int, on_ms: int, off_ms: int, loop: bool) -> pj.ToneGenerator:
    """A ToneGenerator already playing the given cadence."""
    tg = pj.ToneGenerator()
    tg.createToneGenerator(8000, 1)
    td = pj.ToneDesc()
    td.freq1 = freq1
    td.freq2 = freq2
    td.on_msec = on_ms
    td.off_msec = off_ms
    td.volume = 0  # pjmedia default amplitude
    tones = pj.ToneDescVector()
    tones.append(td)
    tg.play(tones, loop)
    return tg


def call_op(code: int = 0, headers: dict[str, str] | None = None) -> pj.CallOpParam:
    """A CallOpParam with one audio stream, an optional status code and extra headers."""
    prm = pj.CallOpParam(True)
    prm.opt.audioCount = 1
    prm.opt.videoCount = 0
    if code:
        prm.statusCode = code
    for name, value in (headers or {}).items():
        h = pj.SipHeader()
        h.hName = name
        h.hValue = value
        prm.txOption.headers.append(h)
    return prm


def notify_transfer_done(call: pj.Call) -> None:
    """Tell the transferer on `call` that its REFER succeeded: NOTIFY sipfrag 200, subscription over."""
    prm = pj.CallSendRequestParam()
    prm.method = "NOTIFY"
    for name, value in (("Event", "refer"), ("Subscription-State", "terminated;reason=noresource")):
        h = pj.SipHeader()
        h.hName = name
        h.hValue = value
        prm.txOption.headers.append(h)
    prm.txOption.contentType = "message/sipfrag;version=2.0"
    prm.txOption.msgBody = "SIP/2.0 200 OK\r\n"
    try:
        call.sendRequest(prm)
    except pj.Error as exc:
        log.warning("NOTIFY 200 to the transferer failed: %s", error_text(exc))


def error_text(exc: pj.Error) -> str:
    """A short human-readable text for a pjsua2 error."""
    return f"{exc.title or 'pjsua2 error'}: {exc.reason} (status {exc.status})"
