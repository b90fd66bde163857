"""The console's pages: signed-in only, self-contained, served with a strict policy."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api_support import PASSWORD, add_user
from swipeguard.api.app import create_app
from swipeguard.auth.models import Role
from swipeguard.config import Settings
from swipeguard.console.views import STATIC
from swipeguard.db import Database


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    add_user(sqlite_db, "olga", Role.OPERATOR)
    with TestClient(create_app(settings, sqlite_db), follow_redirects=False) as c:
        yield c


def test_a_stranger_is_sent_to_the_sign_in_page(client: TestClient) -> None:
    r = client.get("/console/alarms")

    assert r.status_code == 303
    assert r.headers["location"] == "/console/sign-in?next=/console/alarms"
    assert client.get("/console/sign-in").status_code == 200


@pytest.mark.parametrize("page", ["alarms", "swipes", "cameras"])
def test_a_signed_in_user_gets_each_page_under_a_self_only_policy(
    client: TestClient, page: str,
) -> None:
    client.post("/api/session", json={"username": "olga", "password": PASSWORD})

    r = client.get(f"/console/{page}")

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert client.get("/console/sign-in").status_code == 303


def test_the_root_leads_to_the_alarm_queue(client: TestClient) -> None:
    assert client.get("/").headers["location"] == "/console/alarms"


def test_only_the_console_files_are_served(client: TestClient) -> None:
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/alarms.js").status_code == 200
    assert client.get("/console/static/alarms.html").status_code == 404
    assert client.get("/console/static/..%2Fviews.py").status_code == 404
    assert client.get("/console/nowhere").status_code == 404


def test_nothing_in_the_console_loads_from_another_site() -> None:
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), path.name
        assert "url(http" not in text and "@import" not in text, path.name
