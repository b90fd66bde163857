"""The alarm queue for the monitoring room, live updates, and the faces behind an alarm.

Every face image served is recorded in the access record, and none is served to
anyone not signed in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from swipeguard.alarms import feed, service
from swipeguard.alarms.feed import AlarmDetail, AlarmItem, AlarmWatch
from swipeguard.alarms.models import AlarmStatus, Resolution
from swipeguard.api.deps import DbSession, get_db, get_settings
from swipeguard.audit import service as audit
from swipeguard.auth import service as auth
from swipeguard.auth.deps import COOKIE, require_user
from swipeguard.auth.models import Role, User
from swipeguard.cardholders.models import EnrolledPhoto
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.swipes.models import Capture

log = logging.getLogger(__name__)

router = APIRouter(tags=["alarms"])

viewer = require_user()  # every role watches the queue
actor = require_user(Role.OPERATOR, Role.INVESTIGATOR)  # and admins, who pass every check

POLL_S = 0.5  # how stale a console may be; one indexed query per console per poll
KEEPALIVE_S = 15.0  # below the usual 30-60 s idle timeout of proxies
RECHECK_SIGN_IN_S = 30.0  # a stream ends within this long after its sign-in does


class AcknowledgeIn(BaseModel):
    reason: str = Field("", max_length=2000)


class CloseIn(BaseModel):
    resolution: Resolution
    reason: str = Field(min_length=1, max_length=2000)


@router.get("/api/alarms", response_model=list[AlarmItem])
def list_alarms(
    session: DbSession, _: User = Depends(viewer),
    status_: list[AlarmStatus] = Query(default=[], alias="status"),
    limit: int = Query(200, ge=1, le=1000),
) -> list[AlarmItem]:
    """Most urgent first, then newest; ``status`` may be repeated."""
    return feed.list_items(session, status=status_ or None, limit=limit)


@router.get("/api/alarms/stream", response_class=StreamingResponse)
async def stream_alarms(
    request: Request, after_id: int | None = Query(None, ge=0),
    db: Database = Depends(get_db),
) -> StreamingResponse:
    """Server-Sent Events: ``alarm`` for a new alarm, ``alarm-update`` for a change.

    Each event's data is an alarm item as in ``GET /api/alarms``. A reconnecting browser
    sends ``Last-Event-ID`` (the newest alarm id it got) and misses no new alarm.
    """
    token = request.cookies.get(COOKIE)
    if not token or not await run_in_threadpool(_signed_in, db, token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    start = _start_id(request, after_id)
    if start is None:
        start = await run_in_threadpool(_latest_id, db)
    watch = AlarmWatch(after_id=start)
    return StreamingResponse(
        _events(request, db, token, watch), media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _start_id(request: Request, after_id: int | None) -> int | None:
    last = request.headers.get("last-event-id", "")
    return int(last) if last.isdigit() else after_id


def _signed_in(db: Database, token: str) -> bool:
    with db.transaction() as session:
        return auth.user_for_token(session, token=token) is not None


def _latest_id(db: Database) -> int:
    with db.transaction() as session:
        return feed.latest_id(session)


def _poll(db: Database, watch: AlarmWatch) -> list[tuple[str, AlarmItem]]:
    with db.transaction() as session:
        return watch.poll(session)


async def _events(
    request: Request, db: Database, token: str, watch: AlarmWatch,
) -> AsyncIterator[str]:
    """Ends when the client goes (Starlette cancels it), the sign-in ends or the server stops."""
    stopping = request.app.state.stopping
    yield f"retry: 2000\nid: {watch.after_id}\nevent: ready\ndata: {{}}\n\n"
    last_write = last_check = time.monotonic()
    while not stopping.is_set():
        for name, item in await run_in_threadpool(_poll, db, watch):
            yield _event(name, item, watch.after_id)
            last_write = time.monotonic()
        now = time.monotonic()
        if now - last_check > RECHECK_SIGN_IN_S:
            if not await run_in_threadpool(_signed_in, db, token):
                yield "event: signed-out\ndata: {}\n\n"
                return
            last_check = now
        if now - last_write > KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_write = now
        await asyncio.sleep(POLL_S)


def _event(name: str, item: AlarmItem, last_id: int) -> str:
    data = json.dumps(item.model_dump(mode="json"), separators=(",", ":"))
    return f"id: {last_id}\nevent: {name}\ndata: {data}\n\n"


@router.get("/api/alarms/{alarm_id}", response_model=AlarmDetail)
def get_alarm(alarm_id: int, session: DbSession, user: User = Depends(viewer)) -> AlarmDetail:
    detail = feed.get_item(session, alarm_id=alarm_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm {alarm_id}")
    audit.record(session, actor=user.username, action="view_alarm", object_kind="alarm",
                 object_id=alarm_id)
    return detail


@router.post("/api/alarms/{alarm_id}/acknowledge", response_model=AlarmDetail)
def acknowledge(alarm_id: int, body: AcknowledgeIn, session: DbSession,
                user: User = Depends(actor)) -> AlarmDetail:
    """409 if the alarm is no longer open: someone else acted first."""
    with _as_http_errors():
        service.acknowledge(session, alarm_id=alarm_id, actor=user.username,
                            reason=body.reason)
    return _detail(session, alarm_id)


@router.post("/api/alarms/{alarm_id}/close", response_model=AlarmDetail)
def close(alarm_id: int, body: CloseIn, session: DbSession,
          user: User = Depends(actor)) -> AlarmDetail:
    """Closes an acknowledged alarm as confirmed misuse or false alarm, with the reason."""
    with _as_http_errors():
        service.close(session, alarm_id=alarm_id, actor=user.username,
                      resolution=body.resolution, reason=body.reason)
    return _detail(session, alarm_id)


@contextmanager
def _as_http_errors() -> Iterator[None]:
    try:
        yield
    except service.AlarmConflict as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from e
    except LookupError as e:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(e)) from e
    except ValueError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e


def _detail(session: DbSession, alarm_id: int) -> AlarmDetail:
    detail = feed.get_item(session, alarm_id=alarm_id)
    assert detail is not None  # it was just changed in this transaction
    return detail


@router.get("/api/captures/{capture_id}/image", response_class=FileResponse)
def capture_image(capture_id: int, session: DbSession, user: User = Depends(viewer),
                  settings: Settings = Depends(get_settings)) -> FileResponse:
    """The face chip taken at the counter."""
    capture = session.get(Capture, capture_id)
    if capture is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no capture {capture_id}")
    path = _data_file(settings, capture.image_path, f"capture {capture_id}")
    audit.record(session, actor=user.username, action="view_capture", object_kind="capture",
                 object_id=capture_id)
    return _private_image(path)


@router.get("/api/enrolled-photos/{photo_id}/image", response_class=FileResponse)
def enrolled_photo_image(photo_id: int, session: DbSession, user: User = Depends(viewer),
                         settings: Settings = Depends(get_settings)) -> FileResponse:
    """The card holder's enrolled face chip."""
    photo = session.get(EnrolledPhoto, photo_id)
    if photo is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no enrolled photo {photo_id}")
    path = _data_file(settings, photo.image_path, f"enrolled photo {photo_id}")
    audit.record(session, actor=user.username, action="view_enrolled_photo",
                 object_kind="enrolled_photo", object_id=photo_id,
                 reason=f"card holder {photo.card_holder_id}")
    return _private_image(path)


def _data_file(settings: Settings, relative: str, what: str) -> Path:
    """A file under the data directory; never one outside it, whatever the row says."""
    root = settings.data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        log.warning("%s points outside the data directory; not served", what)
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} has no image")
    if not path.is_file():
        log.warning("%s: image file missing", what)
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{what} has no image")
    return path


def _private_image(path: Path) -> FileResponse:
    # no-store: a face stays off the shared console's disk cache, and every look is audited.
    return FileResponse(path, headers={"Cache-Control": "no-store"})
