"""Background work that ``swipeguard serve`` runs beside the API.

A feature package contributes workers through a ``workers.py`` module with
``def workers(settings: Settings, db: Database) -> list[Worker]``. A worker runs
until its stop event is set, bounds its own concurrency and logs what it did.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.discovery import feature_modules

log = logging.getLogger(__name__)


class Worker(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


def all_workers(settings: Settings, db: Database) -> list[Worker]:
    found: list[Worker] = []
    for module in feature_modules("workers"):
        found.extend(module.workers(settings, db))
    return found


class WorkerThreads:
    """Runs workers in threads and stops them together."""

    def __init__(self, workers: list[Worker]) -> None:
        self.stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._guard, args=(w,), name=w.name, daemon=True)
            for w in workers
        ]

    def _guard(self, worker: Worker) -> None:
        log.info("worker %s started", worker.name)
        try:
            worker.run(self.stop)
        except Exception:
            log.exception("worker %s failed", worker.name)
        else:
            log.info("worker %s stopped", worker.name)

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout)
