"""USB re-enumeration through sysfs, on a sysfs tree built like the kernel's."""

from __future__ import annotations

from pathlib import Path

from firmware_bridge.usb import reenumerate, usb_device_of


def fake_sysfs(root: Path) -> Path:
    """/sys with a Quectel EC25 at 1-1.3 whose interface 1-1.3:1.2 is ttyUSB2."""
    device = root / "devices" / "pci0000:00" / "usb1" / "1-1" / "1-1.3"
    interface = device / "1-1.3:1.2"
    (interface / "ttyUSB2").mkdir(parents=True)
    (device / "authorized").write_text("1")
    (device / "idVendor").write_text("2c7c")
    tty = root / "class" / "tty" / "ttyUSB2"
    tty.mkdir(parents=True)
    (tty / "device").symlink_to(interface)
    return device


def test_the_device_behind_a_stable_name_is_deauthorised_then_authorised(tmp_path: Path) -> None:
    sysfs = tmp_path / "sys"
    device = fake_sysfs(sysfs)
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "ttyUSB2").touch()
    (dev / "modem-at").symlink_to(dev / "ttyUSB2")  # the udev rule's stable name
    assert usb_device_of(str(dev / "modem-at"), sysfs) == device.resolve()
    writes: list[str] = []

    def pause(_: float) -> None:
        writes.append((device / "authorized").read_text())

    assert reenumerate(str(dev / "modem-at"), sysfs, sleep=pause) is True
    assert writes == ["0"] and (device / "authorized").read_text() == "1"


def test_a_port_that_is_not_usb_is_left_alone(tmp_path: Path) -> None:
    sysfs = tmp_path / "sys"
    fake_sysfs(sysfs)
    assert usb_device_of("/dev/ttyS0", sysfs) is None
    assert reenumerate("/dev/ttyS0", sysfs, sleep=lambda _: None) is False
