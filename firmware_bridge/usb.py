"""USB re-enumeration of a modem that AT resets did not bring back (the health machine's
`power_cycle` hook).

Linux lets root de-authorise and re-authorise a USB device through sysfs: writing 0 then 1
to `/sys/bus/usb/devices/<dev>/authorized` makes the kernel drop the device and enumerate it
again, as if it were unplugged and plugged in. The device is found from the serial port:
`/sys/class/tty/<ttyUSB2>/device` is the USB interface; its parent is the device, the
directory that holds `authorized`. The udev rules in hardware/udev give the new ttys the
same stable names, so the bridge reopens the same path afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SYSFS = Path("/sys")


def usb_device_of(port: str, sysfs: Path = SYSFS) -> Path | None:
    """The sysfs directory of the USB device behind a serial port (symlinks followed), or None."""
    tty = Path(port).resolve().name
    interface = sysfs / "class" / "tty" / tty / "device"
    if not interface.exists():
        return None
    for candidate in (interface.resolve(), *interface.resolve().parents):
        if (candidate / "authorized").exists() and (candidate / "idVendor").exists():
            return candidate
        if candidate == sysfs:
            break
    return None


def reenumerate(port: str, sysfs: Path = SYSFS, pause_s: float = 1.0,
                sleep: Callable[[float], None] = time.sleep) -> bool:
    """De-authorise and re-authorise the modem's USB device; False (and a log line) when the port
    is not a USB device or sysfs refuses (not root)."""
    device = usb_device_of(port, sysfs)
    if device is None:
        log.warning("modem %s is not a USB device: no re-enumeration possible", port)
        return False
    try:
        (device / "authorized").write_text("0")
        sleep(pause_s)
        (device / "authorized").write_text("1")
    except OSError as exc:
        log.error("re-enumerating %s (%s) failed: %s", port, device.name, exc)
        return False
    log.warning("modem %s: USB device %s re-enumerated", port, device.name)
    return True
