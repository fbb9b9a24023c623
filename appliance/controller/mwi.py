"""Message-waiting indication: an unsolicited NOTIFY (Event: message-summary) to the phone.

The NOTIFY leaves through Kamailio, which knows where the extension is registered: the
controller looks the contact up (`ul.lookup`) and has Kamailio's transaction module send the
request (`tm.t_uac_wait_block`, which waits for the phone's final reply), both over the binrpc
control socket with `kamcmd`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
from dataclasses import dataclass

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^\s*Address:\s*(sips?:\S+)", re.M)
_RECEIVED = re.compile(r"^\s*Received:\s*(sips?:\S+)", re.M)
_CODE = re.compile(r"\bcode:\s*(\d{3})\b")  # kamcmd prints the reply as {code: 200, text: OK}
_EXT = re.compile(r"^[0-9A-Za-z_.-]+$")


def summary_body(mailbox: str, new: int, old: int, host: str) -> str:
    """The application/simple-message-summary body (RFC 3842)."""
    waiting = "yes" if new > 0 else "no"
    return (
        f"Messages-Waiting: {waiting}\r\nMessage-Account: sip:{mailbox}@{host}\r\n"
        f"Voice-Message: {new}/{old} (0/0)\r\n"
    )


@dataclass
class MwiNotifier:
    """Sends MWI NOTIFYs through Kamailio's control socket."""

    ctl_socket: str
    host: str  # the box's SIP address as phones know it, e.g. "127.0.0.1:5060"
    timeout_s: float = 5.0

    async def _kamcmd(self, *args: str) -> str:
        kamcmd = shutil.which("kamcmd")
        if kamcmd is None:
            raise RuntimeError("kamcmd is not installed")
        proc = await asyncio.create_subprocess_exec(
            kamcmd, "-s", f"unix:{self.ctl_socket}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"kamcmd {args[0]} timed out") from None
        return out.decode(errors="replace") + err.decode(errors="replace")

    async def contact_of(self, extension: str) -> str | None:
        """Where the extension is registered (the NAT-received address first), or None."""
        if not _EXT.match(extension):
            return None
        text = await self._kamcmd("ul.lookup", "location", f"s:{extension}")
        found = _RECEIVED.search(text) or _ADDRESS.search(text)
        return found.group(1) if found else None

    async def notify(self, mailbox: str, new: int, old: int) -> bool:
        """Tell the extension's phone whether messages wait; True when it answered 2xx."""
        contact = await self.contact_of(mailbox)
        if contact is None:
            log.info("MWI for %s skipped: not registered", mailbox)
            return False
        uri = f"sip:{mailbox}@{self.host}"
        headers = (
            f"From: <sip:voicemail@{self.host}>;tag={secrets.token_hex(6)}\r\n"
            f"To: <{uri}>\r\n"
            f"Contact: <sip:voicemail@{self.host}>\r\n"
            "Event: message-summary\r\n"
            "Subscription-State: active\r\n"
            "Content-Type: application/simple-message-summary\r\n"
        )
        body = summary_body(mailbox, new, old, self.host)
        text = await self._kamcmd(
            "tm.t_uac_wait_block", "NOTIFY", f"s:{contact}", ".", ".", f"s:{headers}", f"s:{body}"
        )
        code = _CODE.search(text)
        ok = code is not None and code.group(1).startswith("2")
        (log.info if ok else log.warning)("MWI %s (%d new, %d old) to %s: %s", mailbox, new, old, contact,
                                          " ".join(text.split())[:200])
        return ok
