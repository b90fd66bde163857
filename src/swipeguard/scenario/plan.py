"""Plans: who comes to the counter when, whose card they use, who walks past.

``plan_day`` draws a plausible plan from a seed; ``check_plan`` rejects a plan the
renderer could not show truthfully (two people at the counter at once, a swipe
outside the footage, a person without photos).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation

import numpy as np

from swipeguard.scenario.errors import BadPlan
from swipeguard.scenario.types import (
    WALK_IN,
    WALK_OUT,
    Passer,
    PersonPhotos,
    Plan,
    PlannedSwipe,
    Visit,
)

# A swipe happens at least this long after arriving and before leaving: the card comes
# out of a wallet, and the receipt is taken.
_SWIPE_MARGIN = 1.5
_MIN_STAY = 2 * _SWIPE_MARGIN + 0.5


def plan_day(
    *,
    people: Sequence[PersonPhotos],
    duration: float,
    seed: int,
    misuse: float = 0.25,
    no_face: float = 0.0,
    passers_per_minute: float = 3.0,
    companions: float = 0.0,
    stay: tuple[float, float] = (7.0, 14.0),
    gap: tuple[float, float] = (1.5, 5.0),
    second_card: float = 0.1,
) -> Plan:
    """A random but reproducible plan over ``duration`` seconds.

    ``misuse`` is the share of visitors' swipes made with someone else's card (a whole
    number of swipes, rounded at random in proportion); ``no_face`` adds that share
    again of swipes made while nobody is at the counter; ``companions`` is the chance a
    customer brings someone along; ``second_card`` is the chance a visitor pays twice.
    """
    if len(people) < 2 and misuse > 0:
        raise BadPlan("misuse needs at least two people: a card holder and someone else")
    if not 0 <= misuse <= 1 or not 0 <= no_face <= 1:
        raise BadPlan("misuse and no_face are shares between 0 and 1")
    if stay[0] < _MIN_STAY or stay[1] < stay[0]:
        raise BadPlan(f"a stay must be at least {_MIN_STAY} s, as (shortest, longest)")
    rng = np.random.default_rng([seed, 4])

    visits = _with_companions(_visits(people, duration, stay, gap, rng), people, companions, rng)
    swipes = _visitor_swipes(visits, second_card, rng)
    swipes = _misuse(swipes, visits, people, misuse, rng)
    swipes += _empty_counter_swipes(visits, duration, people, round(no_face * len(swipes)), rng)
    passers = _passers(people, visits, duration, passers_per_minute, rng)
    return Plan(
        duration=duration,
        visits=tuple(visits),
        swipes=tuple(sorted(swipes, key=lambda s: s.at)),
        passers=tuple(passers),
    )


def check_plan(plan: Plan, people: Sequence[PersonPhotos]) -> None:
    """Raise ``BadPlan`` naming the first thing that cannot be rendered as planned."""
    known = {p.name: p for p in people}
    if not 0 < plan.duration <= 4 * 3600:
        raise BadPlan("duration must be more than 0 and at most 4 hours")
    for i, visit in enumerate(sorted(plan.visits, key=lambda v: v.arrive)):
        _check_photo(known, visit.person, visit.photo, f"visit {i}")
        if visit.companion is not None:
            _check_photo(known, visit.companion, visit.companion_photo, f"visit {i} companion")
            if visit.companion == visit.person:
                raise BadPlan(f"visit {i}: the companion is the customer")
        if not 0 <= visit.arrive < visit.depart <= plan.duration:
            raise BadPlan(f"visit {i}: needs 0 <= arrive < depart <= duration")
    ordered = sorted(plan.visits, key=lambda v: v.arrive)
    for i, (before, after) in enumerate(zip(ordered, ordered[1:], strict=False)):
        if after.enter < before.depart:
            raise BadPlan(
                f"visit {i + 1} walks in before visit {i} leaves the counter: "
                f"one person at the counter at a time"
            )
    for i, swipe in enumerate(plan.swipes):
        if not 0 <= swipe.at < plan.duration:
            raise BadPlan(f"swipe {i}: time outside the footage")
        if not swipe.card_holder:
            raise BadPlan(f"swipe {i}: no card holder")
        _check_amount(swipe.amount, i)
    for i, passer in enumerate(plan.passers):
        _check_photo(known, passer.person, passer.photo, f"passer {i}")
        if passer.duration <= 0:
            raise BadPlan(f"passer {i}: duration must be positive")


def _check_photo(known: dict[str, PersonPhotos], name: str, photo: int, what: str) -> None:
    person = known.get(name)
    if person is None:
        raise BadPlan(f"{what}: person not among the photographed people")
    if not 0 <= photo < len(person.footage):
        raise BadPlan(f"{what}: photo {photo} not among the person's {len(person.footage)}")


def _check_amount(amount: str, i: int) -> None:
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise BadPlan(f"swipe {i}: amount is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise BadPlan(f"swipe {i}: amount must be zero or more")


def _visits(
    people: Sequence[PersonPhotos], duration: float, stay: tuple[float, float],
    gap: tuple[float, float], rng: np.random.Generator,
) -> list[Visit]:
    """Visitors one after another, each person once before anyone comes back."""
    visits: list[Visit] = []
    order = [int(i) for i in rng.permutation(len(people))]
    t = float(rng.uniform(0.3, 1.5))  # the first customer is already on the way
    while True:
        arrive = t + WALK_IN
        # The last visit is cut short to fit, if a shortest stay still fits.
        length = min(float(rng.uniform(*stay)), duration - WALK_OUT - arrive)
        if length < stay[0]:
            return visits
        depart = arrive + length
        person = people[order[len(visits) % len(order)]]
        photo = int(rng.integers(len(person.footage)))
        visits.append(Visit(person=person.name, arrive=arrive, depart=depart, photo=photo))
        t = depart + WALK_OUT + float(rng.uniform(*gap))


def _with_companions(
    visits: list[Visit], people: Sequence[PersonPhotos], share: float, rng: np.random.Generator
) -> list[Visit]:
    """Give ``share`` of the visits a companion: someone not at the counter that day."""
    visitors = {v.person for v in visits}
    others = [p for p in people if p.name not in visitors] or list(people)
    out = []
    for visit in visits:
        mates = [p for p in others if p.name != visit.person]
        if mates and rng.random() < share:
            mate = mates[int(rng.integers(len(mates)))]
            visit = replace(visit, companion=mate.name,
                            companion_photo=int(rng.integers(len(mate.footage))))
        out.append(visit)
    return out


def _visitor_swipes(
    visits: list[Visit], second_card: float, rng: np.random.Generator
) -> list[PlannedSwipe]:
    swipes = []
    for visit in visits:
        first, last = visit.arrive + _SWIPE_MARGIN, visit.depart - _SWIPE_MARGIN
        count = 2 if rng.random() < second_card and last - first > 3 else 1
        times = np.sort(rng.uniform(first, last, count))
        if count == 2 and times[1] - times[0] < 2.0:  # two beeps at least 2 s apart
            times = np.array([first, last])
        swipes += [PlannedSwipe(at=float(at), card_holder=visit.person,
                                amount=_amount(rng)) for at in times]
    return swipes


def _misuse(
    swipes: list[PlannedSwipe], visits: list[Visit], people: Sequence[PersonPhotos],
    share: float, rng: np.random.Generator,
) -> list[PlannedSwipe]:
    """Give ``share`` of the swipes someone else's card; preferably an enrolled person's."""
    # Rounded up or down at random in proportion, so small plans still see misuse.
    count = min(len(swipes), math.floor(share * len(swipes) + rng.random()))
    if count == 0:
        return swipes
    chosen = {int(i) for i in rng.choice(len(swipes), size=count, replace=False)}
    enrolled = [p.name for p in people if p.enrolment] or [p.name for p in people]
    out = []
    for i, swipe in enumerate(swipes):
        if i in chosen:
            others = [n for n in enrolled if n != swipe.card_holder]
            others = others or [p.name for p in people if p.name != swipe.card_holder]
            holder = others[int(rng.integers(len(others)))]
            swipe = PlannedSwipe(at=swipe.at, card_holder=holder, amount=swipe.amount)
        out.append(swipe)
    return out


def _empty_counter_swipes(
    visits: list[Visit], duration: float, people: Sequence[PersonPhotos], count: int,
    rng: np.random.Generator,
) -> list[PlannedSwipe]:
    """Swipes with nobody at the counter, in the middle of gaps long enough to be clear."""
    if count == 0:
        return []
    edges = [0.0] + [t for v in visits for t in (v.enter, v.exit)] + [duration]
    gaps = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= 2.0]
    picked = rng.permutation(len(gaps))[:count]
    names = [p.name for p in people]
    return [
        PlannedSwipe(
            at=(gaps[i][0] + gaps[i][1]) / 2,
            card_holder=names[int(rng.integers(len(names)))],
            amount=_amount(rng),
        )
        for i in picked
    ]


def _passers(
    people: Sequence[PersonPhotos], visits: list[Visit], duration: float, per_minute: float,
    rng: np.random.Generator,
) -> list[Passer]:
    count = int(rng.poisson(per_minute * duration / 60))
    passers = []
    for start in np.sort(rng.uniform(-2.0, max(0.0, duration - 2.0), count)):
        crossing = float(rng.uniform(3.5, 6.0))  # ~1.3 m/s across a ~6 m wide view
        busy = {name for v in visits if v.enter < start + crossing and v.exit > start
                for name in (v.person, v.companion) if name is not None}
        free = [p for p in people if p.name not in busy]  # nobody is in two places at once
        if not free:
            continue
        person = free[int(rng.integers(len(free)))]
        passers.append(Passer(
            person=person.name, start=float(start), duration=crossing,
            leftward=bool(rng.random() < 0.5), photo=int(rng.integers(len(person.footage))),
        ))
    return passers


def _amount(rng: np.random.Generator) -> str:
    """Pharmacy bills: median ~25, a long tail of expensive prescriptions."""
    return f"{math.exp(rng.normal(3.2, 0.8)):.2f}"
