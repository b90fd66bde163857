"""Facilities, tills and camera registration. Reading needs a sign-in; changes need admin."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from swipeguard.api.deps import DbSession
from swipeguard.auth.deps import require_user
from swipeguard.auth.models import Role, User
from swipeguard.cameras.models import Camera, SourceKind
from swipeguard.facilities import service
from swipeguard.facilities.models import Facility, FacilityKind, Till

router = APIRouter(tags=["facilities"])

any_user = require_user()
admin = require_user(Role.ADMIN)


class FacilityIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: FacilityKind
    district: str = Field(min_length=1, max_length=100)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class FacilityOut(BaseModel):
    id: int
    name: str
    kind: FacilityKind
    district: str
    latitude: float | None
    longitude: float | None
    created_at: datetime

    @classmethod
    def of(cls, f: Facility) -> FacilityOut:
        return cls(id=f.id, name=f.name, kind=f.kind, district=f.district,
                   latitude=f.latitude, longitude=f.longitude, created_at=f.created_at)


class TillIn(BaseModel):
    facility_id: int
    name: str = Field(min_length=1, max_length=100)
    camera_id: int | None = None


class TillPatch(BaseModel):
    camera_id: int | None


class TillOut(BaseModel):
    id: int
    facility_id: int
    name: str
    camera_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, t: Till) -> TillOut:
        return cls(id=t.id, facility_id=t.facility_id, name=t.name, camera_id=t.camera_id,
                   created_at=t.created_at)


class TillKeyOut(BaseModel):
    """Returned once, at creation or rotation: the server keeps only the key's hash."""

    till: TillOut
    api_key: str


class CameraIn(BaseModel):
    facility_id: int
    name: str = Field(min_length=1, max_length=100)
    source_kind: SourceKind
    source: str = Field(min_length=1, max_length=500)
    replay_started_at: AwareDatetime | None = None
    enabled: bool = True


class CameraOut(BaseModel):
    id: int
    facility_id: int
    name: str
    source_kind: SourceKind
    source: str  # credentials in an RTSP URL are replaced by ***
    enabled: bool

    @classmethod
    def of(cls, c: Camera) -> CameraOut:
        return cls(id=c.id, facility_id=c.facility_id, name=c.name, source_kind=c.source_kind,
                   source=redact_source(c.source), enabled=c.enabled)


def redact_source(source: str) -> str:
    return re.sub(r"^(\w+://)[^/@]*@", r"\1***@", source)


def _bad_request(e: ValueError) -> HTTPException:
    if isinstance(e, service.AlreadyExists):
        return HTTPException(status.HTTP_409_CONFLICT, str(e))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e))


def _bad_camera(e: service.BadCamera) -> JSONResponse:
    """The API's one error shape, naming the field to fix."""
    message = str(e)
    return JSONResponse({"detail": message, "errors": [
        {"field": f"body.{e.field}", "message": message, "type": "value_error"}]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _not_found(e: LookupError) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, str(e).strip("'\""))


@router.get("/api/facilities", response_model=list[FacilityOut])
def list_facilities(session: DbSession, _: User = Depends(any_user)) -> list[FacilityOut]:
    return [FacilityOut.of(f) for f in service.list_facilities(session)]


@router.get("/api/facilities/{facility_id}", response_model=FacilityOut)
def get_facility(facility_id: int, session: DbSession,
                 _: User = Depends(any_user)) -> FacilityOut:
    facility = service.get_facility(session, facility_id=facility_id)
    if facility is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no facility {facility_id}")
    return FacilityOut.of(facility)


@router.post("/api/facilities", response_model=FacilityOut,
             status_code=status.HTTP_201_CREATED)
def create_facility(body: FacilityIn, session: DbSession,
                    _: User = Depends(admin)) -> FacilityOut:
    try:
        facility = service.create_facility(session, **body.model_dump())
    except ValueError as e:
        raise _bad_request(e) from e
    return FacilityOut.of(facility)


@router.get("/api/tills", response_model=list[TillOut])
def list_tills(session: DbSession, facility_id: int | None = None,
               _: User = Depends(any_user)) -> list[TillOut]:
    return [TillOut.of(t) for t in service.list_tills(session, facility_id=facility_id)]


@router.post("/api/tills", response_model=TillKeyOut, status_code=status.HTTP_201_CREATED)
def create_till(body: TillIn, session: DbSession, _: User = Depends(admin)) -> TillKeyOut:
    try:
        till, key = service.create_till(session, **body.model_dump())
    except LookupError as e:
        raise _not_found(e) from e
    except ValueError as e:
        raise _bad_request(e) from e
    return TillKeyOut(till=TillOut.of(till), api_key=key)


@router.patch("/api/tills/{till_id}", response_model=TillOut)
def update_till(till_id: int, body: TillPatch, session: DbSession,
                _: User = Depends(admin)) -> TillOut:
    try:
        till = service.update_till(session, till_id=till_id, camera_id=body.camera_id)
    except LookupError as e:
        raise _not_found(e) from e
    except ValueError as e:
        raise _bad_request(e) from e
    return TillOut.of(till)


@router.post("/api/tills/{till_id}/key", response_model=TillKeyOut)
def rotate_till_key(till_id: int, session: DbSession, _: User = Depends(admin)) -> TillKeyOut:
    try:
        key = service.rotate_till_key(session, till_id=till_id)
    except LookupError as e:
        raise _not_found(e) from e
    till = service.get_till(session, till_id=till_id)
    assert till is not None
    return TillKeyOut(till=TillOut.of(till), api_key=key)


@router.get("/api/admin/cameras", response_model=list[CameraOut])
def list_cameras(session: DbSession, facility_id: int | None = None,
                 _: User = Depends(admin)) -> list[CameraOut]:
    return [CameraOut.of(c) for c in service.list_cameras(session, facility_id=facility_id)]


@router.post("/api/admin/cameras", response_model=CameraOut,
             status_code=status.HTTP_201_CREATED)
def create_camera(body: CameraIn, session: DbSession,
                  _: User = Depends(admin)) -> CameraOut | JSONResponse:
    try:
        service.check_source(source_kind=body.source_kind, source=body.source)
        camera = service.create_camera(session, **body.model_dump())
    except service.BadCamera as e:
        return _bad_camera(e)
    except LookupError as e:
        raise _not_found(e) from e
    except ValueError as e:
        raise _bad_request(e) from e
    return CameraOut.of(camera)
