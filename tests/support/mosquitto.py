"""Start and stop a real mosquitto on a free loopback port for tests.

The generated config has a password file (made with mosquitto_passwd), per-box ACLs (a
box, whose username is its node id, may only publish under its own node id and read only
its own cfg/desired and cmd/#), persistence (so acknowledged messages survive a broker
restart) and, when asked, a TLS listener with a test CA made with the openssl CLI.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port

FLEET_USER = "fleet"


def acl_text(prefix: str, fleet_user: str = FLEET_USER) -> str:
    """Return the mosquitto ACL file: the fleet reads/writes all, each box only its own."""
    base = f"{prefix}/v1/%u"
    return "\n".join([
        f"user {fleet_user}",
        f"topic readwrite {prefix}/v1/#",
        "",
        f"pattern write {base}/state",
        f"pattern write {base}/birth",
        f"pattern write {base}/evt/#",
        f"pattern write {base}/alarm",
        f"pattern write {base}/cfg/reported",
        f"pattern write {base}/cmd_res/#",
        f"pattern read {base}/cfg/desired",
        f"pattern read {base}/cmd/#",
        "",
    ])


@dataclass
class BrokerCa:
    """Files of a throw-away CA and a server certificate for 127.0.0.1."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    def client_cert(self, cn: str) -> tuple[Path, Path]:
        """Issue a client certificate whose CN is `cn`; return (cert, key)."""
        d = self.ca_cert.parent
        key, csr, crt = d / f"{cn}.key", d / f"{cn}.csr", d / f"{cn}.crt"
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/CN={cn}")
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                 "-CAcreateserial", "-out", crt, "-days", "2")
        return crt, key


def _openssl(*args: object) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_test_ca(directory: Path) -> BrokerCa:
    """Create a CA and a server certificate (SAN IP:127.0.0.1) with the openssl CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out",
             ca_cert, "-days", "2", "-subj", "/CN=test-ca")
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=127.0.0.1")
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
             "-out", crt, "-days", "2", "-extfile", ext)
    return BrokerCa(ca_cert, ca_key, crt, key)


@dataclass
class Mosquitto:
    """A mosquitto process with its generated config; `start`/`stop` may be repeated."""

    workdir: Path
    users: dict[str, str]
    prefix: str = "cc"
    port: int = 0
    tls: BrokerCa | None = None
    tls_port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(socket.SOCK_STREAM)
        if self.tls is not None:
            self.tls_port = self.tls_port or free_port(socket.SOCK_STREAM)
        passwd = self.workdir / "passwd"
        passwd.write_text("")
        for user, password in self.users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True,
                           capture_output=True)
        (self.workdir / "acl").write_text(acl_text(self.prefix))
        (self.workdir / "data").mkdir(exist_ok=True)
        lines = [
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {self.workdir / 'acl'}",
            "persistence true",
            f"persistence_location {self.workdir / 'data'}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            "max_inflight_messages 100",
            f"log_dest file {self.workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "user root",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.tls is not None:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.tls.ca_cert}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        (self.workdir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and return once it accepts TCP connections."""
        if self.proc is not None:
            raise RuntimeError("mosquitto already running")
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.workdir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                self.proc = None
                raise RuntimeError(f"mosquitto exited at start: {err}{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mosquitto did not listen in time") from None
                time.sleep(0.02)  # readiness probe of an external process, not test sync

    def stop(self) -> None:
        """Stop the broker gracefully (it saves its persistence file)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def log(self) -> str:
        """Return the broker log."""
        p = self.workdir / "mosquitto.log"
        return p.read_text() if p.exists() else ""
