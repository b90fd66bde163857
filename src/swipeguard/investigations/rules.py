"""Rules beyond the face: patterns in a card's swipes that deserve an operator's look.

- ``many_facilities``: the card used at ``rules.many_facilities_count`` or more different
  facilities within ``rules.many_facilities_window_h`` hours (one alarm per window).
- ``impossible_travel``: two consecutive swipes at facilities too far apart for the time
  between them (great-circle distance / time above ``rules.max_travel_kmh``).
- ``amount``: an amount above ``rules.amount_factor`` times the median of the card's
  earlier swipes, once there are at least ``rules.amount_min_history`` of them.

Each fired rule opens one RULE alarm on the swipe, named by the rule and with a reason
an operator can check by reading the timeline. Checking a swipe twice opens nothing new.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from swipeguard.alarms import service as alarms
from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.config import RuleSettings
from swipeguard.facilities.models import Facility, Till
from swipeguard.privacy import mask_card
from swipeguard.swipes.models import Swipe

log = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
# Facilities closer than this are never "too far apart": till clocks may differ by a
# minute or two, and 1 km is a short walk, so nearby pairs would only add noise.
MIN_TRAVEL_KM = 1.0
# Earlier swipes looked at for the amount rule: about a year of weekly pharmacy visits.
AMOUNT_HISTORY = 50


@dataclass(frozen=True)
class RuleHit:
    rule: str
    reason: str


@dataclass(frozen=True)
class _Visit:
    swipe_id: int
    at_hours: float  # hours since the epoch
    facility_id: int
    facility_name: str
    latitude: float | None
    longitude: float | None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS84 points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def check(session: Session, *, swipe: Swipe, settings: RuleSettings) -> list[RuleHit]:
    """The rules a swipe breaks, judged against the card's other swipes."""
    hits = [
        _many_facilities(session, swipe, settings),
        _impossible_travel(session, swipe, settings),
        _amount(session, swipe, settings),
    ]
    return [h for h in hits if h is not None]


def apply(session: Session, *, swipe: Swipe, settings: RuleSettings) -> list[Alarm]:
    """Checks a swipe and opens one RULE alarm per rule broken (none twice)."""
    opened = []
    for hit in check(session, swipe=swipe, settings=settings):
        if _already(session, swipe.id, hit.rule):
            continue
        opened.append(alarms.open_alarm(session, kind=AlarmKind.RULE, rule=hit.rule,
                                        reason=hit.reason, swipe_id=swipe.id))
        log.info("rule %s fired on swipe %s (card %s)", hit.rule, swipe.id,
                 mask_card(swipe.card_no))
    return opened


def _already(session: Session, swipe_id: int, rule: str) -> bool:
    return session.scalar(select(Alarm.id).where(
        Alarm.swipe_id == swipe_id, Alarm.kind == AlarmKind.RULE, Alarm.rule == rule)
    ) is not None


def _visits(session: Session, swipe: Swipe, hours: float) -> list[_Visit]:
    """The card's swipes within ``hours`` either side of ``swipe``, in time order."""
    window = timedelta(hours=hours)
    rows = session.execute(
        select(Swipe.id, Swipe.swiped_at, Facility.id, Facility.name, Facility.latitude,
               Facility.longitude)
        .join(Till, Till.id == Swipe.till_id).join(Facility, Facility.id == Till.facility_id)
        .where(Swipe.card_no == swipe.card_no,
               Swipe.swiped_at >= swipe.swiped_at - window,
               Swipe.swiped_at <= swipe.swiped_at + window)
        .order_by(Swipe.swiped_at, Swipe.id)
    ).all()
    return [_Visit(r[0], r[1].timestamp() / 3600, r[2], r[3], r[4], r[5]) for r in rows]


def _many_facilities(session: Session, swipe: Swipe, settings: RuleSettings) -> RuleHit | None:
    """Fires on the swipe that brings the window's distinct facilities to the count."""
    hours = settings.many_facilities_window_h
    visits = _visits(session, swipe, hours)
    me = next((v for v in visits if v.swipe_id == swipe.id), None)
    if me is None:
        return None
    earlier = [v for v in visits if me.at_hours - hours <= v.at_hours <= me.at_hours
               and (v.at_hours, v.swipe_id) < (me.at_hours, me.swipe_id)]
    facilities_before = {v.facility_id for v in earlier}
    if me.facility_id in facilities_before:
        return None
    if len(facilities_before) + 1 != settings.many_facilities_count:
        return None
    names = sorted({v.facility_name for v in earlier} | {me.facility_name})
    return RuleHit("many_facilities",
                   f"card used at {len(names)} facilities within {hours:g} h: "
                   + ", ".join(names))


def _impossible_travel(
    session: Session, swipe: Swipe, settings: RuleSettings,
) -> RuleHit | None:
    """Compares the swipe with the card's swipes just before and just after it."""
    visits = _visits(session, swipe, hours=24)
    i = next((k for k, v in enumerate(visits) if v.swipe_id == swipe.id), None)
    if i is None:
        return None
    me = visits[i]
    neighbours = visits[max(0, i - 1):i] + visits[i + 1:i + 2]
    for other in neighbours:
        hit = _travel(me, other, settings.max_travel_kmh)
        # One alarm per pair of swipes: the other one may have been alarmed already.
        if hit is not None and not _already(session, other.swipe_id, hit.rule):
            return hit
    return None


def _travel(me: _Visit, other: _Visit, max_kmh: float) -> RuleHit | None:
    if other.facility_id == me.facility_id:
        return None
    if (me.latitude is None or me.longitude is None or other.latitude is None
            or other.longitude is None):
        return None
    km = haversine_km(me.latitude, me.longitude, other.latitude, other.longitude)
    if km < MIN_TRAVEL_KM:
        return None
    hours = abs(me.at_hours - other.at_hours)
    speed = km / hours if hours > 0 else math.inf
    if speed <= max_kmh:
        return None
    minutes = hours * 60
    return RuleHit("impossible_travel",
                   f"{other.facility_name} and {me.facility_name} are {km:.1f} km apart but "
                   f"the swipes were {minutes:.0f} min apart ({_speed(speed)}; fastest "
                   f"plausible {max_kmh:g} km/h)")


def _speed(kmh: float) -> str:
    return "same minute" if math.isinf(kmh) else f"{kmh:.0f} km/h needed"


def _amount(session: Session, swipe: Swipe, settings: RuleSettings) -> RuleHit | None:
    earlier = session.scalars(
        select(Swipe.amount_cents)
        .where(Swipe.card_no == swipe.card_no, Swipe.id != swipe.id,
               Swipe.swiped_at < swipe.swiped_at)
        .order_by(Swipe.swiped_at.desc()).limit(AMOUNT_HISTORY)
    ).all()
    if len(earlier) < settings.amount_min_history:
        return None
    median = float(statistics.median(earlier))
    if median <= 0 or swipe.amount_cents <= settings.amount_factor * median:
        return None
    return RuleHit("amount",
                   f"amount {swipe.amount_cents / 100:.2f} is {swipe.amount_cents / median:.1f}x "
                   f"the median {median / 100:.2f} of the card's last {len(earlier)} swipes "
                   f"(rule: over {settings.amount_factor:g}x)")
