"""The build-time vendoring of browser libraries: a tarball must match its pinned sha512, files come out whole."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile

import pytest

from web.vendor import ASSETS, IntegrityError, check_integrity, extract


def tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_integrity_is_checked_and_files_extracted() -> None:
    blob = tgz({"package/dist/chart.umd.js": b"/* chart */"})
    good = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
    check_integrity(blob, good)
    with pytest.raises(IntegrityError):
        check_integrity(blob + b"x", good)
    with pytest.raises(IntegrityError):
        check_integrity(blob, "sha1-abc")
    assert extract(blob, "package/dist/chart.umd.js") == b"/* chart */"
    with pytest.raises(KeyError):
        extract(blob, "package/missing.js")


def test_every_asset_is_pinned() -> None:
    for a in ASSETS:
        assert a.integrity.startswith("sha512-") and a.version.count(".") == 2
        assert a.url == f"https://registry.npmjs.org/{a.package}/-/{a.package}-{a.version}.tgz"
