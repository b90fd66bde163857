"""Facilities, tills and their keys, camera registration: service, API and commands."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_support import PASSWORD, add_user
from swipeguard.api.app import create_app
from swipeguard.auth import service as auth
from swipeguard.auth.models import Role
from swipeguard.cameras.models import SourceKind
from swipeguard.cameras.workers import workers as camera_workers
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.facilities import service
from swipeguard.facilities.models import FacilityKind
from swipeguard.privacy import token_hash


def test_a_till_key_is_returned_once_and_only_its_hash_is_kept(db: Database) -> None:
    with db.transaction() as s:
        f = service.create_facility(s, name="North", kind=FacilityKind.PHARMACY,
                                    district="A", latitude=31.2, longitude=121.4)
        till, key = service.create_till(s, facility_id=f.id, name="Till 1")

    with db.transaction() as s:
        stored = service.get_till(s, till_id=till.id)
        found = auth.till_for_key(s, api_key=key)

    assert stored is not None and stored.api_key_hash == token_hash(key)
    assert key not in stored.api_key_hash
    assert found is not None and found.id == till.id


def test_a_new_key_replaces_the_old_one(db: Database) -> None:
    with db.transaction() as s:
        f = service.create_facility(s, name="North", kind=FacilityKind.CLINIC, district="A")
        till, old = service.create_till(s, facility_id=f.id, name="Till 1")

    with db.transaction() as s:
        new = service.rotate_till_key(s, till_id=till.id)

    with db.transaction() as s:
        assert auth.till_for_key(s, api_key=old) is None
        assert auth.till_for_key(s, api_key=new) is not None


def test_till_names_are_unique_within_a_facility(db: Database) -> None:
    with db.transaction() as s:
        f = service.create_facility(s, name="North", kind=FacilityKind.PHARMACY, district="A")
        g = service.create_facility(s, name="South", kind=FacilityKind.PHARMACY, district="B")
        service.create_till(s, facility_id=f.id, name="Till 1")
        service.create_till(s, facility_id=g.id, name="Till 1")

    with pytest.raises(service.AlreadyExists), db.transaction() as s:
        service.create_till(s, facility_id=f.id, name="Till 1")


@pytest.mark.parametrize(("lat", "lon", "message"), [
    (91.0, 0.0, "latitude"), (0.0, 181.0, "longitude"), (10.0, None, "both"),
])
def test_a_position_must_be_on_the_globe_and_complete(
    sqlite_db: Database, lat: float, lon: float | None, message: str,
) -> None:
    with pytest.raises(ValueError, match=message), sqlite_db.transaction() as s:
        service.create_facility(s, name="X", kind=FacilityKind.CLINIC, district="A",
                                latitude=lat, longitude=lon)


def test_a_camera_belongs_to_its_facility_and_its_till(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as s:
        f = service.create_facility(s, name="North", kind=FacilityKind.PHARMACY, district="A")
        g = service.create_facility(s, name="South", kind=FacilityKind.PHARMACY, district="B")
        cam = service.create_camera(s, facility_id=f.id, name="north-1",
                                    source_kind=SourceKind.RTSP, source="rtsp://127.0.0.1/a")
        till, _ = service.create_till(s, facility_id=f.id, name="Till 1", camera_id=cam.id)

    assert till.camera_id == cam.id
    with pytest.raises(ValueError, match="another facility"), sqlite_db.transaction() as s:
        service.create_till(s, facility_id=g.id, name="Till 1", camera_id=cam.id)
    with pytest.raises(ValueError, match="rtsp://"), sqlite_db.transaction() as s:
        service.create_camera(s, facility_id=f.id, name="north-2",
                              source_kind=SourceKind.RTSP, source="http://127.0.0.1/a")


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _add_file_camera(db: Database, source: str, replay_started_at: datetime | None) -> None:
    with db.transaction() as s:
        f = service.create_facility(s, name="North", kind=FacilityKind.PHARMACY, district="A")
        service.create_camera(s, facility_id=f.id, name="north-1", source_kind=SourceKind.FILE,
                              source=source, replay_started_at=replay_started_at)


def test_a_file_camera_replays_a_real_video_from_its_start(
    sqlite_db: Database, samples: Path,
) -> None:
    video = samples / "video" / "short_hamilton_clip.mp4"

    service.check_source(source_kind=SourceKind.FILE, source=str(video))
    _add_file_camera(sqlite_db, str(video), T0)

    with sqlite_db.sessions() as s:
        [camera] = service.list_cameras(s)
    assert (camera.source, camera.replay_started_at) == (str(video), T0)


def test_a_file_camera_without_its_replay_start_is_refused(
    sqlite_db: Database, samples: Path,
) -> None:
    video = samples / "video" / "short_hamilton_clip.mp4"

    with pytest.raises(service.BadCamera, match="replay_started_at") as refused:
        _add_file_camera(sqlite_db, str(video), None)

    assert refused.value.field == "replay_started_at"
    with sqlite_db.sessions() as s:
        assert service.list_cameras(s) == []


@pytest.mark.parametrize(("source", "message"), [
    ("/etc/passwd", "cannot read video file"),
    ("{samples}/faces/lfw", "not a regular file"),
    ("{samples}/video/no-such-clip.mp4", "no file at"),
    ("video/short_hamilton_clip.mp4", "absolute path"),
    ("{samples}/faces/examples/biden.jpg", "not a video"),
    ("{samples}/presentation-attacks/video/live-1.webm", "copies H.264 or H.265"),
])
def test_a_file_camera_needs_a_video_the_server_can_read(
    samples: Path, source: str, message: str,
) -> None:
    with pytest.raises(service.BadCamera, match=message) as refused:
        service.check_source(source_kind=SourceKind.FILE, source=source.format(samples=samples))

    assert refused.value.field == "source"


@pytest.fixture
def admin(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    add_user(sqlite_db, "ada", Role.ADMIN)
    with TestClient(create_app(settings, sqlite_db)) as c:
        c.post("/api/session", json={"username": "ada", "password": PASSWORD})
        yield c


def test_an_admin_sets_up_a_facility_till_and_camera_over_the_api(admin: TestClient) -> None:
    f = admin.post("/api/facilities", json={"name": "North", "kind": "pharmacy",
                                            "district": "A"}).json()
    cam = admin.post("/api/admin/cameras", json={
        "facility_id": f["id"], "name": "north-1", "source_kind": "rtsp",
        "source": "rtsp://viewer:secret@127.0.0.1:8554/north"}).json()
    created = admin.post("/api/tills", json={"facility_id": f["id"], "name": "Till 1",
                                             "camera_id": cam["id"]})

    assert created.status_code == 201
    key = created.json()["api_key"]
    assert len(key) >= 40
    assert cam["source"] == "rtsp://***@127.0.0.1:8554/north"
    listed = admin.get("/api/tills", params={"facility_id": f["id"]}).json()
    assert [(t["name"], t["camera_id"]) for t in listed] == [("Till 1", cam["id"])]
    assert "api_key" not in listed[0]
    dup = admin.post("/api/tills", json={"facility_id": f["id"], "name": "Till 1"})
    assert dup.status_code == 409
    missing = admin.post("/api/tills", json={"facility_id": 999, "name": "Till 9"})
    assert missing.status_code == 404


def _swipeguard(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swipeguard", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_the_commands_add_a_facility_and_a_till_printing_its_key_once(
    data_dir: Path, sqlite_db: Database,
) -> None:
    d = str(data_dir)

    facility = _swipeguard("facilities", "add", "North", "--kind", "pharmacy",
                           "--district", "A", "--data-dir", d)
    till = _swipeguard("tills", "add", "Till 1", "--facility", "1", "--data-dir", d)
    bad = _swipeguard("tills", "add", "Till 2", "--facility", "7", "--data-dir", d)
    listing = _swipeguard("facilities", "list", "--data-dir", d)

    assert facility.returncode == 0 and "facility 1: North" in facility.stdout
    assert till.returncode == 0
    key = till.stdout.strip().split()[-1]
    with sqlite_db.transaction() as s:
        assert auth.till_for_key(s, api_key=key) is not None
    assert bad.returncode == 2 and "no facility 7" in bad.stderr
    assert "till 1: Till 1" in listing.stdout and key not in listing.stdout


def test_the_api_refuses_a_file_camera_it_could_not_replay(
    admin: TestClient, samples: Path,
) -> None:
    f = admin.post("/api/facilities", json={"name": "North", "kind": "pharmacy",
                                            "district": "A"}).json()
    camera = {"facility_id": f["id"], "name": "north-1", "source_kind": "file",
              "enabled": True}
    video = str(samples / "video" / "short_hamilton_clip.mp4")

    no_start = admin.post("/api/admin/cameras", json={**camera, "source": video})
    not_video = admin.post("/api/admin/cameras", json={**camera, "source": "/etc/passwd"})
    listed = admin.get("/api/admin/cameras").json()
    good = admin.post("/api/admin/cameras", json={
        **camera, "source": video, "replay_started_at": T0.isoformat()})

    assert no_start.status_code == 422
    assert "replay_started_at" in no_start.json()["detail"]
    assert [e["field"] for e in no_start.json()["errors"]] == ["body.replay_started_at"]
    assert not_video.status_code == 422
    assert [e["field"] for e in not_video.json()["errors"]] == ["body.source"]
    assert listed == []
    assert good.status_code == 201 and good.json()["source"] == video


def test_serve_leaves_recording_to_the_recorder_command_when_told(
    settings: Settings, sqlite_db: Database, samples: Path,
) -> None:
    with sqlite_db.transaction() as s:
        facility = service.create_facility(s, name="Quay Pharmacy", kind=FacilityKind.PHARMACY,
                                           district="Quay")
        service.create_camera(s, facility_id=facility.id, name="counter",
                              source_kind=SourceKind.FILE,
                              source=str(samples / "video" / "short_hamilton_clip.mp4"),
                              replay_started_at=datetime.now(UTC))
    off = settings.model_copy(update={"recording": settings.recording.model_copy(
        update={"in_serve": False})})

    recording = [type(w).__name__ for w in camera_workers(settings, sqlite_db)]
    not_recording = [type(w).__name__ for w in camera_workers(off, sqlite_db)]

    assert recording.count("Recorder") == 1 and "RetentionWorker" in recording
    assert not_recording == ["RetentionWorker"]
