"""asyncio AT channel over pyserial: one port, one command at a time, URCs on the side.

A port is a URL (`serial.serial_for_url`), so tests point it at a pseudo-terminal. Reads
enter the event loop through one door (`loop.add_reader` on the port's descriptor).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import serial

from firmware_bridge.at.parser import AtParser, Event, Noise, Prompt, Response, Urc

log = logging.getLogger(__name__)


class AtError(Exception):
    """Base of AT channel errors."""


class PortClosed(AtError):
    """The port is not open, or went away (modem reset, USB re-enumeration)."""


class CommandTimeout(AtError):
    """The modem did not finish answering in time."""


class CommandFailed(AtError):
    """The modem answered with ERROR / +CME ERROR / +CMS ERROR (or NO CARRIER...)."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"{response.command}: {response.final}")
        self.response = response


class AtChannel:
    """Serialises commands on one AT port and dispatches URCs to `on_urc`."""

    def __init__(
        self,
        url: str,
        *,
        urc_prefixes: tuple[str, ...] = (),
        on_urc: Callable[[Urc], None] = lambda _u: None,
        on_lost: Callable[[str], None] = lambda _r: None,
        baudrate: int = 115200,
    ) -> None:
        self.url = url
        self._baudrate = baudrate
        self._parser = AtParser(urc_prefixes)
        self._on_urc = on_urc
        self._on_lost = on_lost
        self._port: serial.SerialBase | None = None
        self._lock = asyncio.Lock()
        self._waiter: asyncio.Future[Event] | None = None
        self._stale = False  # a timed-out command's answer may still arrive
        self.noise_bytes = 0

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    async def open(self) -> None:
        """Open the port (raises PortClosed if it is not there)."""
        if self._port is not None:
            return
        try:
            port = serial.serial_for_url(self.url, baudrate=self._baudrate, timeout=0,
                                         write_timeout=2)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortClosed(f"cannot open {self.url}: {exc}") from exc
        self._parser.reset()
        self._stale = False
        self._port = port
        asyncio.get_running_loop().add_reader(port.fileno(), self._readable)

    def close(self) -> None:
        """Close the port; a command in progress fails with PortClosed."""
        port, self._port = self._port, None
        if port is None:
            return
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            asyncio.get_running_loop().remove_reader(port.fileno())
        with contextlib.suppress(serial.SerialException, OSError):
            port.close()
        self._parser.reset()
        self._fail_waiter(PortClosed("port closed"))

    async def command(self, command: str, timeout: float = 2.0, *,
                      pdu: str | None = None, check: bool = True) -> Response:
        """Send one command and return its response; with `pdu`, answer the `> ` prompt."""
        async with self._lock:
            return await self._command(command, timeout, pdu, check)

    async def _command(self, command: str, timeout: float, pdu: str | None,
                       check: bool) -> Response:
        if self._port is None:
            raise PortClosed(f"{self.url} is not open")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._stale:
            await self._resync(deadline)
        self._parser.begin(command, expects_prompt=pdu is not None)
        try:
            self._write(command.encode("ascii") + b"\r")
            event = await self._next_event(deadline)
            if pdu is not None:
                if not isinstance(event, Prompt):
                    if isinstance(event, Response):
                        return self._result(event, check)
                    raise CommandTimeout(f"{command}: no prompt")
                self._parser.sent_text(pdu)
                self._write(pdu.encode("ascii") + b"\x1a")
                event = await self._next_event(deadline)
            if not isinstance(event, Response):
                raise CommandTimeout(f"{command}: unexpected {event!r}")
            return self._result(event, check)
        except CommandTimeout:
            self._parser.cancel()
            self._stale = True
            raise
        except BaseException:
            self._parser.cancel()
            raise

    async def send_reset(self, command: str) -> None:
        """Write a reset command without waiting: the modem may restart before answering."""
        async with self._lock:
            self._parser.cancel()
            self._write(command.encode("ascii") + b"\r")
            self._stale = True

    async def _resync(self, deadline: float) -> None:
        """After a timeout: skip the late answer, so it cannot pass for the next one's.

        AT+CMEE? always answers with a +CMEE: line; a final result code without it is the
        tail of the command that timed out, and is dropped.
        """
        probe = "AT+CMEE?"
        self._parser.begin(probe)
        try:
            self._write(probe.encode("ascii") + b"\r")
            while True:
                event = await self._next_event(deadline)
                if isinstance(event, Response):
                    if event.info("+CMEE"):
                        self._stale = False
                        return
                    log.info("dropped a late answer on %s: %s %s", self.url, event.lines,
                             event.final)
                    self._parser.begin(probe)
        except BaseException:
            self._parser.cancel()
            raise

    @staticmethod
    def _result(response: Response, check: bool) -> Response:
        if check and not response.ok:
            raise CommandFailed(response)
        return response

    async def _next_event(self, deadline: float) -> Event:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        try:
            remaining = max(0.0, deadline - loop.time())
            return await asyncio.wait_for(self._waiter, remaining)
        except TimeoutError:
            raise CommandTimeout(f"{self._parser.pending}: no answer in time") from None
        finally:
            self._waiter = None

    def _write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            raise PortClosed("port closed")
        try:
            port.write(data)
        except (serial.SerialException, OSError) as exc:
            self._lost(f"write failed: {exc}")
            raise PortClosed(str(exc)) from exc

    def _readable(self) -> None:
        port = self._port
        if port is None:
            return
        try:
            data = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            self._lost(f"read failed: {exc}")
            return
        for event in self._parser.feed(data):
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Urc):
            try:
                self._on_urc(event)
            except Exception:
                log.exception("URC handler failed for %r", event.line)
        elif isinstance(event, Noise):
            self.noise_bytes += len(event.text)
            log.debug("noise on %s: %r", self.url, event.text)
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(event)

    def _fail_waiter(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def _lost(self, reason: str) -> None:
        log.warning("AT port %s lost: %s", self.url, reason)
        self.close()
        self._on_lost(reason)
