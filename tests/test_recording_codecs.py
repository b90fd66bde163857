"""Codecs as cameras send them: H.265, and B-frames, recorded by stream copy."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from camera_support import add_camera, play, segments
from swipeguard.cameras.models import SourceKind
from swipeguard.cameras.recorder import record_replay
from swipeguard.config import Settings
from swipeguard.db import Database

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def encoded(samples: Path, cache: Path, codec: str, extra: list[str]) -> Path:
    out = cache / f"hamilton-{codec}.mp4"
    if not out.exists():
        ffmpeg = shutil.which("ffmpeg")
        assert ffmpeg, "Debian's ffmpeg is needed to prepare the test footage"
        subprocess.run(
            [ffmpeg, "-v", "error", "-y", "-i", str(samples / "video" / "short_hamilton_clip.mp4"),
             "-t", "6", "-c:v", codec, "-preset", "ultrafast", *extra, "-g", "30",
             "-c:a", "copy", str(out)],
            check=True)
    return out


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test-secret",
                    recording={"segment_seconds": 1.0})


@pytest.mark.parametrize(("codec", "extra", "name"), [
    ("libx265", ["-x265-params", "log-level=error:bframes=3"], "hevc"),
    ("libx264", ["-bf", "3"], "h264"),
])
def test_a_camera_is_recorded_without_re_encoding_whatever_its_codec(
    settings: Settings, sqlite_db: Database, samples: Path, pytestconfig: pytest.Config,
    codec: str, extra: list[str], name: str,
) -> None:
    source = encoded(samples, pytestconfig.cache.mkdir("swipeguard-camera-footage"), codec,
                     extra)
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(source),
                           replay_started_at=T0)
    with av.open(str(source)) as original:
        sizes = sorted(p.size for p in original.demux(video=0) if p.size)

    record_replay(settings, sqlite_db, camera_id=camera_id, since=T0,
                  until=T0 + timedelta(seconds=5))

    recorded = segments(sqlite_db, camera_id)
    assert len(recorded) >= 3 and all(s.video_codec == name for s in recorded)
    copied: list[int] = []
    for segment in recorded:
        assert play(settings.data_dir / segment.path).video_frames > 0
        with av.open(str(settings.data_dir / segment.path)) as container:
            copied += [p.size for p in container.demux(video=0) if p.size]
        with av.open(str(settings.data_dir / segment.path)) as container:
            shown = [f.time for f in container.decode(video=0)]
        assert all(b > a for a, b in zip(shown, shown[1:], strict=False)), "frames out of order"
    # Stream copy: every recorded packet is byte for byte one of the source's.
    assert set(copied) <= set(sizes)
