"""Cameras and what they recorded."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from swipeguard.db import Base, UTCDateTime, enum_type, utcnow


class SourceKind(enum.StrEnum):
    RTSP = "rtsp"
    FILE = "file"  # a video file replayed in real time as if live


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    source_kind: Mapped[SourceKind] = mapped_column(enum_type(SourceKind, 8))
    # RTSP URL or file path. Credentials in an RTSP URL are never logged.
    source: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(default=True)
    # For a FILE source: the wall-clock time at which the file's first frame plays;
    # the file then loops. Lets a replayed file stand in for a live camera.
    replay_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
