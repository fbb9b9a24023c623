"""PnP over real multicast: phone and appliance in two network namespaces the test makes."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
URL = "http://10.77.0.1:8080/prov/"
BOX_IP, PHONE_IP = "10.77.0.1", "10.77.0.2"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth pair: `box` and `phone` on 10.77.0.0/24."""
    suffix = secrets.token_hex(3)
    box, phone = f"prov-box-{suffix}", f"prov-phone-{suffix}"
    created: list[str] = []
    try:
        for ns in (box, phone):
            ip("netns", "add", ns)
            created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("link", "add", f"vb{suffix}", "netns", box, "type", "veth",
           "peer", "name", f"vp{suffix}", "netns", phone)
        for ns, dev, addr in ((box, f"vb{suffix}", BOX_IP), (phone, f"vp{suffix}", PHONE_IP)):
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up", "multicast", "on")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
        yield box, phone
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=10)


def test_multicast_subscribe_in_a_namespace_gets_the_url(namespaces: tuple[str, str]) -> None:
    box, phone = namespaces
    responder = subprocess.Popen(
        ["ip", "netns", "exec", box, sys.executable, "-m", "provisioning.pnp",
         "--url", URL, "--bind", "224.0.1.75:5060", "--interface", BOX_IP],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert responder.stdout is not None
        assert responder.stdout.readline().strip() == "listening on 224.0.1.75:5060"
        result = subprocess.run(
            ["ip", "netns", "exec", phone, sys.executable,
             "-m", "tests.integration.provisioning.pnp_phone", PHONE_IP, "001565a0b0c0"],
            cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
        )
    finally:
        responder.terminate()
        try:
            responder.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            responder.kill()
            responder.communicate()
    ok, notify = json.loads(result.stdout)
    assert ok["start"] == "SIP/2.0 200 OK" and ok["call_id"] == "netns-1"
    assert ok["from"] == BOX_IP
    assert notify["start"] == f"NOTIFY sip:{PHONE_IP}:5060 SIP/2.0"
    assert notify["content_type"] == "application/url"
    assert notify["body"] == URL
