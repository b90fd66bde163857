"""The alarm queue as an operator sees it, and the watch that keeps a console live.

An item joins the alarm with its swipe, till, facility and the two faces to compare
(the capture's chip and the card holder's first enrolled photo). Card numbers leave
here masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from swipeguard.alarms import service
from swipeguard.alarms.models import (
    Alarm,
    AlarmEvent,
    AlarmKind,
    AlarmStatus,
    Resolution,
)
from swipeguard.cardholders.models import EnrolledPhoto
from swipeguard.db import utcnow
from swipeguard.facilities.models import Facility, Till
from swipeguard.privacy import mask_card
from swipeguard.swipes.models import Capture, Swipe, Verdict


class AlarmItem(BaseModel):
    id: int
    kind: AlarmKind
    rule: str | None
    priority: int
    reason: str
    status: AlarmStatus
    resolution: Resolution | None
    created_at: datetime
    updated_at: datetime
    swipe_id: int | None = None
    swiped_at: datetime | None = None
    amount_cents: int | None = None
    card_no_masked: str | None = None
    verdict: Verdict | None = None
    distance: float | None = None
    threshold: float | None = None
    facility_id: int | None = None
    facility_name: str | None = None
    till_id: int | None = None
    till_name: str | None = None
    capture_id: int | None = None
    enrolled_photo_id: int | None = None


class AlarmEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: AlarmStatus | None
    to_status: AlarmStatus
    reason: str


class AlarmDetail(AlarmItem):
    history: list[AlarmEventOut]


def list_items(
    session: Session, *, status: Sequence[AlarmStatus] | None = None, limit: int = 200,
) -> list[AlarmItem]:
    """Most urgent first, then newest."""
    return items_for(session, service.list(session, status=status, limit=limit))


def get_item(session: Session, *, alarm_id: int) -> AlarmDetail | None:
    alarm = service.get(session, alarm_id=alarm_id)
    if alarm is None:
        return None
    item = items_for(session, [alarm])[0]
    history = [AlarmEventOut(at=e.at, actor=e.actor, action=e.action,
                             from_status=e.from_status, to_status=e.to_status, reason=e.reason)
               for e in _events(session, alarm.id)]
    return AlarmDetail(**item.model_dump(), history=history)


def items_for(session: Session, alarms: Iterable[Alarm]) -> list[AlarmItem]:
    """Items for ``alarms`` in their order, with four queries whatever their number."""
    alarms = list(alarms)
    swipes = _swipes(session, {a.swipe_id for a in alarms if a.swipe_id is not None})
    captures = _latest_capture(session, set(swipes))
    holders = {s.card_holder_id for s, _, _ in swipes.values() if s.card_holder_id}
    photos = _first_photo(session, holders)
    return [_item(a, swipes.get(a.swipe_id or -1), captures, photos) for a in alarms]


def _item(
    alarm: Alarm, row: tuple[Swipe, Till, Facility] | None,
    captures: dict[int, int], photos: dict[int, int],
) -> AlarmItem:
    item = AlarmItem(
        id=alarm.id, kind=alarm.kind, rule=alarm.rule, priority=alarm.priority,
        reason=alarm.reason, status=alarm.status, resolution=alarm.resolution,
        created_at=alarm.created_at, updated_at=alarm.updated_at, swipe_id=alarm.swipe_id,
    )
    if row is None:
        return item
    swipe, till, facility = row
    return item.model_copy(update=dict(
        swiped_at=swipe.swiped_at, amount_cents=swipe.amount_cents,
        card_no_masked=mask_card(swipe.card_no), verdict=swipe.verdict,
        distance=swipe.distance, threshold=swipe.threshold,
        facility_id=facility.id, facility_name=facility.name, till_id=till.id,
        till_name=till.name, capture_id=captures.get(swipe.id),
        enrolled_photo_id=photos.get(swipe.card_holder_id or -1),
    ))


def _swipes(session: Session, ids: set[int]) -> dict[int, tuple[Swipe, Till, Facility]]:
    if not ids:
        return {}
    rows = session.execute(
        select(Swipe, Till, Facility).join(Till, Swipe.till_id == Till.id)
        .join(Facility, Till.facility_id == Facility.id).where(Swipe.id.in_(ids))
    ).all()
    return {s.id: (s, t, f) for s, t, f in rows}


def _latest_capture(session: Session, swipe_ids: set[int]) -> dict[int, int]:
    """The newest capture of each swipe: a re-verification supersedes older ones."""
    if not swipe_ids:
        return {}
    rows = session.execute(
        select(Capture.swipe_id, func.max(Capture.id))
        .where(Capture.swipe_id.in_(swipe_ids)).group_by(Capture.swipe_id)
    ).all()
    return {swipe_id: capture_id for swipe_id, capture_id in rows}


def _first_photo(session: Session, holder_ids: set[int]) -> dict[int, int]:
    if not holder_ids:
        return {}
    rows = session.execute(
        select(EnrolledPhoto.card_holder_id, func.min(EnrolledPhoto.id))
        .where(EnrolledPhoto.card_holder_id.in_(holder_ids))
        .group_by(EnrolledPhoto.card_holder_id)
    ).all()
    return {holder_id: photo_id for holder_id, photo_id in rows}


def _events(session: Session, alarm_id: int) -> Sequence[AlarmEvent]:
    return session.scalars(
        select(AlarmEvent).where(AlarmEvent.alarm_id == alarm_id).order_by(AlarmEvent.id)
    ).all()


def latest_id(session: Session) -> int:
    return session.scalar(select(func.max(Alarm.id))) or 0


class AlarmWatch:
    """Finds alarms opened or changed since the last poll, for one live console.

    The verifier may run in another process, so the watch reads the table rather
    than listening in memory. New alarms are found by id, changes by ``updated_at``.
    Ids and times are not committed in order (a transaction that took its id or its
    time first may commit last), so each poll looks ``LOOKBACK`` back past the newest
    change seen and skips what it already reported.
    """

    LOOKBACK = timedelta(seconds=10)  # far longer than an alarm transaction takes
    BATCH = 200

    def __init__(self, *, after_id: int, since: datetime | None = None) -> None:
        self.after_id = after_id
        self.watermark = since or utcnow()
        self._first_new = after_id + 1
        self._since = self.watermark
        self._sent: dict[int, datetime] = {}
        self._announced: set[int] = set()

    def poll(self, session: Session) -> list[tuple[str, AlarmItem]]:
        """``("alarm", item)`` for a new alarm, ``("alarm-update", item)`` for a change."""
        window = self.watermark - self.LOOKBACK
        # Ids and times first: a burst of changes inside the window must not hide, behind
        # rows already reported, the alarms that are new.
        stamps = session.execute(
            select(Alarm.id, Alarm.updated_at)
            .where(or_(Alarm.id > self.after_id, Alarm.updated_at >= window))
        ).all()
        fresh_ids = sorted(
            alarm_id for alarm_id, at in stamps
            if self._sent.get(alarm_id) != at and not self._known_at_start(alarm_id, at)
        )[: self.BATCH]
        if not fresh_ids:
            return []
        fresh = session.scalars(
            select(Alarm).where(Alarm.id.in_(fresh_ids)).order_by(Alarm.id)
        ).all()
        changes = [(self._event_name(a), item)
                   for a, item in zip(fresh, items_for(session, fresh), strict=True)]
        self._remember(fresh)
        return changes

    def _known_at_start(self, alarm_id: int, updated_at: datetime) -> bool:
        """Unchanged since the watch began: the console read it with the queue."""
        return alarm_id < self._first_new and updated_at <= self._since

    def _event_name(self, alarm: Alarm) -> str:
        is_new = alarm.id >= self._first_new and alarm.id not in self._announced
        return "alarm" if is_new else "alarm-update"

    def _remember(self, alarms: Sequence[Alarm]) -> None:
        for a in alarms:
            self._sent[a.id] = a.updated_at
            if a.id >= self._first_new:
                self._announced.add(a.id)
            self.after_id = max(self.after_id, a.id)
            self.watermark = max(self.watermark, a.updated_at)
        window = self.watermark - self.LOOKBACK
        for alarm_id in [i for i, at in self._sent.items() if at < window]:
            del self._sent[alarm_id]
        # Ids far below the newest are not committed late any more: below that line
        # every alarm counts as known, so the set of announced ids stays small.
        self._first_new = max(self._first_new, self.after_id - self.BATCH)
        self._announced = {i for i in self._announced if i >= self._first_new}
