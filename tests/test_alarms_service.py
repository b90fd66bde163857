import pytest

from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import AlarmKind, AlarmStatus, Resolution
from swipeguard.db import Database


def test_an_alarm_goes_open_acknowledged_closed_with_its_history(db: Database) -> None:
    with db.transaction() as s:
        alarm = alarms.open_alarm(s, kind=AlarmKind.MISMATCH, reason="distance 0.81 > 0.55")

    with db.transaction() as s:
        alarms.acknowledge(s, alarm_id=alarm.id, actor="op1")
        closed = alarms.close(s, alarm_id=alarm.id, actor="op1",
                              resolution=Resolution.CONFIRMED_MISUSE, reason="not the holder")

    assert closed.status is AlarmStatus.CLOSED
    assert closed.resolution is Resolution.CONFIRMED_MISUSE
    with db.transaction() as s:
        events = alarms.get(s, alarm_id=alarm.id).events  # type: ignore[union-attr]
        assert [(e.action, e.actor) for e in events] == [
            ("open", "system"), ("acknowledge", "op1"), ("close", "op1")]


def test_an_alarm_cannot_be_acknowledged_twice(db: Database) -> None:
    with db.transaction() as s:
        alarm = alarms.open_alarm(s, kind=AlarmKind.NO_FACE, reason="no face")
        alarms.acknowledge(s, alarm_id=alarm.id, actor="op1")

    with pytest.raises(alarms.AlarmConflict), db.transaction() as s:
        alarms.acknowledge(s, alarm_id=alarm.id, actor="op2")


def test_a_blank_actor_changes_nothing(db: Database) -> None:
    with db.transaction() as s:
        alarm = alarms.open_alarm(s, kind=AlarmKind.NO_FACE, reason="no face")

    with pytest.raises(ValueError, match="actor"), db.transaction() as s:
        alarms.acknowledge(s, alarm_id=alarm.id, actor="  ")

    with db.transaction() as s:
        assert alarms.get(s, alarm_id=alarm.id).status is AlarmStatus.OPEN  # type: ignore[union-attr]


def test_closing_needs_acknowledgement_and_a_reason(db: Database) -> None:
    with db.transaction() as s:
        alarm = alarms.open_alarm(s, kind=AlarmKind.LOST_CARD, reason="card reported lost")

    with pytest.raises(alarms.AlarmConflict), db.transaction() as s:
        alarms.close(s, alarm_id=alarm.id, actor="op1", resolution=Resolution.FALSE_ALARM,
                     reason="holder found card")
    with pytest.raises(ValueError, match="reason"), db.transaction() as s:
        alarms.acknowledge(s, alarm_id=alarm.id, actor="op1")
        alarms.close(s, alarm_id=alarm.id, actor="op1", resolution=Resolution.FALSE_ALARM,
                     reason=" ")


def test_the_queue_lists_work_to_do_before_closed_alarms(db: Database) -> None:
    with db.transaction() as s:
        urgent = alarms.open_alarm(s, kind=AlarmKind.LOST_CARD, reason="lost")
        alarms.acknowledge(s, alarm_id=urgent.id, actor="op1")
        alarms.close(s, alarm_id=urgent.id, actor="op1", resolution=Resolution.FALSE_ALARM,
                     reason="found")
        waiting = alarms.open_alarm(s, kind=AlarmKind.NO_FACE, reason="no face")

    with db.transaction() as s:
        listed = [a.id for a in alarms.list(s)]

    assert listed == [waiting.id, urgent.id]
