"""Alarms and their history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swipeguard.db import Base, UTCDateTime, enum_type, utcnow


class AlarmKind(enum.StrEnum):
    MISMATCH = "mismatch"
    NO_FACE = "no_face"
    NO_VIDEO = "no_video"  # the till's camera recorded nothing: check the camera
    LOST_CARD = "lost_card"
    RULE = "rule"
    ERROR = "error"  # a swipe could not be verified: check the server's log


class AlarmStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Resolution(enum.StrEnum):
    CONFIRMED_MISUSE = "confirmed_misuse"
    FALSE_ALARM = "false_alarm"


class Alarm(Base):
    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(primary_key=True)
    swipe_id: Mapped[int | None] = mapped_column(ForeignKey("swipes.id"), index=True)
    kind: Mapped[AlarmKind] = mapped_column(enum_type(AlarmKind, 16))
    # Rule alarms name their rule (e.g. "many_facilities"); face alarms leave it empty.
    rule: Mapped[str | None] = mapped_column(String(50), default=None)
    priority: Mapped[int] = mapped_column(Integer, default=1)  # higher is more urgent
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[AlarmStatus] = mapped_column(
        enum_type(AlarmStatus, 16), default=AlarmStatus.OPEN, index=True
    )
    resolution: Mapped[Resolution | None] = mapped_column(
        enum_type(Resolution, 20), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # Indexed: live consoles look for alarms changed in the last seconds, twice a second.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    events: Mapped[list[AlarmEvent]] = relationship(
        back_populates="alarm", order_by="AlarmEvent.id"
    )


class AlarmEvent(Base):
    """One change to an alarm: who, when, what and why."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[AlarmStatus | None] = mapped_column(
        enum_type(AlarmStatus, 16), default=None
    )
    to_status: Mapped[AlarmStatus] = mapped_column(enum_type(AlarmStatus, 16))
    reason: Mapped[str] = mapped_column(Text, default="")

    alarm: Mapped[Alarm] = relationship(back_populates="events")
