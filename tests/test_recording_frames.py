"""Frames between two wall-clock times, for the face pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from swipeguard.cameras import service as cameras
from swipeguard.cameras.frames import frames_between
from swipeguard.cameras.models import SourceKind
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.facilities.models import Facility, FacilityKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def hamilton(samples: Path) -> Path:
    return samples / "video" / "short_hamilton_clip.mp4"


def replayed_camera(db: Database, source: Path) -> int:
    with db.transaction() as s:
        facility = Facility(name="Pharmacy 1", kind=FacilityKind.PHARMACY, district="Centre")
        s.add(facility)
        s.flush()
        camera = cameras.create_camera(s, name="till-1", facility_id=facility.id,
                                       source_kind=SourceKind.FILE, source=str(source),
                                       replay_started_at=T0)
        return camera.id


def test_a_replayed_file_gives_rgb_frames_inside_the_window(
    settings: Settings, sqlite_db: Database, hamilton: Path,
) -> None:
    camera_id = replayed_camera(sqlite_db, hamilton)
    start, end = T0 + timedelta(seconds=2), T0 + timedelta(seconds=4)

    frames = list(frames_between(settings, sqlite_db, camera_id=camera_id, start=start,
                                 end=end, fps=5))

    assert 9 <= len(frames) <= 11
    assert all(start <= f.at <= end for f in frames)
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(frames, frames[1:], strict=False)]
    assert min(gaps) >= 0.2 - 1e-6
    assert frames[0].image.dtype == np.uint8 and frames[0].image.shape == (360, 640, 3)
    assert not np.array_equal(frames[0].image, frames[-1].image)


def test_a_replayed_frame_is_the_file_frame_playing_at_that_moment(
    settings: Settings, sqlite_db: Database, hamilton: Path,
) -> None:
    camera_id = replayed_camera(sqlite_db, hamilton)
    with av.open(str(hamilton)) as container:
        origin = container.start_time / av.time_base
        media = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    t, expected = next((t, img) for t, img in media if t >= 5.0)
    at = T0 + timedelta(seconds=t - origin)

    frames = list(frames_between(settings, sqlite_db, camera_id=camera_id, start=at, end=at))

    assert len(frames) == 1
    assert abs((frames[0].at - at).total_seconds()) < 1e-3
    assert np.array_equal(frames[0].image, expected)


def test_a_window_across_the_end_of_the_file_continues_into_the_next_loop(
    settings: Settings, sqlite_db: Database, hamilton: Path,
) -> None:
    camera_id = replayed_camera(sqlite_db, hamilton)
    with av.open(str(hamilton)) as container:
        period = container.duration / av.time_base
    start = T0 + timedelta(seconds=period - 1)
    end = T0 + timedelta(seconds=period + 2)

    frames = list(frames_between(settings, sqlite_db, camera_id=camera_id, start=start,
                                 end=end, fps=10))

    boundary = T0 + timedelta(seconds=period)
    assert any(f.at < boundary for f in frames) and any(f.at > boundary for f in frames)
    assert all(a.at < b.at for a, b in zip(frames, frames[1:], strict=False))


def test_a_window_ending_before_it_starts_is_refused(
    settings: Settings, sqlite_db: Database, hamilton: Path,
) -> None:
    camera_id = replayed_camera(sqlite_db, hamilton)

    with pytest.raises(ValueError, match="ends before it starts"):
        list(frames_between(settings, sqlite_db, camera_id=camera_id, start=T0,
                            end=T0 - timedelta(seconds=1)))
