"""The investigation API: lost cards, timelines, face search, suspects, investigations, cases.

Everything but reporting a lost card is for investigators, and every read of personal
data is recorded in the audit trail.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, UploadFile, status
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from swipeguard.api.deps import DbSession, get_db, get_settings
from swipeguard.audit import service as audit
from swipeguard.auth.deps import optional_user, require_user
from swipeguard.auth.models import Role, User
from swipeguard.cardholders.models import CardHolder
from swipeguard.config import Settings
from swipeguard.console.views import SECURITY_HEADERS, STATIC
from swipeguard.db import Database
from swipeguard.faces.errors import FaceError, ImageTooLarge
from swipeguard.investigations import clustering, flows, service
from swipeguard.investigations.faces import decode, photo_embedding
from swipeguard.investigations.models import Case, CaseStatus, Suspect
from swipeguard.investigations.search import FaceSearch, open_search
from swipeguard.swipes.models import Swipe

log = logging.getLogger(__name__)

router = APIRouter(tags=["investigations"])

investigator = require_user(Role.INVESTIGATOR)
desk = require_user(Role.OPERATOR, Role.INVESTIGATOR)
# A phone photo is 2-8 MB; 10 MB leaves room without inviting abuse.
MAX_PHOTO_BYTES = 10 * 1024**2


def face_search(settings: Settings = Depends(get_settings),
                db: Database = Depends(get_db)) -> FaceSearch:
    return open_search(settings, db)


class LostIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    since: AwareDatetime = Field(description="when the card was last in the holder's hands")
    reason: str = Field(min_length=1, max_length=500, description="how it was lost, who said")


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capture_ids: list[int] = Field(min_length=1, description="captures to move out")
    reason: str = Field(min_length=1, max_length=500)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: int = Field(description="the suspect whose captures move into this one")
    reason: str = Field(min_length=1, max_length=500)


class RemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capture_id: int
    reason: str = Field(min_length=1, max_length=500)


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    card_no: str = Field(min_length=4, max_length=32)
    since: AwareDatetime | None = Field(None, description="default: when the card was lost")
    title: str = Field("", max_length=200)


class CaseUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh: bool = Field(False, description="run the investigation again and keep it")
    status: CaseStatus | None = None
    note: str = Field("", max_length=2000)


class SuspectOut(BaseModel):
    id: int
    active: bool
    merged_into_id: int | None
    capture_ids: list[int]
    created_by: str
    created_at: datetime
    updated_at: datetime
    history: list[dict[str, Any]] = []

    @classmethod
    def of(cls, suspect: Suspect, history: list[Any] | None = None) -> SuspectOut:
        return cls(
            id=suspect.id, active=suspect.active, merged_into_id=suspect.merged_into_id,
            capture_ids=[m.capture_id for m in suspect.members], created_by=suspect.created_by,
            created_at=suspect.created_at, updated_at=suspect.updated_at,
            history=[{"at": e.at, "actor": e.actor, "action": e.action,
                      "capture_ids": [int(c) for c in e.capture_ids.split(",") if c],
                      "other_suspect_id": e.other_suspect_id, "reason": e.reason}
                     for e in history or []],
        )


class SwipeCardOut(BaseModel):
    swipe_id: int
    card_no: str
    swiped_at: datetime
    lost_since: datetime | None


class CaseOut(BaseModel):
    id: int
    card_no: str
    since: datetime
    title: str
    status: CaseStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    findings: dict[str, Any]
    history: list[dict[str, Any]] = []

    @classmethod
    def of(cls, case: Case, *, with_history: bool = True) -> CaseOut:
        return cls(
            id=case.id, card_no=case.card_no, since=case.since, title=case.title,
            status=case.status, created_by=case.created_by, created_at=case.created_at,
            updated_at=case.updated_at, findings=json.loads(case.findings),
            history=[{"at": e.at, "actor": e.actor, "action": e.action, "reason": e.reason}
                     for e in case.events] if with_history else [],
        )


# --- lost cards and timelines -------------------------------------------------------------


@router.post("/api/card-holders/{card_no}/lost", response_model=service.LostReport)
def report_lost(
    card_no: str, body: LostIn, session: DbSession,
    user: User = Depends(desk),
) -> service.LostReport:
    """Marks the card lost from ``since``; swipes since then are flagged and alarmed."""
    try:
        report = service.report_lost(session, card_no=card_no, since=body.since,
                                     actor=user.username, reason=body.reason)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    audit.record(session, actor=user.username, action="report_lost", object_kind="card_holder",
                 object_id=report.card_holder_id, reason=body.reason)
    return report


@router.get("/api/cards/{card_no}/timeline", response_model=service.Timeline)
def timeline(
    card_no: str, session: DbSession, settings: Settings = Depends(get_settings),
    user: User = Depends(investigator),
    since: AwareDatetime | None = Query(None), until: AwareDatetime | None = Query(None),
) -> service.Timeline:
    """Every swipe of the card, money per day, and which faces were not the holder's."""
    try:
        found = service.get_timeline(session, card_no=card_no, since=since, until=until,
                                     threshold=settings.verification.threshold)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    audit.record(session, actor=user.username, action="view_timeline", object_kind="card",
                 object_id=card_no)
    return found


# --- face search ----------------------------------------------------------------------------


@router.post("/api/search/faces", response_model=service.SearchResult)
def search_faces(
    session: DbSession, settings: Settings = Depends(get_settings),
    search: FaceSearch = Depends(face_search), user: User = Depends(investigator),
    capture_id: int | None = Form(None, description="search with this capture's face"),
    photo: UploadFile | None = File(None, description="or with the one face in this photo"),
    k: int | None = Form(None, ge=1, le=1000, description="results of each kind"),
) -> service.SearchResult:
    """The captures and enrolled card holders most like a face, with distances and bands."""
    if capture_id is None and photo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "send the face to search for: a capture_id or a photo")
    if capture_id is not None and photo is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "send either capture_id or a photo, not both")
    if capture_id is not None:
        try:
            query = decode(service.capture_descriptor(session, capture_id=capture_id))
        except LookupError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        what, exclude = f"capture {capture_id}", [capture_id]
    else:
        assert photo is not None
        query = _photo_query(photo, settings)
        what, exclude = "uploaded photo", []
    result = service.search_faces(session, search=search, query=query,
                                  k=k or settings.search.top_k,
                                  threshold=settings.verification.threshold,
                                  exclude_capture_ids=exclude)
    audit.record(session, actor=user.username, action="search_faces", object_kind="face",
                 object_id=capture_id if capture_id is not None else "photo",
                 reason=f"searched with {what}")
    return result


def _photo_query(photo: UploadFile, settings: Settings) -> Any:
    data = photo.file.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"the photo is over {MAX_PHOTO_BYTES // 1024**2} MB")
    try:
        return photo_embedding(data, settings=settings.faces)
    except ImageTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except FaceError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"{exc.code}: {exc}") from exc


# --- the investigation and cases ----------------------------------------------------------


def _investigate(session: Any, search: FaceSearch, settings: Settings, card_no: str,
                 since: datetime | None, until: datetime | None = None) -> flows.Investigation:
    try:
        return flows.investigate(session, search=search, settings=settings, card_no=card_no,
                                 since=since, until=until)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.get("/api/cards/{card_no}/investigation", response_model=flows.Investigation)
def investigation(
    card_no: str, session: DbSession, settings: Settings = Depends(get_settings),
    search: FaceSearch = Depends(face_search), user: User = Depends(investigator),
    since: AwareDatetime | None = Query(None, description="default: when the card was lost"),
    until: AwareDatetime | None = Query(None),
) -> flows.Investigation:
    """The card's swipes since ``since``, the people in them, ranked, with the evidence."""
    found = _investigate(session, search, settings, card_no, since, until)
    audit.record(session, actor=user.username, action="investigate", object_kind="card",
                 object_id=card_no, reason=f"since {found.since.isoformat()}")
    return found


@router.get("/api/swipes/{swipe_id}/card", response_model=SwipeCardOut)
def swipe_card(swipe_id: int, session: DbSession,
               user: User = Depends(investigator)) -> SwipeCardOut:
    """The card of a swipe in full, so an investigator opens its card from an alarm."""
    swipe = session.get(Swipe, swipe_id)
    if swipe is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no swipe {swipe_id}")
    holder = session.scalar(select(CardHolder).where(CardHolder.card_no == swipe.card_no))
    audit.record(session, actor=user.username, action="view_card_of_swipe",
                 object_kind="swipe", object_id=swipe_id)
    return SwipeCardOut(swipe_id=swipe.id, card_no=swipe.card_no, swiped_at=swipe.swiped_at,
                        lost_since=holder.lost_since if holder else None)


@router.post("/api/cases", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
def create_case(
    body: CaseIn, session: DbSession, settings: Settings = Depends(get_settings),
    search: FaceSearch = Depends(face_search), user: User = Depends(investigator),
) -> CaseOut:
    """Opens a case: runs the investigation and keeps its findings."""
    found = _investigate(session, search, settings, body.card_no, body.since)
    case = service.create_case(session, card_no=body.card_no, since=found.since,
                               title=body.title, findings=found, actor=user.username)
    audit.record(session, actor=user.username, action="open_case", object_kind="case",
                 object_id=case.id)
    return CaseOut.of(service.get_case(session, case_id=case.id) or case)


@router.get("/api/cases", response_model=list[CaseOut])
def list_cases(session: DbSession, user: User = Depends(investigator),
               card_no: str | None = Query(None)) -> list[CaseOut]:
    cases = service.list_cases(session, card_no=card_no)
    return [CaseOut.of(c, with_history=False) for c in cases]


@router.get("/api/cases/{case_id}", response_model=CaseOut)
def get_case(case_id: int, session: DbSession, user: User = Depends(investigator)) -> CaseOut:
    case = service.get_case(session, case_id=case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    audit.record(session, actor=user.username, action="view_case", object_kind="case",
                 object_id=case_id)
    return CaseOut.of(case)


@router.post("/api/cases/{case_id}", response_model=CaseOut)
def update_case(
    case_id: int, body: CaseUpdateIn, session: DbSession,
    settings: Settings = Depends(get_settings), search: FaceSearch = Depends(face_search),
    user: User = Depends(investigator),
) -> CaseOut:
    """Refreshes the findings, closes or reopens the case, or adds a note."""
    case = service.get_case(session, case_id=case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    findings = _investigate(session, search, settings, case.card_no, case.since) \
        if body.refresh else None
    try:
        service.update_case(session, case_id=case_id, actor=user.username, findings=findings,
                            status=body.status, note=body.note)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    session.expire(case)
    return CaseOut.of(service.get_case(session, case_id=case_id) or case)


# --- suspects -----------------------------------------------------------------------------


@router.get("/api/suspects", response_model=list[SuspectOut],
            description="People seen using cards not theirs, most recently changed "
                        "first.\n\n" + (clustering.__doc__ or ""))
def list_suspects(session: DbSession, user: User = Depends(investigator),
                  limit: int = Query(100, ge=1, le=1000)) -> list[SuspectOut]:
    suspects = service.list_suspects(session, limit=limit)
    audit.record(session, actor=user.username, action="list_suspects", object_kind="suspect",
                 object_id=f"{len(suspects)} suspects")
    return [SuspectOut.of(s) for s in suspects]


@router.get("/api/suspects/{suspect_id}", response_model=SuspectOut)
def get_suspect(suspect_id: int, session: DbSession,
                user: User = Depends(investigator)) -> SuspectOut:
    """A suspect's captures and the history of its group (how the grouping decided)."""
    suspect = _suspect(session, suspect_id)
    audit.record(session, actor=user.username, action="view_suspect", object_kind="suspect",
                 object_id=suspect_id)
    return SuspectOut.of(suspect, service.suspect_history(session, suspect_id=suspect_id))


@router.post("/api/suspects/{suspect_id}/split", response_model=SuspectOut)
def split(suspect_id: int, body: SplitIn, session: DbSession,
          user: User = Depends(investigator)) -> SuspectOut:
    """Moves the chosen captures to a new suspect; answers with the new one."""
    new = _correct(lambda: clustering.split(session, suspect_id=suspect_id,
                                            capture_ids=body.capture_ids,
                                            actor=user.username, reason=body.reason))
    return SuspectOut.of(_suspect(session, new.id))


@router.post("/api/suspects/{suspect_id}/merge", response_model=SuspectOut)
def merge(suspect_id: int, body: MergeIn, session: DbSession,
          user: User = Depends(investigator)) -> SuspectOut:
    """Moves every capture of ``other_id`` into this suspect."""
    _correct(lambda: clustering.merge(session, into_id=suspect_id, other_id=body.other_id,
                                      actor=user.username, reason=body.reason))
    return SuspectOut.of(_suspect(session, suspect_id))


@router.post("/api/suspects/{suspect_id}/not-this-person", response_model=SuspectOut)
def not_this_person(suspect_id: int, body: RemoveIn, session: DbSession,
                    user: User = Depends(investigator)) -> SuspectOut:
    """Removes a capture from the suspect for good: the grouping will not put it back."""
    _correct(lambda: clustering.remove_capture(session, suspect_id=suspect_id,
                                               capture_id=body.capture_id,
                                               actor=user.username, reason=body.reason))
    return SuspectOut.of(_suspect(session, suspect_id))


def _suspect(session: Any, suspect_id: int) -> Suspect:
    session.flush()
    session.expire_all()
    suspect = service.get_suspect(session, suspect_id=suspect_id)
    if suspect is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no suspect {suspect_id}")
    return suspect


def _correct(action: Any) -> Any:
    try:
        return action()
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except clustering.CorrectionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


# --- the console page ---------------------------------------------------------------------


@router.get("/investigate", include_in_schema=False)
def investigation_page(user: User | None = Depends(optional_user)) -> Response:
    """The console's investigation page (its data comes from the API above)."""
    if user is None:
        return RedirectResponse("/console/sign-in?next=/investigate",
                                status_code=status.HTTP_303_SEE_OTHER)
    return FileResponse(STATIC / "investigation.html", media_type="text/html",
                        headers=SECURITY_HEADERS)
