"""Sealed SIP passwords: AES-256-GCM with a key file kept apart from the database."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Protocol

import aiosqlite
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from provisioning.ports import Colleague
from provisioning.profile import SipAccount

_NONCE = 12


class SecretUnreadable(Exception):
    """A sealed secret does not open with this key (wrong key or tampered row)."""


def load_or_create_key(path: Path) -> bytes:
    """Read the 32-byte sealing key, creating it (mode 0600, fsynced) on first start."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_key(path)  # another process created it first
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
    if len(key) != 32:
        raise ValueError(f"sealing key {path} must be 32 bytes, found {len(key)}")
    return key


class SecretBox:
    """Seals and opens short secrets; the extension is bound in as associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"prov-key-id" + key).hexdigest()[:16]

    def seal(self, plaintext: str, context: str) -> bytes:
        """Nonce + ciphertext + tag."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        """The plaintext; SecretUnreadable if the key or the context is wrong."""
        try:
            data = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise SecretUnreadable("sealed secret does not open") from exc
        return data.decode("utf-8")

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id})"


class SipSecretStore:
    """The prov_sip_secrets table: one sealed SIP password per extension."""

    def __init__(self, db: aiosqlite.Connection, box: SecretBox) -> None:
        self._db = db
        self._box = box

    async def put(self, extension: str, password: str) -> None:
        """Seal and store the SIP password of an extension (replacing any older one)."""
        await self._db.execute(
            "INSERT INTO prov_sip_secrets(extension, key_id, sealed, updated) VALUES (?,?,?,?)"
            " ON CONFLICT(extension) DO UPDATE SET key_id = excluded.key_id,"
            " sealed = excluded.sealed, updated = excluded.updated",
            (extension, self._box.key_id, self._box.seal(password, extension), time.time()),
        )
        await self._db.commit()

    async def get(self, extension: str) -> str | None:
        """The plain SIP password, or None when none was stored."""
        async with self._db.execute(
            "SELECT sealed FROM prov_sip_secrets WHERE extension = ?", (extension,)
        ) as cur:
            row = await cur.fetchone()
        return self._box.open(bytes(row[0]), extension) if row else None

    async def delete(self, extension: str) -> None:
        """Forget the sealed password of an extension."""
        await self._db.execute("DELETE FROM prov_sip_secrets WHERE extension = ?", (extension,))
        await self._db.commit()


class ExtensionNames(Protocol):
    """The foundation's extension list without secrets."""

    async def display_name(self, extension: str) -> str | None:
        """The display name, or None if the extension does not exist."""
        ...

    async def colleagues(self, extension: str) -> list[Colleague]:
        """Extensions for this phone's BLF keys."""
        ...


class PasswordIssuer(Protocol):
    """Sets a new SIP password on an extension (the registrar gets its HA1)."""

    async def reset_password(self, number: str) -> str:
        """Give the extension a new password and return it in the clear, once."""
        ...


class SealedDirectory:
    """An ExtensionDirectory whose plain SIP passwords live sealed in prov_sip_secrets."""

    def __init__(self, names: ExtensionNames, issuer: PasswordIssuer,
                 store: SipSecretStore) -> None:
        self.names = names
        self.issuer = issuer
        self.store = store

    async def prepare(self, extension: str) -> bool:
        """Make the plain password available, resetting it once if only HA1 is known."""
        if await self.names.display_name(extension) is None:
            return False
        if await self.store.get(extension) is None:
            await self.store.put(extension, await self.issuer.reset_password(extension))
        return True

    async def account(self, extension: str) -> SipAccount | None:
        """The SIP account with its unsealed password, or None."""
        name = await self.names.display_name(extension)
        password = await self.store.get(extension)
        if name is None or password is None:
            return None
        return SipAccount(extension, name, extension, password)

    async def colleagues(self, extension: str) -> list[Colleague]:
        """Extensions for this phone's BLF keys."""
        return await self.names.colleagues(extension)
