"""Demo mode with the project's modem simulator (`appliance run --modem-sim PROFILE`).

No modem is needed to see the GSM side work: `appliance run` supervises the simulator (a
pseudo-terminal speaking the profile's AT dialect, PCM on a second one), the firmware bridge
drives it like a real modem (SMS, status, the SIP<->GSM voice gateway), and the first start
seeds the GSM line as trunk `gsm-sim`: calls to the simulated line's number ring
reception (101), national numbers 0XXXXXXXXX leave over it (the simulator's far end answers
after 2 s and plays a 1 kHz tone). `python -m firmware_bridge.simulator` is the same simulator.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiosqlite

from appliance.storage.ivr import DidRow, IvrStore
from appliance.storage.trunks import TrunkStore
from appliance.trunks.model import CallerIdMode, CallerIdRule, OutboundRoute, Trunk, TrunkKind
from provisioning.secrets import SecretBox, load_or_create_key

log = logging.getLogger(__name__)

SIM_TRUNK = "gsm-sim"
SIM_NUMBER = "+15550001000"  # the simulated SIM's own number (firmware_bridge/simulator/messaging.py)
SIM_DID_DESTINATION = "extension:101"
SIM_ROUTE_PATTERN = r"0[1-9][0-9]{8}"


def modem_settings(profile: str, run_dir: Path, gateway_sip_port: int) -> dict[str, Any]:
    """`extra.modem` for the simulator: its ptys under run/modemsim, the gateway on its own SIP port."""
    folder = run_dir / "modemsim"
    return {
        "port": str(folder / f"tty{profile}"), "profile": profile, "simulator": True,
        "voice": {"pcm_port": str(folder / f"tty{profile}-audio"), "sip_port": gateway_sip_port,
                  "did": SIM_NUMBER},
    }


async def seed_simulated_line(db: aiosqlite.Connection, data_dir: Path, modem: dict[str, Any]) -> bool:
    """First start in simulator mode: trunk, route and DID for the simulated line (once); True if seeded."""
    voice = modem.get("voice") or {}
    if not modem.get("simulator") or not voice:
        return False
    store = TrunkStore(db, SecretBox(load_or_create_key(data_dir / "keys" / "trunks.key")))
    if SIM_TRUNK in (await store.load()).trunks:
        return False
    keep = CallerIdRule(CallerIdMode.KEEP)
    await store.put_trunk(Trunk(SIM_TRUNK, TrunkKind.GSM, "127.0.0.1", int(voice["sip_port"]), health_check=False),
                          None, create=True)
    await store.put_route(OutboundRoute(SIM_TRUNK, SIM_ROUTE_PATTERN, (SIM_TRUNK,),
                                        {TrunkKind.GSM: keep, TrunkKind.SIP: keep}), create=True)
    await IvrStore(db).put_did(DidRow(SIM_NUMBER, SIM_DID_DESTINATION, "the simulated GSM line (demo)"))
    await db.commit()
    log.warning("modem simulator: trunk %s, route %s -> it, DID %s -> %s", SIM_TRUNK, SIM_ROUTE_PATTERN,
                SIM_NUMBER, SIM_DID_DESTINATION)
    return True
