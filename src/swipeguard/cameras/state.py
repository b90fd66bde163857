"""Each camera's recording state, computed from the database (the recorder may run in
another process): its heartbeat row, its newest segment and its recent gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from swipeguard.cameras import service
from swipeguard.cameras.models import Camera, CameraState, Gap, RecorderStatus, Segment
from swipeguard.cameras.recorder import STALE_S
from swipeguard.db import utcnow


@dataclass(frozen=True)
class CameraView:
    camera: Camera
    status: RecorderStatus
    heartbeat_at: datetime | None
    last_segment_end: datetime | None
    bitrate_bps: int | None
    last_error: str | None
    gaps: Sequence[Gap]


def list_states(session: Session, *, since: timedelta) -> list[CameraView]:
    now = utcnow()
    states = {s.camera_id: s for s in session.scalars(select(CameraState))}
    ends: dict[int, datetime] = {camera_id: end for camera_id, end in session.execute(
        select(Segment.camera_id, func.max(Segment.ended_at)).group_by(Segment.camera_id))}
    return [_view(camera, states.get(camera.id), ends.get(camera.id),
                  service.list_gaps(session, camera_id=camera.id, since=now - since), now)
            for camera in service.list(session)]


def _view(camera: Camera, state: CameraState | None, last_end: datetime | None,
          gaps: Sequence[Gap], now: datetime) -> CameraView:
    status = state.status if state else RecorderStatus.STOPPED
    # A recorder that stopped beating (killed, host down) is not recording, whatever
    # its row last said.
    if state is not None and (now - state.heartbeat_at).total_seconds() > STALE_S:
        status = RecorderStatus.STOPPED
    live = status is not RecorderStatus.STOPPED
    return CameraView(
        camera=camera, status=status, heartbeat_at=state.heartbeat_at if state else None,
        last_segment_end=last_end,
        bitrate_bps=state.bitrate_bps if state and live else None,
        last_error=state.last_error if state else None, gaps=gaps)
