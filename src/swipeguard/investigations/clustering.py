"""Grouping the faces of people who used cards not theirs into suspects.

Which captures: those of swipes whose verdict is ``mismatch``, or ``card_lost`` with a
face that was not the card holder's (distance above the swipe's threshold). A capture
whose face matched the holder is the holder, not a suspect.

How the grouping decides (online, in capture id order, so suspect ids stay stable as
captures arrive): a new capture may join a suspect whose nearest member is within
``search.group_threshold`` (0.48, stricter than the 0.59 verification threshold, so two
strangers are rarely joined) and the median of its distances to all that suspect's
members is within the verification threshold (so one look-alike member cannot chain two
people together). It joins the nearest such suspect, or else starts a suspect of its
own. When it qualifies for several, the grouping's own suspects among them are merged
if they are alike as a whole: the new capture showed they are one person. Suspects an
investigator corrected are never merged by the grouping, and a suspect an investigator
said a capture is "not" is never considered for it again.

Measured on the 6,836 LFW development photos with a face (3,509 people) as if each were
a stranger's capture (``swipeguard bench investigation``): B-cubed precision 0.93 (a
capture's suspect is mostly its person) and recall 0.95 (a person's captures mostly
share one suspect).
LFW spans years of one person's life; captures at counters are closer in time and pose.

Investigator corrections (each a history row with actor, time and reason): split
moves chosen captures to a new suspect; merge moves all of one suspect's captures into
another and leaves the emptied one inactive; "not this person" removes a capture and
excludes it from that suspect for good. The grouping never splits suspects and never
merges one an investigator has touched, so a correction is never undone automatically.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from swipeguard.db import utcnow
from swipeguard.investigations.faces import DIM, decode_many
from swipeguard.investigations.models import (
    Suspect,
    SuspectEvent,
    SuspectExclusion,
    SuspectMember,
)
from swipeguard.swipes.models import Capture, Swipe, Verdict

log = logging.getLogger(__name__)

SYSTEM = "grouping"


@dataclass(frozen=True)
class Placement:
    """Where the grouping put a capture."""

    capture_id: int
    suspect_id: int
    distance: float | None  # to the nearest member of the suspect; None if it started it
    created: bool


def non_holder_condition(default_threshold: float) -> ColumnElement[bool]:
    """SQL condition on Swipe: the face at the counter was not the card holder's."""
    limit = func.coalesce(Swipe.threshold, default_threshold)
    return or_(
        Swipe.verdict == Verdict.MISMATCH,
        and_(Swipe.verdict == Verdict.CARD_LOST,
             or_(Swipe.distance.is_(None), Swipe.distance > limit)),
    )


def ungrouped(session: Session, *, threshold: float, limit: int = 1000) -> list[tuple[int, bytes]]:
    """Captures of non-holder swipes that belong to no suspect yet, oldest first."""
    member = exists().where(SuspectMember.capture_id == Capture.id)
    query = (
        select(Capture.id, Capture.descriptor)
        .join(Swipe, Swipe.id == Capture.swipe_id)
        .where(non_holder_condition(threshold), ~member)
        .order_by(Capture.id)
        .limit(limit)
    )
    return [(int(i), bytes(d)) for i, d in session.execute(query).all()]


class Members:
    """Descriptors of every member of an active suspect, in memory for one pass."""

    def __init__(self, capture_ids: Sequence[int] = (), suspect_ids: Sequence[int] = (),
                 vectors: np.ndarray | None = None) -> None:
        self.capture_ids = list(capture_ids)
        self.suspect_ids = list(suspect_ids)
        start = np.zeros((0, DIM), np.float32) if vectors is None else vectors
        # Grown by doubling: appending one row at a time must not copy the whole matrix.
        self._rows = np.zeros((max(64, 2 * len(start)), DIM), np.float32)
        self._rows[:len(start)] = start

    @property
    def vectors(self) -> np.ndarray:
        return self._rows[:len(self.capture_ids)]

    def append(self, capture_id: int, suspect_id: int, vector: np.ndarray) -> None:
        n = len(self.capture_ids)
        if n == len(self._rows):
            grown = np.zeros((2 * n, DIM), np.float32)
            grown[:n] = self._rows
            self._rows = grown
        self._rows[n] = vector.reshape(DIM)
        self.capture_ids.append(capture_id)
        self.suspect_ids.append(suspect_id)


def _load_members(session: Session) -> Members:
    rows = session.execute(
        select(SuspectMember.capture_id, SuspectMember.suspect_id, Capture.descriptor)
        .join(Capture, Capture.id == SuspectMember.capture_id)
        .join(Suspect, Suspect.id == SuspectMember.suspect_id)
        .where(Suspect.active.is_(True))
        .order_by(SuspectMember.capture_id)
    ).all()
    return Members([r[0] for r in rows], [r[1] for r in rows],
                    decode_many([bytes(r[2]) for r in rows]))


def qualifying(
    vector: np.ndarray, members: Members, *, link: float, threshold: float,
    excluded: set[int],
) -> list[tuple[int, float]]:
    """Suspects a descriptor may join, nearest first, each with its nearest member's distance."""
    if not members.capture_ids:
        return []
    distances = np.linalg.norm(members.vectors - vector.reshape(1, DIM), axis=1)
    suspects = np.asarray(members.suspect_ids)
    found: list[tuple[int, float]] = []
    seen: set[int] = set()
    for i in np.argsort(distances):
        if distances[i] > link:
            break
        suspect_id = int(suspects[i])
        if suspect_id in seen or suspect_id in excluded:
            continue
        seen.add(suspect_id)
        if float(np.median(distances[suspects == suspect_id])) <= threshold:
            found.append((suspect_id, float(distances[i])))
    return found


def group_new_captures(
    session: Session, *, link: float, threshold: float, limit: int = 1000,
) -> list[Placement]:
    """Places each ungrouped non-holder capture into a suspect (new or existing).

    A capture that qualifies for several suspects joins the nearest, and the others are
    merged into it if the grouping made them, no investigator has changed them, and
    their members are alike as a whole (the median distance between them within the
    verification threshold): the capture showed they are one person.
    """
    pending = ungrouped(session, threshold=threshold, limit=limit)
    if not pending:
        return []
    members = _load_members(session)
    exclusions = _exclusions(session, [c for c, _ in pending])
    placements = []
    for capture_id, blob in pending:
        vector = decode_many([blob])[0]
        options = qualifying(vector, members, link=link, threshold=threshold,
                             excluded=exclusions.get(capture_id, set()))
        placement = _place(session, capture_id, options[0] if options else None)
        members.append(capture_id, placement.suspect_id, vector)
        for other_id, _ in options[1:]:
            _bridge(session, members, into=placement.suspect_id, other=other_id,
                    capture_id=capture_id, threshold=threshold)
        placements.append(placement)
    log.info("grouping: %s captures placed, %s new suspects", len(placements),
             sum(p.created for p in placements))
    return placements


def _bridge(session: Session, members: Members, *, into: int, other: int, capture_id: int,
            threshold: float) -> None:
    """Merges ``other`` into ``into`` if the grouping may (see ``group_new_captures``)."""
    suspects = np.asarray(members.suspect_ids)
    a, b = members.vectors[suspects == into], members.vectors[suspects == other]
    if not len(a) or not len(b):
        return
    cross = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    if float(np.median(cross)) > threshold or _corrected(session, [into, other]):
        return
    merge(session, into_id=into, other_id=other, actor=SYSTEM,
          reason=f"capture {capture_id} is near both")
    members.suspect_ids = [into if s == other else s for s in members.suspect_ids]


def _corrected(session: Session, suspect_ids: Sequence[int]) -> bool:
    """An investigator changed one of these suspects, or excluded a capture from one."""
    touched = exists().where(SuspectEvent.suspect_id.in_(suspect_ids),
                             SuspectEvent.actor != SYSTEM)
    excluded = exists().where(SuspectExclusion.suspect_id.in_(suspect_ids))
    return bool(session.scalar(select(touched | excluded)))


def agglomerate(
    vectors: np.ndarray, groups: list[list[int]], fixed: list[bool], *, link: float,
    threshold: float,
) -> list[list[int]]:
    """Merges groups of rows of ``vectors``, closest pair first, by the grouping's rule.

    Two groups merge when their nearest rows are within ``link`` and the median of all
    distances between them is within ``threshold``; two ``fixed`` groups (stored
    suspects) never merge. Order-free, for the few captures of one investigation.
    """
    distances = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2)
    groups, fixed = [list(g) for g in groups], list(fixed)
    while True:
        best: tuple[float, int, int] | None = None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if fixed[a] and fixed[b]:
                    continue
                cross = distances[np.ix_(groups[a], groups[b])]
                near = float(cross.min())
                if near <= link and float(np.median(cross)) <= threshold \
                        and (best is None or near < best[0]):
                    best = (near, a, b)
        if best is None:
            return groups
        _, a, b = best
        groups[a] += groups.pop(b)
        was_fixed = fixed.pop(b)
        fixed[a] = fixed[a] or was_fixed


def _exclusions(session: Session, capture_ids: Sequence[int]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    rows = session.execute(select(SuspectExclusion.capture_id, SuspectExclusion.suspect_id)
                           .where(SuspectExclusion.capture_id.in_(capture_ids))).all()
    for capture_id, suspect_id in rows:
        found.setdefault(capture_id, set()).add(suspect_id)
    return found


def _place(session: Session, capture_id: int, chosen: tuple[int, float] | None) -> Placement:
    if chosen is None:
        suspect = _new_suspect(session, actor=SYSTEM)
        session.add(SuspectMember(suspect_id=suspect.id, capture_id=capture_id,
                                  added_by=SYSTEM))
        _event(session, suspect.id, SYSTEM, "create", [capture_id],
               reason="no existing suspect close enough")
        return Placement(capture_id, suspect.id, None, True)
    suspect_id, distance = chosen
    session.add(SuspectMember(suspect_id=suspect_id, capture_id=capture_id, added_by=SYSTEM,
                              distance=distance))
    _event(session, suspect_id, SYSTEM, "add", [capture_id],
           reason=f"nearest member at distance {distance:.3f}")
    _touch(session, suspect_id)
    return Placement(capture_id, suspect_id, distance, False)


# --- investigator corrections ------------------------------------------------------------


class CorrectionError(ValueError):
    """A correction that does not fit the suspects as they are now."""


def split(
    session: Session, *, suspect_id: int, capture_ids: Sequence[int], actor: str, reason: str,
) -> Suspect:
    """Moves ``capture_ids`` out of a suspect into a new one; returns the new suspect."""
    source = _active(session, suspect_id)
    chosen = set(capture_ids)
    current = {m.capture_id for m in source.members}
    if not chosen:
        raise CorrectionError("choose the captures to split off")
    if not chosen <= current:
        raise CorrectionError(f"captures {sorted(chosen - current)} are not in suspect "
                              f"{suspect_id}")
    if chosen == current:
        raise CorrectionError("a split must leave at least one capture behind")
    target = _new_suspect(session, actor=actor)
    _move(session, source, target, chosen, actor)
    _event(session, source.id, actor, "split", sorted(chosen), target.id, reason)
    _event(session, target.id, actor, "create", sorted(chosen), source.id,
           f"split from suspect {source.id}: {reason}")
    return target


def merge(session: Session, *, into_id: int, other_id: int, actor: str, reason: str) -> Suspect:
    """Moves every capture of ``other_id`` into ``into_id``; the other becomes inactive."""
    if into_id == other_id:
        raise CorrectionError("a suspect cannot be merged into itself")
    into, other = _active(session, into_id), _active(session, other_id)
    moved = {m.capture_id for m in other.members}
    _move(session, other, into, moved, actor)
    other.active = False
    other.merged_into_id = into.id
    other.updated_at = utcnow()
    _event(session, into.id, actor, "merge", sorted(moved), other.id, reason)
    _event(session, other.id, actor, "merged_into", sorted(moved), into.id, reason)
    return into


def remove_capture(
    session: Session, *, suspect_id: int, capture_id: int, actor: str, reason: str,
) -> None:
    """"Not this person": the capture leaves the suspect and is never put back."""
    suspect = _active(session, suspect_id)
    member = next((m for m in suspect.members if m.capture_id == capture_id), None)
    if member is None:
        raise CorrectionError(f"capture {capture_id} is not in suspect {suspect_id}")
    session.delete(member)
    session.add(SuspectExclusion(suspect_id=suspect_id, capture_id=capture_id, actor=actor))
    _event(session, suspect_id, actor, "remove", [capture_id], reason=reason)
    _touch(session, suspect_id)
    session.flush()
    if not session.scalar(select(exists().where(SuspectMember.suspect_id == suspect_id))):
        suspect.active = False


def _active(session: Session, suspect_id: int) -> Suspect:
    suspect = session.get(Suspect, suspect_id)
    if suspect is None:
        raise LookupError(f"no suspect {suspect_id}")
    if not suspect.active:
        raise CorrectionError(f"suspect {suspect_id} is no longer active"
                              + (f" (merged into {suspect.merged_into_id})"
                                 if suspect.merged_into_id else ""))
    return suspect


def _move(session: Session, source: Suspect, target: Suspect, capture_ids: set[int],
          actor: str) -> None:
    now = utcnow()
    for member in list(source.members):
        if member.capture_id in capture_ids:
            member.suspect_id = target.id
            member.added_by = actor
            member.added_at = now
            member.distance = None
    source.updated_at = target.updated_at = now
    session.flush()
    session.expire(source, ["members"])
    session.expire(target, ["members"])


def _new_suspect(session: Session, *, actor: str) -> Suspect:
    suspect = Suspect(created_by=actor)
    session.add(suspect)
    session.flush()
    return suspect


def _touch(session: Session, suspect_id: int) -> None:
    suspect = session.get(Suspect, suspect_id)
    if suspect is not None:
        suspect.updated_at = utcnow()


def _event(
    session: Session, suspect_id: int, actor: str, action: str, capture_ids: Sequence[int],
    other: int | None = None, reason: str = "",
) -> None:
    session.add(SuspectEvent(suspect_id=suspect_id, actor=actor, action=action,
                             capture_ids=",".join(map(str, capture_ids)),
                             other_suspect_id=other, reason=reason))
