"""The alarms API: the queue, acting on an alarm, live updates and the faces behind it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api_support import (
    PASSWORD,
    LiveServer,
    Place,
    Seeded,
    add_mismatch,
    add_place,
    add_user,
    lfw_pair,
)
from swipeguard.alarms import service as alarms
from swipeguard.alarms.feed import AlarmWatch
from swipeguard.alarms.models import AlarmKind
from swipeguard.api.app import create_app
from swipeguard.audit.models import AccessRecord
from swipeguard.auth.models import Role
from swipeguard.config import Settings
from swipeguard.db import Database


@pytest.fixture
def place(sqlite_db: Database) -> Place:
    add_user(sqlite_db, "olga", Role.OPERATOR)
    add_user(sqlite_db, "ada", Role.ADMIN)
    return add_place(sqlite_db)


@pytest.fixture
def seeded(sqlite_db: Database, settings: Settings, samples: Path, place: Place) -> Seeded:
    enrolled, at_counter = lfw_pair(samples, same=False)
    return add_mismatch(sqlite_db, settings, place, enrolled=enrolled, at_counter=at_counter,
                        card_no="6200001234567890")


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sqlite_db)) as c:
        yield c


def sign_in(client: TestClient | httpx.Client, username: str = "olga") -> None:
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_the_queue_shows_a_mismatch_with_what_an_operator_needs(
    client: TestClient, seeded: Seeded,
) -> None:
    sign_in(client)

    items = client.get("/api/alarms", params={"status": "open"}).json()

    assert [a["id"] for a in items] == [seeded.alarm_id]
    item = items[0]
    assert item["kind"] == "mismatch" and item["status"] == "open"
    assert item["card_no_masked"] == "****7890"
    assert "6200001234567890" not in json.dumps(items)
    assert item["facility_name"] == "Riverside Pharmacy" and item["till_name"] == "Till 1"
    assert item["amount_cents"] == 4250
    assert item["distance"] == pytest.approx(seeded.distance)
    assert item["distance"] > item["threshold"] == 0.55
    assert item["capture_id"] == seeded.capture_id
    assert item["enrolled_photo_id"] == seeded.photo_id


def test_the_queue_puts_urgent_alarms_first_then_newest(
    client: TestClient, sqlite_db: Database, seeded: Seeded,
) -> None:
    with sqlite_db.transaction() as s:
        lost = alarms.open_alarm(s, kind=AlarmKind.LOST_CARD, reason="card reported lost")
        no_face = alarms.open_alarm(s, kind=AlarmKind.NO_FACE, reason="no face seen")
        newer = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason="another mismatch")
    sign_in(client)

    ids = [a["id"] for a in client.get("/api/alarms").json()]

    assert ids == [lost.id, newer.id, seeded.alarm_id, no_face.id]


def test_acknowledge_then_close_keeps_the_history(client: TestClient, seeded: Seeded) -> None:
    sign_in(client)

    ack = client.post(f"/api/alarms/{seeded.alarm_id}/acknowledge", json={})
    closed = client.post(f"/api/alarms/{seeded.alarm_id}/close",
                         json={"resolution": "confirmed_misuse", "reason": "not the holder"})

    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert closed.status_code == 200
    detail = client.get(f"/api/alarms/{seeded.alarm_id}").json()
    assert detail["status"] == "closed" and detail["resolution"] == "confirmed_misuse"
    assert [(h["action"], h["actor"]) for h in detail["history"]] == [
        ("open", "system"), ("acknowledge", "olga"), ("close", "olga")]
    assert detail["history"][-1]["reason"] == "not the holder"


def test_acting_on_an_alarm_someone_else_handled_is_a_conflict(
    client: TestClient, seeded: Seeded,
) -> None:
    sign_in(client)
    client.post(f"/api/alarms/{seeded.alarm_id}/acknowledge", json={})

    again = client.post(f"/api/alarms/{seeded.alarm_id}/acknowledge", json={})

    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]


def test_closing_needs_a_resolution_and_a_reason(client: TestClient, seeded: Seeded) -> None:
    sign_in(client)
    client.post(f"/api/alarms/{seeded.alarm_id}/acknowledge", json={})

    r = client.post(f"/api/alarms/{seeded.alarm_id}/close", json={"resolution": "maybe"})

    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"body.resolution", "body.reason"}


def test_an_unknown_alarm_is_404(client: TestClient, place: Place) -> None:
    sign_in(client)

    assert client.get("/api/alarms/999").status_code == 404
    assert client.post("/api/alarms/999/acknowledge", json={}).status_code == 404


def test_both_faces_are_served_to_a_signed_in_user_and_each_view_is_recorded(
    client: TestClient, sqlite_db: Database, seeded: Seeded,
) -> None:
    sign_in(client)

    capture = client.get(f"/api/captures/{seeded.capture_id}/image")
    enrolled = client.get(f"/api/enrolled-photos/{seeded.photo_id}/image")

    for r in (capture, enrolled):
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/jpeg"
        assert r.content[:3] == b"\xff\xd8\xff"
        assert r.headers["cache-control"] == "no-store"
    with sqlite_db.transaction() as s:
        seen = {(a.actor, a.action, a.object_id) for a in s.scalars(select(AccessRecord))}
    assert ("olga", "view_capture", str(seeded.capture_id)) in seen
    assert ("olga", "view_enrolled_photo", str(seeded.photo_id)) in seen


def test_no_face_is_served_without_a_sign_in(client: TestClient, seeded: Seeded) -> None:
    capture = client.get(f"/api/captures/{seeded.capture_id}/image")
    enrolled = client.get(f"/api/enrolled-photos/{seeded.photo_id}/image")
    queue = client.get("/api/alarms")
    stream = client.get("/api/alarms/stream")

    assert [r.status_code for r in (capture, enrolled, queue, stream)] == [401] * 4
    assert capture.content[:3] != b"\xff\xd8\xff"


def test_an_image_path_outside_the_data_directory_is_not_served(
    client: TestClient, sqlite_db: Database, seeded: Seeded, tmp_path: Path,
) -> None:
    from swipeguard.swipes.models import Capture

    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(b"\xff\xd8\xff not for you")
    with sqlite_db.transaction() as s:
        s.get(Capture, seeded.capture_id).image_path = "../elsewhere.jpg"  # type: ignore[union-attr]
    sign_in(client)

    r = client.get(f"/api/captures/{seeded.capture_id}/image")

    assert r.status_code == 404


def test_the_watch_reports_new_alarms_and_changes_once(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as s:
        old = alarms.open_alarm(s, kind=AlarmKind.NO_FACE, reason="before the console")
    watch = AlarmWatch(after_id=old.id)
    with sqlite_db.transaction() as s:
        assert watch.poll(s) == []
        new = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason="while watching")

    with sqlite_db.transaction() as s:
        first = [(name, item.id) for name, item in watch.poll(s)]
        alarms.acknowledge(s, alarm_id=old.id, actor="olga")
    with sqlite_db.transaction() as s:
        second = [(name, item.id, item.status.value) for name, item in watch.poll(s)]
        third = watch.poll(s)

    assert first == [("alarm", new.id)]
    assert second == [("alarm-update", old.id, "acknowledged")]
    assert third == []


def test_the_watch_finds_an_alarm_committed_after_a_newer_one(sqlite_db: Database) -> None:
    """Ids are taken in one order and committed in another; none may be skipped."""
    with sqlite_db.transaction() as s:
        early = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason="slow transaction")
        late = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason="fast transaction")
    watch = AlarmWatch(after_id=early.id - 1)
    watch.after_id = late.id  # as if `late` had been reported before `early` committed
    watch._announced.add(late.id)
    watch._sent[late.id] = late.updated_at

    with sqlite_db.transaction() as s:
        found = [(name, item.id) for name, item in watch.poll(s)]

    assert found == [("alarm", early.id)]


def test_a_new_alarm_reaches_an_open_stream(
    settings: Settings, sqlite_db: Database, place: Place,
) -> None:
    app = create_app(settings, sqlite_db)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        sign_in(http)
        events: list[tuple[str, dict]] = []
        ready = threading.Event()

        def listen() -> None:
            with http.stream("GET", "/api/alarms/stream") as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                name = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line[6:])))
                        ready.set()
                        if name == "alarm":
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert ready.wait(5), "the stream did not open"
        with sqlite_db.transaction() as s:
            alarm = alarms.open_alarm(s, kind=AlarmKind.LOST_CARD, reason="card reported lost")
        listener.join(5)

    assert [name for name, _ in events] == ["ready", "alarm"]
    assert events[1][1]["id"] == alarm.id and events[1][1]["kind"] == "lost_card"


def test_a_burst_of_changes_does_not_hide_a_new_alarm(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as s:
        burst = [alarms.open_alarm(s, kind=AlarmKind.NO_FACE, reason=f"burst {i}")
                 for i in range(AlarmWatch.BATCH + 50)]
    watch = AlarmWatch(after_id=burst[-1].id)
    with sqlite_db.transaction() as s:
        new = alarms.open_alarm(s, kind=AlarmKind.LOST_CARD, reason="after the burst")

    with sqlite_db.transaction() as s:
        found = [(name, item.id) for name, item in watch.poll(s)]

    assert found == [("alarm", new.id)]
