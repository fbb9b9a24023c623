"""Feature route sources see the numbering plan being installed, not the one it replaces."""

from __future__ import annotations

import dataclasses

from appliance.app import Controller
from appliance.domain.dialplan import MediaService, ToMedia


async def test_a_new_extension_gets_its_feature_number_in_the_same_update(ctl: Controller) -> None:
    sessions = ctl.sessions
    sessions.route_sources.append(
        lambda: {f"*99{e}": ToMedia(MediaService.VOICEMAIL, e) for e in sessions.directory.extensions})
    sessions.refresh_routes()
    assert "*99150" not in sessions.directory.services
    sessions.directory = dataclasses.replace(sessions.directory,
                                             extensions=sessions.directory.extensions | {"150"})
    assert sessions.directory.services["*99150"] == ToMedia(MediaService.VOICEMAIL, "150")
    assert "*98150" in sessions.directory.services  # the box's own voicemail source too
