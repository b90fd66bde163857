"""A video file published as a live RTSP camera on loopback, for tests, benches and the demo.

GStreamer's RTSP server does the serving. Its Python bindings (``python3-gi``) exist for
Debian's own ``/usr/bin/python3``, not for the project's virtual environment, so this
file is two things: the ``RtspServer`` context manager used from the project, and a
script that system Python runs in a subprocess (it needs nothing but the standard
library and ``gi``). Killing the subprocess drops every camera it serves at once, the
way a switch losing power would; starting it again on the same port brings them back.

The server streams H.264 as it is in the file (no re-encoding, so many cameras cost
little CPU); audio goes out as AAC as it is, or re-encoded to G.711 mu-law the way
many IP cameras send it. A file plays once per client connection: give it enough
length (see ``looped_copy``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SYSTEM_PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"  # loopback only: test cameras are never reachable from outside
AUDIO_MODES = ("none", "aac", "pcmu")


@dataclass(frozen=True)
class Mount:
    name: str
    path: Path
    audio: str = "aac"  # one of AUDIO_MODES


class RtspServer:
    """Serves ``mounts`` at ``rtsp://127.0.0.1:<port>/<name>`` while the context is open."""

    def __init__(self, mounts: list[Mount], *, port: int | None = None,
                 ready_timeout_s: float = 15.0) -> None:
        for mount in mounts:
            if mount.audio not in AUDIO_MODES:
                raise ValueError(f"audio for {mount.name} must be one of {AUDIO_MODES}")
            if not mount.path.is_file():
                raise FileNotFoundError(f"no video file for camera {mount.name}")
        self.mounts = mounts
        self.port = port or free_port()
        self.ready_timeout_s = ready_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None

    def url(self, name: str) -> str:
        return f"rtsp://{HOST}:{self.port}/{name}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("the RTSP server is running already")
        spec = json.dumps([[m.name, str(m.path), m.audio] for m in self.mounts])
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        # -I: isolated, so this file's own directory does not shadow the standard library.
        self._process = subprocess.Popen(
            [SYSTEM_PYTHON, "-I", __file__, "--port", str(self.port), "--mounts", spec],
            stdout=subprocess.PIPE, stderr=self._errors, start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if line != "ready":
            errors = self._error_tail()
            self.stop()
            raise RuntimeError(f"RTSP server did not start: {errors or line!r}; check that "
                               "gir1.2-gst-rtsp-server-1.0 and python3-gi are installed")
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.5):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"RTSP server not listening on port {self.port}")

    def _error_tail(self) -> str:
        if self._errors is None:
            return ""
        self._errors.seek(0)
        return self._errors.read().decode(errors="replace").strip()[-500:]

    def stop(self) -> None:
        """Kills the server at once: every client sees its camera drop."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def looped_copy(path: Path, *, seconds: float, cache_dir: Path) -> Path:
    """``path`` repeated by stream copy to last at least ``seconds`` (kept in ``cache_dir``)."""
    out = cache_dir / f"{path.stem}-loop{int(seconds)}s.mp4"
    if out.exists():
        return out
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed to loop a video file; install Debian's ffmpeg")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.mp4")
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-stream_loop", "-1", "-i", str(path), "-t", str(seconds),
         "-c", "copy", str(tmp)],
        check=True,
    )
    os.replace(tmp, out)
    return out


# ---- the part system Python runs: GStreamer's RTSP server ------------------------------

def _launch_line(path: str, audio: str) -> str:
    location = path.replace("\\", "\\\\").replace('"', '\\"')
    # config-interval=-1 repeats SPS/PPS before every keyframe so a client may join anywhere.
    parts = [f'filesrc location="{location}" ! qtdemux name=d',
             "d.video_0 ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1"]
    if audio == "aac":
        parts.append("d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97")
    elif audio == "pcmu":
        parts.append("d.audio_0 ! queue ! decodebin ! audioconvert ! audioresample "
                     "! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0")
    return "( " + " ".join(parts) + " )"


def _serve(port: int, mounts: list[list[str]]) -> None:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(port))
    points = server.get_mount_points()
    for name, path, audio in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(_launch_line(path, audio))
        factory.set_shared(False)
        points.add_factory(f"/{name}", factory)
    if server.attach(None) == 0:
        print("failed", flush=True)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


def _main() -> None:
    parser = argparse.ArgumentParser(description="serve video files as RTSP cameras")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mounts", required=True, help='JSON [["name", "path", "aac"], ...]')
    args = parser.parse_args()
    _serve(args.port, json.loads(args.mounts))


if __name__ == "__main__":
    _main()
