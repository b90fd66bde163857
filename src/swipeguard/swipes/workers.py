"""The verifier: claims stored swipes, captures the face, decides, opens alarms.

The swipes table is the queue. A verifier claims a swipe with a conditional update
(exactly one row changes, or someone else has it) for ``claim_timeout_s``; a verifier
that dies mid-way leaves its claim to run out, and the swipe is claimed again. Face
work goes to a process pool; a few threads keep it busy while others decode video.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.faces.pool import FacePool
from swipeguard.swipes import flows, service
from swipeguard.swipes.capture import VIDEO_FLUSH_S
from swipeguard.swipes.models import Swipe, SwipeState
from swipeguard.swipes.signals import Signals, Subscription, get_signals

log = logging.getLogger(__name__)

# A swipe whose verification raised this many times is decided as an error (with the
# error as the reason) and opens an alarm, so that an operator looks at it instead of nobody.
MAX_ATTEMPTS = 3
RETRY_BASE_S = 2.0  # then 4 s: a database or disk hiccup has passed by then
IDLE_POLL_S = 2.0  # the table is looked at this often even when no ring arrives

_ids = itertools.count(1)


@dataclass
class Counts:
    """What a verifier did since it started."""

    claimed: int = 0
    decided: Counter[str] = field(default_factory=Counter)
    failed: int = 0  # attempts that raised (retried, or given up after MAX_ATTEMPTS)
    lost: int = 0  # claims that ran out before the verdict (another verifier decided)

    def total_decided(self) -> int:
        return sum(self.decided.values())


class Verifier:
    """Verifies swipes until stopped; ``drain()`` verifies what is waiting now and returns."""

    name = "verifier"

    def __init__(self, settings: Settings, db: Database, *, pool: FacePool | None = None,
                 signals: Signals | None = None, concurrency: int | None = None,
                 clock: Callable[[], datetime] = utcnow, worker_id: str | None = None) -> None:
        self.settings = settings
        self.db = db
        self.signals = signals or get_signals(settings, db)
        self.concurrency = concurrency or 2 * settings.faces.workers
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{next(_ids)}"
        self.counts = Counts()
        self._pool = pool
        self._own_pool = pool is None
        self._lock = threading.Lock()

    @property
    def pool(self) -> FacePool:
        with self._lock:
            if self._pool is None:
                self._pool = FacePool(self.settings.faces)
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._own_pool and self._pool is not None:
                self._pool.close()
                self._pool = None

    def run(self, stop: threading.Event) -> None:
        subscription = self.signals.stored.subscribe()
        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="verify") as executor:
                running: set[Future[None]] = set()
                while not stop.is_set():
                    try:
                        running = self._step(executor, running, subscription)
                    except SQLAlchemyError as exc:
                        # The database is away (restarting, locked for long): the swipes
                        # are safe in it, so wait and look again rather than give up.
                        log.warning("verifier %s cannot reach the database (%s); retrying "
                                    "in %.0f s", self.worker_id, exc, IDLE_POLL_S)
                        stop.wait(IDLE_POLL_S)
        finally:
            subscription.close()
            self.close()
            log.info("verifier %s stopped: %s claimed, %s decided %s, %s failed, %s lost",
                     self.worker_id, self.counts.claimed, self.counts.total_decided(),
                     dict(self.counts.decided), self.counts.failed, self.counts.lost)

    def _step(self, executor: ThreadPoolExecutor, running: set[Future[None]],
              subscription: Subscription) -> set[Future[None]]:
        """Starts verifying what can be claimed, then waits for a free slot or for work."""
        running = {f for f in running if not f.done()}
        free = self.concurrency - len(running)
        claimed = self.claim(free) if free > 0 else []
        running |= {executor.submit(self.verify, i) for i in claimed}
        if len(claimed) == free:  # busy: look again once one finishes
            wait(running, timeout=IDLE_POLL_S, return_when=FIRST_COMPLETED)
        else:
            subscription.wait(self._idle_wait())
        return running

    def drain(self) -> Counts:
        """Verifies every swipe claimable now (and those that become so meanwhile)."""
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="verify") as executor:
            while claimed := self.claim(self.concurrency):
                for future in [executor.submit(self.verify, i) for i in claimed]:
                    future.result()
        return self.counts

    def claim(self, limit: int) -> list[int]:
        """Claims up to ``limit`` swipes for this verifier."""
        now = self.clock()
        ready = self._video_ready_before(now)
        with self.db.sessions() as session:
            candidates = service.list_claimable(session, now=now, video_ready_before=ready,
                                                limit=limit * 2)
        claimed: list[int] = []
        for swipe_id in candidates:
            if len(claimed) == limit:
                break
            with self.db.transaction() as session:
                if service.claim(session, swipe_id=swipe_id, worker=self.worker_id, now=now,
                                 video_ready_before=ready,
                                 hold_s=self.settings.verification.claim_timeout_s):
                    claimed.append(swipe_id)
        with self._lock:
            self.counts.claimed += len(claimed)
        return claimed

    def verify(self, swipe_id: int) -> None:
        """Verifies one claimed swipe; failures are retried later, never raised."""
        try:
            inputs = flows.load(self.db, swipe_id=swipe_id)
            outcome, judgement = flows.verify(self.settings, self.db, self.pool, inputs,
                                              clock=self.clock)
            recorded = flows.record(self.settings, self.db, inputs=inputs, outcome=outcome,
                                    judgement=judgement, worker=self.worker_id,
                                    now=self.clock())
        except Exception as exc:
            log.exception("swipe %s: verification failed", swipe_id)
            try:
                self._failed(swipe_id, exc)
            except SQLAlchemyError:
                # Its claim runs out and the swipe is tried again then.
                log.exception("swipe %s: could not record the failure", swipe_id)
            return
        with self._lock:
            if recorded is None:
                self.counts.lost += 1
                return
            self.counts.decided[judgement.verdict.value] += 1
        self.signals.decided.publish(swipe_id)
        log.info("swipe %s decided: %s (%s)", swipe_id, judgement.verdict.value,
                 judgement.reason)

    def _failed(self, swipe_id: int, exc: Exception) -> None:
        with self._lock:
            self.counts.failed += 1
        error = f"{type(exc).__name__}: {exc}"
        now = self.clock()
        with self.db.sessions() as session:
            attempts = session.scalar(select(Swipe.attempts).where(Swipe.id == swipe_id)) or 0
        if attempts >= MAX_ATTEMPTS:
            if flows.give_up(self.settings, self.db, swipe_id=swipe_id, worker=self.worker_id,
                             error=error, attempts=attempts, now=now):
                self.signals.decided.publish(swipe_id)
            return
        retry_at = now + timedelta(seconds=RETRY_BASE_S * 2 ** (attempts - 1))
        with self.db.transaction() as session:
            service.release(session, swipe_id=swipe_id, worker=self.worker_id, error=error,
                            retry_at=retry_at)

    def _video_ready_before(self, now: datetime) -> datetime:
        """Swipes without a still before this time have their video before the swipe.

        The capture looks at that part at once and waits for the part after the swipe.
        """
        return now - timedelta(seconds=VIDEO_FLUSH_S)

    def _idle_wait(self) -> float:
        """Seconds until the next swipe waiting for its video is ready (at most the poll)."""
        now = self.clock()
        with self.db.sessions() as session:
            oldest = session.scalar(select(func.min(Swipe.swiped_at)).where(
                Swipe.state == SwipeState.PENDING, Swipe.still_path.is_(None)))
        if oldest is None:
            return IDLE_POLL_S
        ready_in = (oldest - self._video_ready_before(now)).total_seconds()
        return min(IDLE_POLL_S, max(0.05, ready_in))


def workers(settings: Settings, db: Database) -> list[Verifier]:
    return [Verifier(settings, db)]
