"""The swipes API: tills post swipes (by API key); signed-in users read them."""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import JSONResponse

from swipeguard.api.deps import DbSession, get_db, get_settings
from swipeguard.audit import service as audit
from swipeguard.auth.deps import current_till, require_user
from swipeguard.auth.models import User
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.faces.errors import FaceError, ImageTooLarge
from swipeguard.faces.images import load_image
from swipeguard.facilities.models import Till
from swipeguard.swipes import service
from swipeguard.swipes.models import Verdict
from swipeguard.swipes.schemas import SwipeDetailOut, SwipeIn, SwipeOut
from swipeguard.swipes.signals import get_signals

log = logging.getLogger(__name__)

router = APIRouter(tags=["swipes"])
signed_in = require_user()  # every role reads swipes; each read is in the access record

# A till camera's JPEG is 50-500 kB; 5 MB leaves room for a 12-megapixel phone photo.
MAX_STILL_BYTES = 5 * 1024**2
JPEG_MAGIC = b"\xff\xd8\xff"
# A till's clock may run a little ahead; more than this is a wrong clock or zone.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
# Tills that were offline upload late; older than the video kept (30 days) is an error.
MAX_AGE = timedelta(days=30)


class RequestError(Exception):
    """A client error in the API's one JSON shape, naming the field to fix."""

    def __init__(self, code: int, field: str, kind: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.response = JSONResponse(
            {"detail": message, "errors": [{"field": field, "message": message, "type": kind}],
             **extra},
            status_code=code,
        )


@router.post("/api/swipes", status_code=status.HTTP_201_CREATED, response_model=SwipeOut,
             responses={200: {"model": SwipeOut, "description": "a retry: the first swipe"},
                        409: {"description": "the idempotency key was used for another swipe"},
                        413: {"description": "the still is too large"},
                        422: {"description": "a field is wrong, or the card is unknown"}})
def post_swipe(
    body: SwipeIn,
    till: Till = Depends(current_till),
    settings: Settings = Depends(get_settings),
    db: Database = Depends(get_db),
    wait: bool = Query(False, description="wait for the verdict (pre-payment check)"),
) -> Any:
    """Stores a swipe once and, if asked, waits for its verdict (up to the deadline)."""
    try:
        new = _new_swipe(body, settings=settings, now=utcnow())
    except RequestError as exc:
        return exc.response
    signals = get_signals(settings, db)
    try:
        stored = service.create(settings, db, signals, till_id=till.id, new=new)
    except service.IdempotencyConflict as exc:
        return RequestError(status.HTTP_409_CONFLICT, "body.idempotency_key", "conflict",
                            str(exc), swipe_id=exc.swipe_id).response
    except OSError:
        # The still could not be written (disk full, volume gone): nothing was stored,
        # and the till's retry with the same key is safe.
        log.exception("a swipe from till %s could not be stored", till.id)
        return JSONResponse({"detail": "the swipe could not be stored now; retry with the "
                                       "same idempotency key", "errors": []},
                            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": "5"})

    swipe = stored.swipe
    if swipe.verdict is Verdict.UNKNOWN_CARD:
        out = SwipeOut.of(swipe)
        return RequestError(status.HTTP_422_UNPROCESSABLE_CONTENT, "body.card_no",
                            "unknown_card", "no card holder has this card number; the swipe "
                            "is kept for review", **out.model_dump(mode="json")).response
    if wait or body.wait:
        swipe = service.wait_for_decision(db, signals, swipe_id=swipe.id,
                                          timeout=settings.verification.decision_deadline_s)
    code = status.HTTP_201_CREATED if stored.created else status.HTTP_200_OK
    return JSONResponse(SwipeOut.of(swipe).model_dump(mode="json"), status_code=code)


def _new_swipe(body: SwipeIn, *, settings: Settings, now: datetime) -> service.NewSwipe:
    if body.swiped_at > now + MAX_CLOCK_AHEAD:
        raise RequestError(422, "body.swiped_at", "in_future",
                           "swiped_at is more than 5 minutes ahead of the server's clock; "
                           "check the till's clock and time zone")
    if body.swiped_at < now - MAX_AGE:
        raise RequestError(422, "body.swiped_at", "too_old",
                           "swiped_at is more than 30 days ago; no video is kept that long")
    still = _still(body.still, settings=settings) if body.still else None
    # In UTC: one instant written in two zones is the same swipe (and the same retry).
    return service.NewSwipe(card_no=body.card_no, swiped_at=body.swiped_at.astimezone(UTC),
                            amount_cents=body.amount_cents(),
                            idempotency_key=body.idempotency_key, still=still)


def _still(encoded: str, *, settings: Settings) -> bytes:
    """The still's JPEG bytes, checked to decode completely."""
    if len(encoded) > (MAX_STILL_BYTES + 2) // 3 * 4 + 4:
        raise RequestError(413, "body.still", "too_large",
                           f"the still is over {MAX_STILL_BYTES // 1024**2} MB; send a "
                           "smaller JPEG")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(422, "body.still", "not_base64",
                           "the still must be a JPEG in standard base64") from exc
    if not data.startswith(JPEG_MAGIC):
        raise RequestError(422, "body.still", "not_a_jpeg",
                           "the still is not a JPEG; send the camera's JPEG as it is")
    try:
        load_image(data, max_pixels=settings.faces.max_image_pixels)
    except ImageTooLarge as exc:
        raise RequestError(413, "body.still", exc.code, str(exc)) from exc
    except FaceError as exc:
        raise RequestError(422, "body.still", exc.code, str(exc)) from exc
    return data


@router.get("/api/swipes", response_model=list[SwipeOut])
def list_swipes(
    session: DbSession,
    user: User = Depends(signed_in),
    limit: int = Query(100, ge=1, le=1000),
    before_id: int | None = Query(None, ge=1, description="page: swipes older than this id"),
    verdict: list[Verdict] | None = Query(None),
    till_id: int | None = Query(None, ge=1),
) -> list[SwipeOut]:
    """Recent swipes with their verdicts, newest first."""
    swipes = service.list(session, limit=limit, before_id=before_id, verdicts=verdict,
                          till_id=till_id)
    audit.record(session, actor=user.username, action="list_swipes", object_kind="swipe",
                 object_id="recent", reason=f"{len(swipes)} swipes listed")
    names = service.till_names(session, till_ids=(s.till_id for s in swipes))
    return [SwipeOut.of(s, till_name=names.get(s.till_id)) for s in swipes]


@router.get("/api/swipes/{swipe_id}", response_model=SwipeDetailOut)
def get_swipe(swipe_id: int, session: DbSession,
              user: User = Depends(signed_in)) -> SwipeDetailOut:
    swipe = service.get(session, swipe_id=swipe_id)
    if swipe is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no swipe {swipe_id}")
    audit.record(session, actor=user.username, action="view_swipe", object_kind="swipe",
                 object_id=swipe_id)
    names = service.till_names(session, till_ids=[swipe.till_id])
    return SwipeDetailOut.detail(swipe, till_name=names.get(swipe.till_id))
