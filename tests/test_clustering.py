"""Grouping non-holders' faces into suspects, and investigators' corrections."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from investigation_support import T0, City, lfw_people
from swipeguard.db import Database
from swipeguard.faces.service import distance
from swipeguard.investigations import clustering, service
from swipeguard.investigations.models import SuspectEvent, SuspectExclusion, SuspectMember

LINK, THRESHOLD = 0.50, 0.55


@pytest.fixture
def people(samples: Path) -> tuple[tuple[np.ndarray, ...], ...]:
    return lfw_people(samples)


@pytest.fixture
def city(db: Database, people: tuple[tuple[np.ndarray, ...], ...]) -> City:
    c = City(db)
    for name in ("North", "South", "East", "West", "Harbour"):
        c.facility(name)
    # Card holders 0-2 are people 0-2, enrolled with their first photo.
    for i in range(3):
        c.holder(f"62000000000{i:05d}", [people[i][0]])
    return c


def card(i: int) -> str:
    return f"62000000000{i:05d}"


def group(db: Database) -> list[clustering.Placement]:
    with db.transaction() as s:
        return clustering.group_new_captures(s, link=LINK, threshold=THRESHOLD)


def members(db: Database) -> dict[int, set[int]]:
    with db.transaction() as s:
        rows = s.execute(select(SuspectMember.suspect_id, SuspectMember.capture_id)).all()
    found: dict[int, set[int]] = {}
    for suspect_id, capture_id in rows:
        found.setdefault(suspect_id, set()).add(capture_id)
    return found


def test_one_person_on_three_cards_at_five_facilities_is_one_suspect(
    city: City, people: tuple[tuple[np.ndarray, ...], ...],
) -> None:
    thief, other = people[3], people[4]
    places = ["North", "South", "East", "West", "Harbour"]
    by_thief = {city.swipe(card(i % 3), places[i], T0 + timedelta(hours=i), face=thief[i])
                .capture_id for i in range(5)}
    by_other = {city.swipe(card(i), "North", T0 + timedelta(days=1, hours=i),
                           face=other[i]).capture_id for i in range(2)}

    placed = group(city.db)

    assert len(placed) == 7
    assert sorted(members(city.db).values(), key=len) == [by_other, by_thief]


def test_the_holders_own_face_is_not_a_suspect(
    city: City, people: tuple[tuple[np.ndarray, ...], ...],
) -> None:
    own = city.swipe(card(0), "North", T0, face=people[0][1])
    stranger = city.swipe(card(0), "South", T0 + timedelta(hours=1), face=people[5][0])

    group(city.db)

    assert list(members(city.db).values()) == [{stranger.capture_id}]
    assert own.capture_id not in set().union(*members(city.db).values())


def test_a_later_capture_joins_the_existing_suspect(
    city: City, people: tuple[tuple[np.ndarray, ...], ...],
) -> None:
    first = city.swipe(card(0), "North", T0, face=people[3][0])
    group(city.db)
    later = city.swipe(card(1), "West", T0 + timedelta(days=3), face=people[3][1])

    [placement] = group(city.db)

    [(suspect_id, captures)] = members(city.db).items()
    assert captures == {first.capture_id, later.capture_id}
    assert not placement.created and placement.distance is not None
    assert placement.distance <= LINK


def test_split_merge_and_not_this_person_persist_with_their_history(
    city: City, people: tuple[tuple[np.ndarray, ...], ...],
) -> None:
    made = [city.swipe(card(i % 3), "North", T0 + timedelta(hours=i), face=people[3][i])
            for i in range(4)]
    group(city.db)
    [suspect_id] = members(city.db)
    ids = [m.capture_id for m in made]

    with city.db.transaction() as s:
        new = clustering.split(s, suspect_id=suspect_id, capture_ids=ids[2:], actor="ivy",
                               reason="different jacket; check")
    after_split = members(city.db)
    with city.db.transaction() as s:
        clustering.merge(s, into_id=suspect_id, other_id=new.id, actor="ivy",
                         reason="same person after all")
    after_merge = members(city.db)
    with city.db.transaction() as s:
        clustering.remove_capture(s, suspect_id=suspect_id, capture_id=ids[0], actor="ivy",
                                  reason="a colleague at the same till")
    regrouped = group(city.db)

    assert after_split == {suspect_id: set(ids[:2]), new.id: set(ids[2:])}
    assert after_merge == {suspect_id: set(ids)}
    assert [p.capture_id for p in regrouped] == [ids[0]]
    assert regrouped[0].suspect_id != suspect_id and regrouped[0].created
    with city.db.transaction() as s:
        history = s.scalars(select(SuspectEvent).where(SuspectEvent.suspect_id == suspect_id)
                            .order_by(SuspectEvent.id)).all()
        assert [(e.action, e.actor) for e in history][-3:] == [
            ("split", "ivy"), ("merge", "ivy"), ("remove", "ivy")]
        assert history[-1].reason == "a colleague at the same till"
        assert s.scalar(select(SuspectExclusion.capture_id)) == ids[0]
        merged = service.get_suspect(s, suspect_id=new.id)
        assert merged is not None and not merged.active and merged.merged_into_id == suspect_id
        assert all(m.added_by == "ivy" for m in merged.members) or not merged.members


def test_corrections_that_do_not_fit_are_refused(
    city: City, people: tuple[tuple[np.ndarray, ...], ...],
) -> None:
    made = [city.swipe(card(0), "North", T0 + timedelta(hours=i), face=people[3][i])
            for i in range(2)]
    group(city.db)
    [suspect_id] = members(city.db)

    with pytest.raises(clustering.CorrectionError, match="at least one"), \
            city.db.transaction() as s:
        clustering.split(s, suspect_id=suspect_id, capture_ids=[m.capture_id for m in made],
                         actor="ivy", reason="x")
    with pytest.raises(clustering.CorrectionError, match="not in suspect"), \
            city.db.transaction() as s:
        clustering.remove_capture(s, suspect_id=suspect_id, capture_id=999, actor="ivy",
                                  reason="x")
    with pytest.raises(clustering.CorrectionError, match="into itself"), \
            city.db.transaction() as s:
        clustering.merge(s, into_id=suspect_id, other_id=suspect_id, actor="ivy", reason="x")

    assert members(city.db) == {suspect_id: {m.capture_id for m in made}}


def test_a_capture_near_two_suspects_of_one_person_merges_them(
    city: City, people: tuple[tuple[np.ndarray, ...], ...],
) -> None:
    # Two photos of one person too far apart to join directly, then one near both.
    face = people[1]  # card holder 1: kept off card 1, where the face is the holder's
    apart = distance(face[1], face[2])
    first = city.swipe(card(0), "North", T0, face=face[1])
    second = city.swipe(card(2), "South", T0 + timedelta(hours=1), face=face[2])
    split_at_first = len(group(city.db))
    bridge = city.swipe(card(0), "East", T0 + timedelta(hours=2), face=face[3])

    before = len(members(city.db))
    group(city.db)

    assert apart > LINK and split_at_first == 2 and before == 2
    assert list(members(city.db).values()) == [
        {first.capture_id, second.capture_id, bridge.capture_id}]
    with city.db.transaction() as s:
        actions = [e.action for e in s.scalars(select(SuspectEvent)).all()]
    assert "merge" in actions and "merged_into" in actions
