"""A swipe's clip: the video around its time, cut from the segments by stream copy.

The clip starts on the keyframe at or before the window's start (a clip cannot start
between keyframes without re-encoding), runs to the window's end, and may span
several segments, the still-open one included. Across a gap the clip's timeline
jumps with the wall clock: the player holds the last frame; nothing is invented.
A clip is kept in ``clips/`` and cut again only while its window was still being
recorded when it was cut.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
from av.container import InputContainer, OutputContainer
from av.stream import Stream
from sqlalchemy.orm import Session

from swipeguard.cameras import service
from swipeguard.cameras.models import Segment
from swipeguard.config import Settings
from swipeguard.swipes.models import Swipe

log = logging.getLogger(__name__)

CLIPS_DIR = "clips"
# A window is final once every segment covering it has closed: a segment closes at the
# first keyframe past ``segment_seconds``, so two segment lengths plus slack suffice.
SETTLE_SLACK_S = 5.0


class NoVideo(LookupError):
    """No recording covers the window (or the swipe's till has no camera)."""


@dataclass(frozen=True)
class Clip:
    path: Path
    camera_id: int
    started_at: datetime  # wall clock of the clip's time 0
    ended_at: datetime


def window(settings: Settings, at: datetime) -> tuple[datetime, datetime]:
    """The clip window around a swipe time."""
    recording = settings.recording
    return (at - timedelta(seconds=recording.clip_before_s),
            at + timedelta(seconds=recording.clip_after_s))


def clip_for_swipe(settings: Settings, session: Session, *, swipe_id: int) -> Clip:
    swipe = session.get(Swipe, swipe_id)
    if swipe is None:
        raise LookupError(f"no swipe {swipe_id}")
    if swipe.camera_id is None:
        raise NoVideo(f"the till of swipe {swipe_id} had no camera")
    start, end = window(settings, swipe.swiped_at)
    return get_clip(settings, session, camera_id=swipe.camera_id, start=start, end=end)


def cut_clip(
    settings: Settings, session: Session, *, camera_id: int, start: datetime, end: datetime,
) -> Path:
    """The MP4 (video and sound) of ``camera_id`` from ``start`` to ``end``; cached."""
    return get_clip(settings, session, camera_id=camera_id, start=start, end=end).path


def get_clip(
    settings: Settings, session: Session, *, camera_id: int, start: datetime, end: datetime,
) -> Clip:
    if end <= start:
        raise ValueError("the clip window ends before it starts")
    path = _cache_path(settings, camera_id, start, end)
    cached = _cached(path, end, settings.recording.segment_seconds)
    if cached is not None:
        return cached
    segments = [*service.list_segments(session, camera_id=camera_id, start=start, end=end)]
    if not segments:
        raise NoVideo(f"no video of camera {camera_id} covers {start:%Y-%m-%d %H:%M:%S} to "
                      f"{end:%H:%M:%S} UTC (not recorded, or deleted by retention)")
    clip = _cut(settings.data_dir, segments, camera_id=camera_id, start=start, end=end,
                out=path)
    path.with_suffix(".json").write_text(json.dumps(
        {"started_at": clip.started_at.isoformat(), "ended_at": clip.ended_at.isoformat()}))
    return clip


def _cache_path(settings: Settings, camera_id: int, start: datetime, end: datetime) -> Path:
    name = f"{start.astimezone(UTC):%Y%m%dT%H%M%S%f}-{end.astimezone(UTC):%Y%m%dT%H%M%S%f}.mp4"
    return settings.data_dir / CLIPS_DIR / str(camera_id) / name


def _cached(path: Path, end: datetime, segment_seconds: float) -> Clip | None:
    meta = path.with_suffix(".json")
    if not path.exists() or not meta.exists():
        return None
    settled = end + timedelta(seconds=2 * segment_seconds + SETTLE_SLACK_S)
    if datetime.fromtimestamp(path.stat().st_mtime, UTC) < settled:
        return None  # cut while the window was still being recorded
    info = json.loads(meta.read_text())
    return Clip(path=path, camera_id=int(path.parent.name),
                started_at=datetime.fromisoformat(info["started_at"]),
                ended_at=datetime.fromisoformat(info["ended_at"]))


@dataclass
class _Out:
    container: OutputContainer
    video: Stream
    audio: Stream | None
    zero: datetime | None = None  # wall clock of clip time 0: the first keyframe
    last: datetime | None = None  # wall clock of the last video frame's end
    last_dts: dict[str, int] | None = None
    shape: tuple[str, int, int] | None = None  # codec, width, height of the first segment


def _cut(data_dir: Path, segments: list[Segment], *, camera_id: int, start: datetime,
         end: datetime, out: Path) -> Clip:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{secrets.token_hex(4)}.mp4")
    try:
        with av.open(str(data_dir / segments[0].path)) as first:
            container = av.open(str(tmp), "w", format="mp4",
                                options={"movflags": "+faststart"})
            with container:
                target = _Out(container, container.add_stream_from_template(
                    first.streams.video[0]), None, last_dts={}, shape=_shape(first))
                if first.streams.audio:
                    target.audio = container.add_stream_from_template(first.streams.audio[0])
                container.start_encoding()  # fixes the output time bases
                for segment in segments:
                    _copy_segment(data_dir / segment.path, segment.started_at, start, end,
                                  target)
        if target.zero is None or target.last is None:
            raise NoVideo(f"no video frame of camera {camera_id} in the window")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return Clip(path=out, camera_id=camera_id, started_at=target.zero, ended_at=target.last)


def _copy_segment(path: Path, seg_start: datetime, start: datetime, end: datetime,
                  target: _Out) -> None:
    try:
        with av.open(str(path)) as source:
            if not _compatible(source, target):
                log.warning("segment %s changed format mid-window; the clip stops before it",
                            path.name)
                return
            _copy_packets(source, seg_start, start, end, target)
    except FileNotFoundError:
        log.warning("segment file %s is missing; the clip skips it", path.name)
    except (av.FFmpegError, EOFError) as exc:
        # An open segment ends in a fragment still being written: stop at it.
        log.debug("stopped reading %s at its tail: %s", path.name, exc)


def _shape(source: InputContainer) -> tuple[str, int, int] | None:
    if not source.streams.video:
        return None
    ctx = source.streams.video[0].codec_context
    return ctx.name, ctx.width, ctx.height


def _compatible(source: InputContainer, target: _Out) -> bool:
    return _shape(source) is not None and _shape(source) == target.shape


def _copy_packets(source: InputContainer, seg_start: datetime, start: datetime,
                  end: datetime, target: _Out) -> None:
    video = source.streams.video[0]
    audio = source.streams.audio[0] if source.streams.audio and target.audio else None
    offset = (start - seg_start).total_seconds()
    if offset > 0 and video.time_base is not None:
        source.seek(int(offset / video.time_base), stream=video, backward=True)
    streams = [s for s in (video, audio) if s is not None]
    for packet in source.demux(streams):
        if packet.size == 0 or packet.pts is None or packet.time_base is None:
            continue
        at = seg_start + timedelta(seconds=float(packet.pts * packet.time_base))
        if at > end:
            if packet.stream is video:
                return
            continue
        if packet.stream is video:
            if target.zero is None:
                if not packet.is_keyframe:
                    continue
                target.zero = at
            duration = float((packet.duration or 0) * packet.time_base)
            target.last = at + timedelta(seconds=duration)
            _mux(packet, at, seg_start, target.video, "video", target)
        elif target.zero is not None and at >= target.zero and target.audio is not None:
            _mux(packet, at, seg_start, target.audio, "audio", target)


def _mux(packet: av.Packet, at: datetime, seg_start: datetime, stream: Stream, kind: str,
         target: _Out) -> None:
    """Moves a packet onto the clip's timeline, never letting decode times go back."""
    assert target.zero is not None and target.last_dts is not None
    assert packet.time_base is not None and packet.pts is not None and stream.time_base
    shift = (seg_start - target.zero).total_seconds()
    tb, out_tb = packet.time_base, stream.time_base
    dts_in = packet.dts if packet.dts is not None else packet.pts
    dts = round((shift + float(dts_in * tb)) / out_tb)
    pts = dts + round(float((packet.pts - dts_in) * tb) / out_tb)
    last = target.last_dts.get(kind)
    if last is not None and dts <= last:
        pts += last + 1 - dts
        dts = last + 1
    target.last_dts[kind] = dts
    packet.duration = round(float((packet.duration or 0) * tb) / out_tb)
    packet.dts, packet.pts, packet.time_base = dts, pts, out_tb
    packet.stream = stream
    target.container.mux_one(packet)
