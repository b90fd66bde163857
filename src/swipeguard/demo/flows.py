"""The demo, step by step: a city, its card holders, a day of swipes through the real API,
the verifier deciding them, and a summary measured against the day's truth."""

from __future__ import annotations

import base64
import logging
import math
import multiprocessing
import random
import threading
import time
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
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

from swipeguard.api.app import create_app
from swipeguard.cameras import replay
from swipeguard.cardholders import service as cardholders
from swipeguard.cardholders.models import CardHolder
from swipeguard.config import Settings
from swipeguard.db import Database, utcnow
from swipeguard.demo import day as days
from swipeguard.demo import footage, story
from swipeguard.demo.city import TILLS, TILLS_PER_FACILITY, CameraPlan, City, Footage, build_city
from swipeguard.demo.day import Cast, Kind, PlannedSwipe, plan_day
from swipeguard.demo.people import (
    Holder,
    Person,
    enrol,
    lfw_people,
    pick_enrollable,
    shuffled,
)
from swipeguard.demo.summary import Posted, summarize
from swipeguard.faces.pool import FacePool
from swipeguard.scenario import Expected, Scenario
from swipeguard.scenario.errors import ScenarioError
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
# The filmed people's cards start here, clear of the LFW holders' and portraits' cards.
FILMED_CARDS = 500_000
STORY_CARDS = 409_900  # the lost-card story's three holders (****9901-9903)


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
    timing: dict[str, float] = {}  # seconds from the start at which each stage ended

    with FacePool(settings.faces) as pool, ProcessPoolExecutor(
            footage.GENERATED_TILLS, mp_context=multiprocessing.get_context("spawn"),
    ) as renderer:
        plans = _footage_plans(settings, pool, samples, start=start, end=end, seed=seed)
        rendering = footage.start_rendering(plans, renderer)
        with db.transaction() as session:
            city = build_city(session, cameras=_cameras(samples, plans, start=start), rng=rng)
        filmed_names = {footage.as_person(p).name for plan in plans for p in plan.people}
        cast = _cast(settings, db, pool, samples, people=people, rng=rng, lost_since=start,
                     exclude=filmed_names)
        filmed_holders = _enrol_filmed(settings, db, pool, plans,
                                       first_card=FIRST_CARD + FILMED_CARDS)
        story_cast = _story_cast(settings, db, pool, samples, cast, exclude=filmed_names, seed=seed)
        timing["enrolment"] = time.perf_counter() - started
        scenarios = _rendered(rendering)
        timing["footage"] = time.perf_counter() - started
        filmed = _filmed_swipes(city, scenarios, filmed_holders)
        lost_card = story.plan(city, story_cast, start=start, end=end,
                               rng=random.Random(f"{seed}-story"))
        plan = plan_day(city=city, cast=cast, start=start, end=end, video_at=video_at,
                        rng=rng, filmed=[*filmed, *lost_card.swipes])
        _record(settings, db, city, plan)
        timing["recording"] = time.perf_counter() - started
        posted = _replay(settings, db, pool, city, plan)
    timing["verdicts"] = time.perf_counter() - started
    # In the evening the card's holder reports it lost, and an investigator looks.
    told = story.tell(settings, db, lost_card, {p.planned.key: p.swipe_id for p in posted})
    timing["investigation"] = time.perf_counter() - started
    summary = summarize(settings, db, posted, city)
    summary["lost_card_story"] = told
    timing["total"] = time.perf_counter() - started
    summary["timing_s"] = {k: round(v, 1) for k, v in timing.items()}
    summary["console"] = {"user": city.console_user, "password": city.console_password}
    summary["tills"] = [{"facility": t.facility, "till": t.name, "till_id": t.till_id,
                         "api_key": t.api_key, "camera": t.camera_id is not None,
                         "footage": t.footage.value, "source": t.source}
                        for t in city.tills]
    return summary


def _footage_plans(settings: Settings, pool: FacePool, samples: Samples, *, start: datetime,
                   end: datetime, seed: int) -> list[footage.FootagePlan]:
    """Who each generated till films, and when in the day its footage plays."""
    rng = random.Random(f"{seed}-footage")
    people = footage.pick_people(pool, samples.lfw, rng=rng,
                                 count=footage.GENERATED_TILLS * footage.PEOPLE_PER_TILL)
    span = end - start
    per = footage.PEOPLE_PER_TILL
    return [
        footage.FootagePlan(
            people=people[k * per:(k + 1) * per],
            out_dir=settings.data_dir / "footage" / f"cam-{k + 1:02d}",
            # Spread over the day, clear of the sample clip's moment in the middle.
            started_at=(start + span * (k + 1) / (footage.GENERATED_TILLS + 2)).replace(
                microsecond=0),
            seed=seed * 100 + k + 1,
        )
        for k in range(footage.GENERATED_TILLS)
    ]


def _rendered(rendering: list[Future[Scenario]]) -> list[Scenario]:
    try:
        return [f.result() for f in rendering]
    except (ScenarioError, ValueError) as exc:
        raise DemoError(f"the counter footage could not be generated ({exc})") from exc


def _cameras(samples: Samples, plans: list[footage.FootagePlan], *,
             start: datetime) -> list[CameraPlan]:
    """A camera per till: the sample clip, generated footage, then talking heads with sound."""
    voiced = [p for p in samples.talking_heads if footage.playable_with_sound(p)]
    cameras = [CameraPlan(samples.clip, start, Footage.SAMPLE_CLIP)]
    generated = iter(plans)
    for index in range(1, TILLS):
        plan = next(generated, None) if index % TILLS_PER_FACILITY == 0 else None
        if plan is not None:
            cameras.append(CameraPlan(plan.out_dir / "footage.mp4", plan.started_at,
                                      Footage.GENERATED))
        else:
            cameras.append(CameraPlan(voiced[index % len(voiced)], start, Footage.TALKING_HEAD))
    return cameras


def _enrol_filmed(settings: Settings, db: Database, pool: FacePool,
                  plans: list[footage.FootagePlan], *, first_card: int) -> dict[str, Holder]:
    """Enrols the filmed people from the photos kept out of the footage, by footage name."""
    filmed = [p for plan in plans for p in plan.people]
    holders = enrol(settings, db, pool, people=[footage.as_person(p) for p in filmed],
                    first_card=first_card)
    return {p.name: h for p, h in zip(filmed, holders, strict=True)}


FILMED_KINDS = {Expected.MATCH: Kind.FOOTAGE_HOLDER, Expected.MISMATCH: Kind.FOOTAGE_OTHER_CARD,
                Expected.NO_FACE: Kind.FOOTAGE_NOBODY}


def _filmed_swipes(city: City, scenarios: list[Scenario],
                   holders: dict[str, Holder]) -> list[PlannedSwipe]:
    """The generated tills' swipes at the footage's swipe times, without a still."""
    tills = city.tills_on(Footage.GENERATED)
    return [
        PlannedSwipe(FILMED_KINDS[truth.expected], till, holders[truth.card_holder].card_no,
                     footage.swipe_wall_time(scenario, truth.at), truth.amount,
                     f"demo-filmed-{till.till_id}-{truth.index:03d}", None)
        for till, scenario in zip(tills, scenarios, strict=True)
        for truth in scenario.swipes
    ]


def _record(settings: Settings, db: Database, city: City, plan: list[PlannedSwipe]) -> None:
    """Records every till's camera around each of its swipes, before they are posted."""
    for till in city.tills:
        times = [p.swiped_at for p in plan if p.till is till]
        if till.camera_id is not None and times:
            footage.record_around(settings, db, camera_id=till.camera_id, times=times)


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
          people: int, rng: random.Random, lost_since: datetime, exclude: set[str]) -> Cast:
    """Enrols the holders (some of whose cards are then reported lost) and picks strangers."""
    lost_count = days.counts(people)[Kind.LOST_CARD]
    candidates = (p for p in shuffled(lfw_people(samples.lfw, min_photos=2), rng)
                  if p.name not in exclude)
    chosen = pick_enrollable(pool, candidates, people + lost_count)
    holders = enrol(settings, db, pool, people=chosen, first_card=FIRST_CARD)
    portrayed = [Person(p.stem.replace("-", " ").title(), (p,)) for p in samples.portraits]
    video_holder, video_other = enrol(settings, db, pool, people=portrayed,
                                      first_card=FIRST_CARD + len(chosen))
    lost = holders[people:]
    with db.transaction() as session:
        for holder in lost:
            cardholders.report_lost(session, card_holder_id=holder.card_holder_id,
                                    since=lost_since, actor="demo")
    taken = {p.name for p in chosen} | exclude
    wanted = sum(days.counts(people).values()) + 1
    strangers = [p for p in shuffled(lfw_people(samples.lfw, min_photos=1), rng)
                 if p.name not in taken][:wanted]
    return Cast(holders=holders[:people], lost=lost, strangers=strangers,
                video_holder=video_holder, video_other=video_other)


def _story_cast(settings: Settings, db: Database, pool: FacePool, samples: Samples,
                cast: Cast, *, exclude: set[str], seed: int) -> story.Cast:
    """The lost-card story's people, none of whom plays another part in the day."""
    taken = exclude | {h.person.name for h in (*cast.holders, *cast.lost)} | {
        p.name for p in cast.strangers}
    candidates = (p for p in shuffled(lfw_people(samples.lfw, min_photos=2),
                                      random.Random(f"{seed}-story-cast"))
                  if p.name not in taken)
    try:
        return story.cast(settings, db, pool, candidates, first_card=FIRST_CARD + STORY_CARDS)
    except story.StoryError as exc:
        raise DemoError(str(exc)) from exc


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
