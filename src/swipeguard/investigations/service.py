"""Lost cards, a card's timeline, face search results, suspects and cases.

Plain functions over a session; the investigation itself (several steps) is in
``flows.py``. Distances are Euclidean between descriptors; ``band`` says in words
what one means.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.audit import service as audit
from swipeguard.cardholders import service as cardholders
from swipeguard.cardholders.models import CardHolder, CardStatus, EnrolledPhoto
from swipeguard.db import utcnow
from swipeguard.facilities.models import Facility, Till
from swipeguard.investigations.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Suspect,
    SuspectEvent,
)
from swipeguard.investigations.search import FaceSearch, Hit
from swipeguard.privacy import mask_card
from swipeguard.swipes.models import Capture, Swipe, Verdict

log = logging.getLogger(__name__)

# A lost-card report may be backdated, not postdated; a few minutes cover clock skew.
MAX_SINCE_AHEAD = timedelta(minutes=5)


def clip_url(swipe_id: int) -> str:
    return f"/api/swipes/{swipe_id}/clip"


# --- what a distance means ----------------------------------------------------------------

# Offsets from the verification threshold, and how often LFW's development folds
# (pairs-dev.txt, 3000 pairs) were the same person in each band around the default
# (measured with `swipeguard bench search --bands`).
BANDS = (
    (-0.10, "very likely the same person"),
    (0.0, "likely the same person"),
    (0.10, "possibly the same person: compare the faces yourself"),
    (float("inf"), "unlikely to be the same person"),
)


def band(distance: float, threshold: float) -> str:
    """A plain-language reading of a distance, relative to the verification threshold."""
    for offset, words in BANDS:
        if distance <= threshold + offset:
            return words
    return BANDS[-1][1]


def bands_explained(threshold: float) -> list[dict[str, Any]]:
    """The bands with their distance limits, for an API answer."""
    lower = 0.0
    out = []
    for offset, words in BANDS:
        upper = threshold + offset
        out.append({"from": round(lower, 3), "to": None if upper == float("inf")
                    else round(upper, 3), "meaning": words})
        lower = upper
    return out


# --- lost cards ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LostReport:
    card_holder_id: int
    lost_since: datetime
    flagged_swipe_ids: list[int]
    alarm_ids: list[int]


def report_lost(
    session: Session, *, card_no: str, since: datetime, actor: str, reason: str,
    now: datetime | None = None,
) -> LostReport:
    """Marks a card lost from ``since`` (may be in the past) and flags the swipes since.

    Each swipe since then gets ``flagged_for_review`` and one LOST_CARD alarm unless it
    has one already; swipes after the report are the verifier's (it reads ``lost_since``).
    Reporting again with an earlier time widens the window; a later time changes nothing.
    """
    now = now or utcnow()
    actor = audit.check_actor(actor)
    if since.tzinfo is None:
        raise ValueError("since needs a time zone, e.g. 2026-03-01T09:00:00+08:00")
    if since > now + MAX_SINCE_AHEAD:
        raise ValueError("since is in the future; give the time the card was last seen")
    if not reason.strip():
        raise ValueError("say how the card was lost or who reported it")
    holder = session.scalar(select(CardHolder).where(CardHolder.card_no == card_no))
    if holder is None:
        raise LookupError(f"no card holder has card {mask_card(card_no)}")

    if holder.status is not CardStatus.LOST or holder.lost_since is None \
            or since < holder.lost_since:
        cardholders.report_lost(session, card_holder_id=holder.id, since=since, actor=actor)
    assert holder.lost_since is not None
    flagged, opened = _flag_swipes_since(session, card_no=card_no, since=holder.lost_since,
                                         actor=actor)
    log.info("card %s reported lost by %s: %s swipes flagged, %s alarms", mask_card(card_no),
             actor, len(flagged), len(opened))
    return LostReport(holder.id, holder.lost_since, flagged, opened)


def _flag_swipes_since(
    session: Session, *, card_no: str, since: datetime, actor: str,
) -> tuple[list[int], list[int]]:
    swipes = session.scalars(select(Swipe).where(Swipe.card_no == card_no,
                                                 Swipe.swiped_at >= since)
                             .order_by(Swipe.swiped_at)).all()
    alarmed = set(session.scalars(select(Alarm.swipe_id).where(
        Alarm.swipe_id.in_([s.id for s in swipes]), Alarm.kind == AlarmKind.LOST_CARD)))
    opened = []
    for swipe in swipes:
        swipe.flagged_for_review = True
        if swipe.id in alarmed:
            continue
        alarm = alarms.open_alarm(
            session, kind=AlarmKind.LOST_CARD, swipe_id=swipe.id, actor=actor,
            reason=f"card reported lost from {since.isoformat(timespec='minutes')}; "
                   f"swiped {swipe.swiped_at.isoformat(timespec='minutes')} after that",
        )
        opened.append(alarm.id)
    return [s.id for s in swipes], opened


# --- a card's timeline --------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineSwipe:
    swipe_id: int
    swiped_at: datetime
    facility_id: int
    facility: str
    till_id: int
    till: str
    amount_cents: int
    capture_id: int | None
    verdict: str | None
    distance: float | None
    threshold: float | None
    not_holder: bool  # the face at the counter was not the card holder's
    flagged_for_review: bool
    clip_url: str


@dataclass(frozen=True)
class DaySpend:
    day: date
    amount_cents: int
    swipes: int


@dataclass(frozen=True)
class Timeline:
    card_no: str
    card_holder_id: int | None
    status: str | None
    lost_since: datetime | None
    swipes: list[TimelineSwipe]
    per_day: list[DaySpend]
    not_holder_swipe_ids: list[int]


def not_holder(swipe: Swipe, default_threshold: float) -> bool:
    """The face at the counter was someone else's (a mismatch, or a lost card's stranger)."""
    if swipe.verdict is Verdict.MISMATCH:
        return True
    if swipe.distance is None:
        return False
    return swipe.distance > (swipe.threshold or default_threshold)


def get_timeline(
    session: Session, *, card_no: str, threshold: float, since: datetime | None = None,
    until: datetime | None = None, limit: int = 5000,
) -> Timeline:
    """Every swipe of a card in time order, with money per day and the strangers' swipes."""
    holder = session.scalar(select(CardHolder).where(CardHolder.card_no == card_no))
    query = (select(Swipe, Till, Facility)
             .join(Till, Till.id == Swipe.till_id).join(Facility, Facility.id == Till.facility_id)
             .where(Swipe.card_no == card_no).options(selectinload(Swipe.captures))
             .order_by(Swipe.swiped_at, Swipe.id).limit(limit))
    if since is not None:
        query = query.where(Swipe.swiped_at >= since)
    if until is not None:
        query = query.where(Swipe.swiped_at <= until)
    rows = session.execute(query).all()
    if holder is None and not rows:
        raise LookupError(f"no card {mask_card(card_no)}")
    swipes = [_timeline_swipe(s, t, f, threshold) for s, t, f in rows]
    return Timeline(
        card_no=card_no, card_holder_id=holder.id if holder else None,
        status=holder.status.value if holder else None,
        lost_since=holder.lost_since if holder else None, swipes=swipes,
        per_day=_per_day(swipes), not_holder_swipe_ids=[s.swipe_id for s in swipes
                                                        if s.not_holder],
    )


def _timeline_swipe(swipe: Swipe, till: Till, facility: Facility,
                    threshold: float) -> TimelineSwipe:
    capture = swipe.captures[0] if swipe.captures else None
    return TimelineSwipe(
        swipe_id=swipe.id, swiped_at=swipe.swiped_at, facility_id=facility.id,
        facility=facility.name, till_id=till.id, till=till.name,
        amount_cents=swipe.amount_cents, capture_id=capture.id if capture else None,
        verdict=swipe.verdict.value if swipe.verdict else None, distance=swipe.distance,
        threshold=swipe.threshold, not_holder=not_holder(swipe, threshold),
        flagged_for_review=swipe.flagged_for_review, clip_url=clip_url(swipe.id),
    )


def _per_day(swipes: Sequence[TimelineSwipe]) -> list[DaySpend]:
    """Money spent per calendar day (UTC)."""
    totals: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for s in swipes:
        day = totals[s.swiped_at.date()]
        day[0] += s.amount_cents
        day[1] += 1
    return [DaySpend(d, cents, n) for d, (cents, n) in sorted(totals.items())]


# --- face search results ------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureMatch:
    capture_id: int
    swipe_id: int
    card_no: str
    facility: str
    facility_id: int
    swiped_at: datetime
    amount_cents: int
    verdict: str | None
    distance: float
    band: str
    clip_url: str


@dataclass(frozen=True)
class HolderMatch:
    card_holder_id: int
    card_no: str
    name: str
    status: str
    photo_id: int
    distance: float
    band: str


@dataclass(frozen=True)
class SearchResult:
    captures: list[CaptureMatch]
    card_holders: list[HolderMatch]
    threshold: float
    bands: list[dict[str, Any]] = field(default_factory=list)


def search_faces(
    session: Session, *, search: FaceSearch, query: Any, k: int, threshold: float,
    exclude_capture_ids: Sequence[int] = (),
) -> SearchResult:
    """The captures and card holders most like one face, nearest first."""
    search.sync()
    excluded = set(exclude_capture_ids)
    capture_hits = [h for h in search.captures.search(query, k + len(excluded))[0]
                    if h.id not in excluded][:k]
    # Several photos of one holder may be near: ask for more, keep each holder once.
    photo_hits = search.enrolled.search(query, k * 3)[0]
    return SearchResult(
        captures=resolve_captures(session, capture_hits, threshold=threshold),
        card_holders=resolve_holders(session, photo_hits, threshold=threshold)[:k],
        threshold=threshold, bands=bands_explained(threshold),
    )


def resolve_captures(session: Session, hits: Sequence[Hit], *,
                     threshold: float) -> list[CaptureMatch]:
    """Gallery hits as captures with their swipe and facility (rows gone are skipped)."""
    if not hits:
        return []
    rows = session.execute(
        select(Capture.id, Swipe, Facility)
        .join(Swipe, Swipe.id == Capture.swipe_id).join(Till, Till.id == Swipe.till_id)
        .join(Facility, Facility.id == Till.facility_id)
        .where(Capture.id.in_([h.id for h in hits]))
    ).all()
    found = {cid: (swipe, facility) for cid, swipe, facility in rows}
    out = []
    for hit in hits:
        if hit.id not in found:
            continue
        swipe, facility = found[hit.id]
        out.append(CaptureMatch(
            capture_id=hit.id, swipe_id=swipe.id, card_no=swipe.card_no,
            facility=facility.name, facility_id=facility.id, swiped_at=swipe.swiped_at,
            amount_cents=swipe.amount_cents,
            verdict=swipe.verdict.value if swipe.verdict else None,
            distance=round(hit.distance, 4), band=band(hit.distance, threshold),
            clip_url=clip_url(swipe.id),
        ))
    return out


def resolve_holders(session: Session, hits: Sequence[Hit], *,
                    threshold: float) -> list[HolderMatch]:
    """Enrolled-photo hits as card holders, each once at its nearest photo."""
    if not hits:
        return []
    rows = session.execute(
        select(EnrolledPhoto.id, CardHolder)
        .join(CardHolder, CardHolder.id == EnrolledPhoto.card_holder_id)
        .where(EnrolledPhoto.id.in_([h.id for h in hits]))
    ).all()
    found = dict(rows)
    seen: set[int] = set()
    out = []
    for hit in sorted(hits, key=lambda h: h.distance):
        holder = found.get(hit.id)
        if holder is None or holder.id in seen:
            continue
        seen.add(holder.id)
        out.append(HolderMatch(
            card_holder_id=holder.id, card_no=holder.card_no, name=holder.name,
            status=holder.status.value, photo_id=hit.id, distance=round(hit.distance, 4),
            band=band(hit.distance, threshold),
        ))
    return out


def capture_descriptor(session: Session, *, capture_id: int) -> bytes:
    blob = session.scalar(select(Capture.descriptor).where(Capture.id == capture_id))
    if blob is None:
        raise LookupError(f"no capture {capture_id}")
    return bytes(blob)


# --- suspects -----------------------------------------------------------------------------


def list_suspects(session: Session, *, limit: int = 100, active: bool = True) -> list[Suspect]:
    query = (select(Suspect).where(Suspect.active.is_(active))
             .options(selectinload(Suspect.members))
             .order_by(Suspect.updated_at.desc()).limit(limit))
    return list(session.scalars(query).all())


def get_suspect(session: Session, *, suspect_id: int) -> Suspect | None:
    return session.get(Suspect, suspect_id, options=[selectinload(Suspect.members)])


def suspect_history(session: Session, *, suspect_id: int) -> list[SuspectEvent]:
    return list(session.scalars(select(SuspectEvent).where(SuspectEvent.suspect_id == suspect_id)
                                .order_by(SuspectEvent.id)).all())


# --- cases --------------------------------------------------------------------------------


def create_case(
    session: Session, *, card_no: str, since: datetime, title: str, findings: Any, actor: str,
) -> Case:
    """Saves an investigation as a case, with its findings as they are now."""
    actor = audit.check_actor(actor)
    case = Case(card_no=card_no, since=since, title=title.strip()[:200],
                findings=_json(findings), created_by=actor)
    session.add(case)
    session.flush()
    session.add(CaseEvent(case_id=case.id, actor=actor, action="open", reason=case.title))
    return case


def update_case(
    session: Session, *, case_id: int, actor: str, findings: Any | None = None,
    status: CaseStatus | None = None, note: str = "",
) -> Case:
    """Refreshes a case's findings, closes or reopens it, or adds a note; each a history row."""
    actor = audit.check_actor(actor)
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"no case {case_id}")
    if findings is not None:
        case.findings = _json(findings)
        session.add(CaseEvent(case_id=case.id, actor=actor, action="refresh", reason=note))
    if status is not None and status is not case.status:
        if status is CaseStatus.CLOSED and not note.strip():
            raise ValueError("closing a case needs a reason")
        case.status = status
        session.add(CaseEvent(case_id=case.id, actor=actor, action=status.value, reason=note))
    elif findings is None and note.strip():
        session.add(CaseEvent(case_id=case.id, actor=actor, action="note", reason=note))
    case.updated_at = utcnow()
    session.flush()
    return case


def get_case(session: Session, *, case_id: int) -> Case | None:
    return session.get(Case, case_id, options=[selectinload(Case.events)])


def list_cases(session: Session, *, card_no: str | None = None, limit: int = 100) -> list[Case]:
    query = select(Case).order_by(Case.updated_at.desc()).limit(limit)
    if card_no:
        query = query.where(Case.card_no == card_no)
    return list(session.scalars(query).all())


def _json(value: Any) -> str:
    plain = asdict(value) if hasattr(value, "__dataclass_fields__") else value
    return json.dumps(plain, default=str)
