"""Swipes and the face captured for each."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swipeguard.db import Base, UTCDateTime, enum_type, utcnow


class SwipeState(enum.StrEnum):
    PENDING = "pending"  # stored, waiting for a verifier
    CLAIMED = "claimed"  # a verifier is working on it (claim expires)
    DECIDED = "decided"


class Verdict(enum.StrEnum):
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    NO_FACE = "no_face"
    NO_VIDEO = "no_video"  # the till's camera recorded nothing around the swipe
    NOT_ENROLLED = "not_enrolled"
    CARD_LOST = "card_lost"
    UNKNOWN_CARD = "unknown_card"
    ERROR = "error"  # verification itself failed (every retry raised); nobody was judged


class Swipe(Base):
    __tablename__ = "swipes"
    __table_args__ = (UniqueConstraint("till_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    till_id: Mapped[int] = mapped_column(ForeignKey("tills.id"), index=True)
    # The till's counter camera when the swipe was stored: the verdict, the clip and what
    # retention keeps all come from the camera that filmed the swipe, even if the till
    # is later moved to another one.
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"), default=None)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the request's content (card, time, amount, still): a retry with the
    # same key must carry the same content, or it is a different swipe reusing a key.
    request_hash: Mapped[str] = mapped_column(String(64))
    card_no: Mapped[str] = mapped_column(String(32), index=True)
    card_holder_id: Mapped[int | None] = mapped_column(
        ForeignKey("card_holders.id"), index=True, default=None
    )
    swiped_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    # Relative to the data directory; the JPEG the till sent, if any.
    still_path: Mapped[str | None] = mapped_column(String(300), default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    state: Mapped[SwipeState] = mapped_column(
        enum_type(SwipeState, 16), default=SwipeState.PENDING, index=True
    )
    claimed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)

    verdict: Mapped[Verdict | None] = mapped_column(
        enum_type(Verdict, 16), default=None, index=True
    )
    distance: Mapped[float | None] = mapped_column(default=None)
    threshold: Mapped[float | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Why the verdict is what it is, in words an operator reads.
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Set when the card was reported lost from a time before this swipe.
    flagged_for_review: Mapped[bool] = mapped_column(default=False)

    captures: Mapped[list[Capture]] = relationship(back_populates="swipe", order_by="Capture.id")


class CaptureSource(enum.StrEnum):
    STILL = "still"
    VIDEO = "video"


class Capture(Base):
    """The face of the person at the counter for one swipe."""

    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(primary_key=True)
    swipe_id: Mapped[int] = mapped_column(ForeignKey("swipes.id"), index=True)
    source: Mapped[CaptureSource] = mapped_column(enum_type(CaptureSource, 8))
    image_path: Mapped[str] = mapped_column(String(300))  # aligned chip, under the data dir
    descriptor: Mapped[bytes] = mapped_column(LargeBinary)  # 128 float32 (fused if video)
    frames_used: Mapped[int] = mapped_column(Integer, default=1)
    face_px: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float]
    frontal: Mapped[float]
    detection_score: Mapped[float]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    swipe: Mapped[Swipe] = relationship(back_populates="captures")
