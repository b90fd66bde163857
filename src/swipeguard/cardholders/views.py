"""The card holders API: enrolment by admins and investigators, reading by any signed-in user.

Every read of a card holder or an enrolled photo is written to the access record.
A refused photo answers 422 with ``{"detail": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from swipeguard.api.deps import DbSession, get_settings
from swipeguard.audit import service as audit
from swipeguard.auth.deps import require_user
from swipeguard.auth.models import Role, User
from swipeguard.cardholders import service
from swipeguard.cardholders.models import CardHolder, CardStatus, EnrolledPhoto
from swipeguard.config import Settings
from swipeguard.faces.errors import FaceError, ImageTooLarge
from swipeguard.privacy import mask_national_id, secret_key

router = APIRouter(prefix="/api/card-holders", tags=["card holders"])

enrolling = require_user(Role.ADMIN, Role.INVESTIGATOR)
signed_in = require_user()

# A 24-megapixel phone JPEG is 8-15 MB; 25 MB leaves room and bounds what is read.
MAX_PHOTO_BYTES = 25 * 1024**2


class CardHolderIn(BaseModel):
    card_no: str = Field(pattern=r"^[A-Za-z0-9]{6,32}$", examples=["A1234567"])
    national_id: str = Field(min_length=4, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    name: str = Field(min_length=1, max_length=200)


class PhotoOut(BaseModel):
    id: int
    face_px: int
    sharpness: float
    frontal: float
    detection_score: float
    created_at: datetime
    image_url: str

    @classmethod
    def of(cls, holder: CardHolder, p: EnrolledPhoto) -> PhotoOut:
        return cls(id=p.id, face_px=p.face_px, sharpness=round(p.sharpness, 1),
                   frontal=round(p.frontal, 3), detection_score=round(p.detection_score, 3),
                   created_at=p.created_at,
                   image_url=f"/api/card-holders/{holder.card_no}/photos/{p.id}")


class CardHolderOut(BaseModel):
    id: int
    card_no: str
    national_id: str  # masked: only the last four characters
    name: str
    status: CardStatus
    lost_since: datetime | None
    created_at: datetime
    photos: list[PhotoOut]

    @classmethod
    def of(cls, h: CardHolder) -> CardHolderOut:
        return cls(id=h.id, card_no=h.card_no, national_id=mask_national_id(h.national_id_last4),
                   name=h.name, status=h.status, lost_since=h.lost_since,
                   created_at=h.created_at, photos=[PhotoOut.of(h, p) for p in h.photos])


def _holder(session: DbSession, card_no: str) -> CardHolder:
    holder = service.get_by_card_no(session, card_no=card_no)
    if holder is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no card holder with that card number")
    return holder


async def _one_photo(request: Request) -> None:
    """Refuses a request with several ``photo`` parts, of which only one would be enrolled."""
    form = await request.form()  # parsed once already for the endpoint; this is its cache
    if len(form.getlist("photo")) > 1:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {
            "code": "several_photos",
            "message": "send one photo per request; nothing was enrolled",
        })


def _refused(exc: FaceError) -> HTTPException:
    code = (status.HTTP_413_CONTENT_TOO_LARGE if isinstance(exc, ImageTooLarge)
            else status.HTTP_422_UNPROCESSABLE_CONTENT)
    return HTTPException(code, {"code": exc.code, "message": str(exc)})


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CardHolderOut,
             responses={409: {"description": "the card number is enrolled already"}})
def create_card_holder(body: CardHolderIn, session: DbSession,
                       settings: Settings = Depends(get_settings),
                       user: User = Depends(enrolling)) -> CardHolderOut:
    """Registers a card holder; photos are added with the photos endpoint."""
    try:
        holder = service.create(session, card_no=body.card_no, national_id=body.national_id,
                                name=body.name,
                                secret=secret_key(settings.secret_key, settings.data_dir))
    except service.AlreadyExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    audit.record(session, actor=user.username, action="create_card_holder",
                 object_kind="card_holder", object_id=holder.id)
    session.refresh(holder)
    return CardHolderOut.of(holder)


@router.post("/{card_no}/photos", status_code=status.HTTP_201_CREATED, response_model=PhotoOut,
             responses={413: {"description": "the photo is too large"},
                        422: {"description": "the photo cannot be enrolled: detail.code says "
                                             "why (no_face, several_faces, face_too_small, "
                                             "duplicate_photo, not_the_holder, several_photos, "
                                             "...)"}})
def enroll_photo(card_no: str, request: Request, session: DbSession,
                 photo: UploadFile = File(description="a JPEG or PNG of the card holder's face"),
                 different_face_ok: bool = Form(
                     False, description="enrol a face unlike the holder's enrolled photos"),
                 settings: Settings = Depends(get_settings),
                 user: User = Depends(enrolling),
                 _: None = Depends(_one_photo)) -> PhotoOut:
    """Enrols one photo: exactly one sharp, frontal, large enough face, or a 422 saying why."""
    holder = _holder(session, card_no)
    data = photo.file.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, {
            "code": ImageTooLarge.code,
            "message": f"the photo is over {MAX_PHOTO_BYTES // 1024**2} MB; send a smaller one",
        })
    # A server that runs a face pool lends it here, so the descriptor work (~0.7 s holding
    # the GIL) does not stall other requests; without one it runs in this thread.
    pool = getattr(request.app.state, "face_pool", None)
    try:
        enrolled = service.enroll_photo(session, settings=settings, card_holder=holder,
                                        image=data, pool=pool,
                                        different_face_ok=different_face_ok)
    except FaceError as exc:
        raise _refused(exc) from exc
    forced = ", different face allowed" if different_face_ok else ""
    audit.record(session, actor=user.username, action="enroll_photo", object_kind="card_holder",
                 object_id=holder.id, reason=f"photo {enrolled.id}{forced}")
    return PhotoOut.of(holder, enrolled)


@router.get("/{card_no}", response_model=CardHolderOut)
def get_card_holder(card_no: str, session: DbSession,
                    user: User = Depends(signed_in)) -> CardHolderOut:
    """A card holder with the national ID masked and the photos' quality, not their pixels."""
    holder = _holder(session, card_no)
    audit.record(session, actor=user.username, action="view_card_holder",
                 object_kind="card_holder", object_id=holder.id)
    return CardHolderOut.of(holder)


@router.get("/{card_no}/photos/{photo_id}", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_photo(card_no: str, photo_id: int, session: DbSession,
              settings: Settings = Depends(get_settings),
              user: User = Depends(signed_in)) -> FileResponse:
    """The aligned face chip of an enrolled photo (JPEG)."""
    holder = _holder(session, card_no)
    try:
        photo = service.get_photo(session, card_holder_id=holder.id, photo_id=photo_id)
    except service.NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such photo for this card") from exc
    path = service.photo_file(settings, photo)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the photo's file is missing")
    audit.record(session, actor=user.username, action="view_enrolled_photo",
                 object_kind="enrolled_photo", object_id=photo.id)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
