"""Admin changes to IVRs, DIDs, uploaded prompts and mailbox PINs, each followed by its audit row.

The IVR feature service (appliance/controller/ivr.py) owns the `ivrs`, `dids` and
`custom_prompts` tables and writes them on the controller's shared connection, so the audit
row cannot share the change's transaction: it is committed right after the change succeeds
(a refusal writes neither). A crash in between would lose the audit row, not the change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from appliance.controller.ivr import IvrError
from appliance.domain.clock import Clock
from appliance.storage.ivr import CustomPromptRow, DidRow, IvrRow
from appliance.web_services import audit
from appliance.web_services.audit import Actor
from appliance.web_services.errors import Conflict, NotFound
from appliance.web_services.tx import Writer

if TYPE_CHECKING:
    from appliance.controller.ivr import IvrService
    from appliance.controller.voicemail import VoicemailService


class IvrAdmin:
    """IVR, DID, prompt and mailbox changes made by a person, audited like the directory's."""

    def __init__(self, writer: Writer, clock: Clock, ivr: Callable[[], IvrService],
                 voicemail: Callable[[], VoicemailService]) -> None:
        self._writer = writer
        self._clock = clock
        self._ivr = ivr
        self._voicemail = voicemail

    async def _audit(self, actor: Actor, action: str, target: str, **detail: Any) -> None:
        def go(conn: sqlite3.Connection) -> None:
            audit.record(conn, self._clock, actor, action, target, **detail)

        await self._writer.run(go)

    async def save_ivr(self, actor: Actor, row: IvrRow) -> IvrRow:
        """Create or replace an IVR (IvrError lists every problem; nothing written)."""
        service = self._ivr()
        existed = row.number in service.ivrs
        saved = await service.save_ivr(row)
        await self._audit(actor, "ivr.update" if existed else "ivr.create", row.number, name=row.name,
                          language=row.language, config=row.config)
        return saved

    async def delete_ivr(self, actor: Actor, number: str) -> None:
        """Delete an IVR (audited): 409 `ivr_in_use` while a DID or IVR points to it, 404 when none."""
        try:
            gone = await self._ivr().delete_ivr(number)
        except IvrError as exc:
            raise Conflict("ivr_in_use", str(exc), problems=exc.problems) from None
        if not gone:
            raise NotFound("ivr_not_found", f"no IVR {number}", number=number)
        await self._audit(actor, "ivr.delete", number)

    async def save_did(self, actor: Actor, row: DidRow) -> DidRow:
        """Create or replace a DID (IvrError with the reasons; nothing written)."""
        service = self._ivr()
        existed = row.did in service.dids
        saved = await service.save_did(row)
        await self._audit(actor, "did.update" if existed else "did.create", row.did, destination=row.destination,
                          note=row.note)
        return saved

    async def delete_did(self, actor: Actor, did: str) -> bool:
        """Delete a DID; False when there was none."""
        gone = await self._ivr().delete_did(did)
        if gone:
            await self._audit(actor, "did.delete", did)
        return gone

    async def upload_prompt(self, actor: Actor, name: str, language: str, data: bytes) -> CustomPromptRow:
        """Validate, convert and install an uploaded prompt (PromptError: nothing changed)."""
        row = await self._ivr().upload_prompt(name, language, data)
        await self._audit(actor, "prompt.upload", f"{language}/{name}", duration_s=row.duration_s,
                          size_bytes=row.size_bytes)
        return row

    async def delete_prompt(self, actor: Actor, name: str, language: str) -> bool:
        """Delete an uploaded prompt; False when there was none (IvrError while an IVR plays it)."""
        gone = await self._ivr().delete_prompt(name, language)
        if gone:
            await self._audit(actor, "prompt.delete", f"{language}/{name}")
        return gone

    async def set_pin(self, actor: Actor, mailbox: str, pin: str) -> None:
        """Set a mailbox PIN (VoicemailError when bad); the audit row never holds the PIN."""
        await self._voicemail().set_pin(mailbox, pin)
        await self._audit(actor, "mailbox.pin_reset", mailbox)

    async def delete_message(self, actor: Actor, message_id: int) -> bool:
        """Delete a voicemail message and its file; False when there was none."""
        msg = await self._voicemail().delete_message(message_id)
        if msg is None:
            return False
        await self._audit(actor, "voicemail.delete", msg.mailbox, id=message_id, caller=msg.caller)
        return True
