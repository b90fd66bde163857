from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from swipeguard.db import Base, Database
from swipeguard.facilities.models import Facility, FacilityKind


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    assert diff == [], "run `make migration` to rebuild the initial migration"


def test_times_come_back_aware_and_in_utc(db: Database) -> None:
    local = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    with db.transaction() as s:
        s.add(Facility(name="North", kind=FacilityKind.PHARMACY, district="A", created_at=local))

    with db.transaction() as s:
        got = s.scalars(select(Facility)).one()

    assert got.created_at == local
    assert got.created_at.tzinfo is not None
    assert got.created_at.utcoffset() == timedelta(0)
    assert got.kind is FacilityKind.PHARMACY


def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as s:
        s.add(Facility(name="N", kind=FacilityKind.CLINIC, district="B",
                       created_at=datetime(2026, 1, 1)))
        s.flush()
