"""Helpers for the swipes tests: a facility with a till (and its key), card holders
enrolled from real photos through the real face engine, and swipe bodies."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from swipeguard.cameras.models import SourceKind
from swipeguard.cardholders import service as cardholders
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.facilities import service as facilities
from swipeguard.facilities.models import FacilityKind


@dataclass(frozen=True)
class TillKey:
    facility_id: int
    till_id: int
    api_key: str
    camera_id: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


def add_till(db: Database, *, name: str = "Till 1", video: Path | None = None,
             replay_started_at: datetime | None = None) -> TillKey:
    """A pharmacy with one till; with ``video``, a FILE camera replaying it over the till."""
    with db.transaction() as s:
        facility = facilities.create_facility(s, name=f"Pharmacy {name}",
                                              kind=FacilityKind.PHARMACY, district="Centre",
                                              latitude=31.2, longitude=121.5)
        camera_id = None
        if video is not None:
            camera = facilities.create_camera(
                s, facility_id=facility.id, name=f"Camera {name}", source_kind=SourceKind.FILE,
                source=str(video), replay_started_at=replay_started_at or utcnow())
            camera_id = camera.id
        till, key = facilities.create_till(s, facility_id=facility.id, name=name,
                                           camera_id=camera_id)
        return TillKey(facility.id, till.id, key, camera_id)


def add_holder(db: Database, settings: Settings, *, card_no: str, photo: Path | None = None,
               lost_since: datetime | None = None) -> int:
    """A card holder, enrolled from ``photo`` through the register if given.

    Enrolment averages no jittered copies here (only the mirror image): a test's holder
    needs a real descriptor, not the last hundredth of accuracy, and it is 6x faster.
    """
    quick = settings.model_copy(update={"faces": settings.faces.model_copy(
        update={"enrol_jitter": 0})})
    with db.transaction() as s:
        holder = cardholders.create(s, card_no=card_no, national_id=f"ID{card_no}",
                                    name="Test Holder", secret="test-secret")
        if photo is not None:
            cardholders.enroll_photo(s, settings=quick, card_holder=holder,
                                     image=photo.read_bytes())
        if lost_since is not None:
            cardholders.report_lost(s, card_holder_id=holder.id, since=lost_since,
                                    actor="test")
        return holder.id


def jpeg_of(path: Path) -> bytes:
    """A photo as JPEG bytes, as a till camera would send it."""
    data = path.read_bytes()
    if data.startswith(b"\xff\xd8\xff"):
        return data
    out = io.BytesIO()
    PILImage.open(path).convert("RGB").save(out, format="JPEG", quality=92)
    return out.getvalue()


def faceless_jpeg() -> bytes:
    """A counter with nobody at it: a plain gradient the detector finds nothing in."""
    ramp = bytes(range(256)) * 3 * 240
    image = PILImage.frombytes("RGB", (256, 240), ramp)
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


def swipe_body(*, card_no: str, key: str, still: bytes | None = None,
               swiped_at: datetime | None = None, amount: str = "42.50",
               **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "card_no": card_no,
        "swiped_at": (swiped_at or utcnow() - timedelta(seconds=1)).isoformat(),
        "amount": amount,
        "idempotency_key": key,
    }
    if still is not None:
        body["still"] = base64.b64encode(still).decode()
    body.update(extra)
    return body


def lfw(samples: Path, name: str, number: int) -> Path:
    return samples / "faces" / "lfw" / name / f"{name}_{number:04d}.jpg"


def lfw_people(samples: Path, *, count: int, min_images: int = 2) -> list[str]:
    """The first people of the development pairs with at least ``min_images`` photos."""
    seen: list[str] = []
    for line in (samples / "faces/lfw/pairs-dev.txt").read_text().splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] in seen:
            continue
        folder = samples / "faces" / "lfw" / parts[0]
        if len(list(folder.glob("*.jpg"))) >= min_images:
            seen.append(parts[0])
        if len(seen) == count:
            break
    return seen
