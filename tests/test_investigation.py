"""Lost cards, a card's timeline and the investigation, on real faces."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from investigation_support import T0, City, lfw_people
from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.cardholders.models import CardHolder, CardStatus
from swipeguard.cli import main
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.investigations import flows, service
from swipeguard.investigations.search import FaceSearch
from swipeguard.swipes.models import Swipe

People = tuple[tuple[np.ndarray, ...], ...]
VICTIM, THIEF, NEIGHBOUR, OTHER = ("6200000000000100", "6200000000000200",
                                   "6200000000000300", "6200000000000400")


@pytest.fixture
def people(samples: Path) -> People:
    return lfw_people(samples)


@pytest.fixture
def city(db: Database, people: People) -> City:
    c = City(db)
    for name, lat in (("North", 31.25), ("South", 31.21), ("East", 31.23), ("West", 31.24)):
        c.facility(name, lat, 121.47)
    c.holder(VICTIM, [people[0][0]])
    c.holder(THIEF, [people[1][0]])  # the thief is a card holder too
    c.holder(NEIGHBOUR, [people[2][0]])
    c.holder(OTHER, [people[3][0]])
    return c


def test_reporting_a_card_lost_flags_the_swipes_since_and_alarms_each_once(
    city: City, people: People,
) -> None:
    before = city.swipe(VICTIM, "North", T0 - timedelta(days=1), face=people[0][1])
    after = [city.swipe(VICTIM, "South", T0 + timedelta(hours=h), face=people[1][h])
             for h in (1, 2)]

    with city.db.transaction() as s:
        first = service.report_lost(s, card_no=VICTIM, since=T0, actor="olga",
                                    reason="holder phoned: wallet stolen")
    with city.db.transaction() as s:
        again = service.report_lost(s, card_no=VICTIM, since=T0 + timedelta(hours=3),
                                    actor="olga", reason="second call")

    assert first.flagged_swipe_ids == [m.swipe_id for m in after]
    assert len(first.alarm_ids) == 2 and again.alarm_ids == []
    assert again.lost_since == T0  # a later time does not narrow the window
    with city.db.transaction() as s:
        holder = s.get(CardHolder, city.holders[VICTIM])
        assert holder.status is CardStatus.LOST and holder.lost_since == T0
        assert not s.get(Swipe, before.swipe_id).flagged_for_review
        assert all(s.get(Swipe, m.swipe_id).flagged_for_review for m in after)
        found = s.scalars(select(Alarm).where(Alarm.kind == AlarmKind.LOST_CARD)).all()
        assert sorted(a.swipe_id for a in found) == [m.swipe_id for m in after]
        assert all(a.priority == 3 and "reported lost" in a.reason for a in found)


def test_a_lost_report_needs_a_known_card_a_past_time_and_a_reason(city: City) -> None:
    with city.db.transaction() as s:
        with pytest.raises(LookupError, match=r"\*\*\*\*9999"):
            service.report_lost(s, card_no="6200000000009999", since=T0, actor="o",
                                reason="x")
        with pytest.raises(ValueError, match="future"):
            service.report_lost(s, card_no=VICTIM, since=T0 + timedelta(days=3650),
                                actor="o", reason="x")
        with pytest.raises(ValueError, match="how the card was lost"):
            service.report_lost(s, card_no=VICTIM, since=T0, actor="o", reason=" ")
        with pytest.raises(ValueError, match="actor may not be blank"):
            service.report_lost(s, card_no=VICTIM, since=T0, actor=" ", reason="x")
        assert s.get(CardHolder, city.holders[VICTIM]).status is CardStatus.ACTIVE


@pytest.mark.parametrize("command", [
    ["investigate", VICTIM],
    ["report-lost", VICTIM, "--since", "2026-03-01T09:00+08:00", "--reason", "lost at desk"],
])
@pytest.mark.parametrize("actor", ["", "   ", "ada\nroot", "x" * 101])
def test_the_commands_refuse_a_blank_or_garbled_actor(
    command: list[str], actor: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as refused:
        main([*command, "--actor", actor, "--data-dir", str(tmp_path)])

    assert refused.value.code == 2
    assert "--actor: " in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_data_folder_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    typo = tmp_path / "nope-dir"

    code = main(["investigate", VICTIM, "--actor", "ada", "--data-dir", str(typo)])

    assert code == 2
    assert f"no swipeguard data in {typo}" in capsys.readouterr().err
    assert not typo.exists()


def test_the_timeline_shows_money_per_day_and_the_swipes_of_strangers(
    city: City, people: People,
) -> None:
    own = city.swipe(VICTIM, "North", T0, face=people[0][1], amount_cents=1000)
    stranger = city.swipe(VICTIM, "South", T0 + timedelta(hours=2), face=people[1][1],
                          amount_cents=2500)
    next_day = city.swipe(VICTIM, "East", T0 + timedelta(days=1), face=None,
                          amount_cents=700)

    with city.db.transaction() as s:
        timeline = service.get_timeline(s, card_no=VICTIM, threshold=0.55)

    assert [t.swipe_id for t in timeline.swipes] == [own.swipe_id, stranger.swipe_id,
                                                      next_day.swipe_id]
    assert timeline.not_holder_swipe_ids == [stranger.swipe_id]
    assert [(d.amount_cents, d.swipes) for d in timeline.per_day] == [(3500, 2), (700, 1)]
    assert timeline.swipes[1].facility == "South" and timeline.swipes[1].verdict == "mismatch"
    assert timeline.swipes[1].capture_id == stranger.capture_id
    assert timeline.swipes[1].clip_url == f"/api/swipes/{stranger.swipe_id}/clip"


def test_the_investigation_names_the_true_person_first(
    city: City, settings: Settings, db: Database, people: People,
) -> None:
    with city.db.transaction() as s:
        service.report_lost(s, card_no=VICTIM, since=T0, actor="olga", reason="stolen")
    holder_self = city.swipe(VICTIM, "North", T0 + timedelta(minutes=30), face=people[0][2])
    places = ["North", "South", "East", "West"]
    by_thief = [city.swipe(VICTIM, places[i], T0 + timedelta(hours=1 + i), face=people[1][i + 1],
                           amount_cents=3000 + i) for i in range(4)]
    by_stranger = city.swipe(VICTIM, "East", T0 + timedelta(hours=9), face=people[4][0])
    thief_elsewhere = city.swipe(NEIGHBOUR, "West", T0 - timedelta(days=2), face=people[1][4])

    with db.transaction() as s:
        found = flows.investigate(s, search=FaceSearch(settings, db), settings=settings,
                                  card_no=VICTIM)

    first, second = found.suspects
    assert first.identified_as is not None
    assert first.identified_as.card_holder_id == city.holders[THIEF]
    assert first.identified_as.captures_matched >= 3
    assert [s.swipe_id for s in first.swipes] == [m.swipe_id for m in by_thief]
    assert first.facilities == ["East", "North", "South", "West"]
    assert first.amount_cents == 3000 + 3001 + 3002 + 3003
    assert first.other_cards == [NEIGHBOUR]
    assert thief_elsewhere.capture_id in {m.capture_id for m in first.sightings}
    assert second.identified_as is None and [s.swipe_id for s in second.swipes] == [
        by_stranger.swipe_id]
    assert [s.swipe_id for s in found.holder_swipes] == [holder_self.swipe_id]
    assert city.holders[VICTIM] not in {c.card_holder_id for c in first.candidates}
    assert "enrolled card holder" in first.reasons[1]


def test_an_investigation_needs_a_time_when_the_card_is_not_lost(
    city: City, settings: Settings, db: Database,
) -> None:
    with db.transaction() as s, pytest.raises(ValueError, match="give the time"):
        flows.investigate(s, search=FaceSearch(settings, db), settings=settings,
                          card_no=VICTIM)


def test_captures_grouped_apart_but_identified_as_one_holder_are_one_person(
    city: City, settings: Settings, db: Database, people: People,
) -> None:
    strict = settings.model_copy(update={"search": settings.search.model_copy(
        update={"group_threshold": 0.40})})  # too strict to join the thief's four photos
    made = [city.swipe(VICTIM, "North", T0 + timedelta(hours=i), face=people[1][i + 1])
            for i in range(4)]

    with db.transaction() as s:
        found = flows.investigate(s, search=FaceSearch(strict, db), settings=strict,
                                  card_no=VICTIM, since=T0)

    [person] = found.suspects
    assert person.identified_as is not None
    assert person.identified_as.card_holder_id == city.holders[THIEF]
    assert [s.swipe_id for s in person.swipes] == [m.swipe_id for m in made]
