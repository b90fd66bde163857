"""A camera's audio on its way into MP4: copied when MP4 holds it, else made AAC.

IP cameras often send G.711 (PCMU/PCMA), which MP4 cannot carry. Only that audio is
decoded and encoded (8 kHz mono costs almost nothing); video is never touched.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Protocol

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.stream import Stream

from swipeguard.cameras.sources import TimedPacket

log = logging.getLogger(__name__)

# Audio codecs the MP4 muxer stores as they are; anything else is transcoded.
MP4_AUDIO = {"aac", "mp3", "opus", "alac", "flac", "ac3", "eac3"}
# 64 kb/s is transparent for the mono speech a counter camera hears.
AAC_BIT_RATE = 64_000
# A hole in the audio longer than this restarts its timeline instead of being bridged.
MAX_AUDIO_HOLE_S = 0.25


class AudioOut(Protocol):
    codec: str

    def add_to(self, container: OutputContainer) -> Stream: ...

    def feed(self, timed: TimedPacket) -> list[TimedPacket]: ...

    def flush(self) -> list[TimedPacket]: ...


def audio_out(stream: AudioStream | None) -> AudioOut | None:
    if stream is None:
        return None
    if stream.codec_context.name in MP4_AUDIO:
        return CopyAudio(stream)
    log.info("audio %s is not storable in MP4; transcoding it to AAC",
             stream.codec_context.name)
    return AacAudio(stream)


class CopyAudio:
    def __init__(self, stream: AudioStream) -> None:
        self.stream = stream
        self.codec = stream.codec_context.name

    def add_to(self, container: OutputContainer) -> Stream:
        return container.add_stream_from_template(self.stream)

    def feed(self, timed: TimedPacket) -> list[TimedPacket]:
        return [timed]

    def flush(self) -> list[TimedPacket]:
        return []


class AacAudio:
    """Decodes the camera's audio and encodes AAC with one encoder per connection.

    Samples are stamped by count, so the AAC timeline is continuous; it re-anchors
    on the wall clock only after a real hole (lost packets, a camera that paused).
    """

    codec = "aac"

    def __init__(self, stream: AudioStream) -> None:
        self.decoder = stream.codec_context
        self.rate = stream.codec_context.sample_rate or 8000
        self.layout = "mono" if stream.codec_context.channels == 1 else "stereo"
        self.encoder = av.CodecContext.create("aac", "w")
        self.encoder.sample_rate = self.rate
        self.encoder.layout = self.layout
        self.encoder.format = "fltp"
        self.encoder.bit_rate = AAC_BIT_RATE
        self.encoder.time_base = Fraction(1, self.rate)
        self.encoder.open()
        self.anchor: float | None = None  # wall time of sample 0
        self.next_sample = 0

    def add_to(self, container: OutputContainer) -> Stream:
        # Same parameters as the running encoder, so the stream's AAC config matches it.
        stream = container.add_stream("aac", rate=self.rate, layout=self.layout)
        stream.codec_context.bit_rate = AAC_BIT_RATE
        return stream

    def feed(self, timed: TimedPacket) -> list[TimedPacket]:
        out: list[TimedPacket] = []
        try:
            frames = self.decoder.decode(timed.packet)
        except av.FFmpegError as exc:
            log.debug("dropped an undecodable audio packet: %s", exc)
            return out
        for frame in frames:
            frame.pts = self._stamp(timed.wall, frame.samples)
            frame.time_base = Fraction(1, self.rate)
            out.extend(self._encoded(frame))
        return out

    def flush(self) -> list[TimedPacket]:
        """The audio the encoder still holds (its last 1024-sample frame or two)."""
        if self.anchor is None:
            return []
        try:
            return self._encoded(None)
        except av.FFmpegError as exc:
            log.debug("could not flush the AAC encoder: %s", exc)
            return []

    def _stamp(self, wall: float, samples: int) -> int:
        if self.anchor is None:
            self.anchor = wall
        by_clock = round((wall - self.anchor) * self.rate)
        if abs(by_clock - self.next_sample) > MAX_AUDIO_HOLE_S * self.rate:
            self.next_sample = max(by_clock, self.next_sample)
        pts = self.next_sample
        self.next_sample += samples
        return pts

    def _encoded(self, frame: av.AudioFrame | None) -> list[TimedPacket]:
        assert self.anchor is not None
        result = []
        for packet in self.encoder.encode(frame):
            if packet.pts is None:
                continue
            wall = self.anchor + packet.pts / self.rate
            duration = (packet.duration or 1024) / self.rate
            result.append(TimedPacket(packet=packet, kind="audio", wall=wall, lead=0.0,
                                      duration=duration))
        return result
