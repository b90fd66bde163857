"""One camera's recorder: connect, record segments, reconnect with backoff, never hide a gap.

The recorder is a worker (``run(stop)``). It first claims the camera in its state row
(one recorder per camera, across processes), repairs what a crash left open, then
loops: open the source, copy packets into segments, and when the camera drops, note
a gap and try again after 0.5 s, 1 s, 2 s ... up to ``reconnect_max_s``. Its state
row is its heartbeat: the API reads it from any process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta

import av
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from swipeguard.cameras import repair
from swipeguard.cameras.audio import audio_out
from swipeguard.cameras.models import (
    Camera,
    CameraState,
    Gap,
    RecorderStatus,
    Segment,
    SegmentState,
    SourceKind,
)
from swipeguard.cameras.segments import SegmentWriter, to_datetime
from swipeguard.cameras.sources import Source, SourceClosed, open_source, redact
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
# A claim whose heartbeat is older than this is abandoned: longer than a heartbeat
# plus the longest blocking open (10 s) and read (10 s) of a dead camera.
STALE_S = 30.0
# A gap shorter than this between the last segment and the next is not worth a row:
# connection setup and clock settling take about this long.
MIN_GAP_S = 0.5


class DbIndex:
    """The segment index and the camera's state row, written by its recorder."""

    def __init__(self, db: Database, camera_id: int, owner: str) -> None:
        self.db = db
        self.camera_id = camera_id
        self.owner = owner
        self.first_segment_pending = True

    def opened(self, *, path: str, started_at: datetime, video_codec: str,
               audio_codec: str | None) -> int:
        with self.db.transaction() as s:
            segment = Segment(camera_id=self.camera_id, path=path, started_at=started_at,
                              ended_at=started_at, video_codec=video_codec,
                              audio_codec=audio_codec, state=SegmentState.OPEN)
            s.add(segment)
            if self.first_segment_pending:
                self._end_gaps(s, started_at)
                self._set_state(s, RecorderStatus.RECORDING, error=None)
            s.flush()
            segment_id = segment.id
        self.first_segment_pending = False
        return segment_id

    def closed(self, *, segment_id: int, ended_at: datetime, size_bytes: int) -> None:
        with self.db.transaction() as s:
            s.execute(update(Segment).where(Segment.id == segment_id).values(
                state=SegmentState.COMPLETE, ended_at=ended_at, size_bytes=size_bytes))

    def progressed(self, *, segment_id: int | None, ended_at: datetime | None,
                   size_bytes: int, bitrate_bps: int | None) -> None:
        with self.db.transaction() as s:
            if segment_id is not None and ended_at is not None:
                s.execute(update(Segment).where(Segment.id == segment_id).values(
                    ended_at=ended_at, size_bytes=size_bytes))
            s.execute(update(CameraState).where(CameraState.camera_id == self.camera_id).values(
                heartbeat_at=utcnow(), bitrate_bps=bitrate_bps))

    def dropped(self, *, since: datetime, reason: str) -> None:
        """Opens a gap from ``since`` (unless one is open) and marks the camera reconnecting."""
        with self.db.transaction() as s:
            ongoing = s.scalar(select(Gap.id).where(Gap.camera_id == self.camera_id,
                                                    Gap.ended_at.is_(None)))
            if ongoing is None:
                s.add(Gap(camera_id=self.camera_id, started_at=since, reason=reason))
            self._set_state(s, RecorderStatus.RECONNECTING, error=reason)
        self.first_segment_pending = True

    def waiting(self, reason: str) -> None:
        with self.db.transaction() as s:
            self._set_state(s, RecorderStatus.RECONNECTING, error=reason)

    def stopped(self) -> None:
        with self.db.transaction() as s:
            self._end_gaps(s, utcnow())
            s.execute(update(CameraState).where(
                CameraState.camera_id == self.camera_id, CameraState.owner == self.owner,
            ).values(status=RecorderStatus.STOPPED, owner=None, heartbeat_at=utcnow(),
                     bitrate_bps=None))

    def last_end(self) -> datetime | None:
        with self.db.sessions() as s:
            return s.scalar(select(func.max(Segment.ended_at)).where(
                Segment.camera_id == self.camera_id))

    def claim(self) -> bool:
        """Takes the camera unless a live recorder holds it; exactly one row must change."""
        now = utcnow()
        try:
            with self.db.transaction() as s:
                state = s.get(CameraState, self.camera_id)
                if state is None:
                    s.add(CameraState(camera_id=self.camera_id, status=RecorderStatus.STOPPED))
                    s.flush()
                free = (CameraState.owner.is_(None)) | (CameraState.owner == self.owner) \
                    | (CameraState.heartbeat_at < now - timedelta(seconds=STALE_S))
                if state is not None and state.owner and _dead_here(state.owner):
                    free = free | (CameraState.owner == state.owner)
                changed = s.execute(update(CameraState).where(
                    CameraState.camera_id == self.camera_id, free,
                ).values(owner=self.owner, heartbeat_at=now)).rowcount
        except IntegrityError:
            return False
        return changed == 1

    def _end_gaps(self, s: Session, at: datetime) -> None:
        s.execute(update(Gap).where(Gap.camera_id == self.camera_id, Gap.ended_at.is_(None))
                  .values(ended_at=at))

    def _set_state(self, s: Session, status: RecorderStatus, *, error: str | None) -> None:
        s.execute(update(CameraState).where(CameraState.camera_id == self.camera_id).values(
            status=status, heartbeat_at=utcnow(), last_error=error))


class Recorder:
    """Records one camera until stopped."""

    def __init__(self, settings: Settings, db: Database, camera_id: int, *,
                 realtime: bool = True, since: datetime | None = None,
                 until: datetime | None = None) -> None:
        self.settings = settings
        self.db = db
        self.camera_id = camera_id
        self.name = f"recorder-{camera_id}"
        self.realtime = realtime
        self.since = since
        self.until = until
        owner = f"{socket.gethostname()}:{os.getpid()}:{camera_id}"
        self.index = DbIndex(db, camera_id, owner)
        self._bytes_at: tuple[float, int] | None = None

    def run(self, stop: threading.Event) -> None:
        if not self._wait_for_claim(stop):
            return
        try:
            repair.repair_open_segments(self.settings, self.db, camera_id=self.camera_id)
            self._anchor_replay()
            self._note_downtime()
            self._connect_loop(stop)
        finally:
            self.index.stopped()

    def _wait_for_claim(self, stop: threading.Event) -> bool:
        while not self.index.claim():
            log.warning("camera %s is held by another recorder; waiting", self.camera_id)
            if stop.wait(STALE_S / 2):
                return False
        return True

    def _anchor_replay(self) -> None:
        """A replayed file with no start time starts playing now, and keeps that start."""
        with self.db.transaction() as s:
            camera = s.get(Camera, self.camera_id)
            if camera and camera.source_kind is SourceKind.FILE and not camera.replay_started_at:
                camera.replay_started_at = utcnow()
                log.info("camera %s: file replay anchored at %s", self.camera_id,
                         camera.replay_started_at)

    def _note_downtime(self) -> None:
        """A recorder that was not running leaves a gap since the last segment's end."""
        last = self.index.last_end()
        if last is not None and self.realtime and (utcnow() - last).total_seconds() > MIN_GAP_S:
            self.index.dropped(since=last, reason="recorder was not running")

    def _connect_loop(self, stop: threading.Event) -> None:
        recording = self.settings.recording
        delay = recording.reconnect_initial_s
        while not stop.is_set():
            try:
                if self._session(stop):
                    delay = recording.reconnect_initial_s
                if not self.realtime:
                    return
            except SQLAlchemyError as exc:
                # The index is unreachable (database restarting): what was written stays
                # on disk, open segments are repaired on the next start.
                log.error("camera %s: database error, retrying: %s", self.camera_id, exc)
            if stop.wait(delay):
                return
            delay = min(delay * 2, recording.reconnect_max_s)

    def _session(self, stop: threading.Event) -> bool:
        """One connection to the camera; True if it recorded something."""
        camera = self._camera()
        try:
            source = open_source(camera, realtime=self.realtime, since=self.since,
                                 until=self.until)
        except (av.FFmpegError, OSError, SourceClosed, ValueError) as exc:
            self._failed(f"cannot open camera: {_describe(exc, camera)}", camera)
            return False
        log.info("camera %s connected (%s)", self.camera_id, _where(camera))
        try:
            return self._record(source, stop)
        except (av.FFmpegError, OSError, SourceClosed) as exc:
            self._failed(f"camera dropped: {_describe(exc, camera)}", camera)
            return False
        finally:
            source.close()

    def _camera(self) -> Camera:
        with self.db.sessions() as s:
            camera = s.get(Camera, self.camera_id)
            if camera is None:
                raise LookupError(f"camera {self.camera_id} was deleted")
            return camera

    def _failed(self, reason: str, camera: Camera) -> None:
        last = self.index.last_end() or utcnow()
        log.warning("camera %s (%s): %s; reconnecting", self.camera_id, _where(camera), reason)
        self.index.dropped(since=last, reason=reason[:300])

    def _record(self, source: Source, stop: threading.Event) -> bool:
        """Copies packets into segments until stopped; True if any segment was written."""
        last = self.index.last_end()
        writer = SegmentWriter(
            data_dir=self.settings.data_dir, camera_id=self.camera_id,
            segment_seconds=self.settings.recording.segment_seconds, video=source.video,
            audio=audio_out(source.audio), index=self.index,
            resume_after=last.timestamp() if last else None)
        beat = time.monotonic()
        try:
            for timed in source.packets(stop):
                writer.write(timed)
                if time.monotonic() - beat >= HEARTBEAT_S:
                    beat = time.monotonic()
                    self._heartbeat(writer)
        finally:
            wrote = writer.segment_id is not None or writer.bytes_closed > 0
            writer.close()
        return wrote

    def _heartbeat(self, writer: SegmentWriter) -> None:
        size = 0
        if writer.current is not None:
            size = writer.current.path.stat().st_size if writer.current.path.exists() else 0
        total = writer.bytes_closed + size
        now = time.monotonic()
        bitrate = None
        if self._bytes_at is not None and total >= self._bytes_at[1]:
            elapsed = now - self._bytes_at[0]
            bitrate = int((total - self._bytes_at[1]) * 8 / elapsed) if elapsed > 0 else None
        self._bytes_at = (now, total)
        ended = writer.ended
        self.index.progressed(segment_id=writer.segment_id,
                              ended_at=to_datetime(ended) if ended else None,
                              size_bytes=size, bitrate_bps=bitrate)


def _dead_here(owner: str) -> bool:
    """True if ``owner`` was a process on this host that no longer exists (it crashed)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _where(camera: Camera) -> str:
    return redact(camera.source) if camera.source_kind is SourceKind.RTSP else "file replay"


def _describe(exc: BaseException, camera: Camera) -> str:
    """The error for logs and gap rows, without the camera's password (FFmpeg quotes URLs)."""
    text = f"{type(exc).__name__}: {exc}"
    if camera.source_kind is SourceKind.RTSP:
        text = text.replace(camera.source, redact(camera.source))
    return text[:250]


def record_replay(settings: Settings, db: Database, *, camera_id: int, since: datetime,
                  until: datetime) -> None:
    """Records a FILE camera's replay from ``since`` to ``until`` as fast as it decodes.

    The segments are the ones a live recording of that time would have made; used to
    fill a demo, a test or a benchmark without waiting for the wall clock.
    """
    recorder = Recorder(settings, db, camera_id, realtime=False, since=since, until=until)
    recorder.run(threading.Event())
