"""Device rows in SQLite (aiosqlite): the one writer of table prov_devices."""

from __future__ import annotations

from typing import Any

import aiosqlite

from provisioning.model import Device, State, Vendor

_COLUMNS = (
    "mac, vendor, model, state, extension, http_username, http_password_hash, token_hash,"
    " token_expires, first_seen, last_seen, last_ip, user_agent, enroll_ip, enroll_until"
)


def _device(row: Any) -> Device:
    return Device(
        mac=row["mac"], vendor=Vendor(row["vendor"]), model=row["model"],
        state=State(row["state"]), extension=row["extension"],
        http_username=row["http_username"], http_password_hash=row["http_password_hash"],
        token_hash=row["token_hash"], token_expires=row["token_expires"],
        first_seen=row["first_seen"], last_seen=row["last_seen"], last_ip=row["last_ip"],
        user_agent=row["user_agent"], enroll_ip=row["enroll_ip"],
        enroll_until=row["enroll_until"],
    )


class DeviceStore:
    """Reads and writes devices; every write is one committed statement."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._db.row_factory = aiosqlite.Row

    async def get(self, mac: str) -> Device | None:
        """The device with this MAC, or None."""
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM prov_devices WHERE mac = ?", (mac,)
        ) as cur:
            row = await cur.fetchone()
        return _device(row) if row else None

    async def by_username(self, username: str) -> Device | None:
        """The device holding these HTTP credentials, or None."""
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM prov_devices WHERE http_username = ?", (username,)
        ) as cur:
            row = await cur.fetchone()
        return _device(row) if row else None

    async def list(self, state: State | None = None) -> list[Device]:
        """All devices (or those in one state), most recently seen first."""
        sql = f"SELECT {_COLUMNS} FROM prov_devices"
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            args = (state.value,)
        async with self._db.execute(sql + " ORDER BY last_seen DESC, mac", args) as cur:
            rows = await cur.fetchall()
        return [_device(r) for r in rows]

    async def count(self, state: State) -> int:
        """How many devices are in `state`."""
        async with self._db.execute(
            "SELECT count(*) FROM prov_devices WHERE state = ?", (state.value,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def add_pending(self, device: Device) -> bool:
        """Insert a newly seen device; False if the MAC is already known."""
        cur = await self._db.execute(
            f"INSERT OR IGNORE INTO prov_devices ({_COLUMNS})"
            " VALUES (?, ?, ?, 'pending', NULL, NULL, NULL, NULL, NULL, ?, ?, ?, ?, NULL, NULL)",
            (device.mac, device.vendor.value, device.model, device.first_seen,
             device.last_seen, device.last_ip, device.user_agent),
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def touch(self, mac: str, when: float, ip: str | None, user_agent: str | None) -> None:
        """Record that the phone asked for a file just now."""
        await self._db.execute(
            "UPDATE prov_devices SET last_seen = ?, last_ip = ?, user_agent = ? WHERE mac = ?",
            (when, ip, user_agent, mac),
        )
        await self._db.commit()

    async def save(self, device: Device) -> None:
        """Write the lifecycle fields of an existing device."""
        cur = await self._db.execute(
            "UPDATE prov_devices SET vendor = ?, model = ?, state = ?, extension = ?,"
            " http_username = ?, http_password_hash = ?, token_hash = ?, token_expires = ?,"
            " enroll_ip = ?, enroll_until = ? WHERE mac = ?",
            (device.vendor.value, device.model, device.state.value, device.extension,
             device.http_username, device.http_password_hash, device.token_hash,
             device.token_expires, device.enroll_ip, device.enroll_until, device.mac),
        )
        await self._db.commit()
        if cur.rowcount != 1:
            raise KeyError(device.mac)

    async def consume_token(self, mac: str, token_hash: str, new_password_hash: str) -> bool:
        """Atomically spend the enrollment token and set new HTTP credentials."""
        cur = await self._db.execute(
            "UPDATE prov_devices SET token_hash = NULL, token_expires = NULL,"
            " http_password_hash = ? WHERE mac = ? AND token_hash = ? AND state = 'assigned'",
            (new_password_hash, mac, token_hash),
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def consume_window(self, mac: str, ip: str, now: float, new_password_hash: str) -> bool:
        """Atomically close the zero-touch window of `mac` for `ip` and set new credentials."""
        cur = await self._db.execute(
            "UPDATE prov_devices SET enroll_ip = NULL, enroll_until = NULL,"
            " http_password_hash = ? WHERE mac = ? AND enroll_ip = ? AND enroll_until > ?"
            " AND state = 'assigned'",
            (new_password_hash, mac, ip, now),
        )
        await self._db.commit()
        return cur.rowcount == 1

    async def delete(self, mac: str) -> bool:
        """Forget a device entirely; False if it was not there."""
        cur = await self._db.execute("DELETE FROM prov_devices WHERE mac = ?", (mac,))
        await self._db.commit()
        return cur.rowcount == 1
