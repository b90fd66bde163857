"""Retention: old segments go, evidence stays, and every deletion is a row.

A segment older than ``retention.keep_days`` is deleted unless it is protected: its
``protected`` flag is set, or it overlaps a protected window. Open and acknowledged
alarms protect their swipe's clip window; other parts (investigations, cases) add
windows through ``register_protection``. When free disk space falls below
``retention.min_free_bytes`` the oldest unprotected segments go first, whatever
their age. Open segments are never touched.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from swipeguard.alarms.models import Alarm, AlarmStatus
from swipeguard.cameras.clips import CLIPS_DIR
from swipeguard.cameras.models import Purge, Segment, SegmentState
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.swipes.models import Swipe

log = logging.getLogger(__name__)

BATCH = 500  # segments examined per query, so a large index is walked in steps


@dataclass(frozen=True)
class Window:
    """Video of one camera that must be kept."""

    camera_id: int
    start: datetime
    end: datetime


ProtectionHook = Callable[[Session], Iterable[Window]]
_hooks: list[ProtectionHook] = []


def register_protection(hook: ProtectionHook) -> None:
    """Adds a source of protected windows (e.g. the video gathered into a case)."""
    if hook not in _hooks:
        _hooks.append(hook)


def unregister_protection(hook: ProtectionHook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def protected_windows(
    session: Session, *, before_s: float = 15.0, after_s: float = 15.0,
) -> list[Window]:
    """Windows retention must keep: open or acknowledged alarms' clips, and the hooks'."""
    rows = session.execute(
        select(Swipe.camera_id, Swipe.swiped_at)
        .select_from(Alarm)
        .join(Swipe, Swipe.id == Alarm.swipe_id)
        .where(Alarm.status.in_((AlarmStatus.OPEN, AlarmStatus.ACKNOWLEDGED)),
               Swipe.camera_id.is_not(None))
    ).all()
    windows = [Window(camera_id, at - timedelta(seconds=before_s), at + timedelta(seconds=after_s))
               for camera_id, at in rows if camera_id is not None]
    for hook in _hooks:
        windows.extend(hook(session))
    return windows


@dataclass
class _Protection:
    by_camera: dict[int, list[Window]]

    def covers(self, segment: Segment) -> bool:
        if segment.protected:
            return True
        return any(w.start <= segment.ended_at and segment.started_at <= w.end
                   for w in self.by_camera.get(segment.camera_id, ()))


def purge(
    settings: Settings, db: Database, *, now: datetime | None = None,
    free_bytes: Callable[[], int] | None = None,
) -> list[Purge]:
    """One retention pass; returns the purge records it wrote."""
    now = now or utcnow()
    measure = free_bytes or (lambda: _disk_free(settings.data_dir))
    recording = settings.recording
    with db.sessions() as session:
        windows = protected_windows(session, before_s=recording.clip_before_s,
                                    after_s=recording.clip_after_s)
    protection = _Protection(defaultdict(list))
    for w in windows:
        protection.by_camera[w.camera_id].append(w)

    cutoff = now - timedelta(days=settings.retention.keep_days)
    done = _purge_old(settings, db, protection, cutoff)
    done += _purge_for_space(settings, db, protection, measure)
    _drop_old_clips(settings.data_dir / CLIPS_DIR, cutoff)
    if done:
        log.info("retention purged %s segment(s), %s bytes", len(done),
                 sum(p.size_bytes for p in done))
    return done


def _candidates(session: Session, *, after: tuple[datetime, int] | None,
                ended_before: datetime | None) -> list[Segment]:
    """Closed, unflagged segments oldest first, a batch after the ``after`` key."""
    query = select(Segment).where(Segment.state != SegmentState.OPEN,
                                  Segment.protected.is_(False))
    if ended_before is not None:
        query = query.where(Segment.ended_at < ended_before)
    if after is not None:
        query = query.where((Segment.started_at > after[0])
                            | ((Segment.started_at == after[0]) & (Segment.id > after[1])))
    return [*session.scalars(query.order_by(Segment.started_at, Segment.id).limit(BATCH))]


def _purge_old(settings: Settings, db: Database, protection: _Protection,
               cutoff: datetime) -> list[Purge]:
    done: list[Purge] = []
    after = None
    while True:
        with db.sessions() as session:
            batch = _candidates(session, after=after, ended_before=cutoff)
        if not batch:
            return done
        after = (batch[-1].started_at, batch[-1].id)
        done += [_purge_one(settings, db, s, "age") for s in batch if not protection.covers(s)]


def _purge_for_space(settings: Settings, db: Database, protection: _Protection,
                     measure: Callable[[], int]) -> list[Purge]:
    needed = settings.retention.min_free_bytes
    free = measure()
    done: list[Purge] = []
    after = None
    while free < needed:
        with db.sessions() as session:
            batch = _candidates(session, after=after, ended_before=None)
        if not batch:
            log.warning("disk below %s free bytes and nothing left to purge; free space "
                        "or lower retention.min_free_bytes", needed)
            return done
        after = (batch[-1].started_at, batch[-1].id)
        for segment in batch:
            if free >= needed:
                break
            if protection.covers(segment):
                continue
            done.append(_purge_one(settings, db, segment, "low_disk"))
            free = measure()
    return done


def _purge_one(settings: Settings, db: Database, segment: Segment, reason: str) -> Purge:
    """Deletes the row (with its purge record) first, then the file.

    A crash between the two leaves an orphan file rather than a row without a file.
    """
    with db.transaction() as session:
        row = session.get(Segment, segment.id)
        record = Purge(segment_id=segment.id, camera_id=segment.camera_id, path=segment.path,
                       started_at=segment.started_at, ended_at=segment.ended_at,
                       size_bytes=segment.size_bytes, reason=reason)
        session.add(record)
        if row is not None:
            session.delete(row)
    (settings.data_dir / segment.path).unlink(missing_ok=True)
    log.debug("segment %s of camera %s purged (%s)", segment.id, segment.camera_id, reason)
    return record


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def _drop_old_clips(clips: Path, cutoff: datetime) -> None:
    """Cut clips are caches of segments: they go when their segments' age would."""
    if not clips.is_dir():
        return
    limit = cutoff.timestamp()
    for kept in clips.rglob("*"):
        if kept.is_file() and kept.stat().st_mtime < limit:
            kept.unlink(missing_ok=True)


class RetentionWorker:
    name = "retention"

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                purge(self.settings, self.db)
            except OSError as exc:
                log.error("retention pass failed: %s", exc)
            log.debug("retention pass took %.2f s", time.monotonic() - started)
            stop.wait(self.settings.retention.interval_s)
