"""The swipes API: durable and idempotent posting, clear errors, reading swipes."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from swipeguard.api.app import create_app
from swipeguard.auth import service as auth
from swipeguard.auth.models import Role
from swipeguard.config import Settings, VerificationSettings
from swipeguard.db import Database, utcnow
from swipeguard.swipes.models import Swipe, SwipeState, Verdict
from swipes_support import (
    TillKey,
    add_holder,
    add_till,
    faceless_jpeg,
    swipe_body,
)

CARD = "8800000001"


@pytest.fixture
def till(sqlite_db: Database) -> TillKey:
    return add_till(sqlite_db)


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, sqlite_db)) as c:
        yield c


@pytest.fixture
def holder(sqlite_db: Database, settings: Settings) -> int:
    return add_holder(sqlite_db, settings, card_no=CARD)


def _count(db: Database) -> int:
    with db.sessions() as s:
        return s.scalar(select(func.count(Swipe.id))) or 0


def _stills(settings: Settings) -> list[Path]:
    return [p for p in (settings.data_dir / "stills").rglob("*") if p.is_file()]


def test_a_swipe_and_its_still_are_stored_before_the_answer(
    client: TestClient, till: TillKey, holder: int, settings: Settings, sqlite_db: Database,
) -> None:
    still = faceless_jpeg()

    r = client.post("/api/swipes", headers=till.headers,
                    json=swipe_body(card_no=CARD, key="k1", still=still, amount="12.05"))

    assert r.status_code == 201, r.text
    out = r.json()
    assert out["state"] == "pending" and out["advice"] == "pending"
    assert out["card"] == "****0001" and out["amount"] == "12.05"
    with sqlite_db.sessions() as s:
        swipe = s.get(Swipe, out["swipe_id"])
        assert swipe is not None and swipe.amount_cents == 1205
        assert (settings.data_dir / swipe.still_path).read_bytes() == still  # type: ignore[operator]


def test_a_retry_with_the_same_key_returns_the_first_swipe(
    client: TestClient, till: TillKey, holder: int, settings: Settings, sqlite_db: Database,
) -> None:
    body = swipe_body(card_no=CARD, key="retry-1", still=faceless_jpeg())

    first = client.post("/api/swipes", headers=till.headers, json=body)
    second = client.post("/api/swipes", headers=till.headers, json=body)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["swipe_id"] == second.json()["swipe_id"]
    assert _count(sqlite_db) == 1
    assert len(_stills(settings)) == 1


def test_a_retry_writing_the_same_instant_in_another_zone_is_the_same_swipe(
    client: TestClient, till: TillKey, holder: int, sqlite_db: Database,
) -> None:
    body = swipe_body(card_no=CARD, key="retry-zone")
    instant = datetime.fromisoformat(body["swiped_at"])
    elsewhere = {**body, "swiped_at": instant.astimezone(timezone(timedelta(hours=8)))
                 .isoformat()}

    first = client.post("/api/swipes", headers=till.headers, json=body)
    second = client.post("/api/swipes", headers=till.headers, json=elsewhere)

    assert (first.status_code, second.status_code) == (201, 200), second.text
    assert first.json()["swiped_at"] == second.json()["swiped_at"]
    assert _count(sqlite_db) == 1


def test_concurrent_retries_store_one_swipe(settings: Settings, db: Database) -> None:
    till = add_till(db)
    add_holder(db, settings, card_no=CARD)
    body = swipe_body(card_no=CARD, key="burst", still=faceless_jpeg())
    start = threading.Barrier(8)
    answers: list[tuple[int, int]] = []

    def post(client: TestClient) -> None:
        start.wait()
        r = client.post("/api/swipes", headers=till.headers, json=body)
        answers.append((r.status_code, r.json()["swipe_id"]))

    with TestClient(create_app(settings, db)) as client:
        threads = [threading.Thread(target=post, args=(client,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

    assert len(answers) == 8
    assert sorted(code for code, _ in answers) == [200] * 7 + [201]
    assert len({swipe_id for _, swipe_id in answers}) == 1
    assert _count(db) == 1
    assert len(_stills(settings)) == 1


def test_the_same_key_with_other_content_is_a_conflict(
    client: TestClient, till: TillKey, holder: int, sqlite_db: Database,
) -> None:
    client.post("/api/swipes", headers=till.headers,
                json=swipe_body(card_no=CARD, key="k2", amount="10.00"))

    r = client.post("/api/swipes", headers=till.headers,
                    json=swipe_body(card_no=CARD, key="k2", amount="99.00"))

    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "body.idempotency_key"
    assert _count(sqlite_db) == 1


def _without(body: dict, field: str) -> dict:  # type: ignore[type-arg]
    return {k: v for k, v in body.items() if k != field}


BAD = {
    "missing card": (lambda b: _without(b, "card_no"), 422, "body.card_no"),
    "missing key": (lambda b: _without(b, "idempotency_key"), 422, "body.idempotency_key"),
    "time without zone": (lambda b: {**b, "swiped_at": "2026-03-01T09:15:02"}, 422,
                          "body.swiped_at"),
    "time not a time": (lambda b: {**b, "swiped_at": "yesterday"}, 422, "body.swiped_at"),
    "time in the future": (lambda b: {**b, "swiped_at": (utcnow() + timedelta(hours=2))
                                      .isoformat()}, 422, "body.swiped_at"),
    "time too old": (lambda b: {**b, "swiped_at": (utcnow() - timedelta(days=90))
                                .isoformat()}, 422, "body.swiped_at"),
    "negative amount": (lambda b: {**b, "amount": "-5.00"}, 422, "body.amount"),
    "amount with a third decimal": (lambda b: {**b, "amount": "1.005"}, 422, "body.amount"),
    "amount beyond the bound": (lambda b: {**b, "amount": "100000000"}, 422, "body.amount"),
    "amount as a float": (lambda b: {**b, "amount": 12.5}, 422, "body.amount"),
    "amount in other digits": (lambda b: {**b, "amount": "\u0661\u0662.\u0665\u0660"}, 422,
                               "body.amount"),
    "key too long": (lambda b: {**b, "idempotency_key": "x" * 101}, 422,
                     "body.idempotency_key"),
    "still not base64": (lambda b: {**b, "still": "not base64!"}, 422, "body.still"),
    "still a PNG": (lambda b: {**b, "still": base64.b64encode(
        b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()}, 422, "body.still"),
    "still a truncated JPEG": (lambda b: {**b, "still": base64.b64encode(
        faceless_jpeg()[:300]).decode()}, 422, "body.still"),
    "still too large": (lambda b: {**b, "still": base64.b64encode(
        b"\xff\xd8\xff" + b"\0" * (6 * 1024**2)).decode()}, 413, "body.still"),
    "unknown field": (lambda b: {**b, "tip": "1.00"}, 422, "body.tip"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_malformed_swipe_gets_a_clear_error_and_stores_nothing(
    case: str, client: TestClient, till: TillKey, holder: int, sqlite_db: Database,
) -> None:
    change, code, field = BAD[case]

    r = client.post("/api/swipes", headers=till.headers,
                    json=change(swipe_body(card_no=CARD, key="bad")))

    assert r.status_code == code, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert _count(sqlite_db) == 0


def test_a_body_that_is_not_json_gets_a_clear_error(
    client: TestClient, till: TillKey, holder: int,
) -> None:
    r = client.post("/api/swipes", headers={**till.headers, "Content-Type": "application/json"},
                    content=b"{card_no: 1")

    assert r.status_code == 400
    assert "JSON" in r.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "not-a-key"}])
def test_a_swipe_needs_a_till_key(client: TestClient, till: TillKey, holder: int,
                                  headers: dict[str, str], sqlite_db: Database) -> None:
    r = client.post("/api/swipes", headers=headers, json=swipe_body(card_no=CARD, key="k"))

    assert r.status_code == 401
    assert _count(sqlite_db) == 0


def test_an_unknown_card_is_refused_but_kept_for_review(
    client: TestClient, till: TillKey, sqlite_db: Database,
) -> None:
    r = client.post("/api/swipes", headers=till.headers,
                    json=swipe_body(card_no="9999000011", key="k3"))

    assert r.status_code == 422
    out = r.json()
    assert out["errors"][0]["type"] == "unknown_card"
    assert out["verdict"] == "unknown_card" and out["advice"] == "check_id"
    with sqlite_db.sessions() as s:
        swipe = s.get(Swipe, out["swipe_id"])
        assert swipe is not None
        assert swipe.state is SwipeState.DECIDED and swipe.verdict is Verdict.UNKNOWN_CARD


def test_card_numbers_never_reach_the_log(
    client: TestClient, till: TillKey, holder: int, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    client.post("/api/swipes", headers=till.headers, json=swipe_body(card_no=CARD, key="k4"))
    client.post("/api/swipes", headers=till.headers,
                json=swipe_body(card_no="7700000099", key="k5"))

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "swipe" in text
    assert CARD not in text and "7700000099" not in text


def test_waiting_without_a_verifier_answers_pending_at_the_deadline(
    settings: Settings, sqlite_db: Database, till: TillKey, holder: int,
) -> None:
    quick = settings.model_copy(update={
        "verification": VerificationSettings(decision_deadline_s=0.4)})

    with TestClient(create_app(quick, sqlite_db)) as client:
        started = time.monotonic()
        r = client.post("/api/swipes?wait=true", headers=till.headers,
                        json=swipe_body(card_no=CARD, key="k6", still=faceless_jpeg()))
        elapsed = time.monotonic() - started

    assert r.status_code == 201
    assert r.json()["advice"] == "pending" and r.json()["verdict"] is None
    assert 0.4 <= elapsed < 2.0


def test_signed_in_users_read_swipes_with_their_verdicts(
    client: TestClient, till: TillKey, sqlite_db: Database, samples: Path,
) -> None:
    with sqlite_db.transaction() as s:
        auth.create_user(s, username="op", password="long enough pw", role=Role.OPERATOR)
    unknown = client.post("/api/swipes", headers=till.headers,
                          json=swipe_body(card_no="5500000077", key="k7")).json()

    denied = client.get("/api/swipes")
    client.post("/api/session", json={"username": "op", "password": "long enough pw"})
    listed = client.get("/api/swipes")
    one = client.get(f"/api/swipes/{unknown['swipe_id']}")
    missing = client.get("/api/swipes/999999")

    assert denied.status_code == 401
    assert listed.status_code == 200, listed.text
    assert [(s["swipe_id"], s["verdict"]) for s in listed.json()] == [
        (unknown["swipe_id"], "unknown_card")]
    assert one.json()["card"] == "****0077" and one.json()["captures"] == []
    assert one.json()["till_name"] == "Pharmacy Till 1 / Till 1"
    assert missing.status_code == 404



def test_a_still_that_cannot_be_written_stores_nothing_and_asks_for_a_retry(
    client: TestClient, till: TillKey, holder: int, settings: Settings, sqlite_db: Database,
) -> None:
    (settings.data_dir / "stills").write_text("a file where the folder should be")

    r = client.post("/api/swipes", headers=till.headers,
                    json=swipe_body(card_no=CARD, key="disk", still=faceless_jpeg()))

    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert _count(sqlite_db) == 0
