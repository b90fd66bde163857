"""Background work of investigations: keeping the face indexes current, grouping the
faces of non-holders into suspects, and checking the rules beyond the face.

Each worker wakes when a swipe is decided (the verifier's signal) or after a short
poll, does what is new, and reports counts when it stops.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy import select

from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.investigations import clustering, rules
from swipeguard.investigations.models import WorkerCursor
from swipeguard.investigations.search import open_search
from swipeguard.swipes.models import Swipe, SwipeState
from swipeguard.swipes.signals import get_signals
from swipeguard.workers import Worker

log = logging.getLogger(__name__)

POLL_S = 5.0  # looked at this often even without a signal (signals can be missed)
# The index files are rewritten at most this often, and only once 0.5% of a gallery is
# new: a 7M-descriptor index is ~5.5 GB to write, and what was not saved is read from
# the database again (by id, quickly) on the next start anyway.
SAVE_EVERY_S = 600.0
SAVE_SHARE = 0.005
CHECK_EVERY_S = 3600.0  # a full count check against the database, for deleted rows
# A swipe still undecided after this long (verifier down, video missing) gets its
# rules checked anyway: the rules need no verdict, only the card, time, place, amount.
UNDECIDED_WAIT = timedelta(minutes=10)
RULES_BATCH = 500


def workers(settings: Settings, db: Database) -> list[Worker]:
    return [FaceIndexer(settings, db), SuspectGrouper(settings, db), RuleChecker(settings, db)]


class _Polling:
    """Runs ``step`` whenever a swipe is decided or every POLL_S, until stopped."""

    name = "polling"

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.done = 0

    def step(self) -> int:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once when stopping."""

    def run(self, stop: threading.Event) -> None:
        subscription = get_signals(self.settings, self.db).decided.subscribe()
        try:
            while not stop.is_set():
                try:
                    while self.step() and not stop.is_set():
                        pass
                except Exception:
                    log.exception("%s: a pass failed; trying again in %s s", self.name, POLL_S)
                    stop.wait(POLL_S)
                    continue
                subscription.wait(POLL_S)
        finally:
            subscription.close()
            self.finish()
            log.info("%s stopped: %s handled", self.name, self.done)


class FaceIndexer(_Polling):
    """Adds new captures and enrolled photos to the search indexes and saves them."""

    name = "face-indexer"

    def __init__(self, settings: Settings, db: Database) -> None:
        super().__init__(settings, db)
        self.search = open_search(settings, db)
        self._saved_at = time.monotonic()
        self._checked_at = -CHECK_EVERY_S  # check against the database on the first step

    def step(self) -> int:
        check = time.monotonic() - self._checked_at > CHECK_EVERY_S
        added = sum(r.added for r in self.search.sync(check=check))
        if check:
            self._checked_at = time.monotonic()
        if time.monotonic() - self._saved_at > SAVE_EVERY_S:
            self.search.save(min_share=SAVE_SHARE)
            self._saved_at = time.monotonic()
        self.done += added
        return 0  # a sync takes everything new at once

    def finish(self) -> None:
        self.search.save()


class SuspectGrouper(_Polling):
    """Places new non-holder captures into suspects."""

    name = "suspect-grouper"

    def step(self) -> int:
        with self.db.transaction() as session:
            placed = clustering.group_new_captures(
                session, link=self.settings.search.group_threshold,
                threshold=self.settings.verification.threshold)
        self.done += len(placed)
        return len(placed)


class RuleChecker(_Polling):
    """Checks the rules on each swipe once, in id order, after it is decided."""

    name = "rule-checker"

    def step(self) -> int:
        with self.db.transaction() as session:
            cursor = session.get(WorkerCursor, self.name)
            if cursor is None:
                cursor = WorkerCursor(name=self.name, position=0)
                session.add(cursor)
            swipes = session.scalars(select(Swipe).where(Swipe.id > cursor.position)
                                     .order_by(Swipe.id).limit(RULES_BATCH)).all()
            checked = 0
            for swipe in swipes:
                if swipe.state is not SwipeState.DECIDED and \
                        swipe.received_at > utcnow() - UNDECIDED_WAIT:
                    break
                rules.apply(session, swipe=swipe, settings=self.settings.rules)
                cursor.position = swipe.id
                checked += 1
            cursor.updated_at = utcnow()
        self.done += checked
        return checked
