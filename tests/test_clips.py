"""A swipe's clip: cut by stream copy across segments, served with ranges, audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from camera_support import (
    add_camera,
    add_swipe,
    play,
    segments,
    signed_in_client,
)
from swipeguard.api.app import create_app
from swipeguard.audit.models import AccessRecord
from swipeguard.cameras import clips
from swipeguard.cameras.models import SourceKind
from swipeguard.cameras.recorder import record_replay
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.facilities.models import Till
from swipeguard.swipes import flows
from swipeguard.swipes import service as swipes
from swipeguard.swipes.signals import get_signals

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test-secret",
                    recording={"segment_seconds": 2.0, "clip_before_s": 3.0,
                               "clip_after_s": 3.0})


@pytest.fixture
def camera_id(settings: Settings, sqlite_db: Database, footage: Path) -> int:
    """A camera with 20 s of recorded segments from T0."""
    camera_id = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage),
                           replay_started_at=T0)
    record_replay(settings, sqlite_db, camera_id=camera_id, since=T0,
                  until=T0 + timedelta(seconds=20))
    return camera_id


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    with signed_in_client(create_app(settings, sqlite_db), sqlite_db) as c:
        yield c


def test_a_clip_across_segments_has_sound_and_the_window_length(
    settings: Settings, sqlite_db: Database, camera_id: int,
) -> None:
    start, end = T0 + timedelta(seconds=7), T0 + timedelta(seconds=13)
    with sqlite_db.sessions() as s:
        covering = [x for x in segments(sqlite_db, camera_id)
                    if x.started_at <= end and x.ended_at >= start]

        clip = clips.get_clip(settings, s, camera_id=camera_id, start=start, end=end)

    assert len(covering) >= 2
    played = play(clip.path)
    assert played.audio_codec == "aac" and played.audio_frames > 0
    # Starts on the keyframe at or before the window (0.5 s apart in this footage).
    assert start - timedelta(seconds=0.55) <= clip.started_at <= start
    assert 6.0 <= played.duration_s + 0.05 <= 6.6
    assert abs(played.video_frames - 29.97 * played.duration_s) < 3


def test_a_window_without_video_is_a_clear_not_found(
    client: TestClient, sqlite_db: Database, camera_id: int,
) -> None:
    swipe_id = add_swipe(sqlite_db, camera_id=camera_id, at=T0 + timedelta(hours=2))

    response = client.get(f"/api/swipes/{swipe_id}/clip")

    assert response.status_code == 404
    assert "no video of camera" in response.json()["detail"]


def test_the_clip_is_served_with_byte_ranges_for_seeking(
    client: TestClient, sqlite_db: Database, camera_id: int,
) -> None:
    swipe_id = add_swipe(sqlite_db, camera_id=camera_id, at=T0 + timedelta(seconds=10))
    whole = client.get(f"/api/swipes/{swipe_id}/clip")

    part = client.get(f"/api/swipes/{swipe_id}/clip", headers={"Range": "bytes=100-1099"})
    tail = client.get(f"/api/swipes/{swipe_id}/clip", headers={"Range": "bytes=-500"})
    beyond = client.get(f"/api/swipes/{swipe_id}/clip",
                        headers={"Range": f"bytes={len(whole.content) + 10}-"})

    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole.content)}"
    assert part.content == whole.content[100:1100]
    assert tail.status_code == 206 and tail.content == whole.content[-500:]
    assert beyond.status_code == 416


def test_a_download_is_an_attachment(
    client: TestClient, sqlite_db: Database, camera_id: int,
) -> None:
    swipe_id = add_swipe(sqlite_db, camera_id=camera_id, at=T0 + timedelta(seconds=10))

    response = client.get(f"/api/swipes/{swipe_id}/clip", params={"download": 1})

    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert f"swipe-{swipe_id}.mp4" in response.headers["content-disposition"]


def test_a_clip_needs_a_sign_in_and_each_view_is_recorded_with_its_reason(
    settings: Settings, client: TestClient, sqlite_db: Database, camera_id: int,
) -> None:
    swipe_id = add_swipe(sqlite_db, camera_id=camera_id, at=T0 + timedelta(seconds=10))
    with TestClient(create_app(settings, sqlite_db)) as anonymous:
        refused = anonymous.get(f"/api/swipes/{swipe_id}/clip")

    client.get(f"/api/swipes/{swipe_id}/clip", params={"reason": "alarm 12 review"})
    client.get(f"/api/swipes/{swipe_id}/clip", params={"reason": "alarm 12 review"},
               headers={"Range": "bytes=5000-"})

    assert refused.status_code == 401
    with sqlite_db.sessions() as s:
        records = s.scalars(select(AccessRecord).where(AccessRecord.action == "view_clip")).all()
    assert [(r.actor, r.object_kind, r.object_id, r.reason) for r in records] == [
        ("op1", "swipe", str(swipe_id), "alarm 12 review")]


def test_a_swipe_keeps_the_camera_that_filmed_it_when_its_till_moves(
    settings: Settings, sqlite_db: Database, camera_id: int, footage: Path,
) -> None:
    with sqlite_db.sessions() as s:
        till_id = s.scalar(select(Till.id).where(Till.camera_id == camera_id))
    assert till_id is not None
    stored = swipes.create(settings, sqlite_db, get_signals(settings, sqlite_db),
                           till_id=till_id, new=swipes.NewSwipe(
                               card_no="9990000000000002", swiped_at=T0 + timedelta(seconds=10),
                               amount_cents=990, idempotency_key="moved-1"))
    other = add_camera(sqlite_db, source_kind=SourceKind.FILE, source=str(footage),
                       replay_started_at=T0, name="the till's new camera")
    with sqlite_db.transaction() as s:
        till = s.get(Till, till_id)
        assert till is not None
        till.camera_id = other

    with sqlite_db.sessions() as s:
        clip = clips.clip_for_swipe(settings, s, swipe_id=stored.swipe.id)
    inputs = flows.load(sqlite_db, swipe_id=stored.swipe.id)

    assert stored.swipe.camera_id == camera_id != other
    assert clip.camera_id == camera_id and inputs.camera_id == camera_id
    assert play(clip.path).video_frames > 0
