"""Plain SIP passwords are kept sealed (AES-GCM, key file apart) and never stored in clear."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from provisioning.ports import Colleague
from provisioning.secrets import (
    SealedDirectory,
    SecretBox,
    SecretUnreadable,
    SipSecretStore,
    load_or_create_key,
)
from provisioning.server import config_router, install_error_handler
from provisioning.store import DeviceStore

from .conftest import YEALINK_UA, make_box


class NumberPlan:
    """Extension names and password resets as the foundation would give them."""

    def __init__(self) -> None:
        self.names = {"1001": "Ann", "1002": "Ben"}
        self.resets: list[str] = []

    async def display_name(self, extension: str) -> str | None:
        """Name of an extension."""
        return self.names.get(extension)

    async def colleagues(self, extension: str) -> list[Colleague]:
        """Everyone else."""
        return [Colleague(k, v) for k, v in self.names.items() if k != extension]

    async def reset_password(self, number: str) -> str:
        """A new password, remembered so the test can check it."""
        self.resets.append(number)
        return f"Fresh{len(self.resets)}Pw{number}"


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "provisioning.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    path.write_bytes(b"short")
    with pytest.raises(ValueError):
        load_or_create_key(path)


async def test_sealed_row_holds_no_plaintext_and_opens_only_for_its_extension(
    store: DeviceStore, tmp_path: Path,
) -> None:
    db = store._db
    box = SecretBox(load_or_create_key(tmp_path / "k"))
    secrets = SipSecretStore(db, box)
    await secrets.put("1001", "VerySecret1001")
    assert await secrets.get("1001") == "VerySecret1001"
    assert await secrets.get("1999") is None
    async with db.execute("SELECT sealed FROM prov_sip_secrets") as cur:
        (sealed,) = await cur.fetchone()  # type: ignore[misc]
    assert b"VerySecret1001" not in bytes(sealed)
    # A row copied onto another extension does not open there.
    await db.execute("INSERT INTO prov_sip_secrets VALUES ('1002', 'x', ?, 0)", (sealed,))
    with pytest.raises(SecretUnreadable):
        await secrets.get("1002")
    # Another key does not open it either.
    with pytest.raises(SecretUnreadable):
        await SipSecretStore(db, SecretBox(bytes(32))).get("1001")
    await secrets.put("1001", "Rotated")
    assert await secrets.get("1001") == "Rotated"
    await secrets.delete("1001")
    assert await secrets.get("1001") is None


async def test_assigning_a_phone_issues_one_password_that_the_config_carries(
    store: DeviceStore, tmp_path: Path,
) -> None:
    plan = NumberPlan()
    sealed = SealedDirectory(plan, plan, SipSecretStore(store._db,
                                                         SecretBox(bytes(range(32)))))
    box = make_box(store)
    box.service.directory = sealed
    assert not await sealed.prepare("1999") and plan.resets == []
    first = await box.service.assign("001565aabbcc", "1001")
    await box.service.assign("001565aabbcd", "1001")  # a second phone on the same extension
    assert plan.resets == ["1001"]  # the HA1-only extension got one new password, not two
    app = FastAPI()
    install_error_handler(app)
    app.include_router(config_router(box.service))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 1))
    async with httpx.AsyncClient(transport=transport, base_url="https://box.lan",
                                 headers={"User-Agent": YEALINK_UA}) as phone:
        assert first.http_username and first.http_password
        r = await phone.get("/001565aabbcc.cfg",
                            auth=(first.http_username, first.http_password))
    assert r.status_code == 200
    assert "account.1.password = Fresh1Pw1001\n" in r.text
    assert "account.1.display_name = Ann\n" in r.text
    assert "linekey.5.value = 1002\n" in r.text
