"""Media jobs of a worker: WAV players, tone generators and per-leg recorders.

`MediaJobs` is the part of the engine (appliance/media/engine.py) that owns these objects:
the commands that create them, their explicit destruction (never by the GC) and the timers
that end non-looping tones and report recordings once their files are final.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pjsua2 as pj

from appliance.media import protocol as p
from appliance.media.sip import Inbox, Player, make_tone
from appliance.media.wavfile import wav_is_final, wav_seconds

log = logging.getLogger(__name__)

WAV_CLOSE_TIMEOUT_S = 2.0  # pjmedia closes recorder files on its clock thread, soon after


class Clock(Protocol):
    """Monotonic seconds."""

    def __call__(self) -> float:
        """Return the current monotonic time in seconds."""
        ...


class CommandError(Exception):
    """A command that cannot be executed now; the text goes back to the controller."""


@dataclass
class PlayerJob:
    """A WAV player or tone generator feeding one leg."""

    id: str
    leg: str
    media: pj.AudioMediaPlayer | pj.ToneGenerator
    ends_at: float | None = None  # for non-looping tones (they have no EOF callback)


@dataclass
class Recording:
    """One recorder per leg, each holding only that leg's incoming audio."""

    id: str
    legs: tuple[str, ...]
    files: list[str]
    recorders: list[pj.AudioMediaRecorder] = field(default_factory=list)
    started_at: float = 0.0
    closing_since: float | None = None


class MediaJobs:
    """Players and recorders of the engine (a base class of `Engine`)."""

    players: dict[str, PlayerJob]
    recordings: dict[str, Recording]
    closing: dict[str, Recording]  # recorders destroyed, files not yet final
    inbox: Inbox
    emit: Callable[[bytes], None]
    clock: Clock

    def _new_id(self, kind: str) -> str:
        raise NotImplementedError

    def _media(self, leg_id: str) -> pj.AudioMedia:
        raise NotImplementedError

    def _cmd_play(self, cmd: p.Play) -> dict[str, Any]:
        media = self._media(cmd.leg)
        if not os.path.isfile(cmd.file):
            raise CommandError(f"no such file: {cmd.file}")
        player_id = self._new_id("P")
        player = Player(self.inbox, player_id)
        try:
            player.createPlayer(cmd.file, 0 if cmd.loop else pj.PJMEDIA_FILE_NO_LOOP)
        except pj.Error as exc:
            del player
            raise CommandError(f"cannot play {cmd.file}: {exc.reason}") from None
        player.startTransmit(media)
        self.players[player_id] = PlayerJob(player_id, cmd.leg, player)
        return {"player": player_id}

    def _cmd_tone(self, cmd: p.Tone) -> dict[str, Any]:
        media = self._media(cmd.leg)
        player_id = self._new_id("P")
        tone = make_tone(cmd.freq1, cmd.freq2, cmd.on_ms, cmd.off_ms, cmd.loop)
        tone.startTransmit(media)
        ends_at = None if cmd.loop else self.clock() + (cmd.on_ms + cmd.off_ms) / 1000.0
        self.players[player_id] = PlayerJob(player_id, cmd.leg, tone, ends_at)
        return {"player": player_id}

    def _cmd_stopplay(self, cmd: p.StopPlay) -> dict[str, Any]:
        if cmd.player not in self.players:
            raise CommandError(f"unknown player {cmd.player!r}")
        self._end_player(cmd.player, notify=False)
        return {}

    def _cmd_record(self, cmd: p.Record) -> dict[str, Any]:
        medias = [self._media(leg) for leg in cmd.legs]
        directory = os.path.dirname(cmd.path_base) or "."
        if not os.path.isdir(directory):
            raise CommandError(f"no such directory: {directory}")
        rec = Recording(self._new_id("R"), cmd.legs, [])
        try:
            for i in range(len(cmd.legs)):
                path = f"{cmd.path_base}-{i}.wav"
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(path)
                rec.recorders.append(recorder)
                rec.files.append(path)
        except pj.Error as exc:
            self._drop_recorders(rec)
            raise CommandError(f"cannot record to {cmd.path_base}: {exc.reason}") from None
        for media, recorder in zip(medias, rec.recorders, strict=True):
            media.startTransmit(recorder)
        rec.started_at = self.clock()
        self.recordings[rec.id] = rec
        return {"recording": rec.id, "files": rec.files}

    def _cmd_stoprecord(self, cmd: p.StopRecord) -> dict[str, Any]:
        if cmd.recording not in self.recordings:
            raise CommandError(f"unknown recording {cmd.recording!r}")
        return self._close_recording(cmd.recording)

    def _end_player(self, player_id: str, notify: bool) -> None:
        job = self.players.pop(player_id)
        if isinstance(job.media, pj.ToneGenerator):
            with contextlib.suppress(pj.Error):
                job.media.stop()
        job.media = None  # type: ignore[assignment]  # drop the last reference: destroys it
        if notify:
            self.emit(p.event_message("playback_done", player=player_id, leg=job.leg))

    def _drop_recorders(self, rec: Recording) -> None:
        while rec.recorders:
            recorder = rec.recorders.pop()
            del recorder  # closes the WAV file and writes its header

    def _close_recording(self, rec_id: str) -> dict[str, Any]:
        """Destroy the recorders; recording_closed follows once the files are final."""
        rec = self.recordings.pop(rec_id)
        self._drop_recorders(rec)
        rec.closing_since = self.clock()
        self.closing[rec.id] = rec
        return {"recording": rec.id, "files": rec.files}

    def _job_timers(self, now: float) -> None:
        """End due non-looping tones; report recordings whose files are final (or late)."""
        for job in list(self.players.values()):
            if job.ends_at is not None and now >= job.ends_at:
                self._end_player(job.id, notify=True)
        for rec in list(self.closing.values()):
            complete = all(wav_is_final(f) for f in rec.files)
            assert rec.closing_since is not None
            if complete or now - rec.closing_since >= WAV_CLOSE_TIMEOUT_S:
                del self.closing[rec.id]
                if not complete:
                    log.warning("recording %s: files not finalised in time", rec.id)
                duration = max((wav_seconds(f) for f in rec.files), default=0.0)
                self.emit(
                    p.event_message(
                        "recording_closed", recording=rec.id, files=rec.files,
                        duration_s=round(duration, 3), complete=complete,
                    )
                )
