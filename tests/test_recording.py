"""Continuous recording: RTSP on loopback, drops and reconnects, crashes and repair."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from camera_support import (
    add_camera,
    closed_segments,
    play,
    recording,
    segments,
    wait_until,
)
from swipeguard.cameras.cli import in_shard, parse_shard
from swipeguard.cameras.frames import frames_between
from swipeguard.cameras.models import (
    Camera,
    CameraState,
    Gap,
    RecorderStatus,
    SegmentState,
    SourceKind,
)
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.scenario.rtsp import Mount, RtspServer, free_port
from swipeguard.workers import all_workers


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test-secret",
                    recording={"segment_seconds": 1.0, "reconnect_initial_s": 0.2,
                               "reconnect_max_s": 1.0})


def gaps(db: Database, camera_id: int) -> list[Gap]:
    with db.sessions() as s:
        return [*s.scalars(select(Gap).where(Gap.camera_id == camera_id))]


def status(db: Database, camera_id: int) -> RecorderStatus | None:
    with db.sessions() as s:
        state = s.get(CameraState, camera_id)
        return state.status if state else None


def test_a_camera_that_drops_is_reconnected_and_the_gap_recorded(
    settings: Settings, sqlite_db: Database, footage: Path,
) -> None:
    server = RtspServer([Mount("counter", footage, audio="aac")])
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.RTSP, source=server.url("counter"))

    with server, recording(settings, sqlite_db, camera_id):
        wait_until(lambda: len(closed_segments(sqlite_db, camera_id)) >= 2, timeout=20,
                   what="two segments before the drop")
        server.stop()
        wait_until(lambda: status(sqlite_db, camera_id) is RecorderStatus.RECONNECTING,
                   timeout=15, what="the recorder to notice the drop")
        before = len(closed_segments(sqlite_db, camera_id))
        server.start()
        wait_until(lambda: len(closed_segments(sqlite_db, camera_id)) >= before + 2,
                   timeout=20, what="two segments after the camera came back")

    recorded = segments(sqlite_db, camera_id)
    assert all(s.state is SegmentState.COMPLETE for s in recorded)
    for segment in recorded:
        played = play(settings.data_dir / segment.path)
        assert played.video_frames > 0 and played.audio_frames > 0
        assert played.audio_codec == "aac"
    [gap] = gaps(sqlite_db, camera_id)
    assert gap.ended_at is not None and gap.ended_at > gap.started_at
    assert "dropped" in gap.reason
    assert any(s.ended_at <= gap.started_at + timedelta(seconds=0.01) for s in recorded)
    assert any(s.started_at >= gap.ended_at for s in recorded)
    for a, b in zip(recorded, recorded[1:], strict=False):
        assert b.started_at >= a.ended_at - timedelta(milliseconds=1), "segments overlap"
    assert status(sqlite_db, camera_id) is RecorderStatus.STOPPED


def test_g711_audio_from_a_camera_is_recorded_as_aac(
    settings: Settings, sqlite_db: Database, footage: Path,
) -> None:
    server = RtspServer([Mount("counter", footage, audio="pcmu")])
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.RTSP, source=server.url("counter"))

    with server, recording(settings, sqlite_db, camera_id):
        wait_until(lambda: len(closed_segments(sqlite_db, camera_id)) >= 2, timeout=20,
                   what="two segments")

    for segment in closed_segments(sqlite_db, camera_id):
        played = play(settings.data_dir / segment.path)
        assert played.audio_codec == "aac" and segment.audio_codec == "aac"
        # AAC frames are 1024 samples: 8 kHz speech gives about 7.8 a second.
        seconds = (segment.ended_at - segment.started_at).total_seconds()
        assert played.audio_frames >= 0.7 * seconds * 8000 / 1024


def test_the_open_segment_gives_frames_while_it_is_written(
    settings: Settings, db: Database, footage: Path,
) -> None:
    settings = settings.model_copy(update={"recording": settings.recording.model_copy(
        update={"segment_seconds": 30.0})})
    started = datetime.now(UTC)
    camera_id = add_camera(db, source_kind=SourceKind.FILE, source=str(footage),
                           replay_started_at=started)

    with recording(settings, db, camera_id):
        wait_until(lambda: datetime.now(UTC) - started > timedelta(seconds=3.5), timeout=10,
                   what="3.5 s of recording")
        [open_segment] = segments(db, camera_id)
        window_end = datetime.now(UTC) - timedelta(seconds=1.5)
        frames = list(frames_between(settings, db, camera_id=camera_id,
                                     start=window_end - timedelta(seconds=1), end=window_end))

    assert open_segment.state is SegmentState.OPEN
    assert len(frames) >= 25  # about 30 frames a second
    assert all(open_segment.started_at <= f.at <= window_end for f in frames)


def test_a_recorder_killed_mid_segment_leaves_nothing_unplayable(
    settings: Settings, sqlite_db: Database, footage: Path, data_dir: Path,
) -> None:
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage),
                           replay_started_at=datetime.now(UTC), name="crashing")
    env = {**os.environ, "SWIPEGUARD_DATA_DIR": str(data_dir),
           "SWIPEGUARD_RECORDING__SEGMENT_SECONDS": "3"}
    recorder = subprocess.Popen(
        [sys.executable, "-m", "swipeguard", "record", "--camera", "crashing"],
        env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _open_with_data(sqlite_db, camera_id, data_dir), timeout=30,
                   what="an open segment with a fragment on disk after a complete one")
    finally:
        recorder.send_signal(signal.SIGKILL)
        recorder.wait(10)
    [left_open] = [s for s in segments(sqlite_db, camera_id) if s.state is SegmentState.OPEN]

    with recording(settings, sqlite_db, camera_id):
        wait_until(lambda: len(closed_segments(sqlite_db, camera_id)) >= 3, timeout=20,
                   what="the repair and a new segment")

    recorded = segments(sqlite_db, camera_id)
    repaired = next(s for s in recorded if s.id == left_open.id)
    assert repaired.state is SegmentState.REPAIRED
    for segment in recorded:
        played = play(data_dir / segment.path)
        assert played.video_frames > 0
        assert played.duration_s <= (segment.ended_at - segment.started_at).total_seconds()
    downtime = [g for g in gaps(sqlite_db, camera_id) if "not running" in g.reason]
    assert downtime and downtime[0].started_at == repaired.ended_at


def _open_with_data(db: Database, camera_id: int, data_dir: Path) -> bool:
    found = segments(db, camera_id)
    complete = [s for s in found if s.state is SegmentState.COMPLETE]
    opened = [s for s in found if s.state is SegmentState.OPEN]
    if not complete or not opened:
        return False
    path = data_dir / opened[0].path
    # Past the empty moov and the first fragment: the kill lands mid-segment.
    return path.exists() and path.stat().st_size > 60_000


def test_serve_runs_a_recorder_per_enabled_camera_and_retention(
    settings: Settings, sqlite_db: Database, footage: Path,
) -> None:
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage))
    spare_id = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage),
                          name="spare")
    with sqlite_db.transaction() as s:
        s.execute(update(Camera).where(Camera.id == spare_id).values(enabled=False))

    names = [w.name for w in all_workers(settings, sqlite_db)]

    assert names.count(f"recorder-{camera_id}") == 1 and names.count("retention") == 1
    assert f"recorder-{spare_id}" not in names


def test_a_replayed_file_without_a_start_starts_when_recording_does(
    settings: Settings, sqlite_db: Database, footage: Path,
) -> None:
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage))
    before = datetime.now(UTC)

    with recording(settings, sqlite_db, camera_id):
        wait_until(lambda: len(segments(sqlite_db, camera_id)) >= 1, timeout=10,
                   what="a first segment")

    with sqlite_db.sessions() as s:
        camera = s.get(Camera, camera_id)
        assert camera is not None and camera.replay_started_at is not None
        assert camera.replay_started_at >= before


def test_a_camera_password_stays_out_of_gaps_and_state(
    settings: Settings, sqlite_db: Database,
) -> None:
    port = free_port()  # nothing listens there: the camera is down from the start
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.RTSP,
                           source=f"rtsp://admin:hunter2@127.0.0.1:{port}/counter")

    with recording(settings, sqlite_db, camera_id):
        wait_until(lambda: bool(gaps(sqlite_db, camera_id)), timeout=10, what="a gap")

    [gap] = gaps(sqlite_db, camera_id)
    with sqlite_db.sessions() as s:
        state = s.get(CameraState, camera_id)
    assert state is not None and state.last_error and "cannot open" in state.last_error
    assert "hunter2" not in gap.reason + state.last_error
    assert gap.ended_at is not None  # closed when the recorder stopped


def test_recording_in_two_processes_shares_the_cameras_between_them(
    sqlite_db: Database, footage: Path, data_dir: Path,
) -> None:
    started = datetime.now(UTC)
    ids = [add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage),
                      replay_started_at=started, name=f"shared-{i}") for i in range(4)]
    env = {**os.environ, "SWIPEGUARD_DATA_DIR": str(data_dir),
           "SWIPEGUARD_RECORDING__SEGMENT_SECONDS": "2"}
    recorder = subprocess.Popen([sys.executable, "-m", "swipeguard", "record", "--processes",
                                 "2"], env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: all(closed_segments(sqlite_db, i) for i in ids), timeout=40,
                   what="a finished segment from every camera")
        with sqlite_db.sessions() as s:
            owners = {state.camera_id: state.owner
                      for state in s.scalars(select(CameraState))}
    finally:
        recorder.send_signal(signal.SIGTERM)
        code = recorder.wait(40)

    pids = {owners[i].split(":")[1] for i in ids if owners.get(i)}
    assert len(pids) == 2 and str(recorder.pid) not in pids
    assert code == 0
    with sqlite_db.sessions() as s:
        stopped = s.scalars(select(CameraState.status)).all()
    assert stopped and all(status is RecorderStatus.STOPPED for status in stopped)


def test_a_shard_is_given_as_index_and_count() -> None:
    assert parse_shard("1/3") == (1, 3)
    assert [i for i in range(7) if in_shard(i, (1, 3))] == [1, 4]
    assert in_shard(5, None)
    for bad in ("3/3", "-1/2", "x/2", "1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_shard(bad)


def test_the_recorder_processes_stop_when_their_parent_is_killed(
    sqlite_db: Database, footage: Path, data_dir: Path,
) -> None:
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage),
                           replay_started_at=datetime.now(UTC), name="orphaned")
    env = {**os.environ, "SWIPEGUARD_DATA_DIR": str(data_dir)}
    parent = subprocess.Popen([sys.executable, "-m", "swipeguard", "record", "--processes",
                               "2"], env=env, stderr=subprocess.DEVNULL)
    wait_until(lambda: segments(sqlite_db, camera_id), timeout=30, what="a segment")
    children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()

    parent.kill()
    parent.wait(10)

    assert len(children) == 2
    wait_until(lambda: not any(Path(f"/proc/{c}").exists() for c in children), timeout=30,
               what="the children to stop")
