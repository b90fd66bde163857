"""Rules beyond the face: many facilities, impossible travel, unusual amounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from investigation_support import T0, City
from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.config import RuleSettings, Settings
from swipeguard.db import Database, utcnow
from swipeguard.investigations import rules
from swipeguard.investigations.workers import RuleChecker
from swipeguard.swipes.models import Swipe, SwipeState

CARD = "6200000000001111"
RULES = RuleSettings()


@pytest.fixture
def city(sqlite_db: Database) -> City:
    c = City(sqlite_db)
    # Three pharmacies in one city a few km apart, and one 30 km out.
    c.facility("North", 31.2500, 121.4700)
    c.facility("South", 31.2100, 121.4700)
    c.facility("East", 31.2300, 121.5000)
    c.facility("Far", 31.5000, 121.4700)
    c.holder(CARD)
    return c


def apply(db: Database, swipe_id: int) -> list[Alarm]:
    with db.transaction() as s:
        return rules.apply(s, swipe=s.get(Swipe, swipe_id), settings=RULES)


def rule_alarms(db: Database) -> list[Alarm]:
    with db.transaction() as s:
        return list(s.scalars(select(Alarm).where(Alarm.kind == AlarmKind.RULE)
                              .order_by(Alarm.id)).all())


def test_haversine_matches_a_known_distance() -> None:
    # One degree of latitude is 111.2 km on the mean-radius sphere.
    assert rules.haversine_km(31.0, 121.0, 32.0, 121.0) == pytest.approx(111.19, abs=0.01)


def test_many_facilities_in_a_short_time_raise_one_alarm(city: City) -> None:
    first = city.swipe(CARD, "North", T0, face=None)
    second = city.swipe(CARD, "South", T0 + timedelta(hours=1), face=None)
    third = city.swipe(CARD, "East", T0 + timedelta(hours=2), face=None)
    fourth = city.swipe(CARD, "Far", T0 + timedelta(hours=5), face=None)

    opened = [apply(city.db, m.swipe_id) for m in (first, second, third, fourth)]

    many = [a for a in rule_alarms(city.db) if a.rule == "many_facilities"]
    assert [a.swipe_id for a in many] == [third.swipe_id]
    assert "3 facilities within 6 h" in many[0].reason
    assert all(name in many[0].reason for name in ("North", "South", "East"))
    assert not [a for a in opened[3] if a.rule == "many_facilities"]


def test_facilities_spread_over_days_raise_nothing(city: City) -> None:
    made = [city.swipe(CARD, name, T0 + timedelta(days=i), face=None)
            for i, name in enumerate(["North", "South", "East", "North"])]

    for m in made:
        apply(city.db, m.swipe_id)

    assert rule_alarms(city.db) == []


def test_two_facilities_too_far_apart_for_the_time_raise_an_alarm(city: City) -> None:
    city.swipe(CARD, "North", T0, face=None)
    far = city.swipe(CARD, "Far", T0 + timedelta(minutes=10), face=None)

    apply(city.db, far.swipe_id)

    [alarm] = rule_alarms(city.db)
    assert alarm.rule == "impossible_travel" and alarm.swipe_id == far.swipe_id
    assert "27.8 km apart" in alarm.reason and "10 min apart" in alarm.reason
    assert "167 km/h needed" in alarm.reason


def test_nearby_facilities_at_walking_pace_raise_nothing(city: City) -> None:
    city.swipe(CARD, "North", T0, face=None)
    near = city.swipe(CARD, "South", T0 + timedelta(minutes=30), face=None)

    apply(city.db, near.swipe_id)

    assert rule_alarms(city.db) == []


def test_a_late_arriving_earlier_swipe_is_judged_against_the_next_one(city: City) -> None:
    city.swipe(CARD, "Far", T0 + timedelta(minutes=10), face=None)
    late = city.swipe(CARD, "North", T0, face=None)

    apply(city.db, late.swipe_id)

    assert [a.rule for a in rule_alarms(city.db)] == ["impossible_travel"]


def test_an_amount_far_beyond_the_holders_history_raises_an_alarm(city: City) -> None:
    for i, cents in enumerate([1800, 2200, 2000, 2500, 1900, 2100]):
        city.swipe(CARD, "North", T0 + timedelta(days=7 * i), face=None, amount_cents=cents)
    big = city.swipe(CARD, "North", T0 + timedelta(days=50), face=None, amount_cents=15000)

    apply(city.db, big.swipe_id)

    [alarm] = rule_alarms(city.db)
    assert alarm.rule == "amount"
    assert "amount 150.00 is 7.3x the median 20.50 of the card's last 6 swipes" in alarm.reason


def test_amounts_within_the_factor_or_without_history_raise_nothing(city: City) -> None:
    for i, cents in enumerate([1800, 2200, 2000, 2500]):
        city.swipe(CARD, "North", T0 + timedelta(days=7 * i), face=None, amount_cents=cents)
    few = city.swipe(CARD, "North", T0 + timedelta(days=30), face=None, amount_cents=50000)
    usual = city.swipe(CARD, "North", T0 + timedelta(days=40), face=None, amount_cents=9000)

    apply(city.db, few.swipe_id)
    apply(city.db, usual.swipe_id)

    assert rule_alarms(city.db) == []


def test_checking_a_swipe_twice_opens_nothing_new(city: City) -> None:
    city.swipe(CARD, "North", T0, face=None)
    far = city.swipe(CARD, "Far", T0 + timedelta(minutes=5), face=None)

    assert len(apply(city.db, far.swipe_id)) == 1
    assert apply(city.db, far.swipe_id) == []


def test_the_worker_checks_each_decided_swipe_once_and_waits_for_a_pending_one(
    city: City, settings: Settings, sqlite_db: Database,
) -> None:
    city.swipe(CARD, "North", T0, face=None)
    city.swipe(CARD, "South", T0 + timedelta(days=1), face=None)
    checker = RuleChecker(settings, sqlite_db)
    assert checker.step() == 2
    waiting = city.swipe(CARD, "North", utcnow(), face=None, state=SwipeState.PENDING)
    far = city.swipe(CARD, "Far", utcnow() + timedelta(minutes=5), face=None)

    blocked = checker.step()
    with sqlite_db.transaction() as s:
        s.get(Swipe, waiting.swipe_id).state = SwipeState.DECIDED
    resumed = checker.step()

    assert (blocked, resumed, checker.step()) == (0, 2, 0)
    [alarm] = rule_alarms(sqlite_db)
    assert alarm.rule == "impossible_travel"
    assert alarm.swipe_id in (waiting.swipe_id, far.swipe_id)
