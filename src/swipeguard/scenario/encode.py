"""Writing footage as a CCTV camera would: H.264 at a steady bitrate, AAC audio, in MP4.

libx264 from PyAV's bundled FFmpeg, ``veryfast``, no B-frames and a keyframe every two
seconds (the defaults of most IP cameras, and what RTSP re-streaming expects), the rate
held near the target by a VBV buffer of two seconds, as camera "CBR" modes do.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from PIL import Image

from swipeguard.scenario.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

_AUDIO_BITRATE = 32_000
_AAC_FRAME = 1024  # samples per AAC frame


class FootageWriter:
    """Encodes frames and the matching audio, interleaved, into ``path`` (MP4).

    Writes to a temporary name and renames on a clean ``close``, so a failed run
    leaves no half-written footage under the real name.
    """

    def __init__(
        self, path: Path, *, size: tuple[int, int], fps: int, bitrate: int,
        audio: npt.NDArray[np.float32],
    ) -> None:
        self._path = path
        self._partial = path.with_name(path.name + ".partial")
        self._fps = fps
        self._audio = audio
        self._audio_done = 0
        self._frames = 0
        self._container = av.open(str(self._partial), mode="w", format="mp4",
                                  options={"movflags": "+faststart"})
        self._video = self._add_video(size, fps, bitrate)
        self._sound = self._add_audio()

    def _add_video(self, size: tuple[int, int], fps: int, bitrate: int) -> VideoStream:
        stream = self._container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.time_base = Fraction(1, fps)
        stream.options = {
            "preset": "veryfast",
            "profile": "main",
            # What IP cameras do: no look-ahead, every frame out as soon as it is taken.
            "tune": "zerolatency",
            "bframes": "0",
            "g": str(2 * fps),
            "maxrate": str(round(bitrate * 1.2)),
            "bufsize": str(2 * bitrate),
            # One thread: several cameras are generated side by side on a small machine.
            "threads": "1",
        }
        return stream

    def _add_audio(self) -> AudioStream:
        stream = self._container.add_stream("aac", rate=SAMPLE_RATE)
        stream.layout = "mono"
        stream.bit_rate = _AUDIO_BITRATE
        return stream

    def write(self, frame: Image.Image) -> None:
        picture = av.VideoFrame.from_image(frame)
        picture.pts = self._frames
        picture.time_base = Fraction(1, self._fps)
        self._container.mux(self._video.encode(picture))
        self._frames += 1
        self._write_audio_until(self._frames / self._fps)

    def _write_audio_until(self, seconds: float) -> None:
        until = min(len(self._audio), round(seconds * SAMPLE_RATE))
        while self._audio_done + _AAC_FRAME <= until:
            self._encode_audio(self._audio[self._audio_done : self._audio_done + _AAC_FRAME])

    def _encode_audio(self, samples: npt.NDArray[np.float32]) -> None:
        chunk = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        chunk.sample_rate = SAMPLE_RATE
        chunk.pts = self._audio_done
        chunk.time_base = Fraction(1, SAMPLE_RATE)
        self._container.mux(self._sound.encode(chunk))
        self._audio_done += len(samples)

    def close(self) -> None:
        """Flush both encoders and put the file under its real name."""
        rest = self._audio[self._audio_done :]
        if len(rest):
            # The encoder takes whole AAC frames: the last one is padded with silence.
            self._encode_audio(np.pad(rest, (0, _AAC_FRAME - len(rest))))
        self._container.mux(self._sound.encode(None))
        self._container.mux(self._video.encode(None))
        self._container.close()
        self._partial.replace(self._path)
        log.info("footage written: %s frames", self._frames)

    def abort(self) -> None:
        """Drop the partial file; the error that caused the abort is the one to report."""
        try:
            self._container.close()
        except (av.FFmpegError, OSError) as exc:
            log.debug("closing an aborted footage file failed: %s", exc)
        self._partial.unlink(missing_ok=True)

    def __enter__(self) -> FootageWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
