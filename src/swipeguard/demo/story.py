"""The demo's lost-card story, told through the product as an investigator would meet it.

In the morning a card holder loses the card. Someone who holds a card of their own finds
it and pays with it at three facilities in the day, uses yet another holder's card at a
fourth, and once pays with their own. In the evening the card's holder reports it lost
from the morning: the swipes since are flagged, the grouping of faces that were
not the card's holder runs as its worker would, and the investigation of the card is
asked who used it. The story holds when:

- the first suspect of the investigation is identified as the finder's own card holder
  record (the finder is enrolled, so the register names them), and
- the stored suspect the finder's lost-card captures were grouped into also holds their
  capture on the other card: the grouping found the other misuse without anyone asking.

The finder's photos must show one clear face each (as ``pick_enrollable`` asks of an
enrolment photo); whether they are alike enough to be grouped is left to the product.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.demo.city import City, DemoTill, Footage
from swipeguard.demo.day import Kind, PlannedSwipe
from swipeguard.demo.people import Holder, Person, enrol, enrollable
from swipeguard.faces.pool import FacePool
from swipeguard.investigations import clustering, flows
from swipeguard.investigations import service as investigations
from swipeguard.investigations.models import SuspectMember
from swipeguard.investigations.search import open_search
from swipeguard.privacy import mask_card
from swipeguard.swipes.models import Capture

LOST_CARD_USES = 3  # the finder's swipes of the lost card, each at another facility
FINDER_PHOTOS = 1 + 1 + LOST_CARD_USES + 1  # enrolment, own card, lost card, other card
FIRST_USE_AFTER = timedelta(hours=1)  # after the card is lost
REPORTED_BY = "demo: the card holder at the service desk"


class StoryError(RuntimeError):
    """The samples hold no one who can play the finder."""


@dataclass(frozen=True)
class Cast:
    victim: Holder  # whose card is lost
    finder: Holder  # who uses it; enrolled with a card of their own
    other: Holder  # whose card the finder also uses, once


@dataclass(frozen=True)
class Story:
    cast: Cast
    lost_at: datetime
    swipes: list[PlannedSwipe]
    lost_card_keys: list[str]  # idempotency keys of the finder's lost-card swipes
    other_card_key: str


def cast(settings: Settings, db: Database, pool: FacePool, candidates: Iterator[Person], *,
         first_card: int) -> Cast:
    """Enrols the victim, the finder and the other card's holder from ``candidates``.

    The finder is the first candidate with ``FINDER_PHOTOS`` photos that each show one
    clear face; the victim and the other holder are the next two enrollable people.
    """
    finder: Person | None = None
    others: list[Person] = []
    for person in candidates:
        if finder is None and len(person.photos) >= FINDER_PHOTOS and _all_clear(pool, person):
            finder = person
        elif len(others) < 2 and pool.submit(enrollable, person.photos[0].read_bytes()).result():
            others.append(person)
        if finder is not None and len(others) == 2:
            break
    if finder is None or len(others) < 2:
        raise StoryError(f"no one in the samples has {FINDER_PHOTOS} clear photos to play "
                         "the person who uses a lost card")
    victim, finder_holder, other = enrol(settings, db, pool,
                                         people=[others[0], finder, others[1]],
                                         first_card=first_card)
    return Cast(victim=victim, finder=finder_holder, other=other)


def _all_clear(pool: FacePool, person: Person) -> bool:
    checks = [pool.submit(enrollable, p.read_bytes()) for p in person.photos[:FINDER_PHOTOS]]
    return all(c.result() for c in checks)


def plan(city: City, story_cast: Cast, *, start: datetime, end: datetime,
         rng: random.Random) -> Story:
    """The finder's day: their swipes at tills of different facilities, in time order."""
    tills = _one_till_per_facility(city.tills_on(Footage.TALKING_HEAD), rng)
    if len(tills) < LOST_CARD_USES + 2:
        raise StoryError(f"the story needs {LOST_CARD_USES + 2} facilities with still "
                         f"cameras, the city has {len(tills)}")
    lost_at = start + timedelta(minutes=30)
    photos = story_cast.finder.person.photos
    first, span = lost_at + FIRST_USE_AFTER, end - lost_at - FIRST_USE_AFTER
    moments = sorted(first + span * rng.random() for _ in range(LOST_CARD_USES + 2))
    uses: list[tuple[Kind, str, DemoTill, bytes, str]] = [
        (Kind.GENUINE, story_cast.finder.card_no, tills[0], photos[1].read_bytes(),
         "demo-story-own"),
        *[(Kind.SOMEONE_ELSE, story_cast.victim.card_no, tills[i], photos[1 + i].read_bytes(),
           f"demo-story-lost-{i}") for i in range(1, LOST_CARD_USES + 1)],
        (Kind.SOMEONE_ELSE, story_cast.other.card_no, tills[LOST_CARD_USES + 1],
         photos[LOST_CARD_USES + 2].read_bytes(), "demo-story-other"),
    ]
    rng.shuffle(uses)
    swipes = [PlannedSwipe(kind, till, card_no, at, f"{rng.randint(2000, 30000) / 100:.2f}",
                           key, still)
              for (kind, card_no, till, still, key), at in zip(uses, moments, strict=True)]
    return Story(cast=story_cast, lost_at=lost_at, swipes=swipes,
                 lost_card_keys=[f"demo-story-lost-{i}" for i in range(1, LOST_CARD_USES + 1)],
                 other_card_key="demo-story-other")


def _one_till_per_facility(tills: Sequence[DemoTill], rng: random.Random) -> list[DemoTill]:
    by_facility: dict[str, DemoTill] = {}
    for till in tills:
        by_facility.setdefault(till.facility, till)
    chosen = list(by_facility.values())
    rng.shuffle(chosen)
    return chosen


def tell(settings: Settings, db: Database, story: Story,
         swipe_ids: dict[str, int]) -> dict[str, Any]:
    """Reports the card lost, groups the faces, investigates; what the product found."""
    victim = story.cast.victim.card_no
    with db.transaction() as session:
        report = investigations.report_lost(session, card_no=victim, since=story.lost_at,
                                            actor="demo", reason=REPORTED_BY)
    with db.transaction() as session:
        while clustering.group_new_captures(session, link=settings.search.group_threshold,
                                            threshold=settings.verification.threshold):
            pass
    search = open_search(settings, db)
    with db.sessions() as session:
        found = flows.investigate(session, search=search, settings=settings, card_no=victim)

    lost_ids = {swipe_ids[k] for k in story.lost_card_keys}
    other_id = swipe_ids[story.other_card_key]
    first = found.suspects[0] if found.suspects else None
    named = first.identified_as if first else None
    first_swipes = {s.swipe_id for s in first.swipes} if first else set()
    grouped = _suspect_swipes(db, first.suspect_id if first else None)
    names_finder = named is not None and named.card_holder_id == story.cast.finder.card_holder_id
    return {
        "card": mask_card(victim),
        "lost_since": story.lost_at.isoformat(),
        "flagged_swipes": len(report.flagged_swipe_ids),
        "used_by_finder": len(lost_ids),
        "lost_card_swipe_ids": sorted(lost_ids),
        "facilities": sorted({s.facility for s in found.suspicious_swipes}),
        "investigation_ms": found.took_ms,
        "suspects": len(found.suspects),
        "first_suspect": None if first is None else {
            "rank": first.rank,
            "suspect_id": first.suspect_id,
            "identified_as_card_holder": named.card_holder_id if named else None,
            "identified_card": mask_card(named.card_no) if named else None,
            "distance": named.mean_distance if named else None,
            "lost_card_swipes": len(first_swipes & lost_ids),
            "other_cards": [mask_card(c) for c in first.other_cards],
        },
        "finder_card_holder": story.cast.finder.card_holder_id,
        "grouped_with_other_card": other_id in grouped,
        "as_expected": bool(names_finder and lost_ids <= first_swipes | grouped
                            and other_id in grouped),
    }


def _suspect_swipes(db: Database, suspect_id: int | None) -> set[int]:
    """The swipes whose captures the stored suspect holds."""
    if suspect_id is None:
        return set()
    with db.sessions() as session:
        return set(session.scalars(
            select(Capture.swipe_id).join(SuspectMember, SuspectMember.capture_id == Capture.id)
            .where(SuspectMember.suspect_id == suspect_id)))
