"""Provisioning service: serve configs to authenticated phones, assign and revoke devices."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from provisioning.credentials import (
    PasswordVault,
    new_password,
    new_token,
    same_digest,
    token_digest,
)
from provisioning.files import FileKind, RequestedFile, parse_filename
from provisioning.model import (
    Device,
    DeviceNotFound,
    ProvisioningError,
    State,
    UnknownExtension,
    Vendor,
    guess_vendor,
    normalize_mac,
)
from provisioning.ports import CheckSyncSender, Clock, ExtensionDirectory, RegisteredContacts
from provisioning.profile import (
    KeyKind,
    LineKey,
    PhoneProfile,
    ProvisioningCredentials,
    SiteSettings,
)
from provisioning.ratelimit import TokenBucketLimiter
from provisioning.render import ConfigFile, render_account, render_polycom_master
from provisioning.store import DeviceStore

log = logging.getLogger(__name__)


class NotFound(ProvisioningError):
    """No config for this file (unknown or unassigned phone, unknown file)."""

    error_id = "not_found"


class Unauthorized(ProvisioningError):
    """The phone did not prove it may have this config."""

    error_id = "unauthorized"


class RateLimited(ProvisioningError):
    """Too many misses from this source; try later."""

    error_id = "rate_limited"


@dataclass(frozen=True)
class FetchRequest:
    """A phone's HTTP request for a file, as the service needs it."""

    filename: str
    source_ip: str
    user_agent: str = ""
    secure: bool = False
    basic: tuple[str, str] | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Assignment:
    """The result of assigning a phone; the secrets are shown to the admin once."""

    device: Device
    http_username: str | None
    http_password: str | None = field(repr=False)
    enrollment_url: str | None = field(repr=False)
    token_expires: float | None


@dataclass
class ServiceOptions:
    """Tunables of the provisioning service."""

    token_ttl_seconds: float = 24 * 3600
    max_pending: int = 500
    max_colleague_keys: int = 8
    allow_basic_over_http: bool = False
    # After the admin assigns a phone seen at some address, its next fetch from that
    # address without credentials enrolls it (no typing on the phone). 0 disables.
    zero_touch_window_seconds: float = 15 * 60


class ProvisioningService:
    """Owns device lifecycle and decides what each request gets."""

    def __init__(
        self,
        store: DeviceStore,
        directory: ExtensionDirectory,
        site: SiteSettings,
        clock: Clock,
        limiter: TokenBucketLimiter,
        vault: PasswordVault | None = None,
        contacts: RegisteredContacts | None = None,
        sender: CheckSyncSender | None = None,
        options: ServiceOptions | None = None,
    ) -> None:
        self.store = store
        self.directory = directory
        self.site = site
        self.clock = clock
        self.limiter = limiter
        self.vault = vault or PasswordVault()
        self.contacts = contacts
        self.sender = sender
        self.options = options or ServiceOptions()
        self._notifications: set[asyncio.Task[None]] = set()

    # -- serving -----------------------------------------------------------------------

    async def fetch(self, req: FetchRequest) -> ConfigFile:
        """The file a phone asked for, or NotFound / Unauthorized / RateLimited."""
        now = self.clock.now()
        if not self.limiter.allowed(req.source_ip, now):
            raise RateLimited(f"too many misses from {req.source_ip}")
        wanted = parse_filename(req.filename)
        if wanted is None:
            self.limiter.spend(req.source_ip, now)
            raise NotFound(req.filename)
        if wanted.kind is FileKind.POLYCOM_BOOTSTRAP:
            return render_polycom_master(None)
        assert wanted.mac is not None
        device = await self.store.get(wanted.mac)
        if device is None:
            self.limiter.spend(req.source_ip, now)
            await self._note_unknown(wanted, req, now)
            raise NotFound(req.filename)
        if device.state is State.PENDING:
            self.limiter.spend(req.source_ip, now)
            await self.store.touch(device.mac, now, req.source_ip, req.user_agent)
            raise NotFound(req.filename)
        if device.state is State.REVOKED:
            self.limiter.spend(req.source_ip, now)
            raise Unauthorized(f"device {device.mac} is revoked")
        vendor = wanted.vendor_hint or device.vendor
        if vendor is Vendor.GENERIC:
            vendor = guess_vendor(req.user_agent)[0]  # assigned before it was ever seen
        serves_master = wanted.kind is FileKind.MAC_CFG and vendor is Vendor.POLYCOM
        credentials = await self._authenticate(device, req, now, consume=not serves_master)
        await self.store.touch(device.mac, now, req.source_ip, req.user_agent)
        if serves_master:
            return render_polycom_master(device.mac)
        profile = await self._profile(device, vendor, credentials)
        log.info("serving %s to %s (%s)", req.filename, device.mac, req.source_ip)
        return render_account(profile)

    async def _authenticate(
        self, device: Device, req: FetchRequest, now: float, *, consume: bool
    ) -> ProvisioningCredentials | None:
        """Check token or basic credentials; a spent token yields fresh HTTP credentials."""
        if req.token is not None:
            digest = token_digest(req.token)
            valid = (
                device.token_hash is not None
                and device.token_expires is not None
                and device.token_expires > now
                and same_digest(device.token_hash, digest)
            )
            if not valid:
                self.limiter.spend(req.source_ip, now)
                raise Unauthorized("enrollment token invalid, spent or expired")
            if not consume:
                return None
            password = new_password()
            new_hash = await self.vault.hash(password)
            if not await self.store.consume_token(device.mac, digest, new_hash):
                raise Unauthorized("enrollment token already spent")  # lost a race
            log.info("enrollment token of %s spent; HTTP password rotated", device.mac)
            assert device.http_username is not None
            return ProvisioningCredentials(device.http_username, password)
        if req.basic is None:
            if (device.enroll_ip is not None and device.enroll_ip == req.source_ip
                    and device.enroll_until is not None and device.enroll_until > now):
                return await self._enroll_zero_touch(device, req, now, consume=consume)
            self.limiter.spend(req.source_ip, now)
            raise Unauthorized("credentials required")
        if not req.secure and not self.options.allow_basic_over_http:
            self.limiter.spend(req.source_ip, now)
            raise Unauthorized("basic credentials are accepted over HTTPS only")
        username, password = req.basic
        ok = (
            device.http_username is not None
            and device.http_password_hash is not None
            and same_digest(device.http_username, username)
            and await self.vault.verify(device.http_password_hash, password)
        )
        if not ok:
            self.limiter.spend(req.source_ip, now)
            raise Unauthorized("wrong credentials")
        return None

    async def _enroll_zero_touch(
        self, device: Device, req: FetchRequest, now: float, *, consume: bool
    ) -> ProvisioningCredentials | None:
        """Hand fresh credentials to the phone the admin just assigned, at its seen address."""
        if not consume:
            return None
        password = new_password()
        if not await self.store.consume_window(device.mac, req.source_ip, now,
                                               await self.vault.hash(password)):
            raise Unauthorized("zero-touch window already used")
        log.info("phone %s enrolled zero-touch from %s", device.mac, req.source_ip)
        assert device.http_username is not None
        return ProvisioningCredentials(device.http_username, password)

    async def _note_unknown(self, wanted: RequestedFile, req: FetchRequest, now: float) -> None:
        """List an unknown phone as pending, unless too many are pending already."""
        assert wanted.mac is not None
        if await self.store.count(State.PENDING) >= self.options.max_pending:
            log.warning("pending device list full; not listing %s", wanted.mac)
            return
        await self.note_seen(wanted.mac, req.source_ip, req.user_agent, wanted.vendor_hint)

    async def note_seen(
        self, mac: str, ip: str | None, user_agent: str, vendor_hint: Vendor | None = None,
        model_hint: str = "",
    ) -> bool:
        """Record a phone seen on the LAN as pending; True if it was new."""
        mac = normalize_mac(mac)
        vendor, model = guess_vendor(user_agent)
        if vendor is Vendor.GENERIC and vendor_hint is not None:
            vendor = vendor_hint
        now = self.clock.now()
        added = await self.store.add_pending(Device(
            mac=mac, vendor=vendor, model=model or model_hint, state=State.PENDING,
            extension=None, http_username=None, http_password_hash=None, token_hash=None,
            token_expires=None, first_seen=now, last_seen=now, last_ip=ip,
            user_agent=user_agent[:200] or None,
        ))
        if added:
            log.info("new phone %s (%s %s) from %s is pending", mac, vendor.value, model, ip)
        return added

    async def _profile(
        self, device: Device, vendor: Vendor, credentials: ProvisioningCredentials | None
    ) -> PhoneProfile:
        assert device.extension is not None
        account = await self.directory.account(device.extension)
        if account is None:
            log.error("device %s is assigned to missing extension %s", device.mac,
                      device.extension)
            raise NotFound(f"extension {device.extension} no longer exists")
        colleagues = await self.directory.colleagues(device.extension)
        keys = list(self.site.feature_keys())
        keys += [
            LineKey(KeyKind.BLF, c.extension, c.name or c.extension)
            for c in colleagues[: self.options.max_colleague_keys]
        ]
        return PhoneProfile(vendor, device.model, device.mac, account, self.site, tuple(keys),
                            credentials)

    # -- lifecycle ---------------------------------------------------------------------

    async def devices(self, state: State | None = None) -> list[Device]:
        """Devices known to the appliance (pending ones are waiting for the admin)."""
        return await self.store.list(state)

    async def assign(
        self, mac: str, extension: str, *, vendor: Vendor | None = None, model: str | None = None
    ) -> Assignment:
        """Assign a phone to an extension; new credentials are returned once."""
        mac = normalize_mac(mac)
        if not await self.directory.prepare(extension):
            raise UnknownExtension(f"no extension {extension}")
        device = await self.store.get(mac)
        if device is None:
            await self.note_seen(mac, None, "", vendor)
            device = await self.store.get(mac)
            assert device is not None
        if vendor is not None or model is not None:
            device = replace(device, vendor=vendor or device.vendor,
                             model=model if model is not None else device.model)
        old_extension = device.extension if device.state is State.ASSIGNED else None
        if device.state is State.ASSIGNED:
            # Moving the phone: it keeps the HTTP credentials it already holds.
            moved = device.assigned(extension, device.http_username or "",
                                    device.http_password_hash or "")
            await self.store.save(moved)
            self._notify_later(moved, old_extension or extension)
            return Assignment(moved, moved.http_username, None, None, None)
        password = new_password()
        token = new_token()
        now = self.clock.now()
        expires = now + self.options.token_ttl_seconds
        assigned = device.assigned(extension, f"phone-{mac}", await self.vault.hash(password))
        window = self.options.zero_touch_window_seconds
        assigned = replace(
            assigned, token_hash=token_digest(token), token_expires=expires,
            enroll_ip=device.last_ip if window > 0 else None,
            enroll_until=now + window if window > 0 and device.last_ip else None,
        )
        await self.store.save(assigned)
        log.info("phone %s assigned to extension %s", mac, extension)
        self._notify_later(assigned, extension)
        url = f"{self.site.provisioning_url.rstrip('/')}/t/{token}/"
        return Assignment(assigned, assigned.http_username, password, url, expires)

    async def unassign(self, mac: str) -> Device:
        """Revoke a phone's credentials; its next fetch is refused."""
        device = await self._get(mac)
        revoked = device.revoked()
        await self.store.save(revoked)
        log.info("phone %s revoked (was extension %s)", device.mac, device.extension)
        if device.extension:
            self._notify_later(revoked, device.extension)
        return revoked

    async def remove(self, mac: str) -> None:
        """Forget a phone; if it was assigned its credentials die with the row."""
        device = await self._get(mac)
        await self.store.delete(device.mac)
        log.info("phone %s removed", device.mac)
        if device.state is State.ASSIGNED and device.extension:
            self._notify_later(device, device.extension)

    async def _get(self, mac: str) -> Device:
        device = await self.store.get(normalize_mac(mac))
        if device is None:
            raise DeviceNotFound(f"no device {mac}")
        return device

    # -- check-sync --------------------------------------------------------------------

    def _notify_later(self, device: Device, extension: str) -> None:
        if self.sender is None:
            return
        task = asyncio.get_running_loop().create_task(self._check_sync(device, extension))
        self._notifications.add(task)
        task.add_done_callback(self._notifications.discard)

    async def wait_notifications(self) -> None:
        """Wait until every check-sync NOTIFY sent so far is answered or timed out."""
        while self._notifications:
            await asyncio.gather(*list(self._notifications))

    async def _check_sync(self, device: Device, extension: str) -> None:
        """Tell the phone to fetch its config again; failures are logged, never raised."""
        assert self.sender is not None
        try:
            contact = await self.contacts.contact_of(extension) if self.contacts else None
            if contact is None and device.last_ip:
                contact = f"sip:{extension}@{device.last_ip}:5060"
            if contact is None:
                log.info("no contact for %s; it picks up the change at its next fetch",
                         device.mac)
                return
            event = "resync" if device.vendor is Vendor.CISCO else "check-sync"
            status = await self.sender.check_sync(contact, event)
            log.info("check-sync to %s (%s): %s", device.mac, contact, status)
        except Exception:
            log.exception("check-sync to %s failed", device.mac)
