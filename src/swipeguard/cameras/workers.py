"""The cameras' background work: one recorder per enabled camera, and retention."""

from __future__ import annotations

from swipeguard.cameras import service
from swipeguard.cameras.recorder import Recorder
from swipeguard.cameras.retention import RetentionWorker
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.workers import Worker


def workers(settings: Settings, db: Database) -> list[Worker]:
    """A recorder per camera enabled now (cameras added later need a restart) + retention.

    With ``recording.in_serve`` off, recording is left to ``swipeguard record``.
    """
    if not settings.recording.in_serve:
        return [RetentionWorker(settings, db)]
    with db.sessions() as session:
        cameras = service.list(session, enabled=True)
        found: list[Worker] = [Recorder(settings, db, camera.id) for camera in cameras]
    found.append(RetentionWorker(settings, db))
    return found
