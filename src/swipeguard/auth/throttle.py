"""Slowing down password guessing: failed sign-ins per username and per client address.

In memory, per process: enough for one server; behind several API processes a
shared store (the database or Redis) would take its place. After ``FREE_FAILURES``
failures a key must wait 1 s, then 2 s, 4 s ... up to ``MAX_WAIT_S`` before the next
try; a success clears the username, and failures are forgotten after ``FORGET_S``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5  # typos happen; five in a row is where guessing starts
MAX_WAIT_S = 60.0  # a minute per try caps an online guesser at ~1,400 tries a day
FORGET_S = 15 * 60.0
MAX_KEYS = 100_000  # bounds memory under a flood of made-up usernames


@dataclass
class _Failures:
    count: int
    last: float


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def wait_s(self, *keys: str) -> float:
        """Seconds to wait before any of ``keys`` may try again (0 if it may now)."""
        now = self._clock()
        with self._lock:
            return max((self._wait(self._failures.get(k), now) for k in keys), default=0.0)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._forget_old(now)
            for key in keys:
                f = self._failures.get(key)
                if f is None or now - f.last > FORGET_S:
                    f = self._failures[key] = _Failures(0, now)
                f.count += 1
                f.last = now

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    @staticmethod
    def _wait(f: _Failures | None, now: float) -> float:
        if f is None or f.count < FREE_FAILURES or now - f.last > FORGET_S:
            return 0.0
        backoff = min(2.0 ** (f.count - FREE_FAILURES), MAX_WAIT_S)
        return max(0.0, f.last + backoff - now)

    def _forget_old(self, now: float) -> None:
        old = [k for k, f in self._failures.items() if now - f.last > FORGET_S]
        for k in old:
            del self._failures[k]
        if len(self._failures) >= MAX_KEYS:
            self._failures.clear()  # a flood: start over rather than grow without bound
