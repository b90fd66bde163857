"""Retention: old video goes, evidence stays, and every purge is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from camera_support import add_camera, add_swipe, segments
from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import AlarmKind, Resolution
from swipeguard.cameras import retention
from swipeguard.cameras.models import Purge, Segment, SourceKind
from swipeguard.cameras.recorder import record_replay
from swipeguard.config import Settings
from swipeguard.db import Database

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=3)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test-secret",
                    recording={"segment_seconds": 2.0, "clip_before_s": 1.0,
                               "clip_after_s": 1.0},
                    retention={"keep_days": 1.0, "min_free_bytes": 0})


def recorded(settings: Settings, db: Database, footage: Path) -> int:
    """Eight seconds of video three days old, and eight seconds of the last minute."""
    camera_id = add_camera(db, source_kind=SourceKind.FILE, source=str(footage),
                           replay_started_at=OLD)
    for since in (OLD, NOW - timedelta(seconds=60)):
        record_replay(settings, db, camera_id=camera_id, since=since,
                      until=since + timedelta(seconds=8))
    return camera_id


@pytest.fixture
def camera_id(settings: Settings, sqlite_db: Database, footage: Path) -> int:
    return recorded(settings, sqlite_db, footage)


def purges(db: Database) -> list[Purge]:
    with db.sessions() as s:
        return [*s.scalars(select(Purge).order_by(Purge.id))]


def test_segments_older_than_the_retention_go_and_each_purge_is_recorded(
    settings: Settings, db: Database, footage: Path,
) -> None:
    camera_id = recorded(settings, db, footage)
    before = segments(db, camera_id)
    old = [s for s in before if s.ended_at < NOW - timedelta(days=1)]

    done = retention.purge(settings, db, now=NOW)

    assert len(old) >= 3 and len(done) == len(old)
    left = segments(db, camera_id)
    assert {s.id for s in left} == {s.id for s in before} - {s.id for s in old}
    assert all(not (settings.data_dir / s.path).exists() for s in old)
    assert all((settings.data_dir / s.path).exists() for s in left)
    assert [(p.segment_id, p.reason, p.path) for p in purges(db)] == [
        (s.id, "age", s.path) for s in old]


def test_video_behind_an_open_alarm_a_flag_or_a_hook_is_kept(
    settings: Settings, sqlite_db: Database, camera_id: int,
) -> None:
    alarmed = add_swipe(sqlite_db, camera_id=camera_id, at=OLD + timedelta(seconds=1))
    settled = add_swipe(sqlite_db, camera_id=camera_id, at=OLD + timedelta(seconds=5))
    with sqlite_db.transaction() as s:
        alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason="distance 0.7", swipe_id=alarmed)
        closed = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason="0.6", swipe_id=settled)
        alarms.acknowledge(s, alarm_id=closed.id, actor="op1")
        alarms.close(s, alarm_id=closed.id, actor="op1", resolution=Resolution.FALSE_ALARM,
                     reason="the holder's new haircut")
    old = [s for s in segments(sqlite_db, camera_id) if s.ended_at < NOW - timedelta(days=1)]
    with sqlite_db.transaction() as s:
        s.execute(update(Segment).where(Segment.id == old[-1].id).values(protected=True))
    case_window = retention.Window(camera_id, old[1].started_at + timedelta(seconds=0.5),
                                   old[1].started_at + timedelta(seconds=1))
    hook = lambda session: [case_window]  # noqa: E731 - the smallest stand-in for a case

    retention.register_protection(hook)
    try:
        retention.purge(settings, sqlite_db, now=NOW)
    finally:
        retention.unregister_protection(hook)

    kept = {s.id for s in segments(sqlite_db, camera_id)}
    assert old[0].id in kept  # swipe at 1 s +- 1 s: the open alarm's clip
    assert old[1].id in kept  # the hook's window
    assert old[-1].id in kept  # flagged by hand
    assert all(p.reason == "age" for p in purges(sqlite_db))
    assert {p.segment_id for p in purges(sqlite_db)} == {s.id for s in old} - kept


def test_low_disk_removes_the_oldest_unprotected_segments_first(
    settings: Settings, sqlite_db: Database, camera_id: int,
) -> None:
    settings = settings.model_copy(update={"retention": settings.retention.model_copy(
        update={"keep_days": 30.0, "min_free_bytes": 1_000_000})})
    video = settings.data_dir / "video"
    everything = segments(sqlite_db, camera_id)
    used = sum(s.size_bytes for s in everything)
    # A disk that holds what is recorded with 1 MB free minus the first three segments.
    need = sum(s.size_bytes for s in everything[:3])
    capacity = used + 1_000_000 - need + 1
    with sqlite_db.transaction() as s:
        s.execute(update(Segment).where(Segment.id == everything[0].id).values(protected=True))

    retention.purge(settings, sqlite_db, now=NOW,
                    free_bytes=lambda: capacity - sum(f.stat().st_size
                                                      for f in video.rglob("*.mp4")))

    gone = [p.segment_id for p in purges(sqlite_db)]
    assert gone == [s.id for s in everything[1:4]]
    assert all(p.reason == "low_disk" for p in purges(sqlite_db))
