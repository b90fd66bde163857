"""The demo's card holders: people of the sample photos, enrolled from one photo each.

People are drawn from the LFW folders with at least two photos, in an order fixed by the
seed: the first photo is enrolled, another is what the till sees when the holder swipes.
A person whose first photo the register would refuse (several faces, a small or blurred
face) is passed over, as an enrolment clerk would ask for another photo.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from swipeguard.cardholders import service as cardholders
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.faces import service as faces
from swipeguard.faces.errors import FaceError
from swipeguard.faces.images import load_image
from swipeguard.faces.pool import FacePool, worker_engine, worker_settings
from swipeguard.privacy import secret_key


@dataclass(frozen=True)
class Person:
    """One identity of the sample photos (a folder of photos of one person)."""

    name: str
    photos: tuple[Path, ...]


@dataclass(frozen=True)
class Holder:
    card_holder_id: int
    card_no: str
    person: Person


def lfw_people(lfw: Path, *, min_photos: int) -> list[Person]:
    """The people of an LFW-layout folder with at least ``min_photos`` photos, by name."""
    people = []
    for folder in sorted(p for p in lfw.iterdir() if p.is_dir()):
        photos = tuple(sorted(folder.glob("*.jpg")))
        if len(photos) >= min_photos:
            people.append(Person(folder.name.replace("_", " "), photos))
    return people


def shuffled(people: Sequence[Person], rng: random.Random) -> Iterator[Person]:
    order = list(people)
    rng.shuffle(order)
    return iter(order)


def enrollable(data: bytes) -> bool:
    """In a pool worker: whether the register would take this photo (one good face)."""
    settings = worker_settings()
    try:
        image = load_image(data, max_pixels=settings.max_image_pixels)
        faces.single_face(image, min_face_px=settings.min_face_px, engine=worker_engine())
    except FaceError:
        return False
    return True


def pick_enrollable(pool: FacePool, candidates: Iterator[Person], count: int) -> list[Person]:
    """The first ``count`` candidates whose first photo can be enrolled."""
    chosen: list[Person] = []
    while len(chosen) < count:
        batch = [p for _, p in zip(range(2 * (count - len(chosen))), candidates, strict=False)]
        if not batch:
            raise ValueError(f"only {len(chosen)} people in the samples can be enrolled; "
                             f"ask for fewer than {count}")
        checks = [pool.submit(enrollable, p.photos[0].read_bytes()) for p in batch]
        chosen.extend(p for p, ok in zip(batch, checks, strict=True) if ok.result())
    return chosen[:count]


def enrol(settings: Settings, db: Database, pool: FacePool, *, people: Sequence[Person],
          first_card: int, photos: Sequence[Path] | None = None) -> list[Holder]:
    """Card holders for ``people``, each enrolled from their first photo (or ``photos``)."""
    secret = secret_key(settings.secret_key, settings.data_dir)
    with db.transaction() as session:
        created = [
            cardholders.create(session, card_no=f"{first_card + i:012d}",
                               national_id=f"D{first_card + i:011d}", name=person.name,
                               secret=secret)
            for i, person in enumerate(people)
        ]
        ids = [(h.id, h.card_no) for h in created]
    sources = list(photos) if photos is not None else [p.photos[0] for p in people]

    def enrol_one(index: int) -> None:
        # One transaction per photo: the descriptor work runs before its only write, so
        # enrolments in parallel threads hold the database's write lock only briefly.
        with db.transaction() as session:
            holder = cardholders.get(session, card_holder_id=ids[index][0])
            cardholders.enroll_photo(session, settings=settings, card_holder=holder,
                                     image=sources[index].read_bytes(), pool=pool)

    with ThreadPoolExecutor(2 * pool.workers) as threads:
        list(threads.map(enrol_one, range(len(people))))
    return [Holder(hid, card_no, person) for (hid, card_no), person in zip(ids, people,
                                                                          strict=True)]
