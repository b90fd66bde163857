"""Cameras and what they recorded: segments, gaps, recorder state, purges, clip views."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
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


class SegmentState(enum.StrEnum):
    OPEN = "open"  # being written; readable up to its last flushed fragment
    COMPLETE = "complete"  # closed cleanly by the recorder
    REPAIRED = "repaired"  # left open by a crash, remuxed up to its last good packet


class Segment(Base):
    """A recorded MP4 of one camera; its media time 0 is ``started_at`` on the wall clock."""

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_camera_start", "camera_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    # Relative to the data directory: video/<camera_id>/YYYY/MM/DD/HHMMSS_ffffff.mp4
    path: Mapped[str] = mapped_column(String(300), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # For an open segment: the end of what was flushed at the last heartbeat.
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[SegmentState] = mapped_column(
        enum_type(SegmentState, 12), default=SegmentState.OPEN, index=True
    )
    video_codec: Mapped[str] = mapped_column(String(20), default="")
    audio_codec: Mapped[str | None] = mapped_column(String(20), default=None)
    # Kept by retention whatever its age (set by hand or by an investigation).
    protected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Gap(Base):
    """A stretch with no recording: the camera dropped, or the recorder was down."""

    __tablename__ = "gaps"
    __table_args__ = (Index("ix_gaps_camera_start", "camera_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)  # None: ongoing
    reason: Mapped[str] = mapped_column(Text)


class RecorderStatus(enum.StrEnum):
    RECORDING = "recording"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


class CameraState(Base):
    """The recorder's heartbeat: one row per camera, read by the API in any process."""

    __tablename__ = "camera_states"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), primary_key=True)
    status: Mapped[RecorderStatus] = mapped_column(enum_type(RecorderStatus, 16))
    # Which recorder holds the camera ("host:pid:thread"); one recorder per camera.
    owner: Mapped[str | None] = mapped_column(String(100), default=None)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    bitrate_bps: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)


class Purge(Base):
    """A segment deleted by retention: when, which one and why."""

    __tablename__ = "segment_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # The segment row goes with its file; these columns keep what it was.
    segment_id: Mapped[int] = mapped_column()
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    path: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(30))  # "age" or "low_disk"
