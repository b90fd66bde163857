"""Bad requests get clear 4xx answers in one JSON shape, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_support import PASSWORD, add_user
from swipeguard.api.app import create_app
from swipeguard.auth.models import Role
from swipeguard.config import ServerSettings, Settings
from swipeguard.db import Database


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    add_user(sqlite_db, "ada", Role.ADMIN)
    small = settings.model_copy(update={"server": ServerSettings(max_body_bytes=4096)})
    with TestClient(create_app(small, sqlite_db), raise_server_exceptions=False) as c:
        c.post("/api/session", json={"username": "ada", "password": PASSWORD})
        yield c


def test_health_needs_no_sign_in(settings: Settings, sqlite_db: Database) -> None:
    with TestClient(create_app(settings, sqlite_db)) as anonymous:
        r = anonymous.get("/api/health")

    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "sqlite"}


def test_validation_errors_name_each_field_by_its_path(client: TestClient) -> None:
    r = client.post("/api/facilities", json={"name": "", "kind": "bakery", "latitude": 91})

    assert r.status_code == 422
    body = r.json()
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"body.name", "body.kind", "body.district", "body.latitude"}
    assert body["detail"].startswith("body.")


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/api/facilities", content=b'{"name": "East",',
                    headers={"Content-Type": "application/json"})

    assert r.status_code == 400
    assert r.json()["detail"] == "the request body is not valid JSON"


def test_json_sent_as_another_type_is_415(client: TestClient) -> None:
    r = client.post("/api/facilities", content=b'{"name": "East"}',
                    headers={"Content-Type": "text/plain", "X-Requested-With": "test"})

    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]


def test_an_oversized_body_is_413(client: TestClient) -> None:
    r = client.post("/api/facilities", json={"name": "x" * 10_000, "kind": "clinic",
                                             "district": "A"})

    assert r.status_code == 413


@pytest.mark.parametrize("path", ["/api/alarms/99999999999999999999999",
                                  "/api/captures/99999999999999999999999/image",
                                  "/api/swipes?before_id=99999999999999999999999"])
def test_an_id_beyond_64_bits_is_a_client_error(client: TestClient, path: str) -> None:
    r = client.get(path)

    assert r.status_code == 422, r.text
    assert "64-bit" in r.json()["detail"]


def test_a_wrong_query_type_is_422_with_its_path(client: TestClient) -> None:
    r = client.get("/api/alarms", params={"limit": "many"})

    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.limit"


def test_health_says_503_when_the_database_is_gone(settings: Settings, tmp_path: Path) -> None:
    missing = Database(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    (tmp_path / "no-such-dir").rmdir()

    with TestClient(create_app(settings, missing)) as client:
        r = client.get("/api/health")

    assert r.status_code == 503
    assert r.json()["detail"] == "the database does not answer"
