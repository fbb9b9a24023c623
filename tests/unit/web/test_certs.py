"""HTTPS certificate: self-signed at first start, uploaded ones checked before use."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509

from appliance.web_services import certs
from appliance.web_services.errors import Invalid


def test_first_start_generates_once(tmp_path: Path) -> None:
    cert, key = certs.ensure_certificate(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert parsed.not_valid_after_utc - parsed.not_valid_before_utc > dt.timedelta(days=3000)
    first = cert.read_bytes()
    assert certs.ensure_certificate(tmp_path) == (cert, key) and cert.read_bytes() == first
    certs.check_pair(cert.read_bytes(), key.read_bytes())


def test_upload_replaces_and_keeps_the_previous_pair(tmp_path: Path) -> None:
    cert, key = certs.ensure_certificate(tmp_path)
    old = cert.read_bytes()
    new_cert, new_key = certs.self_signed("pbx.example.test")
    certs.install_certificate(tmp_path, new_cert, new_key)
    assert cert.read_bytes() == new_cert and key.read_bytes() == new_key
    assert (cert.parent / "previous" / "cert.pem").read_bytes() == old
    assert "CN=pbx.example.test" in certs.describe(cert)["subject"]


@pytest.mark.parametrize("case", ["junk_cert", "junk_key", "mismatch", "expired", "encrypted_key"])
def test_bad_uploads_are_refused_and_change_nothing(tmp_path: Path, case: str) -> None:
    cert, key = certs.ensure_certificate(tmp_path)
    before = (cert.read_bytes(), key.read_bytes())
    good_cert, good_key = certs.self_signed("a.test")
    other_cert, _ = certs.self_signed("b.test")
    old_cert, old_key = certs.self_signed("old.test", now=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    from cryptography.hazmat.primitives import serialization

    enc = serialization.load_pem_private_key(good_key, None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    pair, error_id = {
        "junk_cert": ((b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", good_key),
                      "certificate_invalid"),
        "junk_key": ((good_cert, b"not a key"), "key_invalid"),
        "mismatch": ((other_cert, good_key), "key_mismatch"),
        "expired": ((old_cert, old_key), "certificate_expired"),
        "encrypted_key": ((good_cert, enc), "key_invalid"),
    }[case]
    with pytest.raises(Invalid) as e:
        certs.install_certificate(tmp_path, *pair)
    assert e.value.error_id == error_id
    assert (cert.read_bytes(), key.read_bytes()) == before
