"""Verifying swipes on real faces: verdicts, alarms, the pre-payment wait, claims."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import select

from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.api.app import create_app
from swipeguard.cameras.models import Camera
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.faces.pool import FacePool
from swipeguard.swipes import service
from swipeguard.swipes.models import Capture, Swipe, SwipeState, Verdict
from swipeguard.swipes.workers import Verifier
from swipes_support import (
    TillKey,
    add_holder,
    add_till,
    faceless_jpeg,
    jpeg_of,
    lfw,
    lfw_people,
    swipe_body,
)


@pytest.fixture(scope="module")
def pool() -> Iterator[FacePool]:
    with FacePool(workers=2) as p:
        yield p


@pytest.fixture(scope="module")
def people(samples: Path) -> list[str]:
    return lfw_people(samples, count=3)


@pytest.fixture
def till(sqlite_db: Database) -> TillKey:
    return add_till(sqlite_db)


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sqlite_db)) as c:
        yield c


def _post(client: TestClient, till: TillKey, **body: object) -> dict:  # type: ignore[type-arg]
    r = client.post("/api/swipes", headers=till.headers, json=swipe_body(**body))  # type: ignore[arg-type]
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def _alarms(db: Database, swipe_id: int) -> list[Alarm]:
    with db.sessions() as s:
        return list(s.scalars(select(Alarm).where(Alarm.swipe_id == swipe_id)))


def _swipe(db: Database, swipe_id: int) -> Swipe:
    with db.sessions() as s:
        swipe = s.get(Swipe, swipe_id)
        assert swipe is not None
        _ = swipe.captures
        return swipe


def test_the_holder_at_the_counter_is_verified_without_an_alarm(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
    pool: FacePool, samples: Path, people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000001", photo=lfw(samples, people[0], 1))
    posted = _post(client, till, card_no="1000000001", key="g1",
                   still=jpeg_of(lfw(samples, people[0], 2)))

    counts = Verifier(settings, sqlite_db, pool=pool).drain()

    swipe = _swipe(sqlite_db, posted["swipe_id"])
    assert counts.decided == {"verified": 1}
    assert swipe.verdict is Verdict.VERIFIED
    assert swipe.distance is not None and swipe.distance <= settings.verification.threshold
    assert "within threshold" in (swipe.reason or "")
    assert len(swipe.captures) == 1 and swipe.captures[0].frames_used == 1
    assert (settings.data_dir / swipe.captures[0].image_path).stat().st_size > 1000
    assert _alarms(sqlite_db, swipe.id) == []


def test_someone_else_with_the_card_raises_a_mismatch_alarm(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
    pool: FacePool, samples: Path, people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000002", photo=lfw(samples, people[0], 1))
    posted = _post(client, till, card_no="1000000002", key="m1",
                   still=jpeg_of(lfw(samples, people[1], 1)))

    Verifier(settings, sqlite_db, pool=pool).drain()

    swipe = _swipe(sqlite_db, posted["swipe_id"])
    alarms = _alarms(sqlite_db, swipe.id)
    assert swipe.verdict is Verdict.MISMATCH
    assert swipe.distance is not None and swipe.distance > settings.verification.threshold
    assert [a.kind for a in alarms] == [AlarmKind.MISMATCH]
    assert alarms[0].reason.startswith(f"distance {swipe.distance:.2f} above threshold")


def test_a_lost_card_is_declined_with_a_high_priority_alarm_and_the_face_kept(
    settings: Settings, sqlite_db: Database, till: TillKey, pool: FacePool, samples: Path,
    people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000003", photo=lfw(samples, people[0], 1),
               lost_since=utcnow() - timedelta(days=1))
    verifier = Verifier(settings, sqlite_db, pool=pool)
    stop = threading.Event()
    thread = threading.Thread(target=verifier.run, args=(stop,))
    thread.start()
    try:
        with TestClient(create_app(settings, sqlite_db)) as client:
            started = time.monotonic()
            out = _post(client, till, card_no="1000000003", key="l1", wait=True,
                        still=jpeg_of(lfw(samples, people[0], 2)))
            elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(20)

    alarms = _alarms(sqlite_db, out["swipe_id"])
    assert out["verdict"] == "card_lost" and out["advice"] == "decline"
    assert elapsed < settings.verification.decision_deadline_s
    assert [a.kind for a in alarms] == [AlarmKind.LOST_CARD]
    assert alarms[0].priority == max(a.priority for a in alarms) >= 3
    assert len(_swipe(sqlite_db, out["swipe_id"]).captures) == 1


def test_the_pre_payment_wait_returns_the_verdict_within_the_deadline(
    settings: Settings, sqlite_db: Database, till: TillKey, pool: FacePool, samples: Path,
    people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000004", photo=lfw(samples, people[2], 1))
    pool.warm_up()
    stop = threading.Event()
    thread = threading.Thread(target=Verifier(settings, sqlite_db, pool=pool).run,
                              args=(stop,))
    thread.start()
    try:
        with TestClient(create_app(settings, sqlite_db)) as client:
            started = time.monotonic()
            r = client.post("/api/swipes?wait=true", headers=till.headers,
                            json=swipe_body(card_no="1000000004", key="w1",
                                            still=jpeg_of(lfw(samples, people[2], 2))))
            elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(20)

    assert r.status_code == 201
    assert r.json()["verdict"] == "verified" and r.json()["advice"] == "proceed"
    assert r.json()["distance"] <= r.json()["threshold"]
    assert elapsed < settings.verification.decision_deadline_s


def test_no_face_in_the_still_raises_a_no_face_alarm(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
    pool: FacePool, samples: Path, people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000005", photo=lfw(samples, people[0], 1))
    posted = _post(client, till, card_no="1000000005", key="n1", still=faceless_jpeg())

    Verifier(settings, sqlite_db, pool=pool).drain()

    swipe = _swipe(sqlite_db, posted["swipe_id"])
    assert swipe.verdict is Verdict.NO_FACE and swipe.reason == "no face in the till's still"
    assert [a.kind for a in _alarms(sqlite_db, swipe.id)] == [AlarmKind.NO_FACE]


def test_the_holders_photo_held_beside_another_face_does_not_pass(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
    pool: FacePool, samples: Path, people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000009", photo=lfw(samples, people[0], 1))
    side_by_side = PILImage.new("RGB", (500, 250))
    side_by_side.paste(PILImage.open(lfw(samples, people[1], 1)), (0, 0))
    side_by_side.paste(PILImage.open(lfw(samples, people[0], 2)), (250, 0))
    out = io.BytesIO()
    side_by_side.save(out, format="JPEG", quality=92)
    posted = _post(client, till, card_no="1000000009", key="two", still=out.getvalue())

    Verifier(settings, sqlite_db, pool=pool).drain()

    swipe = _swipe(sqlite_db, posted["swipe_id"])
    assert swipe.verdict is not Verdict.VERIFIED
    assert "cannot tell who is paying" in (swipe.reason or "")
    assert _alarms(sqlite_db, swipe.id) != []


def test_a_holder_without_photos_is_not_enrolled_and_raises_nothing(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
    pool: FacePool, samples: Path, people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000006")
    posted = _post(client, till, card_no="1000000006", key="e1",
                   still=jpeg_of(lfw(samples, people[0], 1)))

    Verifier(settings, sqlite_db, pool=pool).drain()

    swipe = _swipe(sqlite_db, posted["swipe_id"])
    assert swipe.verdict is Verdict.NOT_ENROLLED
    assert _alarms(sqlite_db, swipe.id) == []


def test_a_swipe_is_claimed_by_one_verifier_only(
    settings: Settings, db: Database, samples: Path,
) -> None:
    till = add_till(db)
    add_holder(db, settings, card_no="1000000007")
    with TestClient(create_app(settings, db)) as client:
        swipe_id = _post(client, till, card_no="1000000007", key="c1",
                             still=faceless_jpeg())["swipe_id"]
    first = Verifier(settings, db, pool=None, worker_id="a")
    second = Verifier(settings, db, pool=None, worker_id="b")

    won = first.claim(5), second.claim(5)

    assert won == ([swipe_id], [])
    with db.transaction() as s:
        assert not service.decide(s, swipe_id=swipe_id, worker="b", verdict=Verdict.VERIFIED,
                                  distance=0.1, threshold=0.55, reason="", now=utcnow())
        assert service.decide(s, swipe_id=swipe_id, worker="a", verdict=Verdict.NO_FACE,
                              distance=None, threshold=0.55, reason="x", now=utcnow())
        assert not service.decide(s, swipe_id=swipe_id, worker="a", verdict=Verdict.VERIFIED,
                                  distance=0.1, threshold=0.55, reason="", now=utcnow())


def test_a_swipe_without_a_still_waits_until_its_video_is_recorded(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000008")
    _post(client, till, card_no="1000000008", key="v1", swiped_at=utcnow())
    later = utcnow() + timedelta(seconds=1.5)  # the video before the swipe is flushed

    now_claims = Verifier(settings, sqlite_db, worker_id="a").claim(5)
    later_claims = Verifier(settings, sqlite_db, worker_id="b", clock=lambda: later).claim(5)

    assert now_claims == [] and len(later_claims) == 1


def test_a_failing_verification_is_retried_then_shown_to_an_operator(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
    pool: FacePool, samples: Path, people: list[str],
) -> None:
    add_holder(sqlite_db, settings, card_no="1000000009", photo=lfw(samples, people[0], 1))
    posted = _post(client, till, card_no="1000000009", key="f1",
                   still=jpeg_of(lfw(samples, people[0], 2)))
    still = settings.data_dir / _swipe(sqlite_db, posted["swipe_id"]).still_path  # type: ignore[operator]
    still.unlink()  # the disk lost it: every attempt fails
    clock = [utcnow()]
    verifier = Verifier(settings, sqlite_db, pool=pool, clock=lambda: clock[0])

    for _ in range(3):
        verifier.drain()
        clock[0] += timedelta(seconds=10)  # past the retry delay

    swipe = _swipe(sqlite_db, posted["swipe_id"])
    assert verifier.counts.failed == 3
    assert swipe.state is SwipeState.DECIDED and swipe.verdict is Verdict.ERROR
    assert swipe.attempts == 3 and "after 3 attempts" in (swipe.reason or "")
    assert [a.kind for a in _alarms(sqlite_db, swipe.id)] == [AlarmKind.ERROR]
    assert service.advice(swipe) == "check_id"
    with sqlite_db.sessions() as s:
        assert s.scalars(select(Capture)).all() == []


def test_a_camera_that_cannot_replay_reads_as_an_error_not_as_a_missing_face(
    settings: Settings, sqlite_db: Database, client: TestClient, pool: FacePool,
    samples: Path, people: list[str],
) -> None:
    till = add_till(sqlite_db, name="Till 2", video=samples / "video" / "short_hamilton_clip.mp4")
    with sqlite_db.transaction() as s:
        camera = s.get(Camera, till.camera_id)
        assert camera is not None
        camera.replay_started_at = None  # as saved before cameras were checked
    add_holder(sqlite_db, settings, card_no="1000000010", photo=lfw(samples, people[0], 1))
    posted = _post(client, till, card_no="1000000010", key="e1",
                   swiped_at=utcnow() - timedelta(minutes=1))
    clock = [utcnow()]
    verifier = Verifier(settings, sqlite_db, pool=pool, clock=lambda: clock[0])

    for _ in range(3):
        verifier.drain()
        clock[0] += timedelta(seconds=10)

    swipe = _swipe(sqlite_db, posted["swipe_id"])
    assert swipe.verdict is Verdict.ERROR
    assert (swipe.reason or "").startswith(
        "could not be verified after 3 attempts (ValueError: camera")
    assert [a.kind for a in _alarms(sqlite_db, swipe.id)] == [AlarmKind.ERROR]


def test_a_verifier_outlives_a_database_that_is_away(
    settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    away = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    verifier = Verifier(settings, away, pool=None)
    stop = threading.Event()
    thread = threading.Thread(target=verifier.run, args=(stop,))

    thread.start()
    time.sleep(0.5)
    stop.set()
    thread.join(10)

    assert not thread.is_alive()
    assert "cannot reach the database" in caplog.text
    away.dispose()


def _casia(samples: Path, person: int, index: int) -> Path:
    return samples / "faces" / "casia-facev5" / f"{person:03d}" / f"{person:03d}_{index}.bmp"


@pytest.mark.parametrize("rule", [True, False])
def test_a_face_nearer_another_enrolled_holder_is_a_mismatch(
    settings: Settings, sqlite_db: Database, client: TestClient, till: TillKey,
    pool: FacePool, samples: Path, rule: bool,
) -> None:
    # Two Chinese subjects whose faces dlib places within the threshold of each other.
    settings = settings.model_copy(update={"verification": settings.verification.model_copy(
        update={"nearest_enrolled": rule})})
    add_holder(sqlite_db, settings, card_no="1000000101", photo=_casia(samples, 5, 0))
    add_holder(sqlite_db, settings, card_no="1000000102", photo=_casia(samples, 4, 0))
    genuine = _post(client, till, card_no="1000000101", key="cn-genuine",
                    still=jpeg_of(_casia(samples, 5, 1)))
    other = _post(client, till, card_no="1000000101", key="cn-other",
                  still=jpeg_of(_casia(samples, 4, 1)))

    Verifier(settings, sqlite_db, pool=pool).drain()

    by_other = _swipe(sqlite_db, other["swipe_id"])
    assert _swipe(sqlite_db, genuine["swipe_id"]).verdict is Verdict.VERIFIED
    assert by_other.distance is not None
    # The threshold alone passes the stranger, who is not near enough to be surely the holder.
    assert settings.verification.sure_below < by_other.distance <= settings.verification.threshold
    if rule:
        assert by_other.verdict is Verdict.MISMATCH
        assert "nearer another enrolled card holder" in (by_other.reason or "")
        assert [a.kind for a in _alarms(sqlite_db, by_other.id)] == [AlarmKind.MISMATCH]
    else:
        assert by_other.verdict is Verdict.VERIFIED
