"""Helpers for the camera tests: a facility with a camera, real footage cut for short
segments, waiting on a recorder, and checking that a segment plays to its end."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from swipeguard.auth import service as auth
from swipeguard.auth.deps import COOKIE
from swipeguard.auth.models import Role
from swipeguard.cameras import service as cameras
from swipeguard.cameras.models import Segment, SegmentState, SourceKind
from swipeguard.cameras.recorder import Recorder
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.facilities.models import Facility, FacilityKind, Till
from swipeguard.swipes.models import Swipe


def add_camera(
    db: Database, *, source_kind: SourceKind, source: str,
    replay_started_at: datetime | None = None, name: str = "till-1-camera",
) -> int:
    with db.transaction() as s:
        facility = Facility(name="Pharmacy 7", kind=FacilityKind.PHARMACY, district="North")
        s.add(facility)
        s.flush()
        camera = cameras.create_camera(s, name=name, facility_id=facility.id,
                                       source_kind=source_kind, source=source,
                                       replay_started_at=replay_started_at)
        s.add(Till(facility_id=facility.id, name="till-1", camera_id=camera.id,
                   api_key_hash=f"{camera.id:064d}"))
        return camera.id


def short_gop_footage(samples: Path, cache: Path) -> Path:
    """The Hamilton sample re-encoded with a keyframe every 0.5 s, looped to 60 s.

    Short GOPs let 1 s segments start on time; encoded once and kept in pytest's cache.
    """
    out = cache / "hamilton-gop15-60s.mp4"
    if out.exists():
        return out
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "Debian's ffmpeg is needed to prepare the test footage"
    tmp = cache / "hamilton-gop15.tmp.mp4"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-stream_loop", "5", "-i",
         str(samples / "video" / "short_hamilton_clip.mp4"), "-t", "60",
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "0",
         "-g", "15", "-keyint_min", "15", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "96k", str(tmp)],
        check=True,
    )
    tmp.rename(out)
    return out


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def segments(db: Database, camera_id: int) -> list[Segment]:
    with db.sessions() as s:
        return [*s.scalars(select(Segment).where(Segment.camera_id == camera_id)
                           .order_by(Segment.started_at))]


def closed_segments(db: Database, camera_id: int) -> list[Segment]:
    return [x for x in segments(db, camera_id) if x.state is not SegmentState.OPEN]


@dataclass(frozen=True)
class Played:
    video_frames: int
    audio_frames: int
    audio_codec: str | None
    duration_s: float


def play(path: Path) -> Played:
    """Demuxes and decodes every packet of a file; raises if any part is damaged."""
    video = audio = 0
    end = 0.0
    with av.open(str(path)) as container:
        audio_codec = (container.streams.audio[0].codec_context.name
                       if container.streams.audio else None)
        for packet in container.demux():
            assert not packet.is_corrupt, f"corrupt packet in {path.name}"
            for frame in packet.decode():
                if packet.stream.type == "video":
                    video += 1
                    end = max(end, float(frame.time or 0.0))
                else:
                    audio += 1
    return Played(video, audio, audio_codec, end)


@contextmanager
def recording(settings: Settings, db: Database, camera_id: int) -> Iterator[Recorder]:
    """A recorder running in a thread for the duration of the block."""
    recorder = Recorder(settings, db, camera_id)
    stop = threading.Event()
    thread = threading.Thread(target=recorder.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the recorder did not stop within 30 s"


def add_swipe(db: Database, *, camera_id: int, at: datetime) -> int:
    """A swipe at the till over ``camera_id`` (the card number is a test number)."""
    with db.transaction() as s:
        till = s.scalar(select(Till).where(Till.camera_id == camera_id))
        assert till is not None
        swipe = Swipe(till_id=till.id, camera_id=camera_id,
                      idempotency_key=f"k-{at.timestamp()}", request_hash="0" * 64,
                      card_no="9990000000000001", swiped_at=at, amount_cents=1250)
        s.add(swipe)
        s.flush()
        return swipe.id


def signed_in_client(app: FastAPI, db: Database, *, username: str = "op1") -> TestClient:
    """A test client carrying the session cookie of a new operator."""
    with db.transaction() as s:
        user = auth.create_user(s, username=username, password="correct horse battery",
                                role=Role.OPERATOR)
        token = auth.sign_in(s, user=user, hours=1)
    client = TestClient(app)
    client.cookies.set(COOKIE, token)
    return client
