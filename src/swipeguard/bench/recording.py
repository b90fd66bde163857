"""``swipeguard bench recording``: how many cameras one machine's recorder keeps up with.

Each level serves N live RTSP cameras on loopback (GStreamer's RTSP server, one
process, streaming a 720p H.264 file at about 2 Mb/s with AAC sound as it is) and runs
``swipeguard record --processes P`` on them (default: one process per core) for S
seconds. A level passes when every
camera's recording is whole: no gap rows, every segment complete and readable packet
by packet, consecutive segments abutting, and the frames recorded matching the time
covered. CPU is read from /proc for the recorder and the server separately, so an
overloaded server is reported as such rather than blamed on the recorder.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
from sqlalchemy import select

from swipeguard.cameras import service as cameras
from swipeguard.cameras.models import (
    CameraState,
    Gap,
    RecorderStatus,
    Segment,
    SegmentState,
    SourceKind,
)
from swipeguard.config import RecordingSettings, Settings
from swipeguard.db import Database
from swipeguard.facilities.models import Facility, FacilityKind
from swipeguard.scenario.rtsp import Mount, RtspServer

log = logging.getLogger(__name__)

NAME = "recording"
HELP = "cameras recorded at once without losing a segment, and CPU per camera"

FPS = 25
SOURCE_SECONDS = 300  # long enough for the longest level: one pass per connection
# Consecutive segments further apart than this count as a lost piece of recording.
MAX_JOIN_S = 0.2
CONNECT_TIMEOUT_S = 90.0
STOP_SLACK_S = 1.0
# Keeping up: no camera more than this far behind live, and the worst lag not growing
# by more than this over the second half of the level.
MAX_LAG_S = 5.0
MAX_LAG_GROWTH_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cameras", type=int, action="append",
                        help="cameras at once; repeat for several levels (default: 10 up to 125)")
    parser.add_argument("--seconds", type=float, default=30.0, help="recording time per level")
    parser.add_argument("--segment-seconds", type=float, default=5.0)
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the generated 720p source is kept")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="recorder processes sharing the cameras (default: one per core)")
    parser.add_argument("--keep-going", action="store_true",
                        help="run every level even after one fails")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "swipeguard"


def source_720p(cache_dir: Path, seconds: int = SOURCE_SECONDS) -> Path:
    """A 1280x720 25 fps H.264 file at ~2 Mb/s with AAC sound, made once with ffmpeg.

    Keyframes every 2 s and no B-frames, as counter cameras send them.
    """
    out = cache_dir / f"bench-720p-2mbps-{seconds}s.mp4"
    if out.exists():
        return out
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed to make the benchmark's source; install it")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.mp4")
    log.info("making the %s s 720p source once (cached in %s)", seconds, cache_dir)
    subprocess.run(
        [ffmpeg, "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FPS}",
         "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main",
         "-bf", "0", "-g", str(2 * FPS), "-b:v", "2M", "-maxrate", "2M", "-bufsize", "4M",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-ac", "1", str(tmp)],
        check=True,
    )
    os.replace(tmp, out)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, its live children and its reaped ones."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    children = Path(f"/proc/{pid}/task/{pid}/children")
    live = children.read_text().split() if children.exists() else []
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(int(c)) for c in live)


@dataclass
class Level:
    cameras: int
    passed: bool
    recorder_cpu_pct: float
    server_cpu_pct: float
    segments: int
    lost: int
    detail: str
    lag_s: tuple[float, float]  # worst camera's lag behind live, mid-level and at the end

    def as_dict(self) -> dict[str, Any]:
        return {
            "cameras": self.cameras, "passed": self.passed,
            "recorder_cpu_pct_of_one_core": round(self.recorder_cpu_pct, 1),
            "recorder_cpu_pct_per_camera": round(self.recorder_cpu_pct / self.cameras, 2),
            "rtsp_server_cpu_pct_of_one_core": round(self.server_cpu_pct, 1),
            "worst_lag_behind_live_s": [round(x, 2) for x in self.lag_s],
            "segments": self.segments, "cameras_with_loss": self.lost, "detail": self.detail,
        }


def run(args: argparse.Namespace) -> dict[str, Any]:
    source = source_720p(args.cache_dir or default_cache_dir())
    levels: list[Level] = []
    for n in args.cameras or [10, 25, 50, 75, 100, 125]:
        level = run_level(source, n, seconds=args.seconds, segment_seconds=args.segment_seconds,
                          processes=args.processes)
        log.info("%s cameras: %s", n, level.as_dict())
        levels.append(level)
        if not level.passed and not args.keep_going:
            break
    passed = [lv.cameras for lv in levels if lv.passed]
    return {
        "source": "1280x720 25 fps H.264 ~2 Mb/s + AAC 48 kHz mono, over RTSP/TCP on loopback",
        "cpu_cores": os.cpu_count(),
        "recorder_processes": args.processes,
        "seconds_per_level": args.seconds,
        "segment_seconds": args.segment_seconds,
        "most_cameras_without_loss": max(passed) if passed else 0,
        "levels": {str(lv.cameras): lv.as_dict() for lv in levels},
    }


def run_level(source: Path, n: int, *, seconds: float, segment_seconds: float,
              processes: int) -> Level:
    with tempfile.TemporaryDirectory(prefix="swipeguard-bench-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, recording=RecordingSettings(
            segment_seconds=segment_seconds))
        db = Database(settings.resolved_database_url)
        db.migrate()
        server = RtspServer([Mount(f"cam{i}", source, audio="aac") for i in range(n)])
        _add_cameras(db, server, n)
        with server:
            recorder = _start_recorder(data_dir, segment_seconds, processes)
            try:
                _wait_recording(db, n, recorder)
                cpu0 = (cpu_seconds(recorder.pid), cpu_seconds(server.pid or 0), time.monotonic())
                started = datetime.now(UTC)
                time.sleep(seconds / 2)
                lag_mid = _worst_lag(db)
                time.sleep(seconds / 2)
                cpu1 = (cpu_seconds(recorder.pid), cpu_seconds(server.pid or 0), time.monotonic())
                lag_end = _worst_lag(db)
            finally:
                recorder.send_signal(signal.SIGTERM)
                recorder.wait(60)
        elapsed = cpu1[2] - cpu0[2]
        # What was still in flight when the recorder was stopped is not a loss.
        lost, count, detail = _check(settings, db, n, started,
                                     seconds - max(lag_end, 0.0) - STOP_SLACK_S)
        db.dispose()
    keeping_up = lag_end < MAX_LAG_S and lag_end - lag_mid < MAX_LAG_GROWTH_S
    if not keeping_up:
        detail = f"falling behind live: {lag_mid:.1f} s then {lag_end:.1f} s; {detail}"
    return Level(cameras=n, passed=lost == 0 and keeping_up, segments=count, lost=lost,
                 detail=detail, lag_s=(lag_mid, lag_end),
                 recorder_cpu_pct=100 * (cpu1[0] - cpu0[0]) / elapsed,
                 server_cpu_pct=100 * (cpu1[1] - cpu0[1]) / elapsed)


def _worst_lag(db: Database) -> float:
    """The most any camera's recording trails its heartbeat, in seconds.

    The recorder writes its open segment's end and its heartbeat time in one
    transaction; the difference is how far behind live that camera's recording is
    (its 0.5 s reordering window included).
    """
    with db.sessions() as s:
        rows = s.execute(
            select(CameraState.heartbeat_at, Segment.ended_at)
            .join(Segment, Segment.camera_id == CameraState.camera_id)
            .where(Segment.state == SegmentState.OPEN)).all()
    return max(((beat - end).total_seconds() for beat, end in rows), default=0.0)


def _add_cameras(db: Database, server: RtspServer, n: int) -> None:
    with db.transaction() as s:
        facility = Facility(name="Bench pharmacy", kind=FacilityKind.PHARMACY, district="Bench")
        s.add(facility)
        s.flush()
        for i in range(n):
            cameras.create_camera(s, name=f"cam{i}", facility_id=facility.id,
                                  source_kind=SourceKind.RTSP, source=server.url(f"cam{i}"))


def _start_recorder(data_dir: Path, segment_seconds: float,
                    processes: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SWIPEGUARD_DATA_DIR": str(data_dir),
           "SWIPEGUARD_RECORDING__SEGMENT_SECONDS": str(segment_seconds)}
    env.pop("SWIPEGUARD_DATABASE_URL", None)
    log_file = open(data_dir / "recorder.log", "wb")  # noqa: SIM115 - lives with the process
    return subprocess.Popen([sys.executable, "-m", "swipeguard", "record", "--processes",
                             str(processes)], env=env, stdout=log_file, stderr=log_file)


def _wait_recording(db: Database, n: int, recorder: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while time.monotonic() < deadline:
        if recorder.poll() is not None:
            raise RuntimeError("the recorder exited; see recorder.log in the data dir")
        with db.sessions() as s:
            recording = s.scalars(select(CameraState).where(
                CameraState.status == RecorderStatus.RECORDING)).all()
        if len(recording) == n:
            return
        time.sleep(0.5)
    raise RuntimeError(f"not all {n} cameras connected within {CONNECT_TIMEOUT_S} s")


def _check(settings: Settings, db: Database, n: int, started: datetime,
           seconds: float) -> tuple[int, int, str]:
    """Cameras whose recording of the measured window is not whole, and why."""
    with db.sessions() as s:
        all_segments = s.scalars(select(Segment).order_by(Segment.camera_id,
                                                          Segment.started_at)).all()
        gaps = s.scalars(select(Gap)).all()
    by_camera: dict[int, list[Segment]] = {}
    for segment in all_segments:
        by_camera.setdefault(segment.camera_id, []).append(segment)
    problems: dict[int, str] = {g.camera_id: f"gap: {g.reason}" for g in gaps}
    window_end = started + timedelta(seconds=seconds)
    for camera_id in range(1, n + 1):
        issue = _camera_issue(settings, by_camera.get(camera_id, []), started, window_end)
        if issue and camera_id not in problems:
            problems[camera_id] = issue
    detail = "; ".join(f"camera {c}: {p}" for c, p in sorted(problems.items())[:5])
    return len(problems), len(all_segments), detail or "every camera whole"


def _camera_issue(settings: Settings, segments: list[Segment], start: datetime,
                  end: datetime) -> str | None:
    if not segments:
        return "no segments"
    if segments[0].started_at > start or segments[-1].ended_at < end:
        first, last = segments[0].started_at, segments[-1].ended_at
        return (f"recorded {first:%H:%M:%S.%f}-{last:%H:%M:%S.%f}, short of the measured "
                f"window {start:%H:%M:%S.%f}-{end:%H:%M:%S.%f}")
    frames = 0
    for a, b in zip(segments, segments[1:], strict=False):
        if (b.started_at - a.ended_at).total_seconds() > MAX_JOIN_S:
            return f"{(b.started_at - a.ended_at).total_seconds():.2f} s between segments"
    for segment in segments:
        if segment.state is not SegmentState.COMPLETE:
            return f"segment {segment.id} left {segment.state.value}"
        try:
            frames += _video_packets(settings.data_dir / segment.path)
        except (av.FFmpegError, AssertionError) as exc:
            return f"segment {segment.id} unreadable: {exc}"
    covered = (segments[-1].ended_at - segments[0].started_at).total_seconds()
    if frames < 0.99 * covered * FPS:
        return f"{frames} frames in {covered:.1f} s"
    return None


def _video_packets(path: Path) -> int:
    """Demuxes every packet (no decoding: the check must not cost more than recording)."""
    count = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size == 0:
                continue
            assert not packet.is_corrupt, "corrupt packet"
            if packet.stream.type == "video":
                count += 1
    return count
