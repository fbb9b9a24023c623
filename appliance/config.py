"""Settings: one object, loaded from the data directory's appliance.json, then CLI overrides."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

SETTINGS_FILE = "appliance.json"


@dataclass(frozen=True)
class Settings:
    """Everything the processes of the box need to agree on."""

    data_dir: Path = Path("data")
    sip_ip: str = "127.0.0.1"
    sip_port: int = 5060
    web_ip: str = "0.0.0.0"
    web_port: int = 8080
    internal_port: int = 5081  # loopback only: Kamailio asks the controller here
    workers: int = 3
    worker_base_port: int = 5170  # worker i listens on worker_base_port + i (loopback)
    realm: str = "appliance"
    pike_density: int = 40  # requests per pike window from one address before a ban
    pike_window_s: int = 2
    ban_seconds: int = 600
    auth_fail_max: int = 5
    auth_fail_window_s: int = 600
    trusted: tuple[str, ...] = ()  # "ip" or "ip:port" of trunks that skip digest auth
    kamailio_children: int = 4
    natping_interval: int = 30  # seconds between keepalive OPTIONS to registered phones
    demo: bool = True
    log_level: str = "info"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        """Sockets, pid files and rendered configs."""
        return self.data_dir / "run"

    @property
    def db_path(self) -> Path:
        """The SQLite database."""
        return self.data_dir / "appliance.db"

    @property
    def rpc_socket(self) -> Path:
        """Where the controller listens for media workers."""
        return self.run_dir / "controller.sock"

    def worker_port(self, index: int) -> int:
        """SIP port of worker number `index` (1-based)."""
        return self.worker_base_port + index

    @property
    def worker_addresses(self) -> tuple[str, ...]:
        """ip:port of every media worker."""
        return tuple(f"127.0.0.1:{self.worker_port(i)}" for i in range(1, self.workers + 1))

    def save(self) -> None:
        """Write the settings into the data directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        doc = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        doc.pop("data_dir")
        tmp = self.data_dir / (SETTINGS_FILE + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.data_dir / SETTINGS_FILE)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given fields replaced (None values ignored)."""
        known = {f.name for f in fields(self)}
        clean = {k: v for k, v in overrides.items() if v is not None and k in known}
        if "trusted" in clean:
            clean["trusted"] = tuple(clean["trusted"])
        return replace(self, **clean)


def load(data_dir: Path) -> Settings:
    """Settings from `data_dir/appliance.json` (defaults where absent)."""
    base = Settings(data_dir=data_dir)
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        return base
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return base.with_overrides(**doc)


def edge_token(settings: Settings) -> str:
    """The secret shared by Kamailio and the controller's internal API (made once)."""
    path = settings.data_dir / "secrets" / "edge-token"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    return token
