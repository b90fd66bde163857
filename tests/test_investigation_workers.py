"""The investigation's background workers under ``swipeguard serve``'s worker threads."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from investigation_support import T0, City, lfw_people
from swipeguard.alarms.models import Alarm, AlarmKind
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.investigations.models import SuspectMember
from swipeguard.investigations.search import close_search, open_search
from swipeguard.investigations.workers import workers
from swipeguard.workers import WorkerThreads

CARD = "6200000000000100"


def wait_for(check, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_the_workers_index_group_and_check_rules_then_stop_and_save(
    settings: Settings, sqlite_db: Database, samples: Path,
) -> None:
    people = lfw_people(samples)
    city = City(sqlite_db)
    city.facility("North", 31.25, 121.47)
    city.facility("Far", 31.50, 121.47)
    city.holder(CARD, [people[0][0]])
    first = city.swipe(CARD, "North", T0, face=people[3][0])
    threads = WorkerThreads(workers(settings, sqlite_db))

    threads.start()
    try:
        second = city.swipe(CARD, "Far", T0 + timedelta(minutes=10), face=people[3][1])
        search = open_search(settings, sqlite_db)
        indexed = wait_for(lambda: search.captures.size == 2)
        grouped = wait_for(lambda: _members(sqlite_db) == {first.capture_id, second.capture_id})
        alarmed = wait_for(lambda: _rule_alarms(sqlite_db) == ["impossible_travel"])
    finally:
        threads.close()
        close_search(settings, sqlite_db)

    assert indexed and grouped and alarmed
    assert (settings.data_dir / "index" / "captures.faiss").exists()


def _members(db: Database) -> set[int]:
    with db.transaction() as s:
        return set(s.scalars(select(SuspectMember.capture_id)))


def _rule_alarms(db: Database) -> list[str | None]:
    with db.transaction() as s:
        return [a.rule for a in s.scalars(select(Alarm).where(Alarm.kind == AlarmKind.RULE))]
