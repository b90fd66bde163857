"""Verdicts from video: cost and delay per swipe on real clips; single frame vs fused frames.

Real clips (the talking heads and the stage clip of the shared samples), each replayed as
a live FILE camera: the clip's person is enrolled (from an early frame of a talking
head, from the example portrait for the stage clip), then, each time the clip is at a
later point, a swipe is posted through the API without a still, first with the person's
own card and then with another clip's person's card, while a verifier runs. Measured
per swipe: CPU time of every process (the API and verifier, and the face pool) and the
delay from the swipe to its verdict. The same moments are then judged again from the
whole window, from the single best frame and fused over ``frames_fused`` frames.

Generated footage (``swipeguard.scenario``: LFW people composited into a counter scene,
with passers-by and ground truth): every swipe is decided twice from the same detected
frames, once from the single best frame and once fused over ``frames_fused`` frames,
and each is scored against the truth (misuse caught, genuine holders alarmed).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av

from swipeguard.api.app import create_app
from swipeguard.cameras import replay
from swipeguard.cameras.models import Camera, SourceKind
from swipeguard.cardholders import service as cardholders
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.faces.errors import FaceError
from swipeguard.faces.pool import FacePool
from swipeguard.facilities import service as facilities
from swipeguard.facilities.models import FacilityKind
from swipeguard.swipes import capture, service
from swipeguard.swipes.capture import VIDEO_FLUSH_S
from swipeguard.swipes.decision import Holder, judge
from swipeguard.swipes.signals import get_signals
from swipeguard.swipes.workers import Verifier

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the test client's notice about its HTTP library
    from fastapi.testclient import TestClient

NAME = "video-verification"
HELP = "verdicts from video: CPU and delay per swipe on real clips; single vs fused frames"

log = logging.getLogger(__name__)

STAGE_CLIP = "short_hamilton_clip.mp4"
STAGE_PORTRAIT = "lin-manuel-miranda.png"
STAGE_AT_S = 6.0  # the portrayed person faces the camera, large and central
ENROL_AT = 0.15  # talking heads: enrol from the frame this far into the clip
SWIPE_AT = 0.7  # and swipe when the clip is this far in
VERDICT_TIMEOUT_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=Path, default=Path("../shared/data"),
                        help="the shared sample data (default: ../shared/data)")
    parser.add_argument("--clips", type=int, default=None,
                        help="use only the first N real clips (default: all)")
    parser.add_argument("--footage", type=Path, default=None,
                        help="a generated scenario (folder or timeline.json) to reuse")
    parser.add_argument("--footage-seconds", type=float, default=180.0,
                        help="length of the footage to generate (default: 180)")
    parser.add_argument("--people", type=int, default=8,
                        help="people in the generated footage (default: 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-generated", action="store_true",
                        help="measure the real clips only")
    parser.add_argument("--keep", action="store_true",
                        help="keep the working folder (database, generated footage)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="swipeguard-bench-video-"))
    # Its own SQLite file whatever the environment says: the bench writes test data.
    settings = Settings(data_dir=work / "data", secret_key="bench", database_url=None)
    db = Database(settings.resolved_database_url)
    db.migrate()
    try:
        with FacePool(settings.faces) as pool:
            pool.warm_up()
            result: dict[str, Any] = {
                "settings": {
                    "threshold": settings.verification.threshold,
                    "window_s": [settings.verification.window_before_s,
                                 settings.verification.window_after_s],
                    "sample_fps": capture.SAMPLE_FPS,
                    "frames_fused": settings.verification.frames_fused,
                    "early_decision": settings.verification.early_decision,
                    "face_workers": pool.workers, "cpus": os.cpu_count(),
                },
                "real_clips": _real_clips(settings, db, pool, args.samples, limit=args.clips),
            }
            if not args.skip_generated:
                result["generated"] = _generated(settings, db, pool, args, work)
    finally:
        db.dispose()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.keep:
        result["work_dir"] = str(work)
    return result


# -- real clips ------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    label: str  # "talking-head-3", "stage": the file names carry people's names
    path: Path
    enrol_from: bytes  # a JPEG or PNG of the clip's person
    swipe_at: float  # seconds into the clip


def _clips(samples: Path, limit: int | None) -> list[Clip]:
    clips = []
    for i, path in enumerate(sorted((samples / "video" / "talking-heads").glob("*.mp4"))):
        period = replay.probe(str(path)).period
        clips.append(Clip(f"talking-head-{i}", path, _frame_jpeg(path, at=ENROL_AT * period),
                          SWIPE_AT * period))
    stage = samples / "video" / STAGE_CLIP
    portrait = samples / "faces" / "examples" / STAGE_PORTRAIT
    clips.append(Clip("stage", stage, portrait.read_bytes(), STAGE_AT_S))
    return clips[:limit] if limit else clips


def _frame_jpeg(path: Path, *, at: float) -> bytes:
    """The first frame at or after ``at`` seconds, as a JPEG."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= at:
                out = io.BytesIO()
                frame.to_image().save(out, format="JPEG", quality=92)
                return out.getvalue()
    raise ValueError(f"{path.name} is shorter than {at:.1f} s")


@dataclass(frozen=True)
class Station:
    clip: Clip
    till_key: str
    camera_id: int
    card_no: str | None  # None: the clip's person could not be enrolled


def _real_clips(settings: Settings, db: Database, pool: FacePool, samples: Path, *,
                limit: int | None) -> dict[str, Any]:
    counters = _set_up_counters(settings, db, pool, _clips(samples, limit))
    enrolled = [c for c in counters if c.card_no is not None]
    verifier = Verifier(settings, db, pool=pool)
    stop = threading.Event()
    thread = threading.Thread(target=verifier.run, args=(stop,), name="bench-verifier")
    thread.start()
    rows = []
    try:
        with TestClient(create_app(settings, db)) as client:
            for i, counter in enumerate(enrolled):
                other = enrolled[(i + 1) % len(enrolled)]
                others = other.card_no if other is not counter else None
                rows.append(_measure(settings, db, client, counter, others))
    finally:
        stop.set()
        thread.join(60)
    summary = _real_summary(rows, clips=len(counters), enrolled=len(enrolled))
    summary["single_vs_fused"] = _real_single_vs_fused(settings, db, pool, enrolled)
    return summary


def _real_single_vs_fused(settings: Settings, db: Database, pool: FacePool,
                          enrolled: list[Station]) -> dict[str, Any]:
    """The whole window of each clip's swipe moment, judged from 1 and from N frames."""
    with db.sessions() as s:
        templates = {c.card_no: _holder(s, c.card_no) for c in enrolled}
        moments = {c.camera_id: _clip_moment(s, c) for c in enrolled}
    fused_n = settings.verification.frames_fused
    tallies = {"single_frame": _Tally(), f"fused_{fused_n}_frames": _Tally()}
    for i, counter in enumerate(enrolled):
        other = enrolled[(i + 1) % len(enrolled)]
        at = moments[counter.camera_id]
        footage = capture.look(settings, db, pool, camera_id=counter.camera_id, swiped_at=at)
        for tally, n in zip(tallies.values(), (1, fused_n), strict=True):
            outcome = capture.counter_face(settings, pool, footage, swiped_at=at,
                                           frames_fused=n)
            for card, genuine in ((counter.card_no, True), (other.card_no, False)):
                if other is counter and not genuine:
                    continue
                verdict = judge(holder=templates[card], swiped_at=at, outcome=outcome,
                                threshold=settings.verification.threshold,
                                alarm_on_no_face=settings.verification.alarm_on_no_face)
                tally.add(genuine=genuine, alarmed=verdict.alarm is not None,
                          distance=verdict.distance)
    return {name: tally.figures() for name, tally in tallies.items()}


def _holder(session: Any, card_no: str | None) -> Holder | None:
    row = cardholders.get_by_card_no(session, card_no=card_no or "")
    if row is None:
        return None
    return Holder(status=row.status, lost_since=row.lost_since,
                  template=cardholders.template(session, card_holder_id=row.id))


def _clip_moment(session: Any, counter: Station) -> datetime:
    """A wall-clock time at which the clip is at its swipe point (its last replay start)."""
    camera = session.get(Camera, counter.camera_id)
    return camera.replay_started_at + timedelta(seconds=counter.clip.swipe_at)


def _set_up_counters(settings: Settings, db: Database, pool: FacePool,
                     clips: list[Clip]) -> list[Station]:
    counters = []
    for i, clip in enumerate(clips):
        with db.transaction() as s:
            facility = facilities.create_facility(s, name=f"Bench {i}",
                                                  kind=FacilityKind.PHARMACY, district="B")
            camera = facilities.create_camera(
                s, facility_id=facility.id, name=f"bench {i}", source_kind=SourceKind.FILE,
                source=str(clip.path.resolve()), replay_started_at=utcnow())
            till, key = facilities.create_till(s, facility_id=facility.id, name="Till",
                                               camera_id=camera.id)
        card_no = f"{770000000000 + i}"
        try:
            with db.transaction() as s:
                holder = cardholders.create(s, card_no=card_no, national_id=f"B{i:05d}",
                                            name=f"Bench person {i}", secret="bench")
                cardholders.enroll_photo(s, settings=settings, card_holder=holder,
                                         image=clip.enrol_from, pool=pool)
        except FaceError as exc:
            log.warning("clip %s: its person cannot be enrolled (%s); skipped", i, exc)
            counters.append(Station(clip, key, camera.id, None))
            continue
        counters.append(Station(clip, key, camera.id, card_no))
    return counters


def _measure(settings: Settings, db: Database, client: TestClient, counter: Station,
             other_card: str | None) -> dict[str, Any]:
    """The holder's card, then another's, each swiped alone at the same point of the clip."""
    row: dict[str, Any] = {"clip": counter.clip.label, "cpu_s": [], "delay_s": []}
    for kind, card in (("holder", counter.card_no), ("other", other_card)):
        if card is None:
            continue
        now = utcnow()
        with db.transaction() as s:
            camera = s.get(Camera, counter.camera_id)
            assert camera is not None
            # The clip is ``swipe_at`` s in right now, as if the person stood there live.
            camera.replay_started_at = now - timedelta(seconds=counter.clip.swipe_at)
        cpu_before = _cpu_seconds()
        r = client.post("/api/swipes", headers={"X-API-Key": counter.till_key}, json={
            "card_no": card, "swiped_at": now.isoformat(), "amount": "10.00",
            "idempotency_key": f"bench-{counter.camera_id}-{kind}"})
        swipe = service.wait_for_decision(db, get_signals(settings, db),
                                          swipe_id=r.json()["swipe_id"],
                                          timeout=VERDICT_TIMEOUT_S)
        row["cpu_s"].append(round(_cpu_seconds() - cpu_before, 3))
        row["delay_s"].append(_delay(swipe.decided_at, now))
        row[kind] = swipe.verdict.value if swipe.verdict else "pending"
        row[f"{kind}_distance"] = _round(swipe.distance)
    return row


def _real_summary(rows: list[dict[str, Any]], *, clips: int,
                  enrolled: int) -> dict[str, Any]:
    delays = [d for r in rows for d in r["delay_s"] if d is not None]
    return {
        "clips": clips,
        "enrolled": enrolled,
        "swipes": len(delays),  # one at a time: each has the machine to itself
        "cpu_s_per_swipe_median": _median([c for r in rows for c in r["cpu_s"]]),
        "delay_s_median": _median(delays),
        "delay_s_max": round(max(delays), 3) if delays else None,
        # Part of every delay: the recorder's flush, and the video after the swipe when
        # the part before it is not enough (see verification.early_decision).
        "flush_wait_s": VIDEO_FLUSH_S,
        "holder_verified": sum(r["holder"] == "verified" for r in rows),
        "other_card_flagged": sum(r.get("other") not in (None, "verified", "pending")
                                  for r in rows),
        "per_clip": rows,
    }


def _cpu_seconds() -> float:
    """CPU time of this process and its children (the face pool), user plus system."""
    times = os.times()
    total = times.user + times.system
    tick = os.sysconf("SC_CLK_TCK")
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:  # the parent pid: a pool worker of this process
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _delay(decided_at: datetime | None, swiped_at: datetime) -> float | None:
    return round((decided_at - swiped_at).total_seconds(), 3) if decided_at else None


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


# -- generated footage -----------------------------------------------------------------


def _generated(settings: Settings, db: Database, pool: FacePool, args: argparse.Namespace,
               work: Path) -> dict[str, Any]:
    from swipeguard.scenario.timeline import load_scenario

    started = time.perf_counter()
    scenario = (load_scenario(args.footage) if args.footage
                else _generate(args, work / "footage"))
    generated_s = time.perf_counter() - started
    holders = _enrol_cast(settings, db, pool, scenario.enrolment)
    with db.transaction() as s:
        facility = facilities.create_facility(s, name="Generated", kind=FacilityKind.CLINIC,
                                              district="G")
        camera = facilities.create_camera(
            s, facility_id=facility.id, name="generated", source_kind=SourceKind.FILE,
            source=str(scenario.video.resolve()), replay_started_at=scenario.started_at)
        camera_id = camera.id
    fused_n = settings.verification.frames_fused
    tallies = {"single_frame": _Tally(), f"fused_{fused_n}_frames": _Tally()}
    skipped = 0
    for truth in scenario.swipes:
        if truth.card_holder not in holders:
            skipped += 1
            continue
        at = scenario.wall_time(truth.at)
        footage = capture.look(settings, db, pool, camera_id=camera_id, swiped_at=at)
        for (_, tally), n in zip(tallies.items(), (1, fused_n), strict=True):
            outcome = capture.counter_face(settings, pool, footage, swiped_at=at,
                                           frames_fused=n)
            verdict = judge(holder=holders.get(truth.card_holder), swiped_at=at,
                            outcome=outcome, threshold=settings.verification.threshold,
                            alarm_on_no_face=settings.verification.alarm_on_no_face)
            tally.add(genuine=truth.genuine, alarmed=verdict.alarm is not None,
                      distance=verdict.distance)
    return {
        "footage_s": scenario.duration,
        "generated_in_s": round(generated_s, 1) if not args.footage else None,
        "swipes": len(scenario.swipes),
        "expected": dict(Counter(t.expected.value for t in scenario.swipes)),
        "skipped_not_enrolled": skipped,
        **{name: tally.figures() for name, tally in tallies.items()},
    }


def _generate(args: argparse.Namespace, out_dir: Path) -> Any:
    from swipeguard.scenario.generator import generate_footage
    from swipeguard.scenario.photos import people_from_pairs
    from swipeguard.scenario.plan import plan_day

    lfw = args.samples / "faces" / "lfw"
    everyone = people_from_pairs(lfw, pairs=lfw / "pairs-dev.txt")
    people = random.Random(args.seed).sample(everyone, min(args.people, len(everyone)))
    # Shorter stays than a real day's: more swipes per second of footage to render.
    plan = plan_day(people=people, duration=args.footage_seconds, seed=args.seed,
                    misuse=0.3, no_face=0.15, stay=(5.0, 8.0), gap=(1.0, 2.5))
    return generate_footage(people=people, plan=plan, out_dir=out_dir, seed=args.seed,
                            fps=15, size=(1280, 720))


def _enrol_cast(settings: Settings, db: Database, pool: FacePool,
                enrolment: Any) -> dict[str, Holder]:
    """Each person of the footage enrolled from a photo the footage never shows."""
    holders: dict[str, Holder] = {}
    for i, (name, photos) in enumerate(sorted(enrolment.items())):
        if not photos:
            continue
        try:
            with db.transaction() as s:
                holder = cardholders.create(s, card_no=f"{660000000000 + i}",
                                            national_id=f"G{i:05d}", name=f"Generated {i}",
                                            secret="bench")
                cardholders.enroll_photo(s, settings=settings, card_holder=holder,
                                         image=Path(photos[0]).read_bytes(), pool=pool)
                template = cardholders.template(s, card_holder_id=holder.id)
        except FaceError as exc:
            log.warning("a generated person cannot be enrolled (%s); their swipes are skipped",
                        exc.code)
            continue
        holders[name] = Holder(status=holder.status, lost_since=None, template=template)
    return holders


class _Tally:
    """Verdicts against the truth, and the distances behind them."""

    def __init__(self) -> None:
        self.misuse = self.caught = self.genuine = self.false_alarms = 0
        self.genuine_distances: list[float] = []
        self.other_distances: list[float] = []

    def add(self, *, genuine: bool, alarmed: bool, distance: float | None) -> None:
        if genuine:
            self.genuine += 1
            self.false_alarms += alarmed
        else:
            self.misuse += 1
            self.caught += alarmed
        if distance is not None:
            (self.genuine_distances if genuine else self.other_distances).append(distance)

    def figures(self) -> dict[str, Any]:
        return {
            "misuse_caught": f"{self.caught}/{self.misuse}",
            "share_caught": round(self.caught / self.misuse, 4) if self.misuse else None,
            "genuine_alarmed": f"{self.false_alarms}/{self.genuine}",
            "share_false_alarms": (round(self.false_alarms / self.genuine, 4)
                                   if self.genuine else None),
            # Lower for the holder and higher for others is a wider margin at the threshold.
            "genuine_distance_median": _median(self.genuine_distances),
            "genuine_distance_max": _round(max(self.genuine_distances, default=None)),
            "other_distance_median": _median(self.other_distances),
            "other_distance_min": _round(min(self.other_distances, default=None)),
        }
