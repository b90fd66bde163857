"""The face of the person at the counter for one swipe: from the till's still or from video.

From a still: the largest face (several people may be in the picture; the one at the
counter is nearest the camera). From video: frames from ``window_before_s`` before the
swipe to ``window_after_s`` after it, faces detected in each (in the face pool), tracked
from frame to frame, the counter's track chosen, its best ``frames_fused`` frames
embedded and fused into one descriptor weighted by their quality.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from swipeguard.cameras.frames import Frame, frames_between
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.faces import quality as face_quality
from swipeguard.faces import service as faces
from swipeguard.faces.images import load_image
from swipeguard.faces.pool import FacePool, chip_jpeg, worker_engine
from swipeguard.faces.types import Embedding, Face
from swipeguard.swipes import files, tracking
from swipeguard.swipes.models import Capture, CaptureSource

log = logging.getLogger(__name__)

# The recorder flushes a fragment at least every second (cameras.frames): video up to a
# moment is readable this long after it.
VIDEO_FLUSH_S = 1.0
# The longest a capture sleeps for its video: window_after_s (at most 30) plus the flush.
MAX_VIDEO_WAIT_S = 31.0

# A face seen this close before the swipe belongs to the person swiping: at 5 frames a
# second that is the last two or three frames before it.
EARLY_PRESENT_S = 0.5

# Five frames a second: a face at the counter for even one second is seen five times,
# and a 5 s window costs 25 detections (about 1.3 s of one core at 640x360, upsample 1).
SAMPLE_FPS = 5.0


@dataclass(frozen=True)
class FaceCapture:
    """A usable face and its descriptor (fused over ``frames_used`` frames for video)."""

    source: CaptureSource
    face: Face  # the best sighting: its chip is what an operator sees
    descriptor: Embedding
    frames_used: int
    frames_seen: int = 1  # frames looked at (1 for a still)
    at: datetime | None = None  # when the best frame was taken (video only)

    def describe(self) -> str:
        if self.source is CaptureSource.STILL:
            return "from the till's still"
        return (f"over {self.frames_used} fused frame{'s' if self.frames_used > 1 else ''} "
                f"of {self.frames_seen} sampled")


@dataclass(frozen=True)
class NoCapture:
    """Why no usable face was found, in words for the operator."""

    reason: str
    no_video: bool = False  # the camera gave nothing, as opposed to showing no face


Outcome = FaceCapture | NoCapture


# A second face at least this share of the largest one's size is at the counter too,
# not in the background: a passer-by behind the till shows at half the size or less.
RIVAL_SIZE = 0.7


def from_still(settings: Settings, pool: FacePool, *, data: bytes) -> Outcome:
    """The largest face in the till's still."""
    found = pool.submit(still_face, data, max_pixels=settings.faces.max_image_pixels,
                        min_face_px=settings.faces.min_face_px).result()
    if found is None:
        return NoCapture("no face in the till's still")
    if isinstance(found, int):
        # Two faces of a size at the counter: holding the holder's photo beside one's own
        # face must not pass, so nobody is taken to be the payer and an operator looks.
        return NoCapture(f"{found} faces of similar size in the till's still; "
                         "cannot tell who is paying")
    face, descriptor = found
    if descriptor is None:
        return NoCapture(f"{_too_small(face, settings)} in the till's still")
    return FaceCapture(source=CaptureSource.STILL, face=face, descriptor=descriptor,
                       frames_used=1)


def still_face(data: bytes, *, max_pixels: int,
               min_face_px: int) -> tuple[Face, Embedding | None] | int | None:
    """In a pool worker: the largest face of a still, and its descriptor if large enough;
    or how many faces there are when another is nearly as large (the payer is ambiguous).

    The descriptor averages the chip and its mirror image: on the development pairs this
    cut genuine holders over the threshold from 4.8% to 3.4% for one more embedding.
    """
    engine = worker_engine()
    found = faces.detect(load_image(data, max_pixels=max_pixels), engine=engine)
    if not found:
        return None
    face = max(found, key=lambda f: f.quality.face_px)
    rivals = [f for f in found
              if f is not face and f.quality.face_px >= RIVAL_SIZE * face.quality.face_px]
    if rivals and face.quality.face_px >= min_face_px:
        return 1 + len(rivals)
    if face.quality.face_px < min_face_px:
        return face, None
    return face, faces.embed(face, flip=True, engine=engine)


@dataclass(frozen=True)
class Footage:
    """The sampled frames around a swipe and the faces found in each."""

    frames: list[Frame]
    faces: list[list[Face]]

    def __add__(self, later: Footage) -> Footage:
        return Footage(self.frames + later.frames, self.faces + later.faces)


def from_video(settings: Settings, db: Database | Session, pool: FacePool, *,
               camera_id: int, swiped_at: datetime, frames_fused: int | None = None,
               clock: Callable[[], datetime] = utcnow) -> Outcome:
    """The fused face of the person at the counter around the swipe time.

    The video before the swipe is looked at first, while the video after it is still
    being recorded. If it shows the person at the counter well (``early_decision``),
    the verdict need not wait for the rest; otherwise the part after the swipe is added.
    """
    v = settings.verification
    count = frames_fused or v.frames_fused
    start = swiped_at - timedelta(seconds=v.window_before_s)
    end = swiped_at + timedelta(seconds=v.window_after_s)
    before = _look(settings, db, pool, camera_id=camera_id, start=start, end=swiped_at,
                   clock=clock)
    if v.early_decision and _shows_counter_well(settings, before, swiped_at=swiped_at,
                                                frames_fused=count):
        return counter_face(settings, pool, before, swiped_at=swiped_at, frames_fused=count)
    footage = before + _look(settings, db, pool, camera_id=camera_id,
                             start=swiped_at + _AFTER, end=end, clock=clock)
    if not footage.frames:
        return NoCapture(f"no video from the till's camera between {start:%H:%M:%S} and "
                         f"{end:%H:%M:%S}; check the camera", no_video=True)
    return counter_face(settings, pool, footage, swiped_at=swiped_at, frames_fused=count)


def look(settings: Settings, db: Database | Session, pool: FacePool, *, camera_id: int,
         swiped_at: datetime, clock: Callable[[], datetime] = utcnow) -> Footage:
    """The whole window around the swipe, and the faces in each frame (for measuring)."""
    v = settings.verification
    start = swiped_at - timedelta(seconds=v.window_before_s)
    end = swiped_at + timedelta(seconds=v.window_after_s)
    return (_look(settings, db, pool, camera_id=camera_id, start=start, end=swiped_at,
                  clock=clock)
            + _look(settings, db, pool, camera_id=camera_id, start=swiped_at + _AFTER,
                    end=end, clock=clock))


_AFTER = timedelta(microseconds=1)  # the swipe's own instant belongs to the part before it


def _look(settings: Settings, db: Database | Session, pool: FacePool, *, camera_id: int,
          start: datetime, end: datetime, clock: Callable[[], datetime]) -> Footage:
    """Frames from ``start`` to ``end`` once recorded, and the faces in each (in the pool)."""
    _wait_for_video(end, clock)
    started = time.perf_counter()
    frames = list(frames_between(settings, db, camera_id=camera_id, start=start, end=end,
                                 fps=SAMPLE_FPS))
    decoded = time.perf_counter()
    found = pool.detect_many([f.image for f in frames])
    log.debug("camera %s: %s frames decoded in %.2f s, faces found in %.2f s", camera_id,
              len(frames), decoded - started, time.perf_counter() - decoded)
    return Footage(frames, found)


def _wait_for_video(until: datetime, clock: Callable[[], datetime]) -> None:
    """Sleeps until the video up to ``until`` has been recorded and flushed."""
    left = (until - clock()).total_seconds() + VIDEO_FLUSH_S
    if left > 0:
        time.sleep(min(left, MAX_VIDEO_WAIT_S))


def _shows_counter_well(settings: Settings, before: Footage, *, swiped_at: datetime,
                        frames_fused: int) -> bool:
    """Whether the person at the counter is there at the swipe with enough good frames."""
    track = _counter_track(before, swiped_at=swiped_at)
    if track is None or (swiped_at - track.last.at).total_seconds() > EARLY_PRESENT_S:
        return False
    good = [s for s in track.sightings if not face_quality.problems(
        s.face.quality, min_face_px=settings.faces.min_face_px)]
    return len(good) >= frames_fused


def _counter_track(footage: Footage, *, swiped_at: datetime) -> tracking.Track | None:
    if not footage.frames:
        return None
    tracks = tracking.link([(f.at, found) for f, found in zip(footage.frames, footage.faces,
                                                              strict=True)])
    height, width = footage.frames[0].image.shape[:2]
    return tracking.counter_track(tracks, frame_times=[f.at for f in footage.frames],
                                  swiped_at=swiped_at, frame_size=(width, height))


def counter_face(settings: Settings, pool: FacePool, footage: Footage, *,
                 swiped_at: datetime, frames_fused: int) -> Outcome:
    """The person at the counter, their best ``frames_fused`` frames embedded and fused."""
    track = _counter_track(footage, swiped_at=swiped_at)
    if track is None:
        seconds = (footage.frames[-1].at - footage.frames[0].at).total_seconds() if (
            footage.frames) else 0.0
        return NoCapture(f"no face at the counter in {len(footage.frames)} frames "
                         f"({seconds:.1f} s of video)")
    best = [s for s in tracking.best_sightings(track, count=frames_fused)
            if not _too_small(s.face, settings)]
    if not best:
        return NoCapture(f"{_too_small(track.last.face, settings)} in every frame of the "
                         "person at the counter")
    embeddings = pool.embed_many([s.face for s in best])
    weights = [max(1e-3, tracking.frame_score(s.face)) for s in best]
    return FaceCapture(
        source=CaptureSource.VIDEO, face=best[0].face,
        descriptor=faces.fuse(embeddings, weights), frames_used=len(best),
        frames_seen=len(footage.frames), at=best[0].at,
    )


def _too_small(face: Face, settings: Settings) -> str | None:
    px, least = face.quality.face_px, settings.faces.min_face_px
    return f"the face is {px}px, under the {least}px needed" if px < least else None


def store(settings: Settings, session: Session, *, swipe_id: int, swiped_at: datetime,
          capture: FaceCapture) -> Capture:
    """Writes the chip durably, then adds the capture's row (committed by the caller)."""
    path = files.store(settings, kind=files.CAPTURES, at=swiped_at,
                       data=chip_jpeg(capture.face.chip))
    q = capture.face.quality
    row = Capture(
        swipe_id=swipe_id, source=capture.source, image_path=path,
        descriptor=faces.encode(capture.descriptor), frames_used=capture.frames_used,
        face_px=q.face_px, sharpness=q.sharpness, frontal=q.frontal,
        detection_score=q.detection_score if math.isfinite(q.detection_score) else 0.0,
    )
    session.add(row)
    return row
