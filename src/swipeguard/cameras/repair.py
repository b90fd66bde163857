"""Segments a crash left open: remuxed up to their last good packet, or discarded.

A fragmented MP4 cut off mid-fragment still opens; its demuxer returns the complete
packets and then a short or corrupt one. Those complete packets are copied into a
fresh file that replaces the old one, and the index learns the new end.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import select

from swipeguard.cameras.models import Segment, SegmentState
from swipeguard.config import Settings
from swipeguard.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repaired:
    segment_id: int
    kept: bool  # False: nothing playable, file and row removed
    ended_at: datetime | None
    size_bytes: int


def repair_open_segments(settings: Settings, db: Database, *, camera_id: int) -> list[Repaired]:
    """Repairs or discards every segment of the camera still marked open.

    Only the camera's own recorder may call this, before it starts writing.
    """
    with db.sessions() as session:
        stale = session.scalars(select(Segment).where(
            Segment.camera_id == camera_id, Segment.state == SegmentState.OPEN)).all()
    results = [_repair_one(settings, db, segment) for segment in stale]
    for r in results:
        if r.kept:
            log.info("camera %s: segment %s repaired up to %s", camera_id, r.segment_id,
                     r.ended_at)
        else:
            log.warning("camera %s: segment %s had nothing playable and was discarded",
                        camera_id, r.segment_id)
    return results


def _repair_one(settings: Settings, db: Database, segment: Segment) -> Repaired:
    path = settings.data_dir / segment.path
    end_s = remux_playable(path)
    with db.transaction() as session:
        row = session.get(Segment, segment.id)
        assert row is not None
        if end_s is None:
            session.delete(row)
            path.unlink(missing_ok=True)
            return Repaired(segment.id, kept=False, ended_at=None, size_bytes=0)
        row.state = SegmentState.REPAIRED
        row.ended_at = segment.started_at + timedelta(seconds=end_s)
        row.size_bytes = path.stat().st_size
        return Repaired(segment.id, kept=True, ended_at=row.ended_at, size_bytes=row.size_bytes)


def remux_playable(path: Path) -> float | None:
    """Rewrites ``path`` with its complete packets; the media end in seconds, or None.

    None means no video packet survived (the file is left for the caller to remove).
    """
    if not path.exists() or path.stat().st_size == 0:
        return None
    tmp = path.with_name(f".{path.name}.repair")
    try:
        end = _copy_good_packets(path, tmp)
    except av.FFmpegError as exc:
        log.debug("segment %s unreadable: %s", path.name, exc)
        end = None
    if end is None:
        tmp.unlink(missing_ok=True)
        return None
    os.replace(tmp, path)
    return end


def _copy_good_packets(src: Path, dst: Path) -> float | None:
    size = src.stat().st_size
    video_end: float | None = None
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4",
                                            options={"movflags": "+faststart"}) as out:
        if not inp.streams.video:
            return None
        streams = {s.index: out.add_stream_from_template(s)
                   for s in (*inp.streams.video[:1], *inp.streams.audio[:1])}
        try:
            for packet in inp.demux(*(inp.streams[i] for i in streams)):
                if not _complete(packet, size):
                    break
                if packet.stream.type == "video":
                    video_end = _end_of(packet)
                packet.stream = streams[packet.stream.index]
                out.mux_one(packet)
        except (av.FFmpegError, EOFError) as exc:
            log.debug("segment %s ends in a damaged fragment: %s", src.name, exc)
    return video_end


def _complete(packet: av.Packet, file_size: int) -> bool:
    if packet.size == 0 or packet.dts is None or packet.is_corrupt:
        return False
    return packet.pos is None or packet.pos < 0 or packet.pos + packet.size <= file_size


def _end_of(packet: av.Packet) -> float:
    assert packet.time_base is not None and packet.pts is not None
    return float((packet.pts + (packet.duration or 0)) * packet.time_base)
