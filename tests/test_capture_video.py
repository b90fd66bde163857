"""Capture from a till camera's video: a real clip replayed as a live FILE camera.

In the sample clip the person of one example portrait is at the counter from about 3.6 s
to 7.9 s, large and central; about 1 s in, only a distant face passes at the edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.api.app import create_app
from swipeguard.config import Settings, VerificationSettings
from swipeguard.db import Database, utcnow
from swipeguard.faces.pool import FacePool
from swipeguard.swipes.capture import FaceCapture, NoCapture, from_video
from swipeguard.swipes.models import CaptureSource, Swipe, Verdict
from swipeguard.swipes.workers import Verifier
from swipes_support import add_holder, add_till, swipe_body

AT_COUNTER_S = 6.0  # seconds into the clip: the portrayed person faces the counter
PASSER_BY_ONLY_S = 1.0


@pytest.fixture(scope="module")
def pool() -> Iterator[FacePool]:
    with FacePool(workers=2) as p:
        yield p


@pytest.fixture
def clip(samples: Path) -> Path:
    return samples / "video" / "short_hamilton_clip.mp4"


@pytest.fixture
def portraits(samples: Path) -> tuple[Path, Path]:
    examples = samples / "faces" / "examples"
    return examples / "lin-manuel-miranda.png", examples / "alex-lacamoire.png"


def test_the_person_at_the_counter_is_fused_from_several_frames(
    settings: Settings, sqlite_db: Database, pool: FacePool, clip: Path,
) -> None:
    started = utcnow() - timedelta(minutes=1)
    till = add_till(sqlite_db, video=clip, replay_started_at=started)
    whole_window = settings.model_copy(update={
        "verification": VerificationSettings(early_decision=False)})

    got = from_video(whole_window, sqlite_db, pool, camera_id=till.camera_id or 0,
                     swiped_at=started + timedelta(seconds=AT_COUNTER_S))

    assert isinstance(got, FaceCapture)
    assert got.source is CaptureSource.VIDEO
    assert got.frames_used == settings.verification.frames_fused
    assert got.frames_seen >= 24  # 5 s at 5 frames a second
    assert got.face.quality.face_px >= 80
    assert 100 <= got.face.box.center[0] <= 400  # the middle of a 640px frame, not the edge


def test_a_face_shown_well_before_the_swipe_is_decided_without_waiting_for_more(
    settings: Settings, sqlite_db: Database, pool: FacePool, clip: Path,
) -> None:
    started = utcnow() - timedelta(minutes=1)
    till = add_till(sqlite_db, video=clip, replay_started_at=started)

    got = from_video(settings, sqlite_db, pool, camera_id=till.camera_id or 0,
                     swiped_at=started + timedelta(seconds=AT_COUNTER_S))

    assert isinstance(got, FaceCapture)
    assert got.frames_used == settings.verification.frames_fused
    assert got.frames_seen <= 16  # the 3 s before the swipe only
    assert got.at is not None and got.at <= started + timedelta(seconds=AT_COUNTER_S)


def test_a_distant_passer_by_is_not_taken_for_the_person_at_the_counter(
    settings: Settings, sqlite_db: Database, pool: FacePool, clip: Path,
) -> None:
    started = utcnow() - timedelta(minutes=1)
    till = add_till(sqlite_db, video=clip, replay_started_at=started)

    got = from_video(settings, sqlite_db, pool, camera_id=till.camera_id or 0,
                     swiped_at=started + timedelta(seconds=PASSER_BY_ONLY_S))

    assert isinstance(got, NoCapture)
    assert "under the 60px needed" in got.reason


def test_video_verifies_the_holder_at_the_counter_and_flags_another_card(
    settings: Settings, sqlite_db: Database, pool: FacePool, clip: Path,
    portraits: tuple[Path, Path],
) -> None:
    started = utcnow() - timedelta(minutes=1)
    till = add_till(sqlite_db, video=clip, replay_started_at=started)
    add_holder(sqlite_db, settings, card_no="2000000001", photo=portraits[0])
    add_holder(sqlite_db, settings, card_no="2000000002", photo=portraits[1])
    at = started + timedelta(seconds=AT_COUNTER_S)
    with TestClient(create_app(settings, sqlite_db)) as client:
        ids = [client.post("/api/swipes", headers=till.headers,
                           json=swipe_body(card_no=card, key=card, swiped_at=at)
                           ).json()["swipe_id"] for card in ("2000000001", "2000000002")]

    Verifier(settings, sqlite_db, pool=pool).drain()

    with sqlite_db.sessions() as s:
        holder, other = (s.get(Swipe, i) for i in ids)
        alarms = s.scalars(select(Alarm)).all()
        assert holder is not None and other is not None
        assert holder.verdict is Verdict.VERIFIED, holder.reason
        assert other.verdict is Verdict.MISMATCH, other.reason
        assert "fused frames" in (other.reason or "")
        assert [(a.kind, a.swipe_id) for a in alarms] == [(AlarmKind.MISMATCH, other.id)]
