"""A day of swipes across the city, each with the truth of who was at the counter."""

from __future__ import annotations

import enum
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image as PILImage

from swipeguard.demo.city import City, DemoTill, Footage
from swipeguard.demo.people import Holder, Person


class Kind(enum.StrEnum):
    GENUINE = "genuine"  # the holder, seen in another photo of theirs
    SOMEONE_ELSE = "someone_else"  # a stranger using the card
    NO_FACE = "no_face"  # the camera saw no face (only shoulders and clothes)
    LOST_CARD = "lost_card"  # a card reported lost, used by a stranger
    UNKNOWN_CARD = "unknown_card"  # a card number not in the register
    VIDEO_HOLDER = "video_holder"  # no still: the holder is at the counter on video
    VIDEO_OTHER_CARD = "video_other_card"  # same moment, another holder's card
    # Generated footage, no still: who is at the counter comes from the generator's timeline.
    FOOTAGE_HOLDER = "footage_holder"  # the card's holder is at the counter
    FOOTAGE_OTHER_CARD = "footage_other_card"  # someone else at the counter uses the card
    FOOTAGE_NOBODY = "footage_nobody"  # the card is swiped with nobody at the counter


MISUSE = {Kind.SOMEONE_ELSE, Kind.NO_FACE, Kind.LOST_CARD, Kind.VIDEO_OTHER_CARD,
          Kind.FOOTAGE_OTHER_CARD, Kind.FOOTAGE_NOBODY}
GENUINE = {Kind.GENUINE, Kind.VIDEO_HOLDER, Kind.FOOTAGE_HOLDER}

# Shares of the day's swipes beside one genuine swipe per holder.
SOMEONE_ELSE_SHARE = 0.3
NO_FACE_SHARE = 0.1
LOST_SHARE = 0.1


@dataclass(frozen=True)
class PlannedSwipe:
    kind: Kind
    till: DemoTill
    card_no: str
    swiped_at: datetime
    amount: str
    key: str
    still: bytes | None


@dataclass(frozen=True)
class Cast:
    """Who takes part: holders who swipe, holders whose card was lost, strangers."""

    holders: list[Holder]
    lost: list[Holder]
    strangers: list[Person]
    video_holder: Holder  # at the counter in the clip at ``video_at``
    video_other: Holder  # enrolled, not at the counter then


def counts(people: int) -> dict[Kind, int]:
    """How many swipes of each misuse kind a day with ``people`` holders has."""
    return {
        Kind.SOMEONE_ELSE: max(1, round(people * SOMEONE_ELSE_SHARE)),
        Kind.NO_FACE: max(1, round(people * NO_FACE_SHARE)),
        Kind.LOST_CARD: max(1, round(people * LOST_SHARE)),
    }


def plan_day(*, city: City, cast: Cast, start: datetime, end: datetime, video_at: datetime,
             rng: random.Random, filmed: Sequence[PlannedSwipe] = ()) -> list[PlannedSwipe]:
    """The day's swipes in time order; the two video swipes happen at ``video_at``.

    Swipes with stills go to the talking-head tills; ``filmed`` (the generated tills'
    swipes) join the day as they are.
    """
    still_tills = city.tills_on(Footage.TALKING_HEAD)
    strangers = iter(cast.strangers)
    plan: list[tuple[Kind, str, bytes]] = []
    for holder in cast.holders:
        plan.append((Kind.GENUINE, holder.card_no, _photo(holder.person, 1)))
    wanted = counts(len(cast.holders))
    for _ in range(wanted[Kind.SOMEONE_ELSE]):
        plan.append((Kind.SOMEONE_ELSE, rng.choice(cast.holders).card_no,
                     _photo(next(strangers), 0)))
    for _ in range(wanted[Kind.NO_FACE]):
        plan.append((Kind.NO_FACE, rng.choice(cast.holders).card_no,
                     faceless(next(strangers).photos[0])))
    for holder in cast.lost:
        plan.append((Kind.LOST_CARD, holder.card_no, _photo(next(strangers), 0)))
    plan.append((Kind.UNKNOWN_CARD, f"{rng.randrange(10**11):012d}",
                 _photo(next(strangers), 0)))
    rng.shuffle(plan)

    span = (end - start).total_seconds()
    swipes = [
        PlannedSwipe(kind, rng.choice(still_tills), card_no,
                     start + timedelta(seconds=span * (i + rng.random()) / len(plan)),
                     _amount(rng), f"demo-{i:05d}", still)
        for i, (kind, card_no, still) in enumerate(plan)
    ]
    for kind, holder in ((Kind.VIDEO_HOLDER, cast.video_holder),
                         (Kind.VIDEO_OTHER_CARD, cast.video_other)):
        swipes.append(PlannedSwipe(kind, city.video_till, holder.card_no, video_at,
                                   _amount(rng), f"demo-video-{kind.value}", None))
    return sorted([*swipes, *filmed], key=lambda s: s.swiped_at)


def _photo(person: Person, index: int) -> bytes:
    return person.photos[index].read_bytes()


def _amount(rng: random.Random) -> str:
    return f"{rng.randint(350, 25000) / 100:.2f}"


def faceless(photo: Path) -> bytes:
    """The bottom of a portrait, enlarged: shoulders and clothes, the face out of frame."""
    with PILImage.open(photo) as image:
        width, height = image.size
        strip = image.convert("RGB").crop((0, int(height * 0.72), width, height))
    strip = strip.resize((strip.width * 2, strip.height * 2), PILImage.Resampling.BICUBIC)
    out = io.BytesIO()
    strip.save(out, format="JPEG", quality=90)
    return out.getvalue()
