"""The queue seam: telling verifiers a swipe is waiting, and waiters that it is decided.

The swipes table is the queue (a verifier claims rows with a conditional update); these
channels only ring the doorbell so nobody has to poll fast. A missed ring costs latency,
never a swipe: verifiers and waiters also look at the table on a timer. In-process
channels serve one machine; ``RedisChannel`` (Redis Streams) carries the same rings
between machines when ``verification.broker_url`` names a Redis server.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from swipeguard.config import Settings
from swipeguard.db import Database

log = logging.getLogger(__name__)


class Subscription(Protocol):
    def wait(self, timeout: float) -> list[int]:
        """Swipe ids published since the last call; waits up to ``timeout`` s for one."""
        ...

    def close(self) -> None: ...


class Channel(Protocol):
    def publish(self, swipe_id: int) -> None: ...

    def subscribe(self) -> Subscription: ...


@dataclass(frozen=True)
class Signals:
    stored: Channel  # a swipe was stored: wake a verifier
    decided: Channel  # a swipe was decided: wake a till waiting for its verdict


class _LocalSubscription:
    def __init__(self, channel: LocalChannel) -> None:
        self._channel = channel
        self._ids: list[int] = []
        self._ready = threading.Condition()

    def _push(self, swipe_id: int) -> None:
        with self._ready:
            self._ids.append(swipe_id)
            self._ready.notify_all()

    def wait(self, timeout: float) -> list[int]:
        with self._ready:
            if not self._ids:
                self._ready.wait(max(0.0, timeout))
            ids, self._ids = self._ids, []
        return ids

    def close(self) -> None:
        self._channel._forget(self)


class LocalChannel:
    """Rings subscribers in this process (the API and ``serve``'s workers share one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[_LocalSubscription] = []

    def publish(self, swipe_id: int) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            sub._push(swipe_id)

    def subscribe(self) -> Subscription:
        sub = _LocalSubscription(self)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def _forget(self, sub: _LocalSubscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)


# Streams are trimmed to about this many entries: rings are only doorbells, and a
# subscriber more than 10,000 rings behind finds its work in the table anyway.
STREAM_MAXLEN = 10_000


class _RedisSubscription:
    def __init__(self, client: Any, key: str) -> None:
        self._client = client
        self._key = key
        newest = client.xrevrange(key, count=1)
        self._last = newest[0][0] if newest else "0-0"

    def wait(self, timeout: float) -> list[int]:
        block_ms = max(1, int(timeout * 1000))
        reply = self._client.xread({self._key: self._last}, block=block_ms, count=1000)
        ids: list[int] = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                self._last = entry_id
                ids.append(int(fields[b"swipe_id"]))
        return ids

    def close(self) -> None:
        self._client.close()


class RedisChannel:
    """A channel on a Redis stream: every subscriber reads every ring after it subscribed."""

    def __init__(self, url: str, key: str) -> None:
        import redis

        self._redis = redis
        self._url = url
        self.key = key
        self._client = redis.Redis.from_url(url, socket_timeout=5)

    def publish(self, swipe_id: int) -> None:
        try:
            self._client.xadd(self.key, {"swipe_id": swipe_id}, maxlen=STREAM_MAXLEN,
                              approximate=True)
        except self._redis.RedisError as exc:
            # The swipe is already in the table; a verifier finds it on its next look.
            log.warning("could not ring %s (%s); verifiers will find swipe %s by polling",
                        self.key, exc, swipe_id)

    def subscribe(self) -> Subscription:
        # A blocking read holds its connection, so each subscriber has its own, with a
        # socket timeout longer than any block it asks for.
        client = self._redis.Redis.from_url(self._url, socket_timeout=None)
        return _RedisSubscription(client, self.key)


def redis_signals(url: str, *, prefix: str = "swipeguard") -> Signals:
    return Signals(stored=RedisChannel(url, f"{prefix}:swipes:stored"),
                   decided=RedisChannel(url, f"{prefix}:swipes:decided"))


# One set of in-process channels per database object, so that the app and the workers
# that ``serve`` builds from the same database ring each other; weak keys let a test's
# database and its channels go away together.
_local: weakref.WeakKeyDictionary[Database, Signals] = weakref.WeakKeyDictionary()
_local_lock = threading.Lock()


def get_signals(settings: Settings, db: Database) -> Signals:
    """The channels for this database: Redis Streams if configured, else in-process."""
    with _local_lock:
        signals = _local.get(db)
        if signals is None:
            url = settings.verification.broker_url
            if url:
                signals = redis_signals(url)
            else:
                signals = Signals(stored=LocalChannel(), decided=LocalChannel())
            _local[db] = signals
        return signals
