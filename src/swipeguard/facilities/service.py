"""Facilities, their tills (each with its own API key) and the cameras over them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from swipeguard.cameras import replay
from swipeguard.cameras.models import Camera, SourceKind
from swipeguard.facilities.models import Facility, FacilityKind, Till
from swipeguard.privacy import new_token, token_hash

log = logging.getLogger(__name__)


class AlreadyExists(ValueError):
    """A till or camera of that name is there already."""


class BadCamera(ValueError):
    """A camera that could not be recorded as given; ``field`` names the input to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def create_facility(
    session: Session, *, name: str, kind: FacilityKind, district: str,
    latitude: float | None = None, longitude: float | None = None,
) -> Facility:
    name, district = name.strip(), district.strip()
    if not name or not district:
        raise ValueError("a facility needs a name and a district")
    _check_position(latitude, longitude)
    facility = Facility(name=name, kind=kind, district=district, latitude=latitude,
                        longitude=longitude)
    session.add(facility)
    session.flush()
    log.info("facility %s created (%s, district %s)", facility.id, kind.value, district)
    return facility


def _check_position(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValueError("give both latitude and longitude, or neither")
    if latitude is not None and not -90.0 <= latitude <= 90.0:
        raise ValueError(f"latitude {latitude} is outside -90..90 degrees")
    if longitude is not None and not -180.0 <= longitude <= 180.0:
        raise ValueError(f"longitude {longitude} is outside -180..180 degrees")


def get_facility(session: Session, *, facility_id: int) -> Facility | None:
    return session.get(Facility, facility_id)


def list_facilities(session: Session, *, district: str | None = None) -> Sequence[Facility]:
    query = select(Facility).order_by(Facility.name, Facility.id)
    if district is not None:
        query = query.where(Facility.district == district)
    return session.scalars(query).all()


def create_till(
    session: Session, *, facility_id: int, name: str, camera_id: int | None = None,
) -> tuple[Till, str]:
    """Creates a till and returns it with its API key: shown now, only its hash is kept."""
    name = name.strip()
    if not name:
        raise ValueError("a till needs a name")
    _require_facility(session, facility_id)
    if camera_id is not None:
        _require_camera(session, camera_id, facility_id)
    exists = select(Till).where(Till.facility_id == facility_id, Till.name == name)
    if session.scalar(exists) is not None:
        raise AlreadyExists(f"facility {facility_id} has a till named {name!r} already")
    key = new_token()
    till = Till(facility_id=facility_id, name=name, camera_id=camera_id,
                api_key_hash=token_hash(key))
    session.add(till)
    session.flush()
    log.info("till %s created in facility %s", till.id, facility_id)
    return till, key


def rotate_till_key(session: Session, *, till_id: int) -> str:
    """A new API key for a till; the old one stops working at once."""
    till = get_till(session, till_id=till_id)
    if till is None:
        raise LookupError(f"no till {till_id}")
    key = new_token()
    till.api_key_hash = token_hash(key)
    session.flush()
    log.info("till %s has a new API key", till_id)
    return key


def update_till(session: Session, *, till_id: int, camera_id: int | None) -> Till:
    """Points a till at the camera over it (or at none)."""
    till = get_till(session, till_id=till_id)
    if till is None:
        raise LookupError(f"no till {till_id}")
    if camera_id is not None:
        _require_camera(session, camera_id, till.facility_id)
    till.camera_id = camera_id
    session.flush()
    return till


def get_till(session: Session, *, till_id: int) -> Till | None:
    return session.get(Till, till_id)


def list_tills(session: Session, *, facility_id: int | None = None) -> Sequence[Till]:
    query = select(Till).order_by(Till.facility_id, Till.name)
    if facility_id is not None:
        query = query.where(Till.facility_id == facility_id)
    return session.scalars(query).all()


def create_camera(
    session: Session, *, facility_id: int, name: str, source_kind: SourceKind, source: str,
    replay_started_at: datetime | None = None, enabled: bool = True,
) -> Camera:
    """Registers a camera of a facility; the cameras package records from it."""
    from swipeguard.cameras import service as cameras

    name, source = name.strip(), source.strip()
    if not name or not source:
        raise ValueError("a camera needs a name and a source")
    if source_kind is SourceKind.RTSP and not source.startswith(("rtsp://", "rtsps://")):
        raise BadCamera("source", "an RTSP camera's source must start with rtsp:// or rtsps://")
    if source_kind is SourceKind.FILE and replay_started_at is None:
        raise BadCamera("replay_started_at", "a file camera needs replay_started_at: the "
                        "time its first frame plays, with a time zone")
    _require_facility(session, facility_id)
    if cameras.get_by_name(session, name=name) is not None:
        raise AlreadyExists(f"a camera named {name!r} exists already; choose another name")
    return cameras.create_camera(
        session, name=name, facility_id=facility_id, source_kind=source_kind, source=source,
        replay_started_at=replay_started_at, enabled=enabled,
    )


def check_source(*, source_kind: SourceKind, source: str) -> None:
    """Refuses a file the server cannot replay now, where a person names it: otherwise
    every swipe at the camera's tills fails later, in the verifier.

    Not part of ``create_camera``: the demo registers footage it is still rendering.
    """
    if source_kind is not SourceKind.FILE:
        return
    try:
        replay.check_file(source.strip())
    except replay.SourceError as e:
        raise BadCamera("source", f"a file camera's source must be a video file the server "
                        f"can read: {e}") from e


def get_camera(session: Session, *, camera_id: int) -> Camera | None:
    return session.get(Camera, camera_id)


def list_cameras(session: Session, *, facility_id: int | None = None) -> Sequence[Camera]:
    query = select(Camera).order_by(Camera.facility_id, Camera.name)
    if facility_id is not None:
        query = query.where(Camera.facility_id == facility_id)
    return session.scalars(query).all()


def _require_facility(session: Session, facility_id: int) -> Facility:
    facility = session.get(Facility, facility_id)
    if facility is None:
        raise LookupError(f"no facility {facility_id}")
    return facility


def _require_camera(session: Session, camera_id: int, facility_id: int) -> Camera:
    camera = session.get(Camera, camera_id)
    if camera is None:
        raise LookupError(f"no camera {camera_id}")
    if camera.facility_id != facility_id:
        raise ValueError(f"camera {camera_id} belongs to another facility")
    return camera
