"""The queue seam's doorbells: in-process and on Redis Streams (local server)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from swipeguard.api.app import create_app
from swipeguard.config import Settings, VerificationSettings
from swipeguard.db import Database
from swipeguard.faces.pool import FacePool
from swipeguard.swipes.signals import Channel, LocalChannel, RedisChannel, get_signals
from swipeguard.swipes.workers import Verifier
from swipes_support import add_holder, add_till, faceless_jpeg, swipe_body

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["local", "redis"])
def channel(request: pytest.FixtureRequest) -> Iterator[Channel]:
    if request.param == "local":
        yield LocalChannel()
        return
    if not _redis_reachable():
        pytest.skip("no Redis server on 127.0.0.1:6379; the in-process channel is tested")
    redis_channel = RedisChannel(REDIS_URL, f"swipeguard-test:{uuid.uuid4().hex}")
    yield redis_channel
    redis_channel._client.delete(redis_channel.key)
    redis_channel._client.close()


def test_a_ring_before_the_wait_is_not_lost(channel: Channel) -> None:
    sub = channel.subscribe()

    channel.publish(7)
    got = sub.wait(1.0)

    assert got == [7]
    sub.close()


def test_every_subscriber_hears_every_ring(channel: Channel) -> None:
    a, b = channel.subscribe(), channel.subscribe()

    channel.publish(1)
    channel.publish(2)

    assert a.wait(1.0) == [1, 2] and b.wait(1.0) == [1, 2]
    a.close()
    b.close()


def test_a_waiting_subscriber_wakes_at_once(channel: Channel) -> None:
    sub = channel.subscribe()
    threading.Timer(0.1, channel.publish, args=(9,)).start()

    started = time.monotonic()
    got = sub.wait(5.0)

    assert got == [9] and time.monotonic() - started < 2.0
    sub.close()


def test_a_quiet_channel_times_out_empty(channel: Channel) -> None:
    sub = channel.subscribe()

    started = time.monotonic()
    got = sub.wait(0.2)

    assert got == [] and 0.15 <= time.monotonic() - started < 2.0
    sub.close()


def test_the_app_and_the_workers_of_one_database_share_channels(
    settings: Settings, sqlite_db: Database,
) -> None:
    other = Database(f"sqlite:///{settings.data_dir / 'other.db'}")

    assert get_signals(settings, sqlite_db) is get_signals(settings, sqlite_db)
    assert get_signals(settings, sqlite_db) is not get_signals(settings, other)
    other.dispose()


def test_a_configured_broker_gives_redis_channels(settings: Settings) -> None:
    brokered = settings.model_copy(update={
        "verification": VerificationSettings(broker_url=REDIS_URL)})
    db = Database(f"sqlite:///{settings.data_dir / 'b.db'}")

    signals = get_signals(brokered, db)

    assert isinstance(signals.stored, RedisChannel)
    db.dispose()


def test_a_verifier_woken_through_redis_answers_a_waiting_till(
    settings: Settings, sqlite_db: Database,
) -> None:
    if not _redis_reachable():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    brokered = settings.model_copy(update={"verification": VerificationSettings(
        broker_url=REDIS_URL, decision_deadline_s=20.0)})
    till = add_till(sqlite_db)
    add_holder(sqlite_db, settings, card_no="4000000001")
    stop = threading.Event()
    signals = get_signals(brokered, sqlite_db)
    stored, decided = signals.stored.subscribe(), signals.decided.subscribe()
    with FacePool(workers=1) as pool:
        verifier = Verifier(brokered, sqlite_db, pool=pool)
        thread = threading.Thread(target=verifier.run, args=(stop,))
        thread.start()
        try:
            with TestClient(create_app(brokered, sqlite_db)) as client:
                r = client.post("/api/swipes?wait=true", headers=till.headers, json=swipe_body(
                    card_no="4000000001", key="redis-1", still=faceless_jpeg()))
        finally:
            stop.set()
            thread.join(20)

    swipe_id = r.json()["swipe_id"]
    assert isinstance(signals.stored, RedisChannel)
    assert r.json()["verdict"] == "not_enrolled" and r.json()["advice"] == "check_id"
    assert verifier.counts.total_decided() == 1
    assert swipe_id in stored.wait(1.0) and swipe_id in decided.wait(1.0)
    stored.close()
    decided.close()
