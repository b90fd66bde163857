"""Verifying one claimed swipe: read it, capture the face, judge, record in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.cardholders import service as cardholders
from swipeguard.cardholders.models import CardHolder, EnrolledPhoto
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.faces.pool import FacePool
from swipeguard.investigations.search import open_search
from swipeguard.swipes import capture, files, service
from swipeguard.swipes.capture import FaceCapture, NoCapture, Outcome
from swipeguard.swipes.decision import Holder, Judgement, judge
from swipeguard.swipes.models import Capture, Swipe, Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inputs:
    swipe_id: int
    swiped_at: datetime
    still_path: str | None
    camera_id: int | None
    holder: Holder | None


@dataclass(frozen=True)
class Recorded:
    judgement: Judgement
    capture_id: int | None
    alarm_id: int | None


def load(db: Database, *, swipe_id: int) -> Inputs:
    """What verifying the swipe needs, read in one short session."""
    with db.sessions() as session:
        swipe = session.get(Swipe, swipe_id)
        if swipe is None:
            raise LookupError(f"no swipe {swipe_id}")
        holder = None
        if swipe.card_holder_id is not None:
            row = session.get(CardHolder, swipe.card_holder_id)
            if row is not None:
                holder = Holder(status=row.status, lost_since=row.lost_since,
                                template=cardholders.template(session, card_holder_id=row.id),
                                card_holder_id=row.id)
        return Inputs(swipe_id=swipe.id, swiped_at=swipe.swiped_at,
                      still_path=swipe.still_path,
                      camera_id=swipe.camera_id, holder=holder)


def take_capture(settings: Settings, db: Database, pool: FacePool, inputs: Inputs, *,
                 clock: Callable[[], datetime] = utcnow) -> Outcome:
    """The face at the counter: from the still if the till sent one, else from video."""
    if inputs.still_path is not None:
        return capture.from_still(settings, pool, data=files.read(settings, inputs.still_path))
    if inputs.camera_id is None:
        return NoCapture("the till sent no still and has no camera")
    return capture.from_video(settings, db, pool, camera_id=inputs.camera_id,
                              swiped_at=inputs.swiped_at, clock=clock)


def verify(settings: Settings, db: Database, pool: FacePool, inputs: Inputs, *,
           clock: Callable[[], datetime] = utcnow) -> tuple[Outcome, Judgement]:
    """Captures the face and judges the swipe; writes nothing."""
    outcome = take_capture(settings, db, pool, inputs, clock=clock)
    v = settings.verification
    judgement = judge(holder=inputs.holder, swiped_at=inputs.swiped_at, outcome=outcome,
                      threshold=v.threshold, alarm_on_no_face=v.alarm_on_no_face)
    if (v.nearest_enrolled and judgement.verdict is Verdict.VERIFIED
            and judgement.distance is not None and judgement.distance > v.sure_below
            and isinstance(outcome, FaceCapture) and inputs.holder is not None):
        judgement = nearest_enrolled(settings, db, inputs.holder, outcome, judgement)
    return outcome, judgement


# Enrolled photos looked at around the capture: the holder's own (several photos) and
# the nearest others.
NEAREST_K = 8


def nearest_enrolled(settings: Settings, db: Database, holder: Holder, outcome: FaceCapture,
                     judgement: Judgement) -> Judgement:
    """A face within the threshold (but not surely the holder's, ``sure_below``) that is
    nearer another enrolled holder's photo than any of the card holder's is that other
    person: everyone insured is enrolled.

    dlib's descriptors crowd East-Asian faces together: on the Chinese CASIA-FaceV5
    subjects 72% of different-person pairs fall within the threshold, and none pass
    this rule (``swipeguard bench populations``).
    """
    search = open_search(settings, db)
    search.sync(only=search.enrolled)  # captures are the indexing worker's to add
    [hits] = search.enrolled.search(outcome.descriptor, NEAREST_K)
    if not hits or judgement.distance is None:
        return judgement
    with db.sessions() as session:
        owners = dict(session.execute(
            select(EnrolledPhoto.id, EnrolledPhoto.card_holder_id)
            .where(EnrolledPhoto.id.in_([h.id for h in hits]))).all())
    other = next((h for h in hits if owners.get(h.id) not in (None, holder.card_holder_id)),
                 None)
    if other is None or other.distance >= judgement.distance:
        return judgement
    return Judgement(Verdict.MISMATCH, judgement.distance, judgement.threshold,
                     f"{judgement.reason}, but nearer another enrolled card holder "
                     f"({other.distance:.2f})", AlarmKind.MISMATCH)


def record(settings: Settings, db: Database, *, inputs: Inputs, outcome: Outcome,
           judgement: Judgement, worker: str, now: datetime) -> Recorded | None:
    """The verdict, the capture and the alarm in one transaction; None if the claim was lost.

    The chip file is written first (durably); if the transaction does not commit it is
    removed again, so no capture row ever points at a missing file.
    """
    chip_path: str | None = None
    try:
        with db.transaction() as session:
            if not service.decide(session, swipe_id=inputs.swipe_id, worker=worker,
                                  verdict=judgement.verdict, distance=judgement.distance,
                                  threshold=judgement.threshold, reason=judgement.reason,
                                  now=now):
                log.warning("swipe %s: claim lost before the verdict; another verifier "
                            "has it", inputs.swipe_id)
                return None
            row: Capture | None = None
            if isinstance(outcome, FaceCapture):
                row = capture.store(settings, session, swipe_id=inputs.swipe_id,
                                    swiped_at=inputs.swiped_at, capture=outcome)
                chip_path = row.image_path
            alarm: Alarm | None = None
            if judgement.alarm is not None:
                alarm = alarms.open_alarm(session, kind=judgement.alarm,
                                          reason=judgement.reason, swipe_id=inputs.swipe_id)
            session.flush()
            result = Recorded(judgement, row.id if row else None, alarm.id if alarm else None)
    except BaseException:
        files.remove(settings, chip_path)
        raise
    return result


def give_up(settings: Settings, db: Database, *, swipe_id: int, worker: str, error: str,
            attempts: int, now: datetime) -> bool:
    """Decides a swipe that failed every attempt as an error, with an alarm so an operator
    looks: no face was judged, so it must not read as a face that was not there."""
    reason = f"could not be verified after {attempts} attempts ({error})"
    judgement = Judgement(Verdict.ERROR, None, settings.verification.threshold, reason,
                          AlarmKind.ERROR)
    with db.sessions() as session:
        swiped_at = session.scalar(select(Swipe.swiped_at).where(Swipe.id == swipe_id))
    if swiped_at is None:
        return False
    inputs = Inputs(swipe_id=swipe_id, swiped_at=swiped_at, still_path=None, camera_id=None,
                    holder=None)
    return record(settings, db, inputs=inputs, outcome=NoCapture(reason),
                  judgement=judgement, worker=worker, now=now) is not None
