"""Decoded frames of a camera between two wall-clock times, for the face pipeline.

Frames come from the indexed segments, the still-open one included (its fragments
are readable while it is written). A FILE camera with no recording covering the
window is decoded straight from its source at the replay position.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np
from sqlalchemy.orm import Session

from swipeguard.cameras import replay, service
from swipeguard.cameras.models import Camera, Segment, SourceKind
from swipeguard.config import Settings
from swipeguard.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    at: datetime  # wall clock, UTC
    image: np.ndarray  # uint8 RGB, shape (height, width, 3)


def frames_between(
    settings: Settings, store: Database | Session, *, camera_id: int, start: datetime,
    end: datetime, fps: float | None = None,
) -> Iterator[Frame]:
    """Frames with ``start <= at <= end`` in time order, at most ``fps`` a second.

    Frames not yet flushed to disk by the recorder (the last fragment, under a second)
    are not yielded; call after ``end`` has passed by that much to see them all.
    """
    if end < start:
        raise ValueError("the window ends before it starts")
    if fps is not None and fps <= 0:
        raise ValueError("fps must be positive")
    camera, segments = _lookup(store, camera_id=camera_id, start=start, end=end)
    step = 1.0 / fps if fps else 0.0
    if segments:
        decoded = _from_segments(settings.data_dir, segments, start, end, step)
    elif camera.source_kind is SourceKind.FILE:
        decoded = _from_replay(camera, start, end, step)
    else:
        log.info("camera %s has no video between %s and %s", camera_id, start, end)
        return
    yield from _sample(decoded, fps)


def _lookup(
    store: Database | Session, *, camera_id: int, start: datetime, end: datetime,
) -> tuple[Camera, list[Segment]]:
    """The camera and its segments; the session is closed before any decoding starts."""
    if isinstance(store, Database):
        with store.sessions() as session:
            return _lookup(session, camera_id=camera_id, start=start, end=end)
    camera = service.get(store, camera_id=camera_id)
    if camera is None:
        raise LookupError(f"no camera {camera_id}")
    segments = [*service.list_segments(store, camera_id=camera_id, start=start, end=end)]
    return camera, segments


def _sample(frames: Iterable[Frame], fps: float | None) -> Iterator[Frame]:
    """Drops frames closer than 1/fps to the last one kept, and any out of time order."""
    step = timedelta(seconds=1.0 / fps) if fps else timedelta(0)
    last: datetime | None = None
    for frame in frames:
        if last is not None and (frame.at <= last or frame.at - last < step):
            continue
        last = frame.at
        yield frame


def _from_segments(
    data_dir: Path, segments: list[Segment], start: datetime, end: datetime, step: float,
) -> Iterator[Frame]:
    for segment in segments:
        path = data_dir / segment.path
        offset = (start - segment.started_at).total_seconds()
        until = (end - segment.started_at).total_seconds()
        for t, image in decode(path, seek_to=offset, until=until, step=step):
            at = segment.started_at + timedelta(seconds=t)
            if at >= start:
                yield Frame(at=at, image=image)


def _from_replay(
    camera: Camera, start: datetime, end: datetime, step: float,
) -> Iterator[Frame]:
    if camera.replay_started_at is None:
        raise ValueError(f"camera {camera.id} replays a file but has no replay_started_at")
    timeline = replay.timeline(camera.source, camera.replay_started_at)
    loop, t = timeline.position(start)
    while timeline.wall(loop, timeline.origin) <= end:
        until = timeline.origin + (end - timeline.wall(loop, timeline.origin)).total_seconds()
        for media_t, image in decode(Path(camera.source), seek_to=t, until=until, step=step):
            at = timeline.wall(loop, media_t)
            if at >= start:
                yield Frame(at=at, image=image)
        loop, t = loop + 1, timeline.origin


def decode(
    path: Path, *, seek_to: float, until: float, step: float = 0.0,
) -> Iterator[tuple[float, np.ndarray]]:
    """(media time, RGB image) of the video frames from ``seek_to`` up to ``until`` seconds,
    at least ``step`` seconds apart.

    Decoding starts at the keyframe before ``seek_to``; only the frames kept are converted
    to RGB (the conversion costs as much as the decoding). A truncated tail (an open or
    crashed segment) ends the frames instead of raising.
    """
    limit = until + 1e-6  # wall times are kept to the microsecond
    first = seek_to - 1e-6
    last = -math.inf
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if seek_to > 0 and stream.time_base is not None:
                container.seek(int(seek_to / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if frame.time > limit:
                    return
                if frame.time < first or frame.time - last < step:
                    continue
                last = frame.time
                yield frame.time, frame.to_ndarray(format="rgb24")
    except FileNotFoundError:
        log.warning("segment file %s is missing; run retention or repair to fix the index",
                    path.name)
    except (av.FFmpegError, EOFError) as exc:
        log.debug("stopped decoding %s at a damaged or unfinished tail: %s", path.name, exc)
