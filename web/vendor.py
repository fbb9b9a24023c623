"""Fetch the pinned browser libraries from the npm registry into web/local/static/vendor/ (no CDN at run time).

Run at build time: `python -m web.vendor`. Each package is pinned by version and by the
registry's sha512 integrity; a tarball that does not match is refused and nothing is written.
Idempotent: a file already present with the recorded sha256 is not fetched again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).parent / "local" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Asset:
    """One file taken out of one pinned npm package."""

    package: str
    version: str
    integrity: str  # the registry's "sha512-<base64>" of the tarball
    member: str  # path inside the tarball
    target: str  # file name under vendor/

    @property
    def url(self) -> str:
        """The tarball's address on the registry."""
        return f"{REGISTRY}/{self.package}/-/{self.package.split('/')[-1]}-{self.version}.tgz"


ASSETS = (
    Asset("chart.js", "4.4.7",
          "sha512-pwkcKfdzTMAU/+jNosKhNL2bHtJc/sSmYgVbuGTEDhzkrhmyihmP7vUc/5ZK9WopidMDHNe3Wm7jOd/WhuHWuw==",
          "package/dist/chart.umd.js", "chart.umd.js"),
    Asset("chart.js", "4.4.7",
          "sha512-pwkcKfdzTMAU/+jNosKhNL2bHtJc/sSmYgVbuGTEDhzkrhmyihmP7vUc/5ZK9WopidMDHNe3Wm7jOd/WhuHWuw==",
          "package/LICENSE.md", "chart.js.LICENSE.md"),
)


class IntegrityError(RuntimeError):
    """A downloaded tarball is not the pinned one."""


def check_integrity(blob: bytes, integrity: str) -> None:
    """Raise IntegrityError unless `blob` has the npm `sha512-…` integrity."""
    algo, _, want = integrity.partition("-")
    if algo != "sha512":
        raise IntegrityError(f"unsupported integrity {algo}")
    got = base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if got != want:
        raise IntegrityError(f"sha512 mismatch: want {want}, got {got}")


def extract(blob: bytes, member: str) -> bytes:
    """One file's bytes out of a .tgz."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise IntegrityError(f"{member} is not a file in the tarball")
        return f.read()


def fetch(url: str) -> bytes:
    """GET a URL (stdlib only)."""
    with urllib.request.urlopen(url, timeout=60) as r:
        data: bytes = r.read()
        return data


def vendor(dest: Path = VENDOR) -> list[Path]:
    """Make every pinned asset present in `dest`; returns the files written (empty when all were there)."""
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    tarballs: dict[str, bytes] = {}
    for asset in ASSETS:
        target = dest / asset.target
        stamp = dest / f"{asset.target}.{asset.version}.sha256"
        if target.is_file() and stamp.is_file() and \
                hashlib.sha256(target.read_bytes()).hexdigest() == stamp.read_text().strip():
            continue
        if asset.url not in tarballs:
            blob = fetch(asset.url)
            check_integrity(blob, asset.integrity)
            tarballs[asset.url] = blob
        data = extract(tarballs[asset.url], asset.member)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        stamp.write_text(hashlib.sha256(data).hexdigest() + "\n")
        written.append(target)
    return written


def main() -> int:
    """Command-line entry: vendor everything, print what was written."""
    try:
        for p in vendor():
            print(f"vendored {p}")
    except (IntegrityError, OSError) as exc:
        print(f"vendor failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
