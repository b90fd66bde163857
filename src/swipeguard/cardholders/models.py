"""Card holders and their enrolled photos."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swipeguard.db import Base, UTCDateTime, enum_type, utcnow


class CardStatus(enum.StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    CANCELLED = "cancelled"


class CardHolder(Base):
    __tablename__ = "card_holders"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    # Keyed hash (HMAC-SHA256) of the national ID: matchable, never shown; plus the
    # last four characters so an operator can confirm a holder on the phone.
    national_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    national_id_last4: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CardStatus] = mapped_column(
        enum_type(CardStatus, 16), default=CardStatus.ACTIVE
    )
    lost_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    photos: Mapped[list[EnrolledPhoto]] = relationship(
        back_populates="card_holder", order_by="EnrolledPhoto.id", cascade="all, delete-orphan"
    )


class EnrolledPhoto(Base):
    """One enrolled photo: the aligned face chip on disk and its descriptor."""

    __tablename__ = "enrolled_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_holder_id: Mapped[int] = mapped_column(
        ForeignKey("card_holders.id", ondelete="CASCADE"), index=True
    )
    # Relative to the data directory.
    image_path: Mapped[str] = mapped_column(String(300))
    descriptor: Mapped[bytes] = mapped_column(LargeBinary)  # 128 float32, little-endian
    # SHA-256 (hex) of the photo as it was sent, so the same photo is not enrolled twice.
    source_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    face_px: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float]
    frontal: Mapped[float]
    detection_score: Mapped[float]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    card_holder: Mapped[CardHolder] = relationship(back_populates="photos")
