"""Cameras and their recordings: plain functions over a session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from swipeguard.cameras.models import Camera, Gap, Segment, SegmentState, SourceKind

PLAYABLE = (SegmentState.OPEN, SegmentState.COMPLETE, SegmentState.REPAIRED)


def create_camera(
    session: Session, *, name: str, facility_id: int, source_kind: SourceKind, source: str,
    replay_started_at: datetime | None = None, enabled: bool = True,
) -> Camera:
    if session.scalar(select(Camera).where(Camera.name == name)) is not None:
        raise ValueError(f"camera {name!r} exists already; choose another name")
    camera = Camera(name=name, facility_id=facility_id, source_kind=source_kind, source=source,
                    replay_started_at=replay_started_at, enabled=enabled)
    session.add(camera)
    session.flush()
    return camera


def get(session: Session, *, camera_id: int) -> Camera | None:
    return session.get(Camera, camera_id)


def get_by_name(session: Session, *, name: str) -> Camera | None:
    return session.scalar(select(Camera).where(Camera.name == name))


def list(  # noqa: A001 - the service vocabulary's verb
    session: Session, *, enabled: bool | None = None,
) -> Sequence[Camera]:
    query = select(Camera).order_by(Camera.id)
    if enabled is not None:
        query = query.where(Camera.enabled.is_(enabled))
    return session.scalars(query).all()


def list_segments(
    session: Session, *, camera_id: int, start: datetime | None = None,
    end: datetime | None = None,
) -> Sequence[Segment]:
    """Playable segments overlapping [start, end], oldest first.

    An open segment counts as reaching the present: its ``ended_at`` is only as fresh
    as the recorder's last heartbeat.
    """
    query = select(Segment).where(Segment.camera_id == camera_id, Segment.state.in_(PLAYABLE))
    if end is not None:
        query = query.where(Segment.started_at <= end)
    if start is not None:
        query = query.where(or_(Segment.ended_at >= start, Segment.state == SegmentState.OPEN))
    return session.scalars(query.order_by(Segment.started_at)).all()


def list_gaps(
    session: Session, *, camera_id: int, since: datetime | None = None,
) -> Sequence[Gap]:
    """Gaps that ended after ``since`` or are still going on, oldest first."""
    query = select(Gap).where(Gap.camera_id == camera_id)
    if since is not None:
        query = query.where(or_(Gap.ended_at.is_(None), Gap.ended_at >= since))
    return session.scalars(query.order_by(Gap.started_at)).all()
