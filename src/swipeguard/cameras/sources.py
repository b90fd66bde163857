"""Where a recorder's packets come from: a live RTSP camera or a file replayed as if live.

Both give ``TimedPacket``s: a demuxed packet (never decoded) with the wall-clock time
of its decode timestamp. Live packets get theirs from the receive time (``clock``);
a replayed file's come from its replay timeline and are paced to the real clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import av
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from swipeguard.cameras import replay
from swipeguard.cameras.clock import WallClock
from swipeguard.cameras.models import Camera, SourceKind

log = logging.getLogger(__name__)

# Socket and read timeouts for a live camera: a camera silent for this long is dropped.
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0
# Receive time spent collecting packets before the clock anchors (see WallClock.settle).
SETTLE_S = 1.0


class SourceClosed(Exception):
    """The camera ended its stream (end of file on a live camera is a drop)."""


@dataclass
class TimedPacket:
    packet: av.Packet
    kind: str  # "video" or "audio"
    wall: float  # epoch seconds of the packet's decode time
    lead: float  # seconds its presentation time comes after its decode time (B-frames)
    duration: float  # seconds, 0 when the stream does not say


class Source(Protocol):
    video: VideoStream
    audio: AudioStream | None

    def packets(self, stop: threading.Event) -> Iterator[TimedPacket]: ...

    def close(self) -> None: ...


def redact(url: str) -> str:
    """An RTSP URL without its user and password, for logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def open_source(
    camera: Camera, *, realtime: bool = True, since: datetime | None = None,
    until: datetime | None = None,
) -> Source:
    """Opens the camera; a replayed file may run faster than real time from ``since``."""
    if camera.source_kind is SourceKind.RTSP:
        return LiveSource(camera.source)
    if camera.replay_started_at is None:
        raise ValueError(f"camera {camera.name} replays a file but has no replay_started_at")
    timeline = replay.timeline(camera.source, camera.replay_started_at)
    return ReplaySource(camera.source, timeline, realtime=realtime, since=since, until=until)


def _timed(packet: av.Packet, kind: str, wall: float, tb: float) -> TimedPacket:
    """``tb``: the stream's time base as a float (Fraction arithmetic is slow per packet)."""
    pts, dts = packet.pts, packet.dts
    lead = max(0.0, (pts - dts) * tb) if pts is not None and dts is not None else 0.0
    duration = packet.duration * tb if packet.duration else 0.0
    return TimedPacket(packet=packet, kind=kind, wall=wall, lead=lead, duration=duration)


def _media_time(packet: av.Packet, tb: float) -> float | None:
    ts = packet.dts if packet.dts is not None else packet.pts
    return None if ts is None else ts * tb


def _time_bases(streams: list[Any]) -> dict[int, float]:
    return {s.index: float(s.time_base or 0) for s in streams}


def _streams(container: av.container.InputContainer) -> tuple[VideoStream, AudioStream | None]:
    if not container.streams.video:
        raise SourceClosed("the source has no video stream")
    audio = container.streams.audio[0] if container.streams.audio else None
    return container.streams.video[0], audio


class LiveSource:
    """An RTSP camera over TCP (UDP loses packets on busy networks; TCP just delays them)."""

    def __init__(self, url: str) -> None:
        self.url = url
        options = {"rtsp_transport": "tcp", "timeout": str(int(READ_TIMEOUT_S * 1e6))}
        self.container = av.open(url, options=options, timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))
        self.video, self.audio = _streams(self.container)
        self.clock = WallClock()

    def packets(self, stop: threading.Event) -> Iterator[TimedPacket]:
        wanted = [s for s in (self.video, self.audio) if s is not None]
        kinds = {s.index: s.type for s in wanted}
        tbs = _time_bases(wanted)
        held: list[tuple[av.Packet, int, float | None, float]] = []
        settled = False
        for packet in self.container.demux(wanted):
            received = time.time()
            if stop.is_set():
                return
            if packet.size == 0:
                continue
            index = packet.stream_index
            t = _media_time(packet, tbs[index])
            if not settled:
                held.append((packet, index, t, received))
                if received - held[0][3] < SETTLE_S:
                    continue
                self.clock.settle([(t, r) for _, _, t, r in held if t is not None])
                settled = True
                for p, i, pt, r in held:
                    yield _timed(p, kinds[i], self.clock.wall(i, pt, r), tbs[i])
                held.clear()
                continue
            yield _timed(packet, kinds[index], self.clock.wall(index, t, received), tbs[index])
        raise SourceClosed("the camera ended its stream")

    def close(self) -> None:
        self.container.close()


class ReplaySource:
    """A file played in a loop along its replay timeline, paced to the real clock.

    With ``realtime=False`` it runs as fast as it can up to ``until`` (epoch seconds):
    the same segments a live recording would have made, made at once.
    """

    def __init__(self, path: str, timeline: replay.Timeline, *, realtime: bool,
                 since: datetime | None, until: datetime | None) -> None:
        self.container = av.open(path)
        self.video, self.audio = _streams(self.container)
        self.timeline = timeline
        self.realtime = realtime
        self.since = since
        self.until = until.timestamp() if until else None

    def packets(self, stop: threading.Event) -> Iterator[TimedPacket]:
        wanted = [s for s in (self.video, self.audio) if s is not None]
        kinds = {s.index: s.type for s in wanted}
        tbs = _time_bases(wanted)
        loop, t = self.timeline.position(self.since or datetime.now(UTC))
        self._seek(t)
        while not stop.is_set():
            for packet in self.container.demux(wanted):
                if packet.size == 0:
                    continue
                if stop.is_set():
                    return
                index = packet.stream_index
                media_t = _media_time(packet, tbs[index])
                if media_t is None:
                    continue
                wall = self.timeline.wall(loop, media_t).timestamp()
                if self.until is not None and wall > self.until:
                    return
                if self.realtime and not self._wait(stop, wall):
                    return
                yield _timed(packet, kinds[index], wall, tbs[index])
            loop += 1
            self._seek(self.timeline.origin)

    def _seek(self, t: float) -> None:
        tb = self.video.time_base
        if t <= self.timeline.origin or tb is None:
            self.container.seek(0)
        else:
            self.container.seek(int(t / tb), stream=self.video, backward=True)

    @staticmethod
    def _wait(stop: threading.Event, wall: float) -> bool:
        """Sleeps until ``wall`` is due; False if told to stop meanwhile."""
        delay = wall - time.time()
        return not (delay > 0 and stop.wait(delay))

    def close(self) -> None:
        self.container.close()
