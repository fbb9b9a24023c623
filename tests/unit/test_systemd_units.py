"""The production systemd units: installed into an image tree, verified, sandboxed.

`systemd/install.sh --root DIR` installs the units, the system user and the data-dir
layout into DIR exactly as it would on a box, without a running systemd. The tree holds
a copy of the host's stock units (multi-user.target, network-online.target, ...) and the
executables the units start, at their install paths: Kamailio is the real binary, the
`appliance` entry point is this checkout's console script. `systemd-analyze verify` and
`systemd-analyze security --offline` then read the installed units from that tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT_DIR = REPO / "systemd"
INSTALL_PREFIX = Path("/opt/appliance/.venv")  # where install.sh expects the virtualenv
DATA_DIR = "/var/lib/appliance"

SERVICES = sorted(p.name for p in UNIT_DIR.glob("*.service"))
LONG_RUNNING = [s for s in SERVICES if s != "appliance-kamailio-config.service"]
ALLOWED_FAMILIES = {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"}
# Every service: these keys with exactly these values.
REQUIRED_SANDBOXING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
}
EXPOSURE_THRESHOLD = 20  # systemd-analyze security scale in tenths: 2.0 of 10 at most


@dataclass
class UnitFile:
    """A unit file as systemd reads it: sections of keys, each key with its assignments."""

    name: str
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def values(self, section: str, key: str) -> list[str]:
        """All assignments of key, honouring systemd's empty assignment that resets a list."""
        result: list[str] = []
        for value in self.sections.get(section, {}).get(key, []):
            if value == "":
                result = []
            else:
                result.extend(value.split())
        return result

    def last(self, section: str, key: str) -> str | None:
        """The value of a single-valued key (the last assignment wins), None if unset."""
        assigned = self.sections.get(section, {}).get(key)
        return assigned[-1] if assigned else None


def parse_unit(path: Path) -> UnitFile:
    """Parse a unit file: [Section] headers, Key=Value lines, # and ; comments."""
    unit = UnitFile(path.name)
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.sections.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a Key=Value line: {raw!r}"
        unit.sections[section].setdefault(key.strip(), []).append(value.strip())
    return unit


def instance_name(unit: str) -> str:
    """A concrete name for verify: templates get instance 1."""
    return unit.replace("@.", "@1.")


def unit_exists(name: str) -> bool:
    """Whether a unit name resolves to one of our files (templates too) or a stock unit."""
    if "@" in name:
        prefix, _, rest = name.partition("@")
        name_as_template = f"{prefix}@.{rest.rpartition('.')[2]}"
        candidates = [name, name_as_template]
    else:
        candidates = [name]
    stock = Path("/usr/lib/systemd/system")
    return any((UNIT_DIR / c).is_file() or (stock / c).is_file() for c in candidates)


def systemd_analyze() -> str:
    """Path of systemd-analyze, or a failure naming the Debian package to install."""
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze not found: install the Debian package `systemd`")
    return found


def executables(unit: UnitFile) -> list[Path]:
    """Absolute program paths in ExecStart= and ExecStartPre=, prefixes like - and + removed."""
    programs = []
    for key in ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop"):
        for command in unit.sections.get("Service", {}).get(key, []):
            program = command.split()[0].lstrip("-+!@:")
            programs.append(Path(program))
    return programs


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An image tree with stock units, our executables in place and install.sh run on it."""
    systemd_analyze()
    root = tmp_path_factory.mktemp("image")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    checkout_venv_bin = Path(sys.executable).parent
    for service in SERVICES:
        for program in executables(parse_unit(UNIT_DIR / service)):
            assert program.is_absolute(), f"{service}: {program} is not an absolute path"
            if program.is_relative_to(INSTALL_PREFIX):
                source = checkout_venv_bin / program.relative_to(INSTALL_PREFIX / "bin")
            else:
                source = program
            assert source.exists(), f"{service}: {source} is not installed on this machine"
            target = root / program.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    result = subprocess.run(
        [str(UNIT_DIR / "install.sh"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_verify(root: Path, unit: str) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` of one installed unit inside the image tree."""
    return subprocess.run(
        [systemd_analyze(), "verify", "--man=no", f"--root={root}", unit],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


ALL_UNITS = sorted(
    p.name for p in UNIT_DIR.iterdir() if p.suffix in {".service", ".target", ".slice"}
)


@pytest.mark.parametrize("unit", ALL_UNITS)
def test_unit_passes_systemd_analyze_verify_without_warnings(image_root: Path, unit: str) -> None:
    result = run_verify(image_root, instance_name(unit))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"verify warned about {unit}:\n{result.stderr}"


def test_verify_catches_what_this_suite_relies_on(image_root: Path, tmp_path: Path) -> None:
    """A missing program fails verify; a misspelt key is a warning (which we treat as failure)."""
    unit_dir = image_root / "etc/systemd/system"
    broken = unit_dir / "appliance-broken.service"
    source = (UNIT_DIR / "appliance-controller.service").read_text()
    try:
        broken.write_text(source.replace("/opt/appliance/.venv/bin/appliance", "/opt/nowhere/app"))
        missing_program = run_verify(image_root, broken.name)
        broken.write_text(source.replace("ProtectSystem=strict", "ProtectSytem=strict"))
        misspelt_key = run_verify(image_root, broken.name)
    finally:
        broken.unlink()
    assert missing_program.returncode != 0
    assert "/opt/nowhere/app" in missing_program.stderr
    assert "Unknown key" in misspelt_key.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_required_sandboxing(service: str) -> None:
    unit = parse_unit(UNIT_DIR / service)
    missing = {
        key: unit.last("Service", key)
        for key, wanted in REQUIRED_SANDBOXING.items()
        if unit.last("Service", key) != wanted
    }
    assert missing == {}, f"{service}: wrong or missing sandboxing keys {missing}"
    families = set(unit.values("Service", "RestrictAddressFamilies"))
    assert families and families <= ALLOWED_FAMILIES, families
    assert "CapabilityBoundingSet" in unit.sections["Service"]
    capabilities = set(unit.values("Service", "CapabilityBoundingSet"))
    if service == "appliance-kamailio.service":
        assert capabilities == {"CAP_NET_BIND_SERVICE"}
        assert set(unit.values("Service", "AmbientCapabilities")) == {"CAP_NET_BIND_SERVICE"}
    else:
        assert capabilities == set(), f"{service} keeps capabilities {capabilities}"
    assert unit.last("Service", "MemoryMax") is not None
    assert "@system-service" in unit.values("Service", "SystemCallFilter")


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_as_a_persistent_unprivileged_user(service: str) -> None:
    unit = parse_unit(UNIT_DIR / service)
    user = unit.last("Service", "User")
    assert user in {"appliance", "kamailio"}, f"{service} runs as {user!r}"
    assert unit.last("Service", "DynamicUser") in {None, "no"}
    if user == "appliance":
        state_dir = unit.last("Service", "StateDirectory")
        assert state_dir is not None
        assert f"/var/lib/{state_dir}" in unit.values("Service", "ReadWritePaths")


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_long_running_service_restarts_with_pacing_and_a_start_limit(service: str) -> None:
    unit = parse_unit(UNIT_DIR / service)
    assert unit.last("Service", "Restart") in {"on-failure", "always"}
    assert unit.last("Service", "RestartSec") is not None
    assert unit.last("Unit", "StartLimitIntervalSec") is not None
    assert unit.last("Unit", "StartLimitBurst") is not None


@pytest.mark.parametrize("service", SERVICES)
def test_watchdog_pings_are_accepted_where_a_watchdog_is_set(service: str) -> None:
    """WatchdogSec without NotifyAccess on a Type=simple unit ignores every ping: a kill loop."""
    unit = parse_unit(UNIT_DIR / service)
    if unit.last("Service", "WatchdogSec") is not None:
        assert unit.last("Service", "NotifyAccess") in {"main", "all"}


def test_controller_has_a_watchdog() -> None:
    unit = parse_unit(UNIT_DIR / "appliance-controller.service")
    assert unit.last("Service", "WatchdogSec") == "30s"


def test_every_unit_the_target_wants_exists() -> None:
    target = parse_unit(UNIT_DIR / "appliance.target")
    wanted = target.values("Unit", "Wants") + target.values("Unit", "Requires")
    assert {
        "appliance-controller.service",
        "appliance-kamailio.service",
        "appliance-firmware-bridge.service",
    } <= set(wanted)
    assert any(w.startswith("appliance-worker@") for w in wanted)
    assert [w for w in wanted if not unit_exists(w)] == []


@pytest.mark.parametrize("unit_name", ALL_UNITS)
def test_every_dependency_and_slice_named_exists(unit_name: str) -> None:
    unit = parse_unit(UNIT_DIR / unit_name)
    named = [
        name
        for key in ("Wants", "Requires", "BindsTo", "PartOf", "After", "Before", "Conflicts")
        for name in unit.values("Unit", key)
        if name.startswith("appliance")
    ]
    slice_name = unit.last("Service", "Slice")
    if slice_name is not None:
        named.append(slice_name)
    assert [n for n in named if not unit_exists(n)] == []


def test_target_members_stop_with_the_target() -> None:
    target = parse_unit(UNIT_DIR / "appliance.target")
    for member in target.values("Unit", "Wants"):
        if member.startswith("appliance-"):
            prefix, at, rest = member.partition("@")
            file_name = f"{prefix}@.{rest.rpartition('.')[2]}" if at else member
            unit = parse_unit(UNIT_DIR / file_name)
            assert "appliance.target" in unit.values("Unit", "PartOf"), member


def test_kamailio_runs_the_rendered_config_as_its_own_user() -> None:
    unit = parse_unit(UNIT_DIR / "appliance-kamailio.service")
    assert unit.last("Service", "ExecStart") == (
        "/usr/sbin/kamailio -DD -E -f /var/lib/appliance/run/kamailio.cfg -Y /run/appliance-kamailio"
    )
    assert unit.last("Service", "User") == "kamailio"
    assert "appliance" in unit.values("Service", "SupplementaryGroups")
    assert "appliance-kamailio-config.service" in unit.values("Unit", "Requires")
    assert "appliance-kamailio-config.service" in unit.values("Unit", "After")
    assert "kamailio.service" in unit.values("Unit", "Conflicts")
    renderer = parse_unit(UNIT_DIR / "appliance-kamailio-config.service")
    assert renderer.last("Service", "ExecStart") == (
        "/opt/appliance/.venv/bin/appliance render-kamailio --data-dir /var/lib/appliance"
        " --ctl-socket /run/appliance-kamailio/kamailio_ctl"
    )
    assert renderer.last("Service", "User") == "appliance"


def test_worker_template_names_each_instance() -> None:
    unit = parse_unit(UNIT_DIR / "appliance-worker@.service")
    assert unit.last("Service", "ExecStart") == (
        "/opt/appliance/.venv/bin/appliance worker --name w%i --data-dir /var/lib/appliance"
    )


def test_firmware_bridge_reaches_serial_and_usb_audio_devices_only() -> None:
    unit = parse_unit(UNIT_DIR / "appliance-firmware-bridge.service")
    assert unit.last("Service", "PrivateDevices") == "no"
    assert unit.last("Service", "DevicePolicy") == "closed"
    allowed = unit.sections["Service"]["DeviceAllow"]
    assert "char-ttyUSB rw" in allowed
    assert "dialout" in unit.values("Service", "SupplementaryGroups")
    for other in SERVICES:
        if other != "appliance-firmware-bridge.service":
            assert parse_unit(UNIT_DIR / other).last("Service", "PrivateDevices") == "yes", other


def test_install_creates_the_user_the_data_dir_and_enables_the_target(image_root: Path) -> None:
    passwd = (image_root / "etc/passwd").read_text().splitlines()
    entry = next(line.split(":") for line in passwd if line.startswith("appliance:"))
    assert entry[5] == DATA_DIR and entry[6] == "/usr/sbin/nologin"
    uid = int(entry[2])
    assert uid < 1000, "a system user"
    for sub in ("", "run", "recordings"):
        st = (image_root / DATA_DIR.lstrip("/") / sub).stat()
        assert st.st_uid == uid and (st.st_mode & 0o777) == 0o750, sub
    link = image_root / "etc/systemd/system/multi-user.target.wants/appliance.target"
    assert os.readlink(link) == "/etc/systemd/system/appliance.target"


@pytest.mark.parametrize("service", SERVICES)
def test_exposure_score_is_low(image_root: Path, service: str) -> None:
    result = subprocess.run(
        [
            systemd_analyze(),
            "security",
            "--offline=yes",
            f"--root={image_root}",
            f"--threshold={EXPOSURE_THRESHOLD}",
            instance_name(service),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    overall = [line for line in result.stdout.splitlines() if "Overall exposure" in line]
    assert result.returncode == 0, overall or result.stderr
