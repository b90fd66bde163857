"""The cameras' recording state as the console sees it: computed from the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from camera_support import add_camera, signed_in_client
from swipeguard.api.app import create_app
from swipeguard.cameras.models import CameraState, Gap, RecorderStatus, Segment, SourceKind
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with signed_in_client(create_app(settings, db), db) as c:
        yield c


def seed(db: Database, camera_id: int, *, heartbeat_age_s: float) -> None:
    now = utcnow()
    with db.transaction() as s:
        s.add(CameraState(camera_id=camera_id, status=RecorderStatus.RECORDING,
                          owner="host:1:1", heartbeat_at=now - timedelta(seconds=heartbeat_age_s),
                          bitrate_bps=2_000_000))
        s.add(Segment(camera_id=camera_id, path=f"video/{camera_id}/a.mp4",
                      started_at=now - timedelta(seconds=20), ended_at=now - timedelta(seconds=10)))
        s.add(Gap(camera_id=camera_id, started_at=now - timedelta(hours=30),
                  ended_at=now - timedelta(hours=29), reason="camera dropped: old"))
        s.add(Gap(camera_id=camera_id, started_at=now - timedelta(hours=2),
                  ended_at=now - timedelta(hours=1), reason="camera dropped: recent"))


def test_a_recording_camera_shows_its_state_bitrate_and_gaps_of_the_last_day(
    client: TestClient, db: Database,
) -> None:
    camera_id = add_camera(db, source_kind=SourceKind.RTSP,
                           source="rtsp://user:secret@127.0.0.1:8554/till")
    seed(db, camera_id, heartbeat_age_s=1)

    [camera] = client.get("/api/cameras").json()

    assert camera["status"] == "recording"
    assert camera["bitrate_bps"] == 2_000_000
    assert [g["reason"] for g in camera["gaps_24h"]] == ["camera dropped: recent"]
    last_end = datetime.fromisoformat(camera["last_segment_end"])
    assert datetime.now(UTC) - last_end < timedelta(seconds=15)
    assert "secret" not in str(camera)


def test_a_recorder_that_stopped_beating_shows_as_stopped(
    client: TestClient, db: Database,
) -> None:
    camera_id = add_camera(db, source_kind=SourceKind.RTSP,
                           source="rtsp://127.0.0.1:8554/till")
    seed(db, camera_id, heartbeat_age_s=300)

    [camera] = client.get("/api/cameras").json()

    assert camera["status"] == "stopped" and camera["bitrate_bps"] is None


def test_camera_state_needs_a_sign_in(settings: Settings, db: Database) -> None:
    with TestClient(create_app(settings, db)) as anonymous:
        assert anonymous.get("/api/cameras").status_code == 401
