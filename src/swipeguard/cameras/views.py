"""Camera state for the console, and a swipe's clip with seeking and an access record."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from swipeguard.api.deps import DbSession, get_settings
from swipeguard.audit import service as audit
from swipeguard.audit.models import AccessRecord
from swipeguard.auth.deps import require_user
from swipeguard.auth.models import User
from swipeguard.cameras import clips, state
from swipeguard.config import Settings
from swipeguard.db import utcnow

router = APIRouter(tags=["cameras"])

# Requests for one clip by one viewer closer together than this are one viewing.
VIEW_WINDOW = timedelta(minutes=5)

any_user = require_user()


class GapOut(BaseModel):
    started_at: datetime
    ended_at: datetime | None  # None: still going on
    reason: str


class CameraStateOut(BaseModel):
    id: int
    name: str
    facility_id: int
    enabled: bool
    status: str  # recording, reconnecting or stopped
    heartbeat_at: datetime | None
    last_segment_end: datetime | None
    bitrate_bps: int | None
    last_error: str | None
    gaps_24h: list[GapOut]


@router.get("/api/cameras", response_model=list[CameraStateOut])
def list_cameras(session: DbSession, user: User = Depends(any_user)) -> list[CameraStateOut]:
    views = state.list_states(session, since=timedelta(hours=24))
    return [CameraStateOut(
        id=v.camera.id, name=v.camera.name, facility_id=v.camera.facility_id,
        enabled=v.camera.enabled, status=v.status.value, heartbeat_at=v.heartbeat_at,
        last_segment_end=v.last_segment_end, bitrate_bps=v.bitrate_bps,
        last_error=v.last_error,
        gaps_24h=[GapOut(started_at=g.started_at, ended_at=g.ended_at, reason=g.reason)
                  for g in v.gaps],
    ) for v in views]


@router.get("/api/swipes/{swipe_id}/clip", response_class=FileResponse,
            responses={206: {"description": "the requested byte range"},
                       404: {"description": "no such swipe, or no video covers it"}})
def swipe_clip(
    swipe_id: int, session: DbSession,
    settings: Settings = Depends(get_settings), user: User = Depends(any_user),
    reason: str = Query("", max_length=500, description="why the clip is viewed"),
    download: bool = Query(False, description="send as an attachment"),
) -> FileResponse:
    """The swipe's clip (MP4 with sound); ``Range: bytes=a-b`` answers 206 for seeking."""
    try:
        clip = clips.clip_for_swipe(settings, session, swipe_id=swipe_id)
    except clips.NoVideo as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    if not _seen_just_now(session, actor=user.username, swipe_id=swipe_id, reason=reason):
        audit.record(session, actor=user.username, action="view_clip", object_kind="swipe",
                     object_id=swipe_id, reason=reason)
    headers = {"X-Clip-Started-At": clip.started_at.isoformat(),
               "Cache-Control": "private, no-store"}
    return FileResponse(
        clip.path, media_type="video/mp4", headers=headers,
        filename=f"swipe-{swipe_id}.mp4" if download else None,
        content_disposition_type="attachment" if download else "inline",
    )


def _seen_just_now(session: Session, *, actor: str, swipe_id: int, reason: str) -> bool:
    """A player asks for many byte ranges while one person watches once: every request
    counts, but one record stands for a viewer's requests within ``VIEW_WINDOW``."""
    return session.scalar(select(AccessRecord.id).where(
        AccessRecord.actor == actor, AccessRecord.action == "view_clip",
        AccessRecord.object_kind == "swipe", AccessRecord.object_id == str(swipe_id),
        AccessRecord.reason == reason, AccessRecord.at >= utcnow() - VIEW_WINDOW,
    ).limit(1)) is not None
