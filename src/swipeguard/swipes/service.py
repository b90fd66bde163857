"""Swipes: storing them once, reading them, and the claims verifiers take on them.

A swipe (and its still) is durable before anything else happens to it. The pair
(till, idempotency key) is unique in the table, so a retried or concurrent post finds
the first one instead of adding another. Verifiers take a swipe with a conditional
update that must change exactly one row, and decide it the same way.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from swipeguard.cardholders import service as cardholders
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.facilities.models import Facility, Till
from swipeguard.privacy import mask_card
from swipeguard.swipes import files
from swipeguard.swipes.models import Swipe, SwipeState, Verdict
from swipeguard.swipes.signals import Signals

log = logging.getLogger(__name__)


class IdempotencyConflict(ValueError):
    """The idempotency key was used before for a swipe with other content."""

    def __init__(self, swipe_id: int) -> None:
        super().__init__(f"idempotency key already used by swipe {swipe_id} with other content")
        self.swipe_id = swipe_id


@dataclass(frozen=True)
class NewSwipe:
    """A till's swipe as posted, validated."""

    card_no: str
    swiped_at: datetime
    amount_cents: int
    idempotency_key: str
    still: bytes | None = None

    def fingerprint(self) -> str:
        """SHA-256 over the content, so a retry can be told from a reused key."""
        still = hashlib.sha256(self.still).hexdigest() if self.still is not None else "-"
        text = "\n".join([self.card_no, self.swiped_at.isoformat(), str(self.amount_cents),
                          still])
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    swipe: Swipe
    created: bool  # False: an earlier post with the same key is returned


# Advice for the till's pre-payment check, by verdict. A mismatch or a missing face asks
# the cashier to check an ID card rather than refuse outright: the face comparison is
# wrong for a few genuine holders in a hundred. A lost card is refused.
ADVICE = {
    Verdict.VERIFIED: "proceed",
    Verdict.MISMATCH: "check_id",
    Verdict.NO_FACE: "check_id",
    Verdict.NO_VIDEO: "check_id",
    Verdict.NOT_ENROLLED: "check_id",
    Verdict.UNKNOWN_CARD: "check_id",
    Verdict.ERROR: "check_id",
    Verdict.CARD_LOST: "decline",
}


def advice(swipe: Swipe) -> str:
    if swipe.state is not SwipeState.DECIDED or swipe.verdict is None:
        return "pending"
    return ADVICE[swipe.verdict]


def create(settings: Settings, db: Database, signals: Signals, *, till_id: int,
           new: NewSwipe) -> Stored:
    """Stores a swipe durably (still first), once per till and idempotency key."""
    earlier = _earlier(db, till_id=till_id, new=new)
    if earlier is not None:
        return Stored(earlier, created=False)

    still_path = None
    if new.still is not None:
        still_path = files.store(settings, kind=files.STILLS, at=new.swiped_at, data=new.still)
    try:
        swipe = _insert(db, till_id=till_id, new=new, still_path=still_path)
    except IntegrityError:
        # Another request with the same key committed first: answer with its swipe.
        files.remove(settings, still_path)
        earlier = _earlier(db, till_id=till_id, new=new)
        if earlier is None:
            raise
        return Stored(earlier, created=False)
    except BaseException:
        files.remove(settings, still_path)  # no row points at it: the till will retry
        raise

    log.info("swipe %s stored: till %s card %s%s", swipe.id, till_id, mask_card(new.card_no),
             " (unknown card)" if swipe.verdict is Verdict.UNKNOWN_CARD else "")
    if swipe.state is SwipeState.PENDING:
        signals.stored.publish(swipe.id)
    return Stored(swipe, created=True)


def _earlier(db: Database, *, till_id: int, new: NewSwipe) -> Swipe | None:
    with db.sessions() as session:
        swipe = session.scalar(select(Swipe).where(
            Swipe.till_id == till_id, Swipe.idempotency_key == new.idempotency_key))
    if swipe is not None and swipe.request_hash != new.fingerprint():
        raise IdempotencyConflict(swipe.id)
    return swipe


def _insert(db: Database, *, till_id: int, new: NewSwipe, still_path: str | None) -> Swipe:
    with db.transaction() as session:
        holder = cardholders.get_by_card_no(session, card_no=new.card_no)
        till = session.get(Till, till_id)
        swipe = Swipe(
            till_id=till_id, camera_id=till.camera_id if till is not None else None,
            idempotency_key=new.idempotency_key,
            request_hash=new.fingerprint(), card_no=new.card_no,
            card_holder_id=holder.id if holder else None, swiped_at=new.swiped_at,
            amount_cents=new.amount_cents, still_path=still_path, received_at=utcnow(),
            state=SwipeState.PENDING, attempts=0,
        )
        if holder is None:
            # Nothing to compare a face with: decided now, and kept for investigators.
            swipe.state, swipe.verdict, swipe.decided_at = (
                SwipeState.DECIDED, Verdict.UNKNOWN_CARD, utcnow())
            swipe.reason = "no card holder has this card number"
        session.add(swipe)
        session.flush()
    return swipe


def get(session: Session, *, swipe_id: int) -> Swipe | None:
    return session.get(Swipe, swipe_id)


def list(  # noqa: A001 - the service vocabulary's verb
    session: Session, *, limit: int = 100, before_id: int | None = None,
    verdicts: Sequence[Verdict] | None = None, till_id: int | None = None,
) -> Sequence[Swipe]:
    """The most recent swipes first."""
    query = select(Swipe).order_by(Swipe.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Swipe.id < before_id)
    if verdicts:
        query = query.where(Swipe.verdict.in_(verdicts))
    if till_id is not None:
        query = query.where(Swipe.till_id == till_id)
    return session.scalars(query).all()


def till_names(session: Session, *, till_ids: Iterable[int]) -> dict[int, str]:
    """Names of tills as "facility / till", for people reading swipes."""
    wanted = set(till_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Till.id, Facility.name, Till.name).join(Facility, Facility.id == Till.facility_id)
        .where(Till.id.in_(wanted)))
    return {till_id: f"{facility} / {till}" for till_id, facility, till in rows}


def wait_for_decision(db: Database, signals: Signals, *, swipe_id: int,
                      timeout: float) -> Swipe:
    """The swipe once decided, or as it stands when ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    subscription = signals.decided.subscribe()
    try:
        while True:
            with db.sessions() as session:
                swipe = session.get(Swipe, swipe_id)
            if swipe is None:
                raise LookupError(f"no swipe {swipe_id}")
            left = deadline - time.monotonic()
            if swipe.state is SwipeState.DECIDED or left <= 0:
                return swipe
            # Short waits: a ring from another process may never arrive, the table will.
            subscription.wait(min(left, RECHECK_S))
    finally:
        subscription.close()


RECHECK_S = 0.25  # a quarter second of extra delay at worst when a ring is missed


# -- claims ---------------------------------------------------------------------------


def _claimable(now: datetime, video_ready_before: datetime) -> ColumnElement[bool]:
    """Pending swipes, and claimed ones whose claim ran out (a verifier died or gave up).

    A swipe without a still waits until the video after it has been recorded.
    """
    waiting = or_(
        Swipe.state == SwipeState.PENDING,
        and_(Swipe.state == SwipeState.CLAIMED, Swipe.claimed_until < now),
    )
    ready = or_(Swipe.still_path.is_not(None), Swipe.swiped_at <= video_ready_before)
    return and_(waiting, ready)


def list_claimable(session: Session, *, now: datetime, video_ready_before: datetime,
                   limit: int) -> Sequence[int]:
    query = (select(Swipe.id).where(_claimable(now, video_ready_before))
             .order_by(Swipe.swiped_at, Swipe.id).limit(limit))
    return session.scalars(query).all()


def claim(session: Session, *, swipe_id: int, worker: str, now: datetime,
          video_ready_before: datetime, hold_s: float) -> bool:
    """Takes the swipe for ``worker`` until ``now + hold_s``; False if someone else has it."""
    changed = _rows_changed(
        session,
        update(Swipe)
        .where(Swipe.id == swipe_id, _claimable(now, video_ready_before))
        .values(state=SwipeState.CLAIMED, claimed_by=worker,
                claimed_until=now + timedelta(seconds=hold_s), attempts=Swipe.attempts + 1)
    )
    return changed == 1


def decide(session: Session, *, swipe_id: int, worker: str, verdict: Verdict,
           distance: float | None, threshold: float, reason: str, now: datetime) -> bool:
    """Records the verdict if ``worker`` still holds the claim; False if it lost it."""
    changed = _rows_changed(
        session,
        update(Swipe)
        .where(Swipe.id == swipe_id, Swipe.state == SwipeState.CLAIMED,
               Swipe.claimed_by == worker)
        .values(state=SwipeState.DECIDED, verdict=verdict, distance=distance,
                threshold=threshold, reason=reason[:2000], decided_at=now,
                claimed_until=None, last_error=None)
    )
    return changed == 1


def release(session: Session, *, swipe_id: int, worker: str, error: str,
            retry_at: datetime) -> bool:
    """Gives a claim back after a failure; the swipe is claimable again at ``retry_at``."""
    changed = _rows_changed(
        session,
        update(Swipe)
        .where(Swipe.id == swipe_id, Swipe.state == SwipeState.CLAIMED,
               Swipe.claimed_by == worker)
        .values(claimed_by=None, claimed_until=retry_at, last_error=error[:500])
    )
    return changed == 1


def _rows_changed(session: Session, statement: Update) -> int:
    result = session.execute(statement)
    return cast(CursorResult[Any], result).rowcount
