"""The demo's city: facilities in districts, their tills and counter cameras, a console user."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from swipeguard.auth import service as auth
from swipeguard.auth.models import Role
from swipeguard.cameras.models import SourceKind
from swipeguard.facilities import service as facilities
from swipeguard.facilities.models import FacilityKind
from swipeguard.privacy import new_token

# The city centre the facilities are scattered around (WGS84), and how far (degrees;
# 0.05 is about 5 km): close enough that every swipe of the day is plausible travel.
CENTRE = (31.2304, 121.4737)
SPREAD = 0.05

FACILITIES = [
    ("Old Town Pharmacy", FacilityKind.PHARMACY, "Old Town"),
    ("Riverside Pharmacy", FacilityKind.PHARMACY, "Riverside"),
    ("Harbour Community Clinic", FacilityKind.CLINIC, "Harbour"),
    ("Hillside Pharmacy", FacilityKind.PHARMACY, "Hillside"),
    ("North Gate Outpatient Clinic", FacilityKind.CLINIC, "North Gate"),
    ("Market Street Pharmacy", FacilityKind.PHARMACY, "Old Town"),
]
TILLS_PER_FACILITY = 2
ADMIN = "demo-admin"


@dataclass(frozen=True)
class DemoTill:
    till_id: int
    facility: str
    name: str
    api_key: str
    camera_id: int | None


@dataclass(frozen=True)
class City:
    tills: list[DemoTill]
    video_till: DemoTill  # its camera replays the sample clip
    console_user: str
    console_password: str


def build_city(session: Session, *, clip: Path, talking_heads: list[Path],
               replay_started_at: datetime, rng: random.Random) -> City:
    """Facilities with two tills each; the first till of each has a camera over it."""
    tills: list[DemoTill] = []
    for index, (name, kind, district) in enumerate(FACILITIES):
        facility = facilities.create_facility(
            session, name=name, kind=kind, district=district,
            latitude=round(CENTRE[0] + rng.uniform(-SPREAD, SPREAD), 5),
            longitude=round(CENTRE[1] + rng.uniform(-SPREAD, SPREAD), 5),
        )
        # The first facility's counter camera plays the sample clip; the others replay
        # talking-head clips, so every camera in the console has something to show.
        source = clip if index == 0 else talking_heads[index % len(talking_heads)]
        camera = facilities.create_camera(
            session, facility_id=facility.id, name=f"{name} counter",
            source_kind=SourceKind.FILE, source=str(source.resolve()),
            replay_started_at=replay_started_at,
        )
        for number in range(1, TILLS_PER_FACILITY + 1):
            till, key = facilities.create_till(
                session, facility_id=facility.id, name=f"Till {number}",
                camera_id=camera.id if number == 1 else None,
            )
            tills.append(DemoTill(till.id, name, till.name, key, till.camera_id))
    password = new_token()[:20]
    auth.create_user(session, username=ADMIN, password=password, role=Role.ADMIN)
    return City(tills=tills, video_till=tills[0], console_user=ADMIN,
                console_password=password)
