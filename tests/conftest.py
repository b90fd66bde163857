"""Shared fixtures: a data directory, a migrated database (SQLite, and PostgreSQL where
one is reachable), and the path of the shared sample data."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from swipeguard.config import Settings
from swipeguard.db import Database

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("SWIPEGUARD_SAMPLES", ROOT.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get(
    "SWIPEGUARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def samples() -> Path:
    if not (SAMPLES / "faces").is_dir():
        pytest.fail(f"sample data not found at {SAMPLES}; set SWIPEGUARD_SAMPLES")
    return SAMPLES


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test-secret")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Database]:
    """A migrated database; each PostgreSQL test gets a schema of its own."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{data_dir / 'swipeguard.db'}")
        database.migrate()
        yield database
        database.dispose()
        return

    if not _postgres_reachable():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432; storage tested on SQLite only")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
    database.migrate()
    yield database
    database.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_db(data_dir: Path) -> Iterator[Database]:
    """A migrated SQLite database, for tests that are not about storage."""
    database = Database(f"sqlite:///{data_dir / 'swipeguard.db'}")
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def footage(samples: Path, pytestconfig: pytest.Config) -> Path:
    """The sample clip re-encoded with short keyframe intervals, made once and cached."""
    from camera_support import short_gop_footage

    assert pytestconfig.cache is not None
    return short_gop_footage(samples, pytestconfig.cache.mkdir("swipeguard-camera-footage"))
