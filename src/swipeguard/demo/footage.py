"""The demo's counter footage: generated scenes of enrolled people, and recording it all.

Some tills' cameras play footage the scenario generator renders from LFW people of the
development pairs (one photo enrolled, another filmed); their swipes carry no still, so
the verdict comes from the recorded video and the truth from the generator's timeline.
Every camera is recorded around every swipe of its till, so each swipe has a clip.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import av

from swipeguard.cameras import replay
from swipeguard.cameras.recorder import record_replay
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.demo.people import Person, enrollable
from swipeguard.faces.pool import FacePool
from swipeguard.scenario import PersonPhotos, Scenario, generate_footage, plan_day
from swipeguard.scenario.errors import PhotoUnusable
from swipeguard.scenario.photos import make_portrait, people_from_pairs

log = logging.getLogger(__name__)

# Two generated tills of four people each: enough visits for genuine swipes, someone
# else's card and an empty counter at each, while rendering stays near 12 s per till on
# two cores (the generator renders 704x576 at about 3.5x real time).
GENERATED_TILLS = 2
PEOPLE_PER_TILL = 4
FOOTAGE_S = 45.0
# Standard-definition CCTV: a quarter of the 720p pixels to render and to decode.
FOOTAGE_SIZE = (704, 576)
# Shorter stays than the generator's default (7-14 s) give ~6 swipes in 45 s.
STAY_S = (5.0, 8.0)
GAP_S = (1.5, 3.0)
MISUSE_SHARE = 0.3
NO_FACE_SHARE = 0.15
# Recorded around each swipe: the clip window (15 s each side by default) plus a
# keyframe interval (2 s) so the clip can start on a keyframe before the window.
MARGIN_S = 3.0


@dataclass(frozen=True)
class FootagePlan:
    """One generated till's people and where its footage will be rendered."""

    people: list[PersonPhotos]
    out_dir: Path
    started_at: datetime
    seed: int


def pick_people(pool: FacePool, lfw: Path, *, count: int,
                rng: random.Random) -> list[PersonPhotos]:
    """People of the development pairs whose enrolment photo enrols and who can be drawn."""
    candidates = people_from_pairs(lfw)
    rng.shuffle(candidates)
    chosen: list[PersonPhotos] = []
    for person in candidates:
        if len(chosen) == count:
            break
        if not pool.submit(enrollable, person.enrolment[0].read_bytes()).result():
            continue
        try:
            make_portrait(person.footage[0])
        except PhotoUnusable:
            continue
        chosen.append(person)
    if len(chosen) < count:
        raise ValueError(f"only {len(chosen)} people of the development pairs can be filmed")
    return chosen


def as_person(person: PersonPhotos) -> Person:
    """The demo's view of a filmed person: enrolled from the photo kept out of the footage."""
    return Person(person.name.replace("_", " "), (person.enrolment[0], *person.footage))


def start_rendering(plans: Sequence[FootagePlan], executor: ProcessPoolExecutor,
                    ) -> list[Future[Scenario]]:
    """Renders each till's footage in a worker process; the futures give the scenarios."""
    return [executor.submit(render, plan) for plan in plans]


def render(plan: FootagePlan) -> Scenario:
    """A seeded stretch of the till's day, rendered once into the demo's data folder."""
    day = plan_day(people=plan.people, duration=FOOTAGE_S, seed=plan.seed,
                   misuse=MISUSE_SHARE, no_face=NO_FACE_SHARE, passers_per_minute=1.0,
                   stay=STAY_S, gap=GAP_S)
    return generate_footage(people=plan.people, plan=day, out_dir=plan.out_dir,
                            seed=plan.seed, size=FOOTAGE_SIZE, started_at=plan.started_at,
                            camera_label=plan.out_dir.name.upper(), overwrite=True)


def swipe_wall_time(scenario: Scenario, at: float) -> datetime:
    """When a swipe of the footage happens on the camera's replay clock."""
    timeline = replay.timeline(scenario.video, scenario.started_at)
    return timeline.wall(0, timeline.origin + at)


def record_around(settings: Settings, db: Database, *, camera_id: int,
                  times: Iterable[datetime]) -> int:
    """Records the camera's replay around each time (overlapping windows merged)."""
    before = timedelta(seconds=settings.recording.clip_before_s + MARGIN_S)
    after = timedelta(seconds=settings.recording.clip_after_s + MARGIN_S)
    windows: list[tuple[datetime, datetime]] = []
    for at in sorted(times):
        if windows and at - before <= windows[-1][1]:
            windows[-1] = (windows[-1][0], at + after)
        else:
            windows.append((at - before, at + after))
    for since, until in windows:
        record_replay(settings, db, camera_id=camera_id, since=since, until=until)
    return len(windows)


def has_audio(path: Path) -> bool:
    """Whether a video file has an audio stream (a clip cut from it would have sound)."""
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def playable_with_sound(path: Path) -> bool:
    """H.264 video with an audio track: what a browser plays from a stream-copied clip
    (MPEG-4 Part 2 video, which one talking-head clip uses, does not play in browsers)."""
    with av.open(str(path)) as container:
        video = container.streams.video
        return bool(video and video[0].codec_context.name == "h264"
                    and container.streams.audio)
