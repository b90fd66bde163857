"""Helpers for the investigation tests: real faces of a few LFW people through the real
face engine, and a small city of facilities, card holders, swipes and captures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from swipeguard.cardholders.models import CardHolder, CardStatus, EnrolledPhoto
from swipeguard.db import Database
from swipeguard.faces import service as faces
from swipeguard.facilities import service as facilities
from swipeguard.facilities.models import FacilityKind
from swipeguard.investigations.faces import centred_embedding
from swipeguard.privacy import keyed_hash
from swipeguard.swipes.models import Capture, CaptureSource, Swipe, SwipeState, Verdict

THRESHOLD = 0.55
T0 = datetime.fromisoformat("2026-03-02T08:00:00+00:00")


@lru_cache(maxsize=4)
def lfw_people(samples: Path, people: int = 6,
               photos: int = 5) -> tuple[tuple[np.ndarray, ...], ...]:
    """Descriptors of ``photos`` photos each of the ``people`` LFW people with the most
    photos (no names leave this function: a person is an index).

    Of each person's first eight photos the ``photos`` nearest their mean are kept: LFW
    spans years, poses and lighting, while one person's captures at counter cameras are
    frontal and close in time, so they look more alike than LFW's photos do.
    """
    from PIL import Image

    lfw = samples / "faces" / "lfw"
    folders = sorted((p for p in lfw.iterdir() if p.is_dir()),
                     key=lambda p: (-sum(1 for _ in p.glob("*.jpg")), p.name))
    found = []
    for folder in folders[:people]:
        vectors = []
        for path in sorted(folder.glob("*.jpg"))[:8]:
            with Image.open(path) as img:
                vector = centred_embedding(np.asarray(img.convert("RGB")))
            if vector is not None:
                vectors.append(vector)
        stacked = np.stack(vectors)
        spread = np.linalg.norm(stacked - stacked.mean(axis=0), axis=1)
        keep = sorted(np.argsort(spread)[:photos])
        found.append(tuple(vectors[i] for i in keep))
    return tuple(found)


@dataclass
class Made:
    swipe_id: int
    capture_id: int | None


@dataclass
class City:
    """Builds rows straight into the database, as the other parts would have left them."""

    db: Database
    tills: dict[str, int] = field(default_factory=dict)
    holders: dict[str, int] = field(default_factory=dict)
    templates: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _keys: itertools.count[int] = field(default_factory=itertools.count)

    def facility(self, name: str, latitude: float = 31.23, longitude: float = 121.47) -> int:
        with self.db.transaction() as s:
            f = facilities.create_facility(s, name=name, kind=FacilityKind.PHARMACY,
                                           district="Centre", latitude=latitude,
                                           longitude=longitude)
            till, _ = facilities.create_till(s, facility_id=f.id, name="Till 1")
            self.tills[name] = till.id
            return till.id

    def holder(self, card_no: str, enrolled: list[np.ndarray] | None = None) -> int:
        with self.db.transaction() as s:
            h = CardHolder(card_no=card_no, national_id_hash=keyed_hash("k", card_no),
                           national_id_last4=card_no[-4:], name=f"Holder {card_no[-4:]}")
            s.add(h)
            s.flush()
            for i, vector in enumerate(enrolled or []):
                s.add(EnrolledPhoto(card_holder_id=h.id, image_path=f"faces/{h.id}-{i}.jpg",
                                    descriptor=faces.encode(vector), face_px=120,
                                    sharpness=300.0, frontal=0.9, detection_score=1.5))
            self.holders[card_no] = h.id
            self.templates[card_no] = list(enrolled or [])
            return h.id

    def swipe(self, card_no: str, facility: str, at: datetime, *, face: np.ndarray | None,
              amount_cents: int = 2500, verdict: Verdict | None = None,
              state: SwipeState = SwipeState.DECIDED) -> Made:
        """A swipe with the face at the counter; the verdict follows the holder's template."""
        distance = self._distance(card_no, face)
        if verdict is None and state is SwipeState.DECIDED:
            verdict = _verdict(self._lost(card_no, at), face, distance)
        with self.db.transaction() as s:
            swipe = Swipe(
                till_id=self.tills[facility], idempotency_key=f"k{next(self._keys)}",
                request_hash="0" * 64, card_no=card_no,
                card_holder_id=self.holders.get(card_no), swiped_at=at,
                amount_cents=amount_cents, state=state, verdict=verdict, distance=distance,
                threshold=THRESHOLD if distance is not None else None,
                decided_at=at + timedelta(seconds=2) if verdict else None,
                received_at=at)
            s.add(swipe)
            s.flush()
            if face is None:
                return Made(swipe.id, None)
            capture = Capture(swipe_id=swipe.id, source=CaptureSource.STILL,
                              image_path=f"captures/{swipe.id}.jpg",
                              descriptor=faces.encode(face), face_px=110, sharpness=250.0,
                              frontal=0.9, detection_score=1.2)
            s.add(capture)
            s.flush()
            return Made(swipe.id, capture.id)

    def _distance(self, card_no: str, face: np.ndarray | None) -> float | None:
        template = self.templates.get(card_no)
        if face is None or not template:
            return None
        return min(faces.distance(face, t) for t in template)

    def _lost(self, card_no: str, at: datetime) -> bool:
        with self.db.transaction() as s:
            holder = s.get(CardHolder, self.holders[card_no]) if card_no in self.holders \
                else None
            return bool(holder and holder.status is CardStatus.LOST and holder.lost_since
                        and holder.lost_since <= at)


def _verdict(lost: bool, face: np.ndarray | None, distance: float | None) -> Verdict:
    if lost:
        return Verdict.CARD_LOST
    if face is None:
        return Verdict.NO_FACE
    if distance is None:
        return Verdict.NOT_ENROLLED
    return Verdict.VERIFIED if distance <= THRESHOLD else Verdict.MISMATCH
