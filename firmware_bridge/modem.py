"""The modem manager: owns one AT port, keeps the modem initialised, healthy and observed.

asyncio-facing: `await modem.command("AT+CSQ", timeout=2)`, URC subscription, call
control, USSD, status. A supervisor task opens the port, initialises the modem for its
profile, probes it, and resets it with backoff when it stops answering or goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from firmware_bridge.at.channel import AtChannel, AtError, CommandFailed, CommandTimeout
from firmware_bridge.at.parser import Response, Urc
from firmware_bridge.at.values import (
    AtValueError,
    Operator,
    Registration,
    Signal,
    SimState,
    parse_cops,
    parse_cpin,
    parse_creg,
    parse_csq,
    parse_qcsq,
    sim_state_from_error,
)
from firmware_bridge.calls import (
    CallSignal,
    CallState,
    CallStateChanged,
    CallStateError,
    CallTracker,
    CallUpdate,
)
from firmware_bridge.clock import Clock, SystemClock
from firmware_bridge.health import HealthEvent, ModemHealth, ModemState
from firmware_bridge.plumbing import notify, spawn
from firmware_bridge.profiles import Profile
from firmware_bridge.ussd import UssdAnswer, decode_cusd, encode_request

log = logging.getLogger(__name__)

ModemEvent = HealthEvent | CallStateChanged
_IMEI = re.compile(r"^\d{15}$")
# URCs that mean the module rebooted behind our back: re-initialise
_BOOT_URCS = ("RDY", "^BOOT", "PB DONE")


class ModemNotReady(AtError):
    """The modem is not initialised (connecting, resetting or stopped)."""


@dataclass(frozen=True)
class ModemStatus:
    """A snapshot for the UI and the cloud: derived from the health record, never stored."""

    state: ModemState
    imei: str | None
    signal: Signal | None
    registration: Registration | None
    operator: Operator | None
    sim: SimState | None
    call: CallState
    last_error: str | None
    alarms: dict[str, str]


class Modem:
    """One GSM modem on one AT port."""

    def __init__(
        self,
        url: str,
        profile: Profile,
        *,
        clock: Clock | None = None,
        command_timeout: float = 2.0,
        probe_interval: float = 15.0,
        power_cycle: Callable[[], None] | None = None,
        power_cycle_after: int = 2,
        auto_pcm: bool = True,
    ) -> None:
        self.profile = profile
        self.clock: Clock = clock or SystemClock()
        self.health = ModemHealth()
        self.calls = CallTracker()
        self.imei: str | None = None
        self.operator: Operator | None = None
        self._registrations: dict[str, Registration] = {}
        self.command_timeout = command_timeout
        self.probe_interval = probe_interval
        self.auto_pcm = auto_pcm
        self._power_cycle = power_cycle
        self._power_cycle_after = power_cycle_after
        self.channel = AtChannel(url, urc_prefixes=profile.urc_prefixes,
                                 on_urc=self._on_urc, on_lost=self._on_lost)
        self._listeners: list[Callable[[ModemEvent], None]] = []
        self._urc_subscribers: list[Callable[[Urc], None]] = []
        self._ready_hooks: list[Callable[[], Awaitable[None]]] = []
        self._wake = asyncio.Event()
        self._wake_reason = ""
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._ussd_lock = asyncio.Lock()
        self._ussd_waiter: asyncio.Future[UssdAnswer] | None = None
        self._stopping = False

    # --- wiring ------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[ModemEvent], None]) -> None:
        """Receive modem events (state, alarms, signal, SIM, registration, calls)."""
        self._listeners.append(listener)

    def subscribe_urcs(self, subscriber: Callable[[Urc], None]) -> None:
        """Receive every unsolicited result code."""
        self._urc_subscribers.append(subscriber)

    def on_ready(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` each time the modem has been (re-)initialised."""
        self._ready_hooks.append(hook)

    @property
    def state(self) -> ModemState:
        """The modem state."""
        return self.health.state

    def status(self) -> ModemStatus:
        """Derive the current status snapshot."""
        h = self.health
        return ModemStatus(h.state, self.imei, h.signal, h.registration, self.operator, h.sim,
                           self.calls.state, h.last_error, dict(h.alarms))

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervisor (returns at once; watch events for READY)."""
        if self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._supervise(), name=f"modem {self.channel.url}")

    async def stop(self) -> None:
        """Stop supervising and close the port."""
        self._stopping = True
        self._poke("stopping")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._side_tasks):
            task.cancel()
        for task in list(self._side_tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.channel.close()
        self._end_calls()
        if self.health.state is not ModemState.STOPPED:
            self._emit(self.health.transition(ModemState.STOPPED, "stopped"))

    # --- commands ----------------------------------------------------------------------

    async def command(self, command: str, timeout: float | None = None, *,
                      pdu: str | None = None, check: bool = True) -> Response:
        """Send one AT command (only when READY); raise CommandFailed / CommandTimeout."""
        if self.health.state not in (ModemState.READY, ModemState.UNRESPONSIVE):
            raise ModemNotReady(f"modem is {self.health.state.value}")
        return await self._raw(command, timeout, pdu=pdu, check=check)

    async def _raw(self, command: str, timeout: float | None = None, *,
                   pdu: str | None = None, check: bool = True) -> Response:
        try:
            return await self.channel.command(
                command, self.command_timeout if timeout is None else timeout,
                pdu=pdu, check=check)
        except CommandTimeout as exc:
            self.health.record_error(str(exc))
            self._poke("command timeout")
            raise
        except CommandFailed as exc:
            self.health.record_error(str(exc))
            raise

    async def refresh_status(self) -> ModemStatus:
        """Query signal, registration and operator; emit events for what changed."""
        if self.health.state not in (ModemState.READY, ModemState.UNRESPONSIVE):
            raise ModemNotReady(f"modem is {self.health.state.value}")
        await self._refresh()
        return self.status()

    async def _refresh(self) -> None:
        signal = parse_csq(_one(await self._raw("AT+CSQ"), "+CSQ"))
        if self.profile.extra_signal:
            try:
                resp = await self._raw(self.profile.extra_signal)
                signal = parse_qcsq(_one(resp, self.profile.extra_signal[2:]), signal)
            except (CommandFailed, AtValueError) as exc:
                log.info("extra signal query failed: %s", exc)
        self._emit(self.health.update_signal(signal))
        self._set_registration("+CREG", parse_creg(_one(await self._raw("AT+CREG?"), "+CREG")))
        if self.profile.lte:
            resp = await self._raw("AT+CEREG?")
            self._set_registration("+CEREG", parse_creg(_one(resp, "+CEREG")))
        self.operator = parse_cops(_one(await self._raw("AT+COPS?"), "+COPS"))

    async def ussd(self, code: str, timeout: float = 10.0) -> UssdAnswer:
        """Run a USSD request (e.g. '*100#' for the balance) and return the network's answer."""
        request = encode_request(code, packed=self.profile.ussd_packed)
        async with self._ussd_lock:
            waiter: asyncio.Future[UssdAnswer] = asyncio.get_running_loop().create_future()
            self._ussd_waiter = waiter
            try:
                await self.command(f'AT+CUSD=1,"{request}",15')
                return await asyncio.wait_for(waiter, timeout)
            finally:
                self._ussd_waiter = None

    async def dial(self, number: str) -> None:
        """Place a voice call."""
        await self.command(self.profile.dial(number), timeout=max(self.command_timeout, 5.0))
        self._apply_call(CallUpdate(CallSignal.DIALING, number))

    async def answer(self) -> None:
        """Answer the ringing call."""
        await self.command(self.profile.answer)
        self._apply_call(CallUpdate(CallSignal.CONNECTED))

    async def hangup(self) -> None:
        """End the call."""
        await self.command(self.profile.hangup)
        self._apply_call(CallUpdate(CallSignal.ENDED))

    async def enable_pcm(self) -> None:
        """Switch call audio to the PCM port (8 kHz, 16-bit, 20 ms frames)."""
        for cmd in self.profile.pcm_on:
            await self.command(cmd)

    # --- supervisor --------------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._stopping:
            self._emit(self.health.transition(ModemState.CONNECTING))
            try:
                await self._connect()
            except (AtError, AtValueError) as exc:
                await self._recover(f"initialisation failed: {exc}")
                continue
            except Exception as exc:  # fail safe: never let the supervisor die
                log.exception("unexpected failure while connecting")
                await self._recover(f"initialisation failed: {exc!r}")
                continue
            self._emit(self.health.transition(ModemState.READY))
            for hook in self._ready_hooks:
                self._spawn(hook())
            reason = await self._watch()
            if self._stopping:
                return
            await self._recover(reason)

    async def _connect(self) -> None:
        self._wake.clear()
        await self.channel.open()
        await self._sync()
        for cmd in self.profile.init:
            try:
                await self._raw(cmd)
            except CommandFailed as exc:
                log.warning("init command refused: %s", exc)
        imeis = [ln for ln in (await self._raw("AT+CGSN")).lines if _IMEI.match(ln)]
        if not imeis:
            raise AtValueError("AT+CGSN gave no IMEI")
        if self.imei is not None and imeis[0] != self.imei:
            log.warning("a different modem is on %s: %s (was %s)", self.channel.url,
                        imeis[0], self.imei)
        self.imei = imeis[0]
        await self._check_sim()

    async def _sync(self) -> None:
        """Talk until the modem answers a plain AT (skipping boot noise and garbage)."""
        last: Exception | None = None
        for _ in range(3):
            try:
                await self._raw("AT", timeout=min(1.0, self.command_timeout))
                return
            except (CommandTimeout, CommandFailed) as exc:
                last = exc
        raise CommandTimeout(f"modem does not answer AT: {last}")

    async def _check_sim(self) -> None:
        """Read the SIM state; a SIM asking for a PIN raises an alarm. No PIN is ever sent."""
        try:
            resp = await self._raw("AT+CPIN?")
            sim = parse_cpin(_one(resp, "+CPIN"))
        except CommandFailed as exc:
            sim = sim_state_from_error(exc.response.final) or SimState.ERROR
        self._emit(self.health.update_sim(sim))
        if sim is SimState.READY:
            await self._refresh()

    async def _watch(self) -> str:
        """Wait while the modem is fine; return why it is not."""
        while not self._stopping:
            woke = await self._sleep_or_wake(self.probe_interval)
            if self._wake_reason.startswith("lost"):
                return self._wake_reason
            if woke and self._wake_reason == "stopping":
                return "stopped"
            if await self._probe():
                if self.health.state is ModemState.UNRESPONSIVE:
                    self._emit(self.health.transition(ModemState.READY, "answering again"))
                await self._refresh_quietly()
                continue
            if self.health.state is ModemState.READY:
                self._emit(self.health.transition(ModemState.UNRESPONSIVE, "probe unanswered"))
                if await self._probe():
                    self._emit(self.health.transition(ModemState.READY, "answering again"))
                    continue
            return "modem not answering"
        return "stopped"

    async def _sleep_or_wake(self, seconds: float) -> bool:
        if self._wake.is_set():
            self._wake.clear()
            return True
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
        woke = self._wake.is_set()
        self._wake.clear()
        return woke

    async def _refresh_quietly(self) -> None:
        """Periodic signal/registration reading; failures are the next probe's business."""
        if self.health.sim is not SimState.READY:
            return
        try:
            await self._refresh()
        except (AtError, AtValueError) as exc:
            log.info("status refresh failed: %s", exc)

    async def _probe(self) -> bool:
        try:
            await self._raw("AT", timeout=self.command_timeout)
            return True
        except CommandFailed:
            return True  # it answered
        except AtError:
            return False

    async def _recover(self, reason: str) -> None:
        self._end_calls()
        if self.health.state is not ModemState.RESETTING:
            self._emit(self.health.transition(ModemState.RESETTING, reason))
        else:
            self.health.record_error(reason)
        # a modem that rebooted by itself or vanished needs no reset; a sick one does
        if self.channel.is_open and not reason.startswith("lost"):
            with contextlib.suppress(AtError):
                await self.channel.send_reset(self.profile.reset)
        self.channel.close()
        if self._power_cycle is not None and self.health.failures >= self._power_cycle_after:
            log.warning("modem still down after %d resets: power cycle", self.health.failures)
            self._power_cycle()
        delay = self.health.next_delay()
        log.info("modem reconnect in %.1fs (%s)", delay, reason)
        await self.clock.sleep(delay)
        self._wake.clear()
        self._wake_reason = ""

    # --- events ------------------------------------------------------------------------

    def _poke(self, reason: str) -> None:
        self._wake_reason = reason
        self._wake.set()

    def _on_lost(self, reason: str) -> None:
        self._poke(f"lost: {reason}")

    def _on_urc(self, urc: Urc) -> None:
        update = self.profile.call_update_for(urc)
        if update is not None:
            self._apply_call(update)
        elif urc.name == "+CUSD":
            self._on_cusd(urc)
        elif urc.name in ("+CREG", "+CEREG"):
            with contextlib.suppress(AtValueError):
                self._set_registration(urc.name, parse_creg(urc.value, unsolicited=True))
        elif urc.name == "+CPIN":
            self._emit(self.health.update_sim(parse_cpin(urc.value)))
        elif urc.line.startswith(_BOOT_URCS) and self.health.state is ModemState.READY:
            self._poke("lost: modem rebooted")
        for subscriber in list(self._urc_subscribers):
            try:
                subscriber(urc)
            except Exception:
                log.exception("URC subscriber failed on %r", urc.line)

    def _set_registration(self, domain: str, reg: Registration) -> None:
        """Registered if either circuit-switched (+CREG) or LTE (+CEREG) says so."""
        self._registrations[domain] = reg
        regs = self._registrations
        best = next((r for r in regs.values() if r.registered), None)
        self._emit(self.health.update_registration(best or regs.get("+CREG") or reg))

    def _on_cusd(self, urc: Urc) -> None:
        waiter = self._ussd_waiter
        try:
            answer = decode_cusd(urc.value, packed=self.profile.ussd_packed)
        except AtValueError as exc:
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
            return
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _apply_call(self, update: CallUpdate) -> None:
        try:
            events = self.calls.apply(update)
        except CallStateError as exc:
            log.warning("ignored call signal: %s", exc)
            return
        self._emit(events)
        if self.auto_pcm and any(e.new is CallState.ACTIVE for e in events):
            self._spawn(self._pcm_on_quietly())

    async def _pcm_on_quietly(self) -> None:
        try:
            await self.enable_pcm()
        except AtError as exc:
            log.warning("PCM switch failed: %s", exc)

    def _end_calls(self) -> None:
        self._emit(self.calls.reset())

    def _emit(self, events: list[HealthEvent] | list[CallStateChanged]) -> None:
        for event in events:
            notify(self._listeners, event, "modem")

    def _spawn(self, coro: Awaitable[None]) -> None:
        spawn(self._side_tasks, coro, "modem")


def _one(response: Response, prefix: str) -> str:
    values = response.info(prefix)
    if not values:
        raise AtValueError(f"{response.command}: no {prefix} line in {response.lines!r}")
    return values[0]
