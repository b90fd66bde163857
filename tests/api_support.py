"""Helpers for the API and console tests: a real server on loopback, and seeded alarms
whose faces come from real photos run through the real face engine."""

from __future__ import annotations

import functools
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import AlarmKind
from swipeguard.auth import service as auth
from swipeguard.auth.models import Role
from swipeguard.cardholders import service as cardholders
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.faces import service as faces
from swipeguard.faces.pool import DescribedFace, describe_image
from swipeguard.facilities import service as facilities
from swipeguard.facilities.models import FacilityKind
from swipeguard.swipes.models import Capture, CaptureSource, Swipe, SwipeState, Verdict

PASSWORD = "correct horse battery staple"
THRESHOLD = 0.55


def add_user(db: Database, name: str, role: Role) -> None:
    with db.transaction() as s:
        auth.create_user(s, username=name, password=PASSWORD, role=role)


def lfw_pair(samples: Path, *, same: bool, index: int = 0) -> tuple[Path, Path]:
    """Two LFW photos from the development pairs: of one person, or of two people."""
    lfw = samples / "faces" / "lfw"
    found = 0
    for line in (lfw / "pairs-dev.txt").read_text().splitlines()[1:]:
        parts = line.split("\t")
        if (len(parts) == 3) != same:
            continue
        if found < index:
            found += 1
            continue
        if same:
            name, i, j = parts
            return _lfw(lfw, name, i), _lfw(lfw, name, j)
        a, i, b, j = parts
        return _lfw(lfw, a, i), _lfw(lfw, b, j)
    raise LookupError("not enough pairs in pairs-dev.txt")


def _lfw(lfw: Path, name: str, number: str) -> Path:
    return lfw / name / f"{name}_{int(number):04d}.jpg"


@functools.lru_cache(maxsize=16)
def describe(path: Path) -> DescribedFace:
    """The largest face of a photo, through the real engine (once per photo per run)."""
    return describe_image(path.read_bytes())[0]


@dataclass
class Place:
    facility_id: int
    till_id: int


@dataclass
class Seeded:
    holder_id: int
    photo_id: int
    swipe_id: int
    capture_id: int
    alarm_id: int
    distance: float


def add_place(db: Database, name: str = "Riverside Pharmacy") -> Place:
    with db.transaction() as s:
        f = facilities.create_facility(s, name=name, kind=FacilityKind.PHARMACY,
                                       district="Centre", latitude=31.23, longitude=121.47)
        till, _ = facilities.create_till(s, facility_id=f.id, name="Till 1")
        return Place(f.id, till.id)


def _save(settings: Settings, relative: str, data: bytes) -> str:
    settings.path(relative).write_bytes(data)
    return relative


def add_mismatch(
    db: Database, settings: Settings, place: Place, *, enrolled: Path, at_counter: Path,
    card_no: str, amount_cents: int = 4250,
) -> Seeded:
    """A card holder enrolled from one photo (through the real enrolment), swiped by the
    person in another, and the mismatch alarm the verifier raises."""
    counter_face = describe(at_counter)
    with db.transaction() as s:
        holder = cardholders.create(s, card_no=card_no, national_id=f"ID{card_no}",
                                    name="Test Holder", secret="test-secret")
        photo = cardholders.enroll_photo(s, settings=_no_jitter(settings), card_holder=holder,
                                         image=enrolled.read_bytes())
        distance = faces.distance(faces.decode(photo.descriptor), counter_face.descriptor)
        swiped_at = utcnow() - timedelta(seconds=5)
        swipe = Swipe(
            till_id=place.till_id, idempotency_key=f"k-{card_no}", request_hash="0" * 64,
            card_no=card_no, card_holder_id=holder.id, swiped_at=swiped_at,
            amount_cents=amount_cents, state=SwipeState.DECIDED, verdict=Verdict.MISMATCH,
            distance=distance, threshold=THRESHOLD, decided_at=utcnow(),
            reason=f"distance {distance:.2f} > {THRESHOLD}")
        s.add(swipe)
        s.flush()
        capture = Capture(
            swipe_id=swipe.id, source=CaptureSource.STILL,
            image_path=_save(settings, f"captures/{swipe.id}.jpg", counter_face.chip_jpeg()),
            descriptor=faces.encode(counter_face.descriptor), **_quality(counter_face))
        s.add(capture)
        s.flush()
        alarm = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, swipe_id=swipe.id,
                                  reason=f"face differs from the card holder's: distance "
                                         f"{distance:.2f} > threshold {THRESHOLD}")
        return Seeded(holder.id, photo.id, swipe.id, capture.id, alarm.id, distance)


def _no_jitter(settings: Settings) -> Settings:
    """Jittered copies only refine an enrolment descriptor; these tests are about the API."""
    return settings.model_copy(
        update={"faces": settings.faces.model_copy(update={"enrol_jitter": 0})})


def _quality(face: DescribedFace) -> dict[str, float | int]:
    q = face.quality
    return {"face_px": q.face_px, "sharpness": q.sharpness, "frontal": q.frontal,
            "detection_score": q.detection_score}


class LiveServer:
    """The real app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.app.state.stopping.set()
        self.server.should_exit = True
        self.thread.join(10)
