"""Card holders: creating them, enrolling their photos, their template, reporting a card lost.

A national ID is kept only as a keyed hash plus its last four characters. An enrolled
photo is kept as its aligned face chip (JPEG under the data directory) with the
descriptor computed from it, averaged over jittered and mirrored copies: an enrolment
photo is taken once and can afford the ~0.7 s, a till capture cannot.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from swipeguard.audit import service as audit
from swipeguard.cardholders.models import CardHolder, CardStatus, EnrolledPhoto
from swipeguard.config import Settings
from swipeguard.faces import service as faces
from swipeguard.faces.errors import FaceError
from swipeguard.faces.pool import DescribedFace, FacePool, describe_enrolment_photo
from swipeguard.faces.types import Comparison, Embedding
from swipeguard.privacy import keyed_hash, mask_card

log = logging.getLogger(__name__)

CARD_NO = re.compile(r"[A-Za-z0-9]{6,32}")
NATIONAL_ID = re.compile(r"[A-Za-z0-9]{4,32}")
ENROLLED_DIR = ("faces", "enrolled")  # under the data directory


class AlreadyExists(ValueError):
    """A card holder with that card number is there already."""


class NotFound(LookupError):
    """No such card holder or photo."""


class DuplicatePhoto(FaceError):
    """The very same photo is enrolled for this card holder already."""

    code = "duplicate_photo"


class NotTheHolder(FaceError):
    """The face is unlike every photo the card holder has: perhaps another person."""

    code = "not_the_holder"


def create(session: Session, *, card_no: str, national_id: str, name: str,
           secret: str) -> CardHolder:
    """A new active card holder; the national ID is stored as a keyed hash and last four."""
    card_no, national_id, name = card_no.strip(), national_id.strip().upper(), name.strip()
    if not CARD_NO.fullmatch(card_no):
        raise ValueError("a card number is 6 to 32 letters or digits")
    if not NATIONAL_ID.fullmatch(national_id):
        raise ValueError("a national ID is 4 to 32 letters or digits")
    if not name:
        raise ValueError("a card holder needs a name")
    if len(name) > 200:
        raise ValueError("a card holder's name has at most 200 characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        # Control and format characters (NUL, line breaks, right-to-left overrides) make
        # a name display as something else, or fail to store on PostgreSQL.
        raise ValueError("a card holder's name may not hold control or formatting characters")
    if get_by_card_no(session, card_no=card_no) is not None:
        raise AlreadyExists(f"card {mask_card(card_no)} is enrolled already")
    holder = CardHolder(card_no=card_no, national_id_hash=keyed_hash(secret, national_id),
                        national_id_last4=national_id[-4:], name=name)
    session.add(holder)
    session.flush()
    log.info("card holder %s created for card %s", holder.id, mask_card(card_no))
    return holder


def get(session: Session, *, card_holder_id: int) -> CardHolder:
    holder = session.get(CardHolder, card_holder_id)
    if holder is None:
        raise NotFound(f"no card holder {card_holder_id}")
    return holder


def get_by_card_no(session: Session, *, card_no: str) -> CardHolder | None:
    return session.scalar(select(CardHolder).where(CardHolder.card_no == card_no.strip()))


def get_by_national_id(session: Session, *, national_id: str,
                       secret: str) -> builtins.list[CardHolder]:
    """The holders whose national ID hashes to the same value (one person may hold cards)."""
    digest = keyed_hash(secret, national_id)
    query = select(CardHolder).where(CardHolder.national_id_hash == digest)
    return builtins.list(session.scalars(query.order_by(CardHolder.id)))


def list(session: Session, *, status: CardStatus | None = None, limit: int = 100,
         offset: int = 0) -> Sequence[CardHolder]:
    """Card holders, oldest first."""
    query = select(CardHolder).order_by(CardHolder.id).limit(limit).offset(offset)
    if status is not None:
        query = query.where(CardHolder.status == status)
    return session.scalars(query).all()


def get_photo(session: Session, *, card_holder_id: int, photo_id: int) -> EnrolledPhoto:
    photo = session.get(EnrolledPhoto, photo_id)
    if photo is None or photo.card_holder_id != card_holder_id:
        raise NotFound(f"no photo {photo_id} for card holder {card_holder_id}")
    return photo


def enroll_photo(session: Session, *, settings: Settings, card_holder: CardHolder, image: bytes,
                 pool: FacePool | None = None, different_face_ok: bool = False) -> EnrolledPhoto:
    """Enrols one photo, or raises a ``FaceError`` saying why it cannot be used.

    The photo must hold exactly one face, large, sharp and frontal enough, and not be one
    the holder has already. Once the holder has photos, a face farther than the
    verification threshold from all of them is refused unless ``different_face_ok``: a
    second person's face on a card would pass every check at the till as the holder.
    ``pool`` runs the ~0.7 s of descriptor work in a worker process instead of this one.
    """
    digest = hashlib.sha256(image).hexdigest()
    _refuse_duplicate(session, card_holder=card_holder, digest=digest)
    if pool is not None:
        described = pool.submit(describe_enrolment_photo, image, settings=settings.faces).result()
    else:
        described = describe_enrolment_photo(image, settings=settings.faces)
    unlike = _unlike_enrolled(session, settings=settings, card_holder=card_holder,
                              described=described)
    if unlike is not None and not different_face_ok:
        raise NotTheHolder(
            f"the face does not look like the enrolled card holder: {unlike.distance:.2f} "
            f"from the closest enrolled photo, over the threshold {unlike.threshold:.2f}; "
            f"enrol it only if it is the same person, saying so")
    photo = _store(session, settings=settings, card_holder=card_holder, described=described,
                   digest=digest)
    if unlike is not None:
        log.warning("photo %s enrolled for card holder %s although %.2f from the closest "
                    "enrolled photo: a different face was accepted", photo.id, card_holder.id,
                    unlike.distance)
    return photo


def _refuse_duplicate(session: Session, *, card_holder: CardHolder, digest: str) -> None:
    same = session.scalar(select(EnrolledPhoto.id).where(
        EnrolledPhoto.card_holder_id == card_holder.id, EnrolledPhoto.source_sha256 == digest))
    if same is not None:
        raise DuplicatePhoto(f"this photo is enrolled already for this card holder "
                             f"(photo {same})")


def _unlike_enrolled(session: Session, *, settings: Settings, card_holder: CardHolder,
                     described: DescribedFace) -> Comparison | None:
    """How far the face is from the holder's photos, when it matches none of them."""
    enrolled = template(session, card_holder_id=card_holder.id)
    if not enrolled:
        return None
    closest = faces.compare_template(described.descriptor, enrolled,
                                     threshold=settings.verification.threshold)
    return None if closest.match else closest


def _store(session: Session, *, settings: Settings, card_holder: CardHolder,
           described: DescribedFace, digest: str) -> EnrolledPhoto:
    relative = Path(*ENROLLED_DIR, f"{card_holder.id}-{uuid.uuid4().hex}.jpg")
    file = settings.path(*relative.parts)
    _write_atomically(file, described.chip_jpeg())
    q = described.quality
    photo = EnrolledPhoto(
        card_holder_id=card_holder.id, image_path=relative.as_posix(),
        descriptor=faces.encode(described.descriptor), source_sha256=digest, face_px=q.face_px,
        sharpness=q.sharpness, frontal=q.frontal, detection_score=q.detection_score,
    )
    try:
        session.add(photo)
        session.flush()
    except Exception:
        file.unlink(missing_ok=True)  # no chip on disk without its row
        raise
    log.info("photo %s enrolled for card holder %s (face %dpx, sharpness %.0f)",
             photo.id, card_holder.id, q.face_px, q.sharpness)
    return photo


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)


def photo_file(settings: Settings, photo: EnrolledPhoto) -> Path:
    """Where an enrolled photo's chip is on disk."""
    return settings.data_dir / photo.image_path


def template(session: Session, *, card_holder_id: int) -> builtins.list[Embedding]:
    """The card holder's descriptors, one per enrolled photo, oldest first."""
    query = select(EnrolledPhoto.descriptor).where(
        EnrolledPhoto.card_holder_id == card_holder_id
    ).order_by(EnrolledPhoto.id)
    return [faces.decode(raw) for raw in session.scalars(query)]


def report_lost(session: Session, *, card_holder_id: int, since: datetime,
                actor: str) -> CardHolder:
    """Marks the card lost since ``since``: later swipes with it raise an alarm."""
    actor = audit.check_actor(actor)
    if since.tzinfo is None:
        raise ValueError("give the time the card was lost with its time zone")
    holder = get(session, card_holder_id=card_holder_id)
    holder.status = CardStatus.LOST
    holder.lost_since = since
    audit.record(session, actor=actor, action="report_lost", object_kind="card_holder",
                 object_id=holder.id, reason=f"lost since {since.isoformat()}")
    log.info("card %s reported lost by %s", mask_card(holder.card_no), actor)
    return holder
