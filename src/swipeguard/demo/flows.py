"""The demo, step by step: a city, its card holders, a day of swipes through the real API,
the verifier deciding them, and a summary measured against the day's truth."""

from __future__ import annotations

import base64
import logging
import math
import random
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # Starlette's test client warns that it will move to another HTTP library; the demo
    # posts through it in process on purpose, so the warning is noise in its output.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
from sqlalchemy import func, select

from swipeguard.alarms.models import Alarm
from swipeguard.api.app import create_app
from swipeguard.cameras import replay
from swipeguard.cardholders import service as cardholders
from swipeguard.cardholders.models import CardHolder
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.demo import day as days
from swipeguard.demo.city import City, build_city
from swipeguard.demo.day import Cast, Kind, PlannedSwipe, plan_day
from swipeguard.demo.people import Person, enrol, lfw_people, pick_enrollable, shuffled
from swipeguard.faces.pool import FacePool
from swipeguard.swipes.models import Swipe, SwipeState
from swipeguard.swipes.workers import Verifier

log = logging.getLogger(__name__)

# Seconds into the sample clip at which the person of the first example portrait faces
# the counter camera (he is in view, large and central, from about 3.6 s to 7.9 s).
AT_COUNTER_S = 6.0
PORTRAITS = ("lin-manuel-miranda.png", "alex-lacamoire.png")
DAY_HOURS = 10.0
VERDICT_TIMEOUT_S = 300.0
FIRST_CARD = 880_000_000_001


class DemoError(RuntimeError):
    """The demo cannot run as asked (missing samples, a database in use)."""


@dataclass(frozen=True)
class Samples:
    lfw: Path
    clip: Path
    talking_heads: list[Path]
    portraits: tuple[Path, Path]

    @classmethod
    def at(cls, root: Path) -> Samples:
        samples = cls(
            lfw=root / "faces" / "lfw", clip=root / "video" / "short_hamilton_clip.mp4",
            talking_heads=sorted((root / "video" / "talking-heads").glob("*.mp4")),
            portraits=(root / "faces" / "examples" / PORTRAITS[0],
                       root / "faces" / "examples" / PORTRAITS[1]),
        )
        missing = [p for p in (samples.lfw, samples.clip, *samples.portraits) if not p.exists()]
        if missing or not samples.talking_heads:
            raise DemoError(f"the sample data at {root} is incomplete ({len(missing)} missing); "
                            "pass --samples pointing at the shared data folder")
        return samples


@dataclass(frozen=True)
class Posted:
    planned: PlannedSwipe
    swipe_id: int
    status: int


def run(settings: Settings, db: Database, *, samples_dir: Path, people: int,
        seed: int) -> dict[str, Any]:
    """Builds the city, replays the day and returns the summary."""
    started = time.perf_counter()
    samples = Samples.at(samples_dir)
    _require_empty(db)
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    start, end = now - timedelta(hours=DAY_HOURS), now - timedelta(minutes=10)
    video_at = _moment_in_clip(samples.clip, replay_started_at=start,
                               near=start + (end - start) / 2)

    with db.transaction() as session:
        city = build_city(session, clip=samples.clip, talking_heads=samples.talking_heads,
                          replay_started_at=start, rng=rng)
    with FacePool(settings.faces) as pool:
        cast = _cast(settings, db, pool, samples, people=people, rng=rng, lost_since=start)
        plan = plan_day(city=city, cast=cast, start=start, end=end, video_at=video_at, rng=rng)
        enrolled_s = time.perf_counter() - started
        posted = _replay(settings, db, pool, city, plan)
    summary = summarize(db, posted)
    summary["timing_s"] = {"enrolment": round(enrolled_s, 1),
                           "total": round(time.perf_counter() - started, 1)}
    summary["console"] = {"user": city.console_user, "password": city.console_password}
    summary["tills"] = [{"facility": t.facility, "till": t.name, "till_id": t.till_id,
                         "api_key": t.api_key, "camera": t.camera_id is not None}
                        for t in city.tills]
    return summary


def _require_empty(db: Database) -> None:
    with db.sessions() as session:
        used = (session.scalar(select(func.count(CardHolder.id))) or 0) + (
            session.scalar(select(func.count(Swipe.id))) or 0)
    if used:
        raise DemoError("the demo needs an empty database; pass --data-dir with a new folder")


def _moment_in_clip(clip: Path, *, replay_started_at: datetime, near: datetime) -> datetime:
    """The wall-clock time near ``near`` at which the clip is ``AT_COUNTER_S`` in."""
    timeline = replay.timeline(clip, replay_started_at)
    loop = math.floor((near - replay_started_at).total_seconds() / timeline.period)
    return timeline.wall(loop, timeline.origin + AT_COUNTER_S)


def _cast(settings: Settings, db: Database, pool: FacePool, samples: Samples, *,
          people: int, rng: random.Random, lost_since: datetime) -> Cast:
    """Enrols the holders (some of whose cards are then reported lost) and picks strangers."""
    lost_count = days.counts(people)[Kind.LOST_CARD]
    chosen = pick_enrollable(pool, shuffled(lfw_people(samples.lfw, min_photos=2), rng),
                             people + lost_count)
    holders = enrol(settings, db, pool, people=chosen, first_card=FIRST_CARD)
    portrayed = [Person(p.stem.replace("-", " ").title(), (p,)) for p in samples.portraits]
    video_holder, video_other = enrol(settings, db, pool, people=portrayed,
                                      first_card=FIRST_CARD + len(chosen))
    lost = holders[people:]
    with db.transaction() as session:
        for holder in lost:
            cardholders.report_lost(session, card_holder_id=holder.card_holder_id,
                                    since=lost_since, actor="demo")
    taken = {p.name for p in chosen}
    wanted = sum(days.counts(people).values()) + 1
    strangers = [p for p in shuffled(lfw_people(samples.lfw, min_photos=1), rng)
                 if p.name not in taken][:wanted]
    return Cast(holders=holders[:people], lost=lost, strangers=strangers,
                video_holder=video_holder, video_other=video_other)


def _replay(settings: Settings, db: Database, pool: FacePool, city: City,
            plan: list[PlannedSwipe]) -> list[Posted]:
    """Posts the day's swipes through the API while a verifier decides them."""
    verifier = Verifier(settings, db, pool=pool)
    stop = threading.Event()
    thread = threading.Thread(target=verifier.run, args=(stop,), name="demo-verifier")
    thread.start()
    try:
        with TestClient(create_app(settings, db)) as client:
            posted = [_post(client, p) for p in plan]
        _wait_for_verdicts(db, timeout=VERDICT_TIMEOUT_S)
    finally:
        stop.set()
        thread.join(60)
    log.info("demo: %s swipes posted, %s decided by the verifier", len(posted),
             verifier.counts.total_decided())
    return posted


def _post(client: TestClient, planned: PlannedSwipe) -> Posted:
    body: dict[str, Any] = {"card_no": planned.card_no,
                            "swiped_at": planned.swiped_at.isoformat(),
                            "amount": planned.amount, "idempotency_key": planned.key}
    if planned.still is not None:
        body["still"] = base64.b64encode(planned.still).decode()
    r = client.post("/api/swipes", headers={"X-API-Key": planned.till.api_key}, json=body)
    if r.status_code not in (200, 201, 422) or "swipe_id" not in r.json():
        raise DemoError(f"the API refused a demo swipe: {r.status_code} {r.text[:300]}")
    return Posted(planned, r.json()["swipe_id"], r.status_code)


def _wait_for_verdicts(db: Database, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.sessions() as session:
            open_ = session.scalar(select(func.count(Swipe.id)).where(
                Swipe.state != SwipeState.DECIDED)) or 0
        if not open_:
            return
        time.sleep(0.2)
    log.warning("demo: swipes still undecided after %.0f s; the summary counts them as missed",
                timeout)


def summarize(db: Database, posted: list[Posted]) -> dict[str, Any]:
    """Verdicts and alarms against the truth of the day."""
    with db.sessions() as session:
        swipes = {s.id: s for s in session.scalars(select(Swipe))}
        alarms = session.scalars(select(Alarm)).all()
    alarmed = {a.swipe_id for a in alarms}
    misuse = [p for p in posted if p.planned.kind in days.MISUSE]
    genuine = [p for p in posted if p.planned.kind in days.GENUINE]
    caught = sum(p.swipe_id in alarmed for p in misuse)
    false_alarms = sum(p.swipe_id in alarmed for p in genuine)
    by_kind: dict[str, Counter[str]] = {}
    for p in posted:
        verdict = swipes[p.swipe_id].verdict
        outcome = verdict.value if verdict else "pending"
        by_kind.setdefault(p.planned.kind.value, Counter())[outcome] += 1
    return {
        "swipes": len(posted),
        "verdicts": dict(Counter(s.verdict.value if s.verdict else "pending"
                                 for s in swipes.values())),
        "alarms": dict(Counter(a.kind.value for a in alarms)),
        "truth": {kind: dict(verdicts) for kind, verdicts in sorted(by_kind.items())},
        "misuse": {"swipes": len(misuse), "caught": caught,
                   "share_caught": round(caught / len(misuse), 4) if misuse else None},
        "genuine": {"swipes": len(genuine), "falsely_alarmed": false_alarms,
                    "share_falsely_alarmed": round(false_alarms / len(genuine), 4)
                    if genuine else None},
        "video_case": _video_case(posted, swipes, alarms),
    }


def _video_case(posted: list[Posted], swipes: dict[int, Swipe],
                alarms: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in posted:
        if p.planned.kind not in (Kind.VIDEO_HOLDER, Kind.VIDEO_OTHER_CARD):
            continue
        swipe = swipes[p.swipe_id]
        out[p.planned.kind.value] = {
            "swipe_id": swipe.id, "verdict": swipe.verdict.value if swipe.verdict else None,
            "distance": round(swipe.distance, 3) if swipe.distance is not None else None,
            "reason": swipe.reason,
            "alarms": [a.kind.value for a in alarms if a.swipe_id == swipe.id],
        }
    holder, other = out.get(Kind.VIDEO_HOLDER.value), out.get(Kind.VIDEO_OTHER_CARD.value)
    out["as_expected"] = bool(
        holder and other and holder["verdict"] == "verified" and not holder["alarms"]
        and other["verdict"] == "mismatch" and other["alarms"] == ["mismatch"]
    )
    return out
