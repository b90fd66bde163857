"""A video file replayed as if live: how its media time maps to the wall clock.

The file's earliest packet plays at ``Camera.replay_started_at`` and the file loops,
so loop ``k`` at media time ``t`` plays at ``started_at + k * period + (t - origin)``.
The recorder and the face pipeline's fallback decoder share this one mapping.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import av


class SourceError(ValueError):
    """A camera's source file cannot be used (missing, unreadable or without video)."""


@dataclass(frozen=True)
class Timeline:
    started_at: datetime
    origin: float  # media time of the file's first packet, seconds
    period: float  # seconds one pass through the file lasts

    def wall(self, loop: int, t: float) -> datetime:
        """The wall-clock time of media time ``t`` in pass ``loop``."""
        return self.started_at + timedelta(seconds=loop * self.period + (t - self.origin))

    def position(self, at: datetime) -> tuple[int, float]:
        """The pass and media time playing at ``at`` (pass 0 before the start)."""
        elapsed = max(0.0, (at - self.started_at).total_seconds())
        loop = math.floor(elapsed / self.period)
        return loop, self.origin + (elapsed - loop * self.period)


@dataclass(frozen=True)
class FileInfo:
    origin: float
    period: float


def timeline(path: str | Path, started_at: datetime) -> Timeline:
    info = probe(str(path))
    return Timeline(started_at=started_at, origin=info.origin, period=info.period)


# The recorder copies packets into MP4 segments without re-encoding: these codecs only.
RECORDABLE_CODECS = frozenset({"h264", "hevc"})


def check_file(path: str) -> FileInfo:
    """The file a camera is to replay, checked when the camera is registered: a bad path
    would otherwise show only when the recorder or the verifier first opens it."""
    file = Path(path)
    if not file.is_absolute():
        # The recorder may run in another process, from another working directory.
        raise SourceError(f"give the video file's absolute path, not {path!r}")
    if not file.exists():
        raise SourceError(f"there is no file at {path}")
    if not file.is_file():
        raise SourceError(f"{path} is not a regular file")
    if not os.access(file, os.R_OK):
        raise SourceError(f"{path} is not readable by the server")
    try:
        with av.open(path) as container:
            video = container.streams.video[0] if container.streams.video else None
            still = container.format.name == "image2" or container.format.name.endswith("_pipe")
    except av.FFmpegError as exc:
        raise SourceError(f"cannot read video file {file.name}: {exc}") from exc
    if video is None or still:
        raise SourceError(f"{file.name} is not a video: give a recording (H.264 or H.265)")
    if video.codec_context.name not in RECORDABLE_CODECS:
        raise SourceError(f"{file.name} is {video.codec_context.name} video; the recorder "
                          "copies H.264 or H.265 into its MP4 segments")
    return probe(path)


@lru_cache(maxsize=64)
def probe(path: str) -> FileInfo:
    """The start and length of a video file (cached: sources do not change under us)."""
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise SourceError(f"{Path(path).name} has no video stream")
            origin = (container.start_time or 0) / av.time_base
            duration = (container.duration or 0) / av.time_base
            if duration <= 0:
                duration = _measured_end(container) - origin
    except (FileNotFoundError, av.FFmpegError) as exc:
        raise SourceError(f"cannot read video file {Path(path).name}: {exc}") from exc
    if duration <= 0:
        raise SourceError(f"{Path(path).name} has no playable length")
    return FileInfo(origin=origin, period=duration)


def _measured_end(container: av.container.InputContainer) -> float:
    end = 0.0
    for packet in container.demux():
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end
