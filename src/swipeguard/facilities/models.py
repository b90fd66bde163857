"""Facilities and tills."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swipeguard.db import Base, UTCDateTime, enum_type, utcnow


class FacilityKind(enum.StrEnum):
    PHARMACY = "pharmacy"
    CLINIC = "clinic"


class Facility(Base):
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[FacilityKind] = mapped_column(enum_type(FacilityKind, 16))
    district: Mapped[str] = mapped_column(String(100))
    # WGS84 degrees, for the rule that flags swipes too far apart for the time between.
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    tills: Mapped[list[Till]] = relationship(back_populates="facility", order_by="Till.id")


class Till(Base):
    """A point of sale; it authenticates with its own API key (stored hashed)."""

    __tablename__ = "tills"
    __table_args__ = (UniqueConstraint("facility_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"), default=None)
    # SHA-256 of the API key: keys are long random tokens, so a fast hash is enough.
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    facility: Mapped[Facility] = relationship(back_populates="tills")
