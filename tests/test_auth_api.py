"""Console sign-in: cookies, wrong passwords, throttling, roles, expiry and CSRF."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api_support import PASSWORD, add_user
from swipeguard.api.app import create_app
from swipeguard.auth.deps import COOKIE
from swipeguard.auth.models import Role, SignIn
from swipeguard.auth.throttle import FREE_FAILURES, SignInThrottle
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    add_user(sqlite_db, "olga", Role.OPERATOR)
    add_user(sqlite_db, "ada", Role.ADMIN)
    with TestClient(create_app(settings, sqlite_db)) as c:
        yield c


def sign_in(client: TestClient, username: str = "olga", password: str = PASSWORD):  # noqa: ANN201
    return client.post("/api/session", json={"username": username, "password": password})


def test_signing_in_sets_a_strict_http_only_cookie(client: TestClient) -> None:
    r = sign_in(client)

    assert r.status_code == 200
    assert r.json() == {"id": 1, "username": "olga", "role": "operator"}
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert client.get("/api/me").json()["username"] == "olga"


def test_a_wrong_password_is_401_and_sets_no_cookie(client: TestClient) -> None:
    r = sign_in(client, password="not the password")

    assert r.status_code == 401
    assert "set-cookie" not in r.headers
    assert client.get("/api/me").status_code == 401


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client: TestClient) -> None:
    r = sign_in(client, username="mallory")

    assert r.status_code == 401
    assert r.json()["detail"] == "wrong username or password"


def test_repeated_failures_are_slowed_down(client: TestClient) -> None:
    for _ in range(FREE_FAILURES):
        assert sign_in(client, password="guess guess").status_code == 401

    blocked = sign_in(client)

    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1


def test_the_throttle_backs_off_and_forgives_a_success() -> None:
    now = [0.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    for _ in range(FREE_FAILURES + 2):
        throttle.failed("user:olga")

    first = throttle.wait_s("user:olga")
    now[0] += first
    after_wait = throttle.wait_s("user:olga")
    throttle.succeeded("user:olga")

    assert first == 4.0  # 1 s after the fifth failure, doubling each time after
    assert after_wait == 0.0
    assert throttle.wait_s("user:olga") == 0.0


def test_signing_out_ends_the_session_on_the_server(client: TestClient) -> None:
    sign_in(client)
    token = client.cookies[COOKIE]

    r = client.delete("/api/session", headers={"X-Requested-With": "console"})

    assert r.status_code == 204
    client.cookies.set(COOKIE, token)  # a copied cookie no longer works
    assert client.get("/api/me").status_code == 401


def test_an_expired_session_is_refused(client: TestClient, sqlite_db: Database) -> None:
    sign_in(client)
    with sqlite_db.transaction() as s:
        s.execute(update(SignIn).values(expires_at=utcnow() - timedelta(seconds=1)))

    assert client.get("/api/me").status_code == 401
    assert client.get("/api/alarms").status_code == 401


def test_an_operator_may_not_administer_facilities(client: TestClient) -> None:
    sign_in(client)

    r = client.post("/api/facilities",
                    json={"name": "East", "kind": "clinic", "district": "East"})

    assert r.status_code == 403
    assert client.get("/api/facilities").status_code == 200


def test_an_admin_may_do_what_an_operator_may(client: TestClient) -> None:
    sign_in(client, "ada")

    assert client.get("/api/alarms").status_code == 200
    r = client.post("/api/facilities",
                    json={"name": "East", "kind": "clinic", "district": "East"})
    assert r.status_code == 201


def test_a_signed_in_write_that_a_form_could_send_is_refused(client: TestClient) -> None:
    """A cross-site form can post urlencoded or multipart bodies, never JSON."""
    sign_in(client)

    forged = client.post("/api/alarms/1/acknowledge", data={"reason": "x"})
    bare_delete = client.delete("/api/session")

    assert forged.status_code == 403 and "X-Requested-With" in forged.json()["detail"]
    assert bare_delete.status_code == 403
    assert client.get("/api/me").status_code == 200


def test_a_failed_sign_in_logs_only_names_that_are_users(
    client: TestClient, caplog: pytest.LogCaptureFixture,
) -> None:
    forged = "nobody\n2026-12-04 21:54:01,000 INFO swipeguard.auth.views: user ada signed in"
    with caplog.at_level(logging.INFO, logger="swipeguard.auth"):
        sign_in(client, username=forged, password="x")
        sign_in(client, username="Secretpass123", password="x")
        sign_in(client, username="olga", password="not the password")

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ada signed in" not in logged and "Secretpass123" not in logged
    assert logged.count("a name that is no user's") == 2 and "user olga" in logged
