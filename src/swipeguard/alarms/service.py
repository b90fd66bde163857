"""Opening alarms and moving them through their states, each change kept as a row.

States: open -> acknowledged -> closed (as confirmed misuse or false alarm). Every
transition is a conditional update that must change exactly one row, so two
operators acting at once cannot both succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, case, select, update
from sqlalchemy.orm import Session

from swipeguard.alarms.models import Alarm, AlarmEvent, AlarmKind, AlarmStatus, Resolution
from swipeguard.audit import service as audit
from swipeguard.db import utcnow

log = logging.getLogger(__name__)

# Lost cards come first in the queue: the card is in a stranger's hands right now.
PRIORITY = {AlarmKind.LOST_CARD: 3, AlarmKind.MISMATCH: 2, AlarmKind.RULE: 2,
            AlarmKind.NO_FACE: 1, AlarmKind.NO_VIDEO: 1, AlarmKind.ERROR: 1}


class AlarmConflict(ValueError):
    """The alarm is not in a state that allows the change (someone acted first)."""


def open_alarm(
    session: Session, *, kind: AlarmKind, reason: str, swipe_id: int | None = None,
    rule: str | None = None, actor: str = "system", priority: int | None = None,
) -> Alarm:
    actor = audit.check_actor(actor)
    alarm = Alarm(
        swipe_id=swipe_id, kind=kind, rule=rule, reason=reason,
        priority=PRIORITY[kind] if priority is None else priority,
    )
    session.add(alarm)
    session.flush()
    session.add(AlarmEvent(alarm_id=alarm.id, actor=actor, action="open",
                           to_status=AlarmStatus.OPEN, reason=reason))
    log.info("alarm %s opened: kind=%s swipe=%s", alarm.id, kind.value, swipe_id)
    return alarm


def get(session: Session, *, alarm_id: int) -> Alarm | None:
    return session.get(Alarm, alarm_id)


def list(  # noqa: A001 - the service vocabulary's verb
    session: Session, *, status: Sequence[AlarmStatus] | None = None, limit: int = 200,
    after_id: int | None = None,
) -> Sequence[Alarm]:
    # Work still to do first (open, then acknowledged), then the closed; within each, the
    # most urgent and the newest first.
    stage = case({AlarmStatus.OPEN: 0, AlarmStatus.ACKNOWLEDGED: 1}, value=Alarm.status, else_=2)
    query = (select(Alarm).order_by(stage, Alarm.priority.desc(), Alarm.created_at.desc())
             .limit(limit))
    if status:
        query = query.where(Alarm.status.in_(status))
    if after_id is not None:
        query = query.where(Alarm.id > after_id)
    return session.scalars(query).all()


def acknowledge(session: Session, *, alarm_id: int, actor: str, reason: str = "") -> Alarm:
    return _transition(session, alarm_id=alarm_id, actor=actor, action="acknowledge",
                       allowed=(AlarmStatus.OPEN,), to=AlarmStatus.ACKNOWLEDGED, reason=reason)


def close(
    session: Session, *, alarm_id: int, actor: str, resolution: Resolution, reason: str,
) -> Alarm:
    if not reason.strip():
        raise ValueError("closing an alarm needs a reason")
    return _transition(session, alarm_id=alarm_id, actor=actor, action="close",
                       allowed=(AlarmStatus.ACKNOWLEDGED,), to=AlarmStatus.CLOSED,
                       reason=reason, resolution=resolution)


def _transition(
    session: Session, *, alarm_id: int, actor: str, action: str,
    allowed: tuple[AlarmStatus, ...], to: AlarmStatus, reason: str,
    resolution: Resolution | None = None,
) -> Alarm:
    actor = audit.check_actor(actor)
    current = session.get(Alarm, alarm_id)
    if current is None:
        raise LookupError(f"no alarm {alarm_id}")
    before = current.status
    values: dict[str, object] = {"status": to, "updated_at": utcnow()}
    if resolution is not None:
        values["resolution"] = resolution
    result = session.execute(
        update(Alarm).where(Alarm.id == alarm_id, Alarm.status.in_(allowed)).values(**values)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise AlarmConflict(f"alarm {alarm_id} is {before.value}; cannot {action} it")
    session.add(AlarmEvent(alarm_id=alarm_id, actor=actor, action=action, from_status=before,
                           to_status=to, reason=reason))
    session.flush()
    session.refresh(current)
    return current
