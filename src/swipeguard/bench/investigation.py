"""``swipeguard bench investigation``: how fast and how right the investigation of a card is.

A city is bulk-inserted once into a SQLite database under ``--cache-dir``: facilities,
card holders each enrolled with one photo, and ``--captures`` swipes with a capture
each, on the holders' own cards. Their descriptors come from the identity model of
``bench search`` (fitted to LFW). Every LFW development person is enrolled as a card
holder too, with their first photo's real descriptor. The face indexes are built from
that database by the product's own code and kept with it.

- timing: a card reported lost, then swiped a dozen times at a dozen facilities by one
  real person (LFW photos) and twice by another; the time from opening the
  investigation to the ranked suspects, with the indexes loaded from disk (cold) and
  already in memory (warm).
- top-1: for each of ``--cases`` LFW people with three or more photos, a stranger's
  card swiped with up to six of that person's other photos: how often the first
  suspect is named as that person.
- grouping: every LFW development photo as a mismatched capture, grouped by the
  product's grouping: B-cubed precision and recall against the true people.

Rows added for the cases are deleted afterwards, so the cached city stays as built.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select

from swipeguard.alarms.models import Alarm, AlarmEvent
from swipeguard.bench.search import F32, FaceSet, Gallery, IdentityModel, lfw_faces
from swipeguard.cardholders.models import CardHolder, CardStatus, EnrolledPhoto
from swipeguard.config import Settings, get_settings
from swipeguard.db import Database
from swipeguard.facilities.models import Facility, FacilityKind, Till
from swipeguard.investigations import clustering, flows, service
from swipeguard.investigations.models import Suspect, SuspectEvent, SuspectMember
from swipeguard.investigations.search import FaceSearch
from swipeguard.swipes.models import Capture, CaptureSource, Swipe, SwipeState, Verdict

log = logging.getLogger(__name__)

NAME = "investigation"
HELP = "time to ranked suspects in a city of a million captures; top-1 rate on real faces"

FACILITIES = 300
START = datetime(2025, 1, 1, tzinfo=UTC)
LOST_AT = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
CITY_VERSION = 1
BULK = 20_000  # rows per INSERT batch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--captures", type=int, default=1_000_000, help="captures in the city")
    parser.add_argument("--cases", type=int, default=200, help="simulated cases for the top-1 rate")
    parser.add_argument("--samples", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache-dir", type=Path,
                        help="default: DATA_DIR/cache/search under swipeguard's data directory")
    parser.add_argument("--no-grouping", action="store_true", help="skip the grouping figures")


def run(args: argparse.Namespace) -> dict[str, Any]:
    cache = args.cache_dir or get_settings().data_dir / "cache" / "search"
    faces = lfw_faces(args.samples, cache)
    model = IdentityModel.fit(faces)
    city_dir = cache / f"city-v{CITY_VERSION}-{args.captures}"
    settings = get_settings().model_copy(update={"data_dir": city_dir, "database_url": None})
    db = Database(settings.resolved_database_url)
    db.migrate()
    result: dict[str, Any] = {"city": _ensure_city(db, settings, model, faces, args.captures)}
    try:
        result["timing"] = timing_case(db, settings, faces)
        if args.cases:
            result["top1"] = top1_cases(db, settings, faces, args.cases)
    finally:
        db.dispose()
    if not args.no_grouping:
        result["grouping"] = grouping_figures(faces, get_settings())
    return result


# --- the city ---------------------------------------------------------------------------


def _ensure_city(db: Database, settings: Settings, model: IdentityModel, faces: FaceSet,
                 captures: int) -> dict[str, Any]:
    with db.transaction() as s:
        have = s.scalar(select(func.count()).select_from(Capture)) or 0
    built: dict[str, Any] = {}
    if have < captures:
        if have:
            raise RuntimeError(f"{settings.data_dir} holds a partly built city; delete it")
        built["insert_s"] = _insert_city(db, model, faces, captures)
    started = time.perf_counter()
    search = FaceSearch(settings, db)
    reports = search.sync()
    if any(r.added for r in reports):
        search.save()
        built["index_build_s"] = round(time.perf_counter() - started, 1)
    with db.transaction() as s:
        return built | {
            "captures": s.scalar(select(func.count()).select_from(Capture)),
            "card_holders": s.scalar(select(func.count()).select_from(CardHolder)),
            "facilities": s.scalar(select(func.count()).select_from(Facility)),
            "captures_index": "approximate" if search.captures.approximate else "exact",
            "enrolled_index": "approximate" if search.enrolled.approximate else "exact",
        }


def _insert_city(db: Database, model: IdentityModel, faces: FaceSet, captures: int) -> float:
    started = time.perf_counter()
    rng = np.random.default_rng(11)
    gallery = Gallery(model, size=captures, per_person=5, seed=11)
    enrolment = model.captures(gallery.centres, np.random.default_rng(12))
    with db.transaction() as s:
        lat, lon = 31.23 + rng.normal(0, 0.08, FACILITIES), 121.47 + rng.normal(0, 0.08,
                                                                                 FACILITIES)
        s.execute(insert(Facility), [
            {"name": f"Pharmacy {i:03d}", "kind": FacilityKind.PHARMACY, "district": "City",
             "latitude": float(lat[i]), "longitude": float(lon[i])} for i in range(FACILITIES)])
        s.execute(insert(Till), [
            {"facility_id": i + 1, "name": "Till 1", "api_key_hash": f"{i:064d}"}
            for i in range(FACILITIES)])
    _insert_holders(db, [_card(p) for p in range(gallery.people)], enrolment)
    _insert_holders(db, [_lfw_card(label) for label in _first_photos(faces)],
                    faces.descriptors[list(_first_photos(faces).values())])
    owner = np.repeat(np.arange(gallery.people), gallery.counts)
    for ids, vectors in gallery.chunks():
        _insert_swipes(db, ids, owner[ids], vectors, rng)
        log.info("city: %s of %s captures inserted", int(ids[-1]) + 1, captures)
    return round(time.perf_counter() - started, 1)


def _first_photos(faces: FaceSet) -> dict[int, int]:
    """Each LFW person's first photo's row."""
    first: dict[int, int] = {}
    for row in np.lexsort((faces.numbers, faces.labels)):
        first.setdefault(int(faces.labels[row]), int(row))
    return first


def _card(person: int) -> str:
    return f"7{person:015d}"


def _lfw_card(label: int) -> str:
    return f"8{label:015d}"


def _insert_holders(db: Database, cards: list[str], vectors: F32) -> None:
    for start in range(0, len(cards), BULK):
        part = cards[start:start + BULK]
        with db.transaction() as s:
            first = (s.scalar(select(func.max(CardHolder.id))) or 0) + 1
            s.execute(insert(CardHolder), [
                {"card_no": c, "national_id_hash": c.rjust(64, "0"),
                 "national_id_last4": c[-4:], "name": f"Holder {c[-6:]}"} for c in part])
            s.execute(insert(EnrolledPhoto), [
                {"card_holder_id": first + i, "image_path": f"faces/{first + i}.jpg",
                 "descriptor": vectors[start + i].astype("<f4").tobytes(), "face_px": 150,
                 "sharpness": 300.0, "frontal": 0.9, "detection_score": 1.5}
                for i in range(len(part))])


def _insert_swipes(db: Database, ids: np.ndarray, people: np.ndarray, vectors: F32,
                   rng: np.random.Generator) -> None:
    seconds = rng.integers(0, int((LOST_AT - START).total_seconds()), len(ids))
    tills = rng.integers(1, FACILITIES + 1, len(ids))
    amounts = rng.integers(300, 20_000, len(ids))
    for start in range(0, len(ids), BULK):
        part = range(start, min(start + BULK, len(ids)))
        with db.transaction() as s:
            first = (s.scalar(select(func.max(Swipe.id))) or 0) + 1
            s.execute(insert(Swipe), [_swipe_row(int(ids[i]), _card(int(people[i])),
                                                 int(people[i]) + 1, int(tills[i]),
                                                 START + timedelta(seconds=int(seconds[i])),
                                                 int(amounts[i])) for i in part])
            s.execute(insert(Capture), [_capture_row(first + k, vectors[i])
                                        for k, i in enumerate(part)])


def _swipe_row(key: int, card_no: str, holder_id: int | None, till: int, at: datetime,
               cents: int, verdict: Verdict = Verdict.VERIFIED) -> dict[str, Any]:
    return {"till_id": till, "idempotency_key": f"b{key}", "request_hash": "0" * 64,
            "card_no": card_no, "card_holder_id": holder_id, "swiped_at": at,
            "amount_cents": cents, "received_at": at, "state": SwipeState.DECIDED,
            "verdict": verdict, "threshold": 0.55, "decided_at": at}


def _capture_row(swipe_id: int, vector: np.ndarray) -> dict[str, Any]:
    return {"swipe_id": swipe_id, "source": CaptureSource.VIDEO,
            "image_path": f"captures/{swipe_id}.jpg",
            "descriptor": np.asarray(vector, "<f4").tobytes(), "frames_used": 3,
            "face_px": 110, "sharpness": 250.0, "frontal": 0.9, "detection_score": 1.2}


# --- one case -----------------------------------------------------------------------------


class _Case:
    """Rows of one simulated misuse: a victim's card lost, swiped by strangers."""

    def __init__(self, db: Database, victim_person: int) -> None:
        self.db = db
        self.victim = _card(victim_person)
        self.swipe_ids: list[int] = []

    def report_lost(self) -> None:
        with self.db.transaction() as s:
            service.report_lost(s, card_no=self.victim, since=LOST_AT, actor="bench",
                                reason="simulated case")

    def misuse(self, vectors: F32, *, first_till: int, hours: float = 0) -> None:
        with self.db.transaction() as s:
            holder_id = s.scalar(select(CardHolder.id).where(CardHolder.card_no == self.victim))
            for i, vector in enumerate(vectors):
                at = LOST_AT + timedelta(hours=hours + i + 1)
                row = _swipe_row(-1, self.victim, holder_id, (first_till + i) % FACILITIES + 1,
                                 at, 2000 + 100 * i, Verdict.CARD_LOST)
                row["idempotency_key"] = f"case-{self.victim}-{hours}-{i}"
                swipe = Swipe(**row)
                s.add(swipe)
                s.flush()
                s.add(Capture(**_capture_row(swipe.id, vector)))
                self.swipe_ids.append(swipe.id)

    def remove(self) -> None:
        """Deletes the case's rows and puts the card back as it was."""
        with self.db.transaction() as s:
            alarms = select(Alarm.id).where(Alarm.swipe_id.in_(self.swipe_ids))
            s.execute(delete(AlarmEvent).where(AlarmEvent.alarm_id.in_(alarms)))
            s.execute(delete(Alarm).where(Alarm.swipe_id.in_(self.swipe_ids)))
            s.execute(delete(Capture).where(Capture.swipe_id.in_(self.swipe_ids)))
            s.execute(delete(Swipe).where(Swipe.id.in_(self.swipe_ids)))
            holder = s.scalar(select(CardHolder).where(CardHolder.card_no == self.victim))
            if holder is not None:
                holder.status, holder.lost_since = CardStatus.ACTIVE, None


def _photos_by_person(faces: FaceSet, least: int) -> dict[int, list[int]]:
    rows: dict[int, list[int]] = defaultdict(list)
    for row in np.lexsort((faces.numbers, faces.labels)):
        rows[int(faces.labels[row])].append(int(row))
    return {label: r for label, r in rows.items() if len(r) >= least}


def timing_case(db: Database, settings: Settings, faces: FaceSet) -> dict[str, Any]:
    """A dozen swipes by one real person and two by another; cold and warm timings."""
    people = _photos_by_person(faces, 13)
    thief, other = sorted(people, key=lambda p: -len(people[p]))[:2]
    case = _Case(db, victim_person=1)
    try:
        case.report_lost()
        case.misuse(faces.descriptors[people[thief][1:13]], first_till=7)
        case.misuse(faces.descriptors[people[other][1:3]], first_till=150, hours=20)
        search = FaceSearch(settings, db)  # the first call loads the indexes from disk
        timings, found = [], None
        for _ in ("cold", "warm"):
            started = time.perf_counter()
            with db.transaction() as s:
                found = flows.investigate(s, search=search, settings=settings,
                                          card_no=case.victim)
            timings.append(time.perf_counter() - started)
    finally:
        case.remove()
    assert found is not None
    first = found.suspects[0] if found.suspects else None
    named = first and first.identified_as and first.identified_as.card_no == _lfw_card(thief)
    return {
        "misused_swipes": len(case.swipe_ids),
        "cold_s": round(timings[0], 3), "warm_s": round(timings[1], 3),
        "people_found": len(found.suspects),
        "first_suspect_swipes": len(first.swipes) if first else 0,
        "first_suspect_is_the_person": bool(named),
    }


def top1_cases(db: Database, settings: Settings, faces: FaceSet, count: int) -> dict[str, Any]:
    """How often the first suspect is named as the real person who used the card.

    ``top1_rate`` counts the first suspect identified (within the threshold) as that
    person; ``top1_best_candidate_rate`` counts that person at the head of the first
    suspect's candidates, however near.
    """
    people = _photos_by_person(faces, 3)
    rng = np.random.default_rng(21)
    chosen = rng.choice(sorted(people), min(count, len(people)), replace=False)
    search = FaceSearch(settings, db)
    named, best, times, swipes = 0, 0, [], []
    for n, label in enumerate(chosen):
        rows = people[int(label)][1:7]
        case = _Case(db, victim_person=1000 + n)
        try:
            case.report_lost()
            case.misuse(faces.descriptors[rows], first_till=int(rng.integers(FACILITIES)))
            started = time.perf_counter()
            with db.transaction() as s:
                found = flows.investigate(s, search=search, settings=settings,
                                          card_no=case.victim)
            times.append(time.perf_counter() - started)
        finally:
            case.remove()
        first = found.suspects[0] if found.suspects else None
        want = _lfw_card(int(label))
        named += bool(first and first.identified_as and first.identified_as.card_no == want)
        best += bool(first and first.candidates and first.candidates[0].card_no == want)
        swipes.append(len(rows))
    return {"cases": len(chosen),
            "top1_rate": round(named / max(1, len(chosen)), 4),
            "top1_best_candidate_rate": round(best / max(1, len(chosen)), 4),
            "swipes_per_case_mean": round(float(np.mean(swipes)), 2),
            "investigation_median_s": round(statistics.median(times), 3)}


# --- the grouping on real faces -------------------------------------------------------------


def grouping_figures(faces: FaceSet, settings: Settings) -> dict[str, Any]:
    """Every LFW development photo as a mismatched capture, grouped by the product's code."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/group.db")
        db.migrate()
        try:
            order = np.random.default_rng(31).permutation(len(faces.descriptors))
            with db.transaction() as s:
                s.execute(insert(Facility), [{"name": "P", "kind": FacilityKind.PHARMACY,
                                              "district": "C"}])
                s.execute(insert(Till), [{"facility_id": 1, "name": "T",
                                          "api_key_hash": "0" * 64}])
                s.execute(insert(Swipe), [
                    _swipe_row(int(i), "9000", None, 1, START, 1, Verdict.MISMATCH)
                    for i in order])
                s.execute(insert(Capture), [_capture_row(k + 1, faces.descriptors[i])
                                            for k, i in enumerate(order)])
            started = time.perf_counter()
            while True:
                with db.transaction() as s:
                    if not clustering.group_new_captures(
                            s, link=settings.search.group_threshold,
                            threshold=settings.verification.threshold):
                        break
            took = time.perf_counter() - started
            with db.transaction() as s:
                rows = s.execute(select(SuspectMember.capture_id, SuspectMember.suspect_id)
                                 .join(Suspect).where(Suspect.active.is_(True))).all()
                merges = s.scalar(select(func.count()).select_from(SuspectEvent)
                                  .where(SuspectEvent.action == "merge"))
        finally:
            db.dispose()
    person = {k + 1: int(faces.labels[i]) for k, i in enumerate(order)}
    precision, recall = _bcubed([(person[c], g) for c, g in rows])
    return {"captures": len(rows), "suspects": len({g for _, g in rows}),
            "people": len(set(person.values())), "bridging_merges": merges,
            "group_threshold": settings.search.group_threshold,
            "bcubed_precision": precision, "bcubed_recall": recall,
            "seconds": round(took, 1)}


def _bcubed(pairs: list[tuple[int, int]]) -> tuple[float, float]:
    """B-cubed precision and recall of (true person, group) assignments."""
    people, groups = np.array([p for p, _ in pairs]), np.array([g for _, g in pairs])
    by_both: dict[tuple[int, int], int] = defaultdict(int)
    by_group: dict[int, int] = defaultdict(int)
    by_person: dict[int, int] = defaultdict(int)
    for p, g in zip(people, groups, strict=True):
        by_both[(p, g)] += 1
        by_group[g] += 1
        by_person[p] += 1
    precision = np.mean([by_both[(p, g)] / by_group[g] for p, g in zip(people, groups,
                                                                         strict=True)])
    recall = np.mean([by_both[(p, g)] / by_person[p] for p, g in zip(people, groups,
                                                                      strict=True)])
    return round(float(precision), 4), round(float(recall), 4)
