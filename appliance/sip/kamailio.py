"""Render Kamailio's config from the template and run Kamailio as a child process."""

from __future__ import annotations

import asyncio
import glob
import logging
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

log = logging.getLogger(__name__)

_MODULE_DIRS = [
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/aarch64-linux-gnu/kamailio/modules",
    "/usr/lib/arm-linux-gnueabihf/kamailio/modules",
    "/usr/lib/kamailio/modules",
    "/usr/local/lib64/kamailio/modules",
    "/usr/local/lib/kamailio/modules",
]


def find_module_path() -> str:
    """The directory holding Kamailio's modules on this machine."""
    for d in _MODULE_DIRS + sorted(glob.glob("/usr/lib/*/kamailio/modules")):
        if Path(d, "tm.so").exists():
            return d
    raise FileNotFoundError("Kamailio modules not found: install the kamailio package")


@dataclass(frozen=True)
class EdgeConfig:
    """Everything the Kamailio template needs."""

    ip: str
    sip_port: int
    controller_url: str
    run_dir: Path
    realm: str
    workers: tuple[str, ...] = ()  # "ip:port" of media workers
    trusted: tuple[str, ...] = ()  # "ip" or "ip:port" of peers that skip auth (trunks)
    children: int = 4
    tcp_children: int = 2
    natping_interval: int = 30
    pike_window_s: int = 2
    pike_density: int = 40
    ban_seconds: int = 600
    auth_fail_max: int = 5
    auth_fail_window_s: int = 600
    max_message_bytes: int = 16384
    ctl_socket: Path | None = None  # default: run_dir/kamailio_ctl
    log_level: int = 1
    tcp: bool = True
    extra_listen: tuple[str, ...] = field(default=())


def render(cfg: EdgeConfig) -> str:
    """The Kamailio config text for `cfg`."""
    env = Environment(
        loader=PackageLoader("appliance.sip", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    listen = [f"udp:{cfg.ip}:{cfg.sip_port}"]
    if cfg.tcp:
        listen.append(f"tcp:{cfg.ip}:{cfg.sip_port}")
    listen.extend(cfg.extra_listen)
    return env.get_template("kamailio.cfg.j2").render(
        listen=listen,
        domain=cfg.ip,
        module_path=find_module_path(),
        controller_url=cfg.controller_url,
        run_dir=str(cfg.run_dir),
        ctl_socket=str(cfg.ctl_socket or cfg.run_dir / "kamailio_ctl"),
        realm=cfg.realm,
        workers=cfg.workers,
        trusted=cfg.trusted,
        children=cfg.children,
        tcp_children=cfg.tcp_children,
        natping_interval=cfg.natping_interval,
        pike_window_s=cfg.pike_window_s,
        pike_density=cfg.pike_density,
        ban_seconds=cfg.ban_seconds,
        auth_fail_max=cfg.auth_fail_max,
        auth_fail_window_s=cfg.auth_fail_window_s,
        max_message_bytes=cfg.max_message_bytes,
        log_level=cfg.log_level,
    )


def write_config(cfg: EdgeConfig) -> Path:
    """Render the config into the run directory and return its path."""
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.run_dir / "kamailio.cfg"
    path.write_text(render(cfg), encoding="utf-8")
    return path


def kamailio_binary() -> str:
    """Path of the kamailio program."""
    found = shutil.which("kamailio") or ("/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None)
    if not found:
        raise FileNotFoundError("kamailio not installed: run ./setup.sh install")
    return found


def command(config_path: Path, run_dir: Path, shm_mb: int = 64, pkg_mb: int = 8) -> list[str]:
    """The command line that runs Kamailio in the foreground, logging to stderr."""
    return [
        kamailio_binary(), "-DD", "-E", "-f", str(config_path),
        "-P", str(run_dir / "kamailio.pid"), "-Y", str(run_dir),
        "-m", str(shm_mb), "-M", str(pkg_mb),
    ]


def check_config(config_path: Path) -> None:
    """Ask Kamailio to parse the config; raise with its complaint if it does not."""
    import subprocess

    res = subprocess.run(
        [kamailio_binary(), "-c", "-f", str(config_path)], capture_output=True, text=True, timeout=30
    )
    if res.returncode != 0:
        raise ValueError(f"kamailio rejects {config_path}:\n{res.stderr[-4000:]}")


def options_ping(ip: str, port: int, timeout: float = 0.5) -> int | None:
    """Send one OPTIONS to the edge; return the status code, or None on no answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((ip, 0))
        lport = s.getsockname()[1]
        tag = f"{time.monotonic_ns()}"
        msg = (
            f"OPTIONS sip:{ip}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {ip}:{lport};branch=z9hG4bK{tag}\r\n"
            f"From: <sip:health@{ip}>;tag={tag}\r\nTo: <sip:{ip}:{port}>\r\n"
            f"Call-ID: health-{tag}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "User-Agent: appliance-health\r\nContent-Length: 0\r\n\r\n"
        )
        s.settimeout(timeout)
        s.sendto(msg.encode(), (ip, port))
        try:
            data = s.recv(65535)
        except OSError:
            return None
    first = data.split(b"\r\n", 1)[0].decode(errors="replace").split()
    return int(first[1]) if len(first) >= 2 and first[1].isdigit() else None


async def wait_ready(ip: str, port: int, timeout: float = 15.0) -> None:
    """Wait until Kamailio answers OPTIONS."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = await asyncio.to_thread(options_ping, ip, port, 0.3)
        if code is not None:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"kamailio on {ip}:{port} did not answer within {timeout} s")
