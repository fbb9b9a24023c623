"""The voicemail numbers in the dial plan follow the directory: *97, *97<queue>, *98<mailbox>."""

from __future__ import annotations

from pathlib import Path

from appliance.app import build_controller
from appliance.config import Settings
from appliance.domain.dialplan import MediaService, ToMedia, route


async def test_an_extension_added_later_gets_its_direct_mailbox_number_at_once(tmp_path: Path) -> None:
    ctl = await build_controller(Settings(data_dir=tmp_path / "data", demo=True))
    try:
        assert route("*98102", "101", ctl.sessions.directory) == ToMedia(MediaService.VOICEMAIL, "102")
        assert route("*98106", "101", ctl.sessions.directory) != ToMedia(MediaService.VOICEMAIL, "106")
        await ctl.edge.directory.create_extension("106", "New desk")
        await ctl.reload_directory()
        assert route("*98106", "101", ctl.sessions.directory) == ToMedia(MediaService.VOICEMAIL, "106")
        assert route("*97", "106", ctl.sessions.directory) == ToMedia(MediaService.VOICEMAIL_MAIN, "*97")
    finally:
        await ctl.db.close()
