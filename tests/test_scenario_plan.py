"""Plans of a day at a till: drawn from a seed, and refused when they cannot be shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from swipeguard.scenario import (
    Passer,
    PersonPhotos,
    Plan,
    PlannedSwipe,
    Visit,
    check_plan,
    plan_day,
)
from swipeguard.scenario.errors import BadPlan
from swipeguard.scenario.types import WALK_IN, WALK_OUT


def _people(count: int) -> list[PersonPhotos]:
    return [
        PersonPhotos(name=f"person{i}", footage=(Path(f"p{i}_2.jpg"), Path(f"p{i}_3.jpg")),
                     enrolment=(Path(f"p{i}_1.jpg"),))
        for i in range(count)
    ]


def test_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    people = _people(6)

    first = plan_day(people=people, duration=300, seed=4)
    again = plan_day(people=people, duration=300, seed=4)
    other = plan_day(people=people, duration=300, seed=5)

    assert first == again
    assert first != other


def test_misuse_share_is_kept_over_a_long_day() -> None:
    plan = plan_day(people=_people(10), duration=3600, seed=1, misuse=0.3)

    misused = [s for s in plan.swipes if not _present_is_holder(plan, s)]

    assert len(plan.swipes) > 150
    assert len(misused) / len(plan.swipes) == pytest.approx(0.3, abs=0.02)


def test_every_swipe_happens_while_its_visitor_is_at_the_counter() -> None:
    plan = plan_day(people=_people(5), duration=600, seed=2, no_face=0.0)

    for swipe in plan.swipes:
        assert any(v.arrive < swipe.at < v.depart for v in plan.visits)


def test_empty_counter_swipes_fall_where_nobody_is_in_sight() -> None:
    plan = plan_day(people=_people(5), duration=600, seed=3, no_face=0.1)

    lonely = [s for s in plan.swipes if not any(v.enter <= s.at <= v.exit for v in plan.visits)]

    assert lonely
    assert len(lonely) == pytest.approx(0.1 * (len(plan.swipes) - len(lonely)), abs=1)


def test_one_customer_at_a_time_and_nobody_in_two_places() -> None:
    plan = plan_day(people=_people(4), duration=900, seed=6, passers_per_minute=6)

    for before, after in zip(plan.visits, plan.visits[1:], strict=False):
        assert after.enter >= before.exit
    for passer in plan.passers:
        end = passer.start + passer.duration
        visiting = {v.person for v in plan.visits if v.enter < end and v.exit > passer.start}
        assert passer.person not in visiting
    assert len(plan.passers) > 40
    check_plan(plan, _people(4))


def test_companions_come_along_without_being_anywhere_else() -> None:
    plan = plan_day(people=_people(8), duration=1800, seed=9, companions=0.3,
                    passers_per_minute=6)

    accompanied = [v for v in plan.visits if v.companion is not None]

    assert len(accompanied) / len(plan.visits) == pytest.approx(0.3, abs=0.1)
    for visit in accompanied:
        assert visit.companion != visit.person
        crossing = [p.person for p in plan.passers
                    if p.start < visit.exit and p.start + p.duration > visit.enter]
        assert visit.companion not in crossing
    check_plan(plan, _people(8))


def test_plan_fits_in_the_footage() -> None:
    plan = plan_day(people=_people(3), duration=120, seed=8)

    assert plan.visits
    assert all(v.arrive - WALK_IN >= 0 and v.depart + WALK_OUT <= 120 for v in plan.visits)


def test_misuse_needs_someone_else() -> None:
    with pytest.raises(BadPlan, match="two people"):
        plan_day(people=_people(1), duration=60, seed=1, misuse=0.5)


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        (Plan(duration=0, visits=(), swipes=()), "duration"),
        (Plan(duration=30, visits=(Visit("nobody", 2, 8),), swipes=()), "not among"),
        (Plan(duration=30, visits=(Visit("person0", 2, 8, photo=5),), swipes=()), "photo 5"),
        (Plan(duration=30, visits=(Visit("person0", 8, 2),), swipes=()), "arrive < depart"),
        (Plan(duration=30, visits=(Visit("person0", 2, 12), Visit("person1", 12.5, 20)),
              swipes=()), "one person at the counter"),
        (Plan(duration=30, visits=(), swipes=(PlannedSwipe(31, "person0", "1.00"),)), "outside"),
        (Plan(duration=30, visits=(), swipes=(PlannedSwipe(3, "person0", "lots"),)), "decimal"),
        (Plan(duration=30, visits=(), swipes=(PlannedSwipe(3, "person0", "-2"),)), "zero or"),
        (Plan(duration=30, visits=(), swipes=(), passers=(Passer("person1", 1, 0),)), "passer"),
        (Plan(duration=30, visits=(Visit("person0", 2, 8, companion="person0"),), swipes=()),
         "companion is the customer"),
    ],
)
def test_impossible_plans_are_refused_with_the_reason(plan: Plan, reason: str) -> None:
    with pytest.raises(BadPlan, match=reason):
        check_plan(plan, _people(2))


def _present_is_holder(plan: Plan, swipe: PlannedSwipe) -> bool:
    return any(v.arrive <= swipe.at <= v.depart and v.person == swipe.card_holder
               for v in plan.visits)
