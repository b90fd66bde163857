"""The investigation of a card: who used it since it was lost, ranked with the evidence.

Steps: the card's swipes since the given time; each capture compared with the holder's
template (the holder's own face is not a suspect); the strangers' captures grouped into
people (the stored suspects first, then the same rule as ``clustering``); each person
searched against the enrolled card holders and against every capture in the city; the
people ranked by how many of the card's swipes they account for, then by how surely
they are identified.

A person is "identified" as an enrolled card holder when the mean distance over all of
the person's captures to that holder's photos is within the verification threshold and
at least half the captures match on their own: one capture can resemble a stranger, a
dozen rarely do.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from swipeguard.cardholders.models import CardHolder, EnrolledPhoto
from swipeguard.config import Settings
from swipeguard.db import utcnow
from swipeguard.facilities.models import Facility, Till
from swipeguard.investigations import clustering
from swipeguard.investigations.faces import DIM, decode_many
from swipeguard.investigations.models import SuspectMember
from swipeguard.investigations.search import FaceSearch, Hit
from swipeguard.investigations.service import (
    CaptureMatch,
    band,
    bands_explained,
    clip_url,
    resolve_captures,
)
from swipeguard.privacy import mask_card
from swipeguard.swipes.models import Capture, Swipe

log = logging.getLogger(__name__)

# Other captures looked at per capture of a person: a regular at a pharmacy has a few
# dozen visits a year, so 50 leaves room for every sighting of one person.
SIGHTINGS_PER_CAPTURE = 50


@dataclass(frozen=True)
class SwipeEvidence:
    swipe_id: int
    capture_id: int | None
    swiped_at: datetime
    facility_id: int
    facility: str
    till: str
    amount_cents: int
    verdict: str | None
    distance_to_holder: float | None
    clip_url: str


@dataclass(frozen=True)
class Candidate:
    """An enrolled card holder a person may be."""

    card_holder_id: int
    card_no: str
    name: str
    status: str
    mean_distance: float
    captures_matched: int  # the person's captures within the threshold of this holder
    captures: int
    band: str


@dataclass
class RankedSuspect:
    rank: int
    suspect_id: int | None  # the stored suspect these captures belong to, if grouped yet
    capture_ids: list[int]
    swipes: list[SwipeEvidence]
    identified_as: Candidate | None
    candidates: list[Candidate]
    sightings: list[CaptureMatch]  # the same face at other swipes, on any card
    other_cards: list[str]
    facilities: list[str]
    amount_cents: int
    reasons: list[str] = field(default_factory=list)


@dataclass
class Investigation:
    card_no: str
    card_holder_id: int | None
    since: datetime
    until: datetime | None
    generated_at: datetime
    took_ms: float
    threshold: float
    suspicious_swipes: list[SwipeEvidence]
    holder_swipes: list[SwipeEvidence]  # the holder's own face: not suspects
    faceless_swipes: list[SwipeEvidence]  # no face captured: look at the clip
    suspects: list[RankedSuspect]
    bands: list[dict[str, Any]]


@dataclass(eq=False)
class _Face:
    """A stranger's capture at one of the card's swipes."""

    evidence: SwipeEvidence
    capture_id: int
    vector: np.ndarray


@dataclass(eq=False)
class _Seen:
    """One swipe of the card with its capture's descriptor."""

    evidence: SwipeEvidence
    vector: np.ndarray | None


def investigate(
    session: Session, *, search: FaceSearch, settings: Settings, card_no: str,
    since: datetime | None = None, until: datetime | None = None,
) -> Investigation:
    """Ranked suspects, with evidence, for a card's swipes since ``since``."""
    started = time.perf_counter()
    threshold = settings.verification.threshold
    holder = session.scalar(select(CardHolder).where(CardHolder.card_no == card_no))
    if holder is None and not _any_swipe(session, card_no):
        raise LookupError(f"no card {mask_card(card_no)}")
    since = since or (holder.lost_since if holder else None)
    if since is None:
        raise ValueError("give the time from which to investigate (the card is not "
                         "reported lost)")

    seen = _swipes_since(session, card_no=card_no, since=since, until=until,
                         holder_id=holder.id if holder else None)
    holders_face = [s for s in seen if s.evidence.distance_to_holder is not None
                    and s.evidence.distance_to_holder <= threshold]
    faceless = [s for s in seen if s.vector is None]
    holder_swipes = {s.evidence.swipe_id for s in holders_face}
    strangers = [_Face(s.evidence, s.evidence.capture_id, s.vector) for s in seen
                 if s.vector is not None and s.evidence.capture_id is not None
                 and s.evidence.swipe_id not in holder_swipes]

    search.sync()
    groups = _group(session, strangers, settings)
    holder_id = holder.id if holder else None
    ranked = [_person(session, search, settings, group, card_no=card_no, holder_id=holder_id)
              for group in groups]
    ranked = _join_identified(session, search, settings, groups, ranked, card_no=card_no,
                              holder_id=holder_id)
    ranked.sort(key=_rank_key)
    for i, person in enumerate(ranked, start=1):
        person.rank = i

    took = (time.perf_counter() - started) * 1000
    log.info("investigation of card %s: %s swipes, %s people, %.0f ms", mask_card(card_no),
             len(seen), len(ranked), took)
    return Investigation(
        card_no=card_no, card_holder_id=holder.id if holder else None, since=since,
        until=until, generated_at=utcnow(), took_ms=round(took, 1), threshold=threshold,
        suspicious_swipes=[s.evidence for s in strangers],
        holder_swipes=[s.evidence for s in holders_face],
        faceless_swipes=[s.evidence for s in faceless], suspects=ranked,
        bands=bands_explained(threshold),
    )


def _any_swipe(session: Session, card_no: str) -> bool:
    return session.scalar(select(Swipe.id).where(Swipe.card_no == card_no).limit(1)) is not None


def _swipes_since(
    session: Session, *, card_no: str, since: datetime, until: datetime | None,
    holder_id: int | None,
) -> list[_Seen]:
    query = (select(Swipe, Till.name, Facility.id, Facility.name)
             .join(Till, Till.id == Swipe.till_id).join(Facility, Facility.id == Till.facility_id)
             .where(Swipe.card_no == card_no, Swipe.swiped_at >= since)
             .order_by(Swipe.swiped_at, Swipe.id))
    if until is not None:
        query = query.where(Swipe.swiped_at <= until)
    rows = session.execute(query).all()
    captures = _first_captures(session, [r[0].id for r in rows])
    template = _templates(session, [holder_id] if holder_id else []).get(holder_id or -1)
    seen = []
    for swipe, till_name, facility_id, facility_name in rows:
        capture_id, vector = captures.get(swipe.id, (None, None))
        to_holder = None
        if vector is not None and template is not None:
            to_holder = round(float(np.linalg.norm(template - vector, axis=1).min()), 4)
        seen.append(_Seen(SwipeEvidence(
            swipe_id=swipe.id, capture_id=capture_id, swiped_at=swipe.swiped_at,
            facility_id=facility_id, facility=facility_name, till=till_name,
            amount_cents=swipe.amount_cents,
            verdict=swipe.verdict.value if swipe.verdict else None,
            distance_to_holder=to_holder, clip_url=clip_url(swipe.id)), vector))
    return seen


def _first_captures(session: Session, swipe_ids: Sequence[int]) -> dict[int, tuple[int, Any]]:
    """Each swipe's first capture id and descriptor."""
    if not swipe_ids:
        return {}
    rows = session.execute(select(Capture.swipe_id, Capture.id, Capture.descriptor)
                           .where(Capture.swipe_id.in_(swipe_ids)).order_by(Capture.id)).all()
    found: dict[int, tuple[int, Any]] = {}
    for swipe_id, capture_id, blob in rows:
        if swipe_id not in found and blob is not None and len(blob) == DIM * 4:
            found[swipe_id] = (capture_id, decode_many([bytes(blob)])[0])
    return found


def _templates(session: Session, holder_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Each holder's enrolled descriptors as an (n, 128) matrix."""
    if not holder_ids:
        return {}
    rows = session.execute(select(EnrolledPhoto.card_holder_id, EnrolledPhoto.descriptor)
                           .where(EnrolledPhoto.card_holder_id.in_(holder_ids))).all()
    blobs: dict[int, list[bytes]] = defaultdict(list)
    for holder_id, blob in rows:
        if blob is not None and len(blob) == DIM * 4:
            blobs[holder_id].append(bytes(blob))
    return {h: decode_many(b) for h, b in blobs.items()}


# --- grouping the strangers ---------------------------------------------------------------


@dataclass
class _Group:
    suspect_id: int | None
    members: list[_Face]


def _group(session: Session, strangers: list[_Face], settings: Settings) -> list[_Group]:
    """Stored suspects keep their captures together; the rest join by the grouping rule."""
    ids = [s.capture_id for s in strangers]
    stored = dict(session.execute(select(SuspectMember.capture_id, SuspectMember.suspect_id)
                                  .where(SuspectMember.capture_id.in_(ids))).all())
    by_suspect: dict[int, list[int]] = defaultdict(list)
    loose = []
    for i, seen in enumerate(strangers):
        suspect_id = stored.get(seen.capture_id)
        if suspect_id is None:
            loose.append([i])
        else:
            by_suspect[suspect_id].append(i)
    initial = list(by_suspect.values()) + loose
    fixed = [True] * len(by_suspect) + [False] * len(loose)
    if not strangers:
        return []
    vectors = np.stack([s.vector for s in strangers])
    merged = clustering.agglomerate(vectors, initial, fixed,
                                    link=settings.search.group_threshold,
                                    threshold=settings.verification.threshold)
    return [_Group(_stored_id(group, strangers, stored), [strangers[i] for i in sorted(group)])
            for group in merged]


def _stored_id(group: list[int], strangers: list[_Face], stored: dict[int, int]) -> int | None:
    found = {stored[strangers[i].capture_id] for i in group if strangers[i].capture_id in stored}
    return found.pop() if len(found) == 1 else None


# --- one person ---------------------------------------------------------------------------


def _person(
    session: Session, search: FaceSearch, settings: Settings, group: _Group, *, card_no: str,
    holder_id: int | None,
) -> RankedSuspect:
    threshold = settings.verification.threshold
    queries = np.stack([s.vector for s in group.members]).astype(np.float32)
    own = {s.capture_id for s in group.members}

    candidates = _candidates(session, search, queries, settings, exclude=holder_id)
    identified = candidates[0] if candidates and _identifies(candidates[0], threshold) else None
    sightings = _sightings(session, search, queries, own, threshold)
    other_cards = sorted({m.card_no for m in sightings
                          if m.card_no != card_no and m.distance <= threshold})
    swipes = [s.evidence for s in group.members]
    person = RankedSuspect(
        rank=0, suspect_id=group.suspect_id, capture_ids=sorted(own),
        swipes=swipes, identified_as=identified, candidates=candidates[:5],
        sightings=sightings, other_cards=other_cards,
        facilities=sorted({s.facility for s in swipes}),
        amount_cents=sum(s.amount_cents for s in swipes),
    )
    person.reasons = _reasons(person, threshold)
    return person


def _join_identified(
    session: Session, search: FaceSearch, settings: Settings, groups: list[_Group],
    ranked: list[RankedSuspect], *, card_no: str, holder_id: int | None,
) -> list[RankedSuspect]:
    """People identified as the same card holder are one person seen in different light."""
    by_holder: dict[int, list[int]] = defaultdict(list)
    for i, person in enumerate(ranked):
        if person.identified_as is not None:
            by_holder[person.identified_as.card_holder_id].append(i)
    joined = [i for found in by_holder.values() if len(found) > 1 for i in found]
    if not joined:
        return ranked
    kept = [p for i, p in enumerate(ranked) if i not in joined]
    for found in by_holder.values():
        if len(found) < 2:
            continue
        ids = {groups[i].suspect_id for i in found}
        group = _Group(ids.pop() if len(ids) == 1 else None,
                       sorted((m for i in found for m in groups[i].members),
                              key=lambda m: (m.evidence.swiped_at, m.capture_id)))
        kept.append(_person(session, search, settings, group, card_no=card_no,
                            holder_id=holder_id))
    return kept


def _candidates(
    session: Session, search: FaceSearch, queries: np.ndarray, settings: Settings, *,
    exclude: int | None,
) -> list[Candidate]:
    """Enrolled holders near any of the person's captures, by mean distance over all."""
    threshold = settings.verification.threshold
    hits: list[Hit] = [h for row in search.enrolled.search(queries, settings.search.top_k)
                       for h in row]
    if not hits:
        return []
    photo_owner = dict(session.execute(
        select(EnrolledPhoto.id, EnrolledPhoto.card_holder_id)
        .where(EnrolledPhoto.id.in_({h.id for h in hits}))).all())
    holder_ids = sorted({photo_owner[h.id] for h in hits if h.id in photo_owner} - {exclude})
    templates = _templates(session, holder_ids)
    holders = {h.id: h for h in session.scalars(select(CardHolder)
                                                .where(CardHolder.id.in_(holder_ids)))}
    found = []
    for holder_id, template in templates.items():
        # Each capture's distance to the holder is that to the nearest enrolled photo.
        nearest = np.linalg.norm(queries[:, None, :] - template[None, :, :], axis=2).min(axis=1)
        mean = float(nearest.mean())
        holder = holders[holder_id]
        found.append(Candidate(
            card_holder_id=holder_id, card_no=holder.card_no, name=holder.name,
            status=holder.status.value, mean_distance=round(mean, 4),
            captures_matched=int((nearest <= threshold).sum()), captures=len(nearest),
            band=band(mean, threshold)))
    return sorted(found, key=lambda c: c.mean_distance)


def _identifies(candidate: Candidate, threshold: float) -> bool:
    return (candidate.mean_distance <= threshold
            and candidate.captures_matched * 2 >= candidate.captures)


def _sightings(
    session: Session, search: FaceSearch, queries: np.ndarray, own: set[int], threshold: float,
) -> list[CaptureMatch]:
    """Other captures within the threshold of any of the person's captures, nearest first."""
    best: dict[int, Hit] = {}
    for row in search.captures.search(queries, SIGHTINGS_PER_CAPTURE):
        for hit in row:
            if hit.id in own or hit.distance > threshold:
                continue
            if hit.id not in best or hit.distance < best[hit.id].distance:
                best[hit.id] = hit
    hits = sorted(best.values(), key=lambda h: h.distance)
    return resolve_captures(session, hits, threshold=threshold)


def _rank_key(person: RankedSuspect) -> tuple[int, int, float]:
    """More of the card's swipes first; then identified people; then the surer match."""
    identified = person.identified_as
    return (-len(person.swipes), 0 if identified else 1,
            identified.mean_distance if identified else 9.0)


def _reasons(person: RankedSuspect, threshold: float) -> list[str]:
    reasons = [f"the face at {len(person.swipes)} of the card's swipes since the loss, at "
               f"{', '.join(person.facilities)}"]
    who = person.identified_as
    if who is not None:
        reasons.append(f"enrolled card holder {who.name} ({mask_card(who.card_no)}): mean "
                       f"distance {who.mean_distance:.3f} over {who.captures} captures, "
                       f"{who.captures_matched} within {threshold:g} ({who.band})")
    else:
        reasons.append("no enrolled card holder matches these captures")
    if person.other_cards:
        reasons.append(f"the same face used {len(person.other_cards)} other card(s): "
                       + ", ".join(mask_card(c) for c in person.other_cards))
    if person.suspect_id is not None:
        reasons.append(f"grouped as suspect {person.suspect_id}")
    return reasons
