"""The web app's services, wired from the controller."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from appliance.domain.clock import Clock
from appliance.web_services.access import AccessService
from appliance.web_services.agent_desk import AgentDesk
from appliance.web_services.backup import BackupService
from appliance.web_services.desk_calls import DeskCalls
from appliance.web_services.directory_admin import DirectoryAdmin
from appliance.web_services.health import Health, LogBuffer
from appliance.web_services.kpi_reports import KpiReports
from appliance.web_services.queue_admin import QueueAdmin
from appliance.web_services.reports import Reports
from appliance.web_services.system import SystemAdmin
from appliance.web_services.tx import Writer
from appliance.web_services.users import UserService

if TYPE_CHECKING:
    from appliance.app import Controller


log = logging.getLogger(__name__)


async def reload_after_restore(ctl: Controller) -> None:
    """Make the running controller use restored configuration: directory, queues, feature numbers.

    The ACD first (agents' skills, queues loaded, replaced or dropped), so the directory reload
    routes exactly the restored queue numbers.
    """
    if ctl.sessions.queues is not None:
        await ctl.queues.reload()  # a dropped queue with calls in it keeps them, takes no new ones
        await ctl.queues.tick()  # the new configuration may make a waiting caller eligible now
    await ctl.reload_directory()
    ctl.sessions.refresh_routes()
    log.info("configuration restored; features that read their tables only at start need a restart")


@dataclass
class Services:
    """Everything a handler may call."""

    ctl: Controller
    clock: Clock
    data_dir: Path
    users: UserService
    access: AccessService
    directory: DirectoryAdmin
    reports: Reports
    system: SystemAdmin
    desk: AgentDesk
    kpis: KpiReports
    backup: BackupService
    health: Health
    calls: DeskCalls
    logs: LogBuffer
    queues: QueueAdmin

    @classmethod
    def from_controller(cls, ctl: Controller) -> Services:
        """Wire the services on the controller's database and clock."""
        writer = Writer(ctl.settings.db_path)
        logs = LogBuffer()
        logs.setLevel(logging.INFO)
        logging.getLogger().addHandler(logs)  # the controller's log, for the admin's live view
        users = UserService(ctl.db, writer, ctl.clock)
        return cls(
            ctl=ctl, clock=ctl.clock, data_dir=ctl.settings.data_dir,
            users=users,
            access=AccessService(ctl.db, writer, ctl.clock, users),
            directory=DirectoryAdmin(ctl.db, writer, ctl.clock, ctl.settings.realm, ctl.reload_directory),
            reports=Reports(ctl.db, writer, ctl.clock, ctl.settings.data_dir),
            system=SystemAdmin(writer, ctl.clock, ctl.settings.data_dir),
            desk=AgentDesk(ctl.db, writer, ctl.clock, lambda: ctl.queues),
            kpis=KpiReports(ctl.db, ctl.clock),
            health=Health(ctl, logs), logs=logs, calls=DeskCalls(ctl.db, writer, ctl.clock, lambda: ctl.queues),
            backup=BackupService(writer, ctl.clock, socket.gethostname(), lambda: reload_after_restore(ctl)),
            queues=QueueAdmin(writer, ctl.clock, lambda: ctl.queues, lambda: ctl.sessions),
        )
