"""The demo's city: facilities in districts, their tills and counter cameras, a console user."""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
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
TILLS = len(FACILITIES) * TILLS_PER_FACILITY
ADMIN = "demo-admin"


class Footage(enum.StrEnum):
    """What a till's counter camera plays."""

    SAMPLE_CLIP = "sample_clip"  # the real clip of two people at a counter
    GENERATED = "generated"  # scenario footage of enrolled people, swipes without stills
    TALKING_HEAD = "talking_head"  # a real talking-head clip; its swipes send stills


@dataclass(frozen=True)
class CameraPlan:
    source: Path
    replay_started_at: datetime
    footage: Footage


@dataclass(frozen=True)
class DemoTill:
    till_id: int
    facility: str
    name: str
    api_key: str
    camera_id: int | None
    footage: Footage
    source: str  # the file's name, for the summary


@dataclass(frozen=True)
class City:
    tills: list[DemoTill]
    console_user: str
    console_password: str

    @property
    def video_till(self) -> DemoTill:
        """The till whose camera replays the sample clip."""
        return next(t for t in self.tills if t.footage is Footage.SAMPLE_CLIP)

    def tills_on(self, footage: Footage) -> list[DemoTill]:
        return [t for t in self.tills if t.footage is footage]


def build_city(session: Session, *, cameras: Sequence[CameraPlan],
               rng: random.Random) -> City:
    """Facilities with two tills each, every till with its own counter camera.

    ``cameras`` are the tills' cameras in order (facility by facility), ``TILLS`` of them.
    """
    if len(cameras) != TILLS:
        raise ValueError(f"the city has {TILLS} tills; {len(cameras)} cameras were given")
    tills: list[DemoTill] = []
    plans = iter(cameras)
    for name, kind, district in FACILITIES:
        facility = facilities.create_facility(
            session, name=name, kind=kind, district=district,
            latitude=round(CENTRE[0] + rng.uniform(-SPREAD, SPREAD), 5),
            longitude=round(CENTRE[1] + rng.uniform(-SPREAD, SPREAD), 5),
        )
        for number in range(1, TILLS_PER_FACILITY + 1):
            plan = next(plans)
            camera = facilities.create_camera(
                session, facility_id=facility.id, name=f"{name} till {number} counter",
                source_kind=SourceKind.FILE, source=str(plan.source.resolve()),
                replay_started_at=plan.replay_started_at,
            )
            till, key = facilities.create_till(
                session, facility_id=facility.id, name=f"Till {number}", camera_id=camera.id)
            tills.append(DemoTill(till.id, name, till.name, key, till.camera_id,
                                  plan.footage, _label(plan)))
    password = new_token()[:20]
    auth.create_user(session, username=ADMIN, password=password, role=Role.ADMIN)
    return City(tills=tills, console_user=ADMIN, console_password=password)


def _label(plan: CameraPlan) -> str:
    """The camera's file as the summary names it: generated files by their folder, and
    talking-head clips by their folder and number (their names may name a person)."""
    if plan.footage is Footage.GENERATED:
        return f"footage/{plan.source.parent.name}/{plan.source.name}"
    if plan.footage is Footage.TALKING_HEAD:
        clips = sorted(plan.source.parent.glob("*.mp4"))
        return f"{plan.source.parent.name} clip {clips.index(plan.source) + 1}"
    return plan.source.name
