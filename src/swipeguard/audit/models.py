"""Access records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from swipeguard.db import Base, UTCDateTime, utcnow


class AccessRecord(Base):
    """One access to personal data (a face, a clip, a card's timeline) or a change."""

    __tablename__ = "access_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(50))  # e.g. "view_clip", "view_capture"
    object_kind: Mapped[str] = mapped_column(String(30))  # e.g. "swipe", "card_holder"
    object_id: Mapped[str] = mapped_column(String(50), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
