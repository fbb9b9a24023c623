"""The system status document: workers and their load, sessions, alarms, disk, CPU load."""

from __future__ import annotations

import os
import shutil

from web.local.models import StatusPublic, WorkerPublic
from web.local.services import Services


async def system_status(services: Services) -> StatusPublic:
    """Derived on each call from the controller's live state (nothing stored)."""
    ctl = services.ctl
    load = ctl.sessions.placement.load()
    disk = shutil.disk_usage(services.data_dir if services.data_dir.exists() else ".")
    return StatusPublic(
        workers=[WorkerPublic(name=n, legs_reserved=used, capacity=cap) for n, (used, cap) in load.items()],
        sessions=len(ctl.sessions.sessions),
        open_alarms=await services.reports.open_alarm_count(),
        load_average=[round(x, 2) for x in os.getloadavg()],
        disk_free_bytes=disk.free,
        disk_total_bytes=disk.total,
    )
