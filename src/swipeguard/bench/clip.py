"""``swipeguard bench clip``: time to deliver a swipe's 30 s clip through the API.

A camera replaying the 720p ~2 Mb/s benchmark source is recorded (faster than real
time, through the recorder's own code) into 10 s segments; a swipe sits mid-way so
its clip (15 s either side) spans four segments. Each run asks the real app for
``/api/swipes/{id}/clip`` as a signed-in operator and reads the whole body: cold
runs cut the clip from the segments, warm runs serve the kept clip.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from swipeguard.api.app import create_app
from swipeguard.auth import service as auth
from swipeguard.auth.deps import COOKIE
from swipeguard.auth.models import Role
from swipeguard.bench.recording import default_cache_dir, source_720p
from swipeguard.cameras import service as cameras
from swipeguard.cameras.clips import CLIPS_DIR
from swipeguard.cameras.models import SourceKind
from swipeguard.cameras.recorder import record_replay
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.facilities.models import Facility, FacilityKind, Till
from swipeguard.swipes.models import Swipe

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

log = logging.getLogger(__name__)

NAME = "clip"
HELP = "time to deliver a swipe's 30 s clip (median over runs, cold and kept)"

RECORDED_S = 60.0
SWIPE_AT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=7, help="requests timed per case")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the generated 720p source is kept")


def run(args: argparse.Namespace) -> dict[str, Any]:
    source = source_720p(args.cache_dir or default_cache_dir())
    with tempfile.TemporaryDirectory(prefix="swipeguard-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench")
        db = Database(settings.resolved_database_url)
        db.migrate()
        started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        swipe_id, camera_id = _seed(db, source, started)
        began = time.monotonic()
        record_replay(settings, db, camera_id=camera_id, since=started,
                      until=started + timedelta(seconds=RECORDED_S))
        recorded_in = time.monotonic() - began
        client = _client(settings, db)
        cold = [_fetch(client, swipe_id, settings, clear=True) for _ in range(args.runs)]
        warm = [_fetch(client, swipe_id, settings, clear=False) for _ in range(args.runs)]
        clip = next((settings.data_dir / CLIPS_DIR).rglob("*.mp4"))
        duration, has_audio = _probe(clip)
        size = clip.stat().st_size
        with db.sessions() as s:
            spanned = len(cameras.list_segments(
                s, camera_id=camera_id, start=started + timedelta(seconds=SWIPE_AT_S - 15),
                end=started + timedelta(seconds=SWIPE_AT_S + 15)))
        client.close()
        db.dispose()
    return {
        "source": "1280x720 25 fps H.264 ~2 Mb/s + AAC, 10 s segments",
        "recorded_60s_of_video_in_s": round(recorded_in, 2),
        "clip_duration_s": round(duration, 2),
        "clip_has_audio": has_audio,
        "clip_bytes": size,
        "segments_spanned": spanned,
        "runs": args.runs,
        "cold_median_s": round(statistics.median(cold), 3),
        "cold_max_s": round(max(cold), 3),
        "kept_median_s": round(statistics.median(warm), 3),
        "target_s": 1.0,
    }


def _seed(db: Database, source: Path, started: datetime) -> tuple[int, int]:
    with db.transaction() as s:
        facility = Facility(name="Bench pharmacy", kind=FacilityKind.PHARMACY, district="Bench")
        s.add(facility)
        s.flush()
        camera = cameras.create_camera(s, name="bench", facility_id=facility.id,
                                       source_kind=SourceKind.FILE, source=str(source),
                                       replay_started_at=started)
        till = Till(facility_id=facility.id, name="till", camera_id=camera.id,
                    api_key_hash="b" * 64)
        s.add(till)
        s.flush()
        swipe = Swipe(till_id=till.id, idempotency_key="bench", request_hash="0" * 64,
                      card_no="9990000000000001", amount_cents=100,
                      swiped_at=started + timedelta(seconds=SWIPE_AT_S))
        s.add(swipe)
        s.flush()
        return swipe.id, camera.id


def _client(settings: Settings, db: Database) -> TestClient:
    from fastapi.testclient import TestClient  # only when the benchmark runs

    with db.transaction() as s:
        user = auth.create_user(s, username="bench-operator", password="bench password 1",
                                role=Role.OPERATOR)
        token = auth.sign_in(s, user=user, hours=1)
    client = TestClient(create_app(settings, db))
    client.cookies.set(COOKIE, token)
    return client


def _fetch(client: TestClient, swipe_id: int, settings: Settings, *, clear: bool) -> float:
    if clear:
        for kept in (settings.data_dir / CLIPS_DIR).rglob("*"):
            if kept.is_file():
                kept.unlink()
    began = time.perf_counter()
    response = client.get(f"/api/swipes/{swipe_id}/clip", params={"reason": "benchmark"})
    elapsed = time.perf_counter() - began
    if response.status_code != 200 or not response.content:
        raise RuntimeError(f"clip request failed: {response.status_code} {response.text[:200]}")
    return elapsed


def _probe(path: Path) -> tuple[float, bool]:
    with av.open(str(path)) as container:
        duration = (container.duration or 0) / av.time_base
        return duration, bool(container.streams.audio)
