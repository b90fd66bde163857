"""Writing a camera's packets into segments: stream copy into fragmented MP4.

A segment starts on a video keyframe once the current one has lasted
``segment_seconds``. Its media time 0 is its wall-clock start, so a reader maps any
frame to the wall clock by adding ``Segment.started_at``. Files are fragmented MP4
(an empty ``moov`` up front, a ``moof``+``mdat`` pair per fragment, flushed to disk
as each is cut): an open segment is readable while it grows, and a crash loses at
most the fragment being written.
"""

from __future__ import annotations

import heapq
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
from av.container import OutputContainer
from av.stream import Stream
from av.video.stream import VideoStream

from swipeguard.cameras.audio import AudioOut
from swipeguard.cameras.sources import TimedPacket

log = logging.getLogger(__name__)

# Fragments are cut at every keyframe and at least every half second, so an open
# segment lags the camera by under a second and a crash loses at most that much.
FRAGMENT_US = 500_000
MUXER_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": str(FRAGMENT_US),
}
# Interleaving waits for the slowest stream; a camera whose audio stalls must not
# hold the video back in memory for the default 10 s.
CONTAINER_OPTIONS = {"max_interleave_delta": "500000", "flush_packets": "1"}
# Packets are put in wall-clock order over this window before muxing, so audio that
# arrives after the next keyframe (an AAC encoder holds 1024 samples, 128 ms at 8 kHz)
# still lands in the segment it belongs to instead of being cut at the boundary.
REORDER_S = 0.5


class SegmentIndex(Protocol):
    """Where a writer reports its segments (the database, in the recorder)."""

    def opened(self, *, path: str, started_at: datetime, video_codec: str,
               audio_codec: str | None) -> int: ...

    def closed(self, *, segment_id: int, ended_at: datetime, size_bytes: int) -> None: ...


def segment_path(camera_id: int, started: float) -> str:
    """``video/<camera>/YYYY/MM/DD/HHMMSS_ffffff.mp4`` (UTC), relative to the data dir."""
    at = datetime.fromtimestamp(started, UTC)
    return f"video/{camera_id}/{at:%Y/%m/%d}/{at:%H%M%S_%f}.mp4"


def to_datetime(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, UTC)


@dataclass
class _Track:
    stream: Stream
    last_dts: int | None = None

    def __post_init__(self) -> None:
        assert self.stream.time_base is not None, "the header fixes every stream's time base"
        self.time_base: Fraction = self.stream.time_base
        self.rate = 1 / float(self.time_base)  # ticks a second, as a float for speed

    def ticks(self, seconds: float) -> int:
        return round(seconds * self.rate)


class OpenSegment:
    """One MP4 being written; timestamps rewritten to seconds since its start."""

    def __init__(self, path: Path, *, started: float, video: VideoStream,
                 audio: AudioOut | None) -> None:
        self.path = path
        self.started = started
        self.ended = started
        path.parent.mkdir(parents=True, exist_ok=True)
        options = dict(MUXER_OPTIONS)
        if not video.codec_context.extradata:
            # No SPS/PPS in the SDP: the muxer takes them from the first keyframe.
            options["movflags"] += "+delay_moov"
        self.container: OutputContainer = av.open(
            str(path), "w", format="mp4", options=options, container_options=CONTAINER_OPTIONS)
        video_stream = self.container.add_stream_from_template(video)
        audio_stream = audio.add_to(self.container) if audio else None
        self.container.start_encoding()  # writes the header, which fixes the time bases
        self.video = _Track(video_stream)
        self.audio = _Track(audio_stream) if audio_stream else None

    def write(self, timed: TimedPacket) -> bool:
        """Muxes one packet; False if it was dropped (audio from before the start)."""
        track = self.video if timed.kind == "video" else self.audio
        if track is None:
            return False
        since = timed.wall - self.started
        if since < 0:
            return False
        packet = timed.packet
        dts = max(track.ticks(since), 0)
        if track.last_dts is not None and dts <= track.last_dts:
            dts = track.last_dts + 1  # never backwards, never repeated
        track.last_dts = dts
        packet.dts = dts
        packet.pts = dts + track.ticks(timed.lead)
        packet.duration = track.ticks(timed.duration)
        packet.time_base = track.time_base
        packet.stream = track.stream
        try:
            self.container.mux_one(packet)
        except av.error.InvalidDataError as exc:
            # One malformed packet from a camera is dropped; the segment goes on.
            log.debug("dropped a packet the muxer refused: %s", exc)
            return False
        if timed.kind == "video":
            self.ended = max(self.ended, timed.wall + timed.duration)
        return True

    def close(self) -> int:
        """Writes the last fragment and returns the file's size."""
        self.container.close()
        return os.path.getsize(self.path)


class SegmentWriter:
    """Cuts a camera's packets into segments and reports each to the index."""

    def __init__(self, *, data_dir: Path, camera_id: int, segment_seconds: float,
                 video: VideoStream, audio: AudioOut | None, index: SegmentIndex,
                 resume_after: float | None = None) -> None:
        self.data_dir = data_dir
        self.camera_id = camera_id
        self.segment_seconds = segment_seconds
        self.video = video
        self.audio = audio
        self.index = index
        # Packets up to the end of what is recorded already are skipped, so a restarted
        # recorder never writes a segment overlapping the last one.
        self.resume_after = resume_after
        self.current: OpenSegment | None = None
        self.segment_id: int | None = None
        self._pending: list[tuple[float, int, TimedPacket]] = []  # heap by wall time
        self._count = 0
        self.bytes_closed = 0
        self.dropped = 0

    @property
    def ended(self) -> float | None:
        return self.current.ended if self.current else None

    def write(self, timed: TimedPacket) -> None:
        if self.resume_after is not None and timed.wall <= self.resume_after:
            return
        packets = [timed] if timed.kind == "video" or self.audio is None \
            else self.audio.feed(timed)
        for item in packets:
            self._count += 1
            heapq.heappush(self._pending, (item.wall, self._count, item))
        while self._pending and self._pending[0][0] < timed.wall - REORDER_S:
            self._mux(heapq.heappop(self._pending)[2])

    def _mux(self, item: TimedPacket) -> None:
        if item.kind == "video" and item.packet.is_keyframe and self._due(item.wall):
            self._rotate(item.wall)
        if self.current is None or not self.current.write(item):
            self.dropped += 1

    def _due(self, wall: float) -> bool:
        return self.current is None or wall - self.current.started >= self.segment_seconds

    def _rotate(self, wall: float) -> None:
        self._close_current()
        rel = segment_path(self.camera_id, wall)
        self.segment_id = self.index.opened(
            path=rel, started_at=to_datetime(wall), video_codec=self.video.codec_context.name,
            audio_codec=self.audio.codec if self.audio else None)
        self.current = OpenSegment(self.data_dir / rel, started=wall, video=self.video,
                                   audio=self.audio)
        log.debug("camera %s: segment %s opened", self.camera_id, self.segment_id)

    def close(self) -> None:
        """Writes what is pending, closes the open segment and marks it complete."""
        for item in self.audio.flush() if self.audio else ():
            self._count += 1
            heapq.heappush(self._pending, (item.wall, self._count, item))
        while self._pending:
            self._mux(heapq.heappop(self._pending)[2])
        self._close_current()

    def _close_current(self) -> None:
        current, self.current = self.current, None
        if current is None or self.segment_id is None:
            return
        size = current.close()
        self.bytes_closed += size
        self.index.closed(segment_id=self.segment_id, ended_at=to_datetime(current.ended),
                          size_bytes=size)
        self.segment_id = None
