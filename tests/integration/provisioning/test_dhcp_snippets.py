"""DHCP option 66/160 snippets pass the real dnsmasq and ISC dhcpd syntax checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from provisioning.profile import InvalidProfile, SiteSettings
from provisioning.render import render_dhcp_snippets

URL = "https://192.168.1.2:8443/prov/"


def snippets(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in render_dhcp_snippets(SiteSettings(sip_host="192.168.1.2",
                                                         provisioning_url=URL)).items():
        path = tmp_path / name
        path.write_text(text)
        out[name] = path
    return out


def test_dnsmasq_accepts_the_snippet(tmp_path: Path) -> None:
    path = snippets(tmp_path)["dnsmasq.conf"]
    assert f'dhcp-option=66,"{URL}"' in path.read_text()
    result = subprocess.run(["dnsmasq", "--test", f"--conf-file={path}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "syntax check OK" in result.stderr


def test_isc_dhcpd_accepts_the_snippet(tmp_path: Path) -> None:
    path = snippets(tmp_path)["dhcpd.conf"]
    assert f'option tftp-server-name "{URL}";' in path.read_text()
    result = subprocess.run(["dhcpd", "-t", "-cf", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_checkers_do_reject_a_broken_snippet(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text('option tftp-server-name "x"\n')  # missing ';'
    assert subprocess.run(["dhcpd", "-t", "-cf", str(bad)], capture_output=True,
                          timeout=30).returncode != 0
    bad.write_text('dhcp-option=66,"x\n')
    assert subprocess.run(["dnsmasq", "--test", f"--conf-file={bad}"], capture_output=True,
                          timeout=30).returncode != 0


@pytest.mark.parametrize("url", ['http://x/"; option evil', "http://x/a b", "http://x/\\"])
def test_urls_that_would_break_a_snippet_are_refused(url: str) -> None:
    with pytest.raises(InvalidProfile):
        SiteSettings(sip_host="h", provisioning_url=url)
