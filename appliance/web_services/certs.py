"""The web UI's TLS certificate: self-signed at first start, replaceable by an uploaded one."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from appliance.web_services.errors import Invalid

TLS_DIR = "tls"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"


def cert_paths(data_dir: Path) -> tuple[Path, Path]:
    """Where the certificate and its key live."""
    d = data_dir / TLS_DIR
    return d / CERT_FILE, d / KEY_FILE


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def self_signed(hostname: str, now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """A new P-256 key and a self-signed certificate for `hostname`, localhost and 127.0.0.1 (PEM)."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Edge appliance (self-signed)")])
    san = x509.SubjectAlternativeName([
        x509.DNSName(hostname), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ensure_certificate(data_dir: Path) -> tuple[Path, Path]:
    """The certificate and key paths, generating a self-signed pair on first start."""
    cert, key = cert_paths(data_dir)
    if cert.exists() and key.exists():
        return cert, key
    cert.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_pem, key_pem = self_signed(socket.gethostname() or "appliance")
    _write_private(key, key_pem)
    _write_private(cert, cert_pem)
    return cert, key


def check_pair(cert_pem: bytes, key_pem: bytes, now: dt.datetime | None = None) -> x509.Certificate:
    """Parse an uploaded certificate and key; refuse junk, a mismatched key, an expired certificate."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise Invalid("certificate_invalid", "the certificate is not PEM", field="certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise Invalid("key_invalid", "the key is not an unencrypted PEM private key", field="key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise Invalid("key_invalid", "the key must be EC or RSA", field="key")
    leaf = certs[0]
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(serialization.Encoding.DER, pub) != key.public_key().public_bytes(
            serialization.Encoding.DER, pub):
        raise Invalid("key_mismatch", "the key does not belong to the certificate", field="key")
    if leaf.not_valid_after_utc <= now:
        raise Invalid("certificate_expired", "the certificate has expired", field="certificate",
                      not_after=leaf.not_valid_after_utc.isoformat())
    return leaf


def install_certificate(data_dir: Path, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
    """Replace the certificate with an uploaded one (checked first; used from the next start)."""
    check_pair(cert_pem, key_pem)
    cert, key = cert_paths(data_dir)
    cert.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Key first: a crash between the two writes leaves a mismatched pair that the next
    # ensure_certificate() would keep, so keep the old pair aside until both are written.
    backup = cert.parent / "previous"
    backup.mkdir(exist_ok=True, mode=0o700)
    for p in (cert, key):
        if p.exists():
            _write_private(backup / p.name, p.read_bytes())
    _write_private(key, key_pem)
    _write_private(cert, cert_pem)
    return cert, key


def describe(cert_path: Path) -> dict[str, str]:
    """Subject, issuer and validity of the certificate in use."""
    c = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return {
        "subject": c.subject.rfc4514_string(), "issuer": c.issuer.rfc4514_string(),
        "not_before": c.not_valid_before_utc.isoformat(), "not_after": c.not_valid_after_utc.isoformat(),
        "sha256": c.fingerprint(hashes.SHA256()).hex(":"),
    }
