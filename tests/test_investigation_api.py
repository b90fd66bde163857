"""The investigation API: who may do what, what is recorded, what comes back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api_support import PASSWORD, add_user
from investigation_support import T0, City, lfw_people
from swipeguard.api.app import create_app
from swipeguard.audit.models import AccessRecord
from swipeguard.auth.models import Role
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.investigations import clustering

People = tuple[tuple[np.ndarray, ...], ...]
VICTIM, THIEF = "6200000000000100", "6200000000000200"
FORM = {"X-Requested-With": "fetch"}  # the CSRF guard's mark of a script, not a form


@pytest.fixture
def people(samples: Path) -> People:
    return lfw_people(samples)


@pytest.fixture
def city(sqlite_db: Database, people: People) -> City:
    add_user(sqlite_db, "olga", Role.OPERATOR)
    add_user(sqlite_db, "ivy", Role.INVESTIGATOR)
    c = City(sqlite_db)
    c.facility("North", 31.25, 121.47)
    c.facility("South", 31.21, 121.47)
    c.holder(VICTIM, [people[0][0]])
    c.holder(THIEF, [people[1][0]])
    return c


@pytest.fixture
def client(settings: Settings, sqlite_db: Database, city: City) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sqlite_db)) as c:
        yield c


def sign_in(client: TestClient, username: str) -> None:
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


def audit_actions(db: Database) -> list[tuple[str, str, str]]:
    with db.transaction() as s:
        return [(r.actor, r.action, r.object_id)
                for r in s.scalars(select(AccessRecord).order_by(AccessRecord.id))]


def test_an_operator_reports_a_card_lost_and_its_past_swipes_are_alarmed(
    client: TestClient, city: City, people: People,
) -> None:
    made = city.swipe(VICTIM, "North", T0 + timedelta(hours=1), face=people[1][1])
    sign_in(client, "olga")

    r = client.post(f"/api/card-holders/{VICTIM}/lost",
                    json={"since": T0.isoformat(), "reason": "bag stolen on the bus"})
    unknown = client.post("/api/card-holders/6200000000009999/lost",
                          json={"since": T0.isoformat(), "reason": "x"})
    naive = client.post(f"/api/card-holders/{VICTIM}/lost",
                        json={"since": "2026-03-02T08:00:00", "reason": "x"})

    assert r.status_code == 200, r.text
    assert r.json()["flagged_swipe_ids"] == [made.swipe_id] and len(r.json()["alarm_ids"]) == 1
    assert unknown.status_code == 404 and naive.status_code == 422
    assert ("olga", "report_lost", str(city.holders[VICTIM])) in audit_actions(city.db)


def test_timelines_and_searches_are_for_investigators_only(
    client: TestClient, city: City,
) -> None:
    sign_in(client, "olga")

    timeline = client.get(f"/api/cards/{VICTIM}/timeline")
    search = client.post("/api/search/faces", data={"capture_id": "1"}, headers=FORM)
    investigation = client.get(f"/api/cards/{VICTIM}/investigation",
                               params={"since": T0.isoformat()})

    assert [timeline.status_code, search.status_code, investigation.status_code] == [403] * 3


def test_an_alarms_swipe_opens_its_card_for_investigators_only(
    client: TestClient, city: City, people: People,
) -> None:
    made = city.swipe(VICTIM, "South", T0, face=people[1][1])
    sign_in(client, "olga")
    refused = client.get(f"/api/swipes/{made.swipe_id}/card")
    sign_in(client, "ivy")

    body = client.get(f"/api/swipes/{made.swipe_id}/card").json()
    missing = client.get("/api/swipes/999999/card")

    assert refused.status_code == 403 and missing.status_code == 404
    unknown = client.get("/api/cards/6200000000009999/investigation")
    assert unknown.status_code == 404 and "no card ****9999" in unknown.json()["detail"]
    assert body["card_no"] == VICTIM and body["swipe_id"] == made.swipe_id
    assert ("ivy", "view_card_of_swipe", str(made.swipe_id)) in audit_actions(city.db)


def test_the_timeline_is_served_and_its_viewing_recorded(
    client: TestClient, city: City, people: People,
) -> None:
    made = city.swipe(VICTIM, "South", T0, face=people[1][1], amount_cents=4200)
    sign_in(client, "ivy")

    body = client.get(f"/api/cards/{VICTIM}/timeline").json()

    assert body["not_holder_swipe_ids"] == [made.swipe_id]
    assert body["swipes"][0]["clip_url"] == f"/api/swipes/{made.swipe_id}/clip"
    assert body["per_day"] == [{"day": "2026-03-02", "amount_cents": 4200, "swipes": 1}]
    assert ("ivy", "view_timeline", VICTIM) in audit_actions(city.db)


def test_searching_by_capture_finds_the_person_enrolled_and_at_other_swipes(
    client: TestClient, city: City, people: People,
) -> None:
    query = city.swipe(VICTIM, "North", T0, face=people[1][1])
    elsewhere = city.swipe(VICTIM, "South", T0 + timedelta(days=1), face=people[1][2])
    city.swipe(VICTIM, "South", T0 + timedelta(days=2), face=people[0][1])
    sign_in(client, "ivy")

    r = client.post("/api/search/faces", data={"capture_id": str(query.capture_id), "k": "5"},
                    headers=FORM)

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["captures"][0]["capture_id"] == elsewhere.capture_id
    assert query.capture_id not in [c["capture_id"] for c in body["captures"]]
    assert body["captures"][0]["band"].startswith(("very likely", "likely"))
    assert body["card_holders"][0]["card_no"] == THIEF
    assert body["card_holders"][-1]["band"] == "unlikely to be the same person"
    threshold = Settings().verification.threshold
    assert [b["to"] for b in body["bands"]] == [
        round(threshold - 0.1, 2), threshold, round(threshold + 0.1, 2), None]
    assert ("ivy", "search_faces", str(query.capture_id)) in audit_actions(city.db)


def test_searching_by_photo_uses_the_one_face_in_it(
    client: TestClient, city: City, samples: Path,
) -> None:
    sign_in(client, "ivy")
    lfw = samples / "faces" / "lfw"
    one = next(p for p in sorted(lfw.iterdir()) if p.is_dir())
    photo = sorted(one.glob("*.jpg"))[0].read_bytes()
    group = (samples / "faces" / "examples" / "two_people.jpg").read_bytes()

    ok = client.post("/api/search/faces", files={"photo": ("a.jpg", photo, "image/jpeg")},
                     headers=FORM)
    two = client.post("/api/search/faces", files={"photo": ("b.jpg", group, "image/jpeg")},
                      headers=FORM)
    junk = client.post("/api/search/faces", files={"photo": ("c.jpg", b"nope", "image/jpeg")},
                       headers=FORM)
    neither = client.post("/api/search/faces", data={}, headers=FORM)

    assert ok.status_code == 200, ok.text
    assert len(ok.json()["card_holders"]) == 2
    assert two.status_code == 422 and "several_faces" in two.json()["detail"]
    assert junk.status_code == 422 and "not_an_image" in junk.json()["detail"]
    assert neither.status_code == 422 and "capture_id or a photo" in neither.json()["detail"]
    assert "not both" not in neither.json()["detail"]


def test_an_investigation_is_served_saved_as_a_case_and_closed_with_history(
    client: TestClient, city: City, people: People,
) -> None:
    for i in range(3):
        city.swipe(VICTIM, "North" if i % 2 else "South", T0 + timedelta(hours=i + 1),
                   face=people[1][i + 1])
    sign_in(client, "ivy")

    found = client.get(f"/api/cards/{VICTIM}/investigation",
                       params={"since": T0.isoformat()}).json()
    case = client.post("/api/cases", json={"card_no": VICTIM, "since": T0.isoformat(),
                                           "title": "stolen wallet"}).json()
    closed = client.post(f"/api/cases/{case['id']}",
                         json={"refresh": True, "status": "closed",
                               "note": "handed to the police"}).json()
    no_reason = client.post(f"/api/cases/{case['id']}", json={"status": "open"})

    top = found["suspects"][0]
    assert top["identified_as"]["card_no"] == THIEF and len(top["swipes"]) == 3
    assert case["findings"]["suspects"][0]["identified_as"]["card_no"] == THIEF
    assert closed["status"] == "closed"
    assert [h["action"] for h in closed["history"]] == ["open", "refresh", "closed"]
    assert no_reason.status_code == 200
    assert ("ivy", "investigate", VICTIM) in audit_actions(city.db)


def test_suspect_corrections_through_the_api(
    client: TestClient, city: City, settings: Settings, people: People,
) -> None:
    made = [city.swipe(VICTIM, "North", T0 + timedelta(hours=i), face=people[3][i])
            for i in range(3)]
    with city.db.transaction() as s:
        clustering.group_new_captures(s, link=settings.search.group_threshold,
                                      threshold=settings.verification.threshold)
    sign_in(client, "ivy")
    [suspect] = client.get("/api/suspects").json()

    new = client.post(f"/api/suspects/{suspect['id']}/split",
                      json={"capture_ids": [made[2].capture_id], "reason": "other coat"})
    bad = client.post(f"/api/suspects/{suspect['id']}/split",
                      json={"capture_ids": [999], "reason": "x"})
    merged = client.post(f"/api/suspects/{suspect['id']}/merge",
                         json={"other_id": new.json()["id"], "reason": "same after all"})
    removed = client.post(f"/api/suspects/{suspect['id']}/not-this-person",
                          json={"capture_id": made[0].capture_id, "reason": "staff"})
    detail = client.get(f"/api/suspects/{suspect['id']}").json()

    assert new.status_code == 200 and new.json()["capture_ids"] == [made[2].capture_id]
    assert bad.status_code == 409
    assert merged.json()["capture_ids"] == [m.capture_id for m in made]
    assert removed.json()["capture_ids"] == [m.capture_id for m in made[1:]]
    assert [(h["action"], h["actor"]) for h in detail["history"]][-3:] == [
        ("split", "ivy"), ("merge", "ivy"), ("remove", "ivy")]
