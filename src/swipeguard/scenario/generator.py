"""Rendering a plan into counter-camera footage (MP4) and its ground truth (JSON)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from swipeguard.faces.types import Box
from swipeguard.scenario.audio import soundtrack
from swipeguard.scenario.encode import FootageWriter
from swipeguard.scenario.errors import OutputExists, ScenarioError
from swipeguard.scenario.motion import Pose, companion_poses, passer_poses, visit_poses
from swipeguard.scenario.photos import make_portrait
from swipeguard.scenario.plan import check_plan, plan_day
from swipeguard.scenario.render import Camera, Clock, Sprite, draw_sprite
from swipeguard.scenario.scene import build_scene
from swipeguard.scenario.timeline import write_timeline
from swipeguard.scenario.types import (
    Appearance,
    PersonPhotos,
    Plan,
    Scenario,
    SwipeTruth,
    VisitTruth,
)

log = logging.getLogger(__name__)

# A Monday morning: footage without a given start time is dated here, so that two runs
# with the same seed produce the same bytes.
DEFAULT_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Actor:
    """Someone to draw: their sprite and a pose for each frame they are on screen."""

    person: str
    photo: Path
    sprite: Sprite
    poses: dict[int, Pose]


def generate_footage(
    *,
    people: Sequence[PersonPhotos],
    plan: Plan,
    out_dir: Path,
    seed: int,
    fps: int = 15,
    size: tuple[int, int] = (1280, 720),
    bitrate: int = 1_500_000,
    started_at: datetime | None = None,
    camera_label: str = "CAM 01",
    noise: float = 3.0,
    overwrite: bool = False,
) -> Scenario:
    """Render ``plan`` as ``out_dir/footage.mp4`` with ``out_dir/timeline.json``.

    Each person is drawn from their ``footage`` photos only; their ``enrolment`` photos
    are reported in the result for enrolling them. ``noise`` is the sensor noise's
    standard deviation in 8-bit levels (3 is a well-lit shop, 8 a dim one).
    """
    _check_format(fps, size, bitrate, noise)
    check_plan(plan, people)
    video, timeline = out_dir / "footage.mp4", out_dir / "timeline.json"
    _check_output(out_dir, (video, timeline), overwrite)
    started_at = started_at or DEFAULT_START
    if started_at.tzinfo is None:
        raise ScenarioError("started_at must be an aware datetime (UTC)")
    clock_started = time.perf_counter()

    by_name = {p.name: p for p in people}
    sprites = _sprites(plan, by_name)
    visitors = [
        _Actor(v.person, by_name[v.person].footage[v.photo], sprites[(v.person, v.photo)],
               visit_poses(v, [s.at for s in plan.swipes if v.arrive <= s.at <= v.depart],
                           size=size, fps=fps, rng=np.random.default_rng([seed, 10, i])))
        for i, v in enumerate(plan.visits)
    ]
    passers = [
        _Actor(p.person, by_name[p.person].footage[p.photo], sprites[(p.person, p.photo)],
               passer_poses(p, size=size, fps=fps, rng=np.random.default_rng([seed, 11, i])))
        for i, p in enumerate(plan.passers)
    ]
    companions = {
        i: _Actor(v.companion, by_name[v.companion].footage[v.companion_photo],
                  sprites[(v.companion, v.companion_photo)],
                  companion_poses(v, size=size, fps=fps, rng=np.random.default_rng([seed, 12, i])))
        for i, v in enumerate(plan.visits) if v.companion is not None
    }
    frames = round(plan.duration * fps)
    log.info("rendering %s frames: %s visits, %s swipes, %s passers-by",
             frames, len(visitors), len(plan.swipes), len(passers))

    boxes = _render(
        video, frames=frames, fps=fps, size=size, bitrate=bitrate, seed=seed, noise=noise,
        counter=list(companions.values()) + visitors, passers=passers,
        started_at=started_at, label=camera_label,
        audio=soundtrack(duration=frames / fps, beeps=[s.at for s in plan.swipes], seed=seed),
    )
    scenario = _truth(plan, people, visitors, companions, passers, boxes, video=video,
                      timeline=timeline,
                      fps=fps, size=size, bitrate=bitrate, frames=frames, seed=seed,
                      started_at=started_at)
    write_timeline(scenario)
    elapsed = time.perf_counter() - clock_started
    log.info("footage of %.1f s generated in %.1f s", frames / fps, elapsed)
    return scenario


def generate_day(
    *,
    people: Sequence[PersonPhotos],
    out_dir: Path,
    seed: int,
    duration: float = 60.0,
    misuse: float = 0.25,
    no_face: float = 0.0,
    passers_per_minute: float = 3.0,
    companions: float = 0.0,
    **footage: Any,
) -> Scenario:
    """``plan_day`` then ``generate_footage``: a random stretch of a day at one till.

    ``footage`` takes ``generate_footage``'s format options (fps, size, bitrate,
    started_at, camera_label, noise, overwrite). The counter is empty at the first and
    last frame, so the file loops without a jump when replayed as a live camera.
    """
    plan = plan_day(people=people, duration=duration, seed=seed, misuse=misuse,
                    no_face=no_face, passers_per_minute=passers_per_minute,
                    companions=companions)
    return generate_footage(people=people, plan=plan, out_dir=out_dir, seed=seed, **footage)


def _check_format(fps: int, size: tuple[int, int], bitrate: int, noise: float) -> None:
    if not 1 <= fps <= 60:
        raise ScenarioError("fps must be between 1 and 60")
    w, h = size
    if w % 2 or h % 2 or not (160 <= w <= 3840 and 120 <= h <= 2160):
        raise ScenarioError("size must be even, from 160x120 to 3840x2160 (H.264 4:2:0)")
    if not 50_000 <= bitrate <= 50_000_000:
        raise ScenarioError("bitrate must be between 50 kb/s and 50 Mb/s")
    if not 0 <= noise <= 30:
        raise ScenarioError("noise must be between 0 and 30 levels")


def _check_output(out_dir: Path, files: Sequence[Path], overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExists(f"output is a file, not a folder: {out_dir}")
    taken = [f.name for f in files if f.exists()]
    if taken and not overwrite:
        raise OutputExists(f"{', '.join(taken)} already in {out_dir}; pass overwrite to replace")
    out_dir.mkdir(parents=True, exist_ok=True)


def _sprites(plan: Plan, by_name: dict[str, PersonPhotos]) -> dict[tuple[str, int], Sprite]:
    """One sprite per photo used, cut once however often the person appears."""
    used = {(v.person, v.photo) for v in plan.visits} | {(p.person, p.photo) for p in plan.passers}
    used |= {(v.companion, v.companion_photo) for v in plan.visits if v.companion is not None}
    return {
        key: Sprite.from_portrait(make_portrait(by_name[key[0]].footage[key[1]]))
        for key in sorted(used)
    }


def _render(
    video: Path, *, frames: int, fps: int, size: tuple[int, int], bitrate: int, seed: int,
    noise: float, counter: list[_Actor], passers: list[_Actor], started_at: datetime,
    label: str, audio: npt.NDArray[np.float32],
) -> dict[int, dict[int, Box]]:
    """Encode every frame; return the face boxes drawn, by actor id then frame.

    ``counter`` is drawn in order after the passers-by, so list who stands behind first.
    """
    scene = build_scene(size=size, seed=seed)
    base = Image.fromarray(scene.background)
    unit = Image.fromarray(scene.unit, "RGBA")
    base.paste(unit, (0, scene.unit_top), unit)
    base.paste(Image.fromarray(scene.counter), (0, scene.counter_top))
    camera = Camera(size=size, seed=seed, noise=noise)
    clock = Clock(started_at=started_at, label=label, height=size[1])
    unit_bottom = scene.unit_top + scene.unit.shape[0]
    boxes: dict[int, dict[int, Box]] = {id(a): {} for a in counter + passers}

    with FootageWriter(video, size=size, fps=fps, bitrate=bitrate, audio=audio) as writer:
        for index in range(frames):
            frame = base.copy()
            crossing = [a for a in passers if index in a.poses]
            for actor in crossing:
                _draw(frame, actor, index, unit_bottom, boxes)
            if crossing:  # the display unit hides the passers' legs
                frame.paste(unit, (0, scene.unit_top), unit)
            for actor in counter:
                if index in actor.poses:
                    _draw(frame, actor, index, scene.counter_top, boxes)
            clock.stamp(frame, index / fps)
            writer.write(camera.expose(frame, index / fps))
    return boxes


def _draw(
    frame: Image.Image, actor: _Actor, index: int, bottom: int,
    boxes: dict[int, dict[int, Box]],
) -> None:
    box = draw_sprite(frame, actor.sprite, actor.poses[index], bottom=bottom)
    if box is not None:
        boxes[id(actor)][index] = box


def _truth(
    plan: Plan, people: Sequence[PersonPhotos], visitors: list[_Actor],
    companions: dict[int, _Actor], passers: list[_Actor], boxes: dict[int, dict[int, Box]], *,
    video: Path, timeline: Path, fps: int, size: tuple[int, int], bitrate: int, frames: int,
    seed: int, started_at: datetime,
) -> Scenario:
    visits = tuple(
        VisitTruth(
            appearance=_appearance(a, boxes, fps), arrive=v.arrive, depart=v.depart,
            companion=_appearance(companions[i], boxes, fps) if i in companions else None,
        )
        for i, (v, a) in enumerate(zip(plan.visits, visitors, strict=True))
    )
    swipes = []
    for i, s in enumerate(plan.swipes):
        frame = min(frames - 1, round(s.at * fps))
        here = next((v for v in visits if v.at_counter(s.at)), None)
        swipes.append(SwipeTruth(
            index=i, at=s.at, frame=frame, card_holder=s.card_holder,
            present=here.person if here else None, amount=s.amount,
            face_box=here.appearance.boxes.get(frame) if here else None,
        ))
    return Scenario(
        video=video, timeline=timeline, fps=fps, size=size, bitrate=bitrate,
        duration=frames / fps, frames=frames, seed=seed, started_at=started_at,
        visits=visits,
        passers=tuple(_appearance(a, boxes, fps) for a in passers),
        swipes=tuple(swipes),
        enrolment={p.name: p.enrolment for p in people},
    )


def _appearance(actor: _Actor, boxes: dict[int, dict[int, Box]], fps: int) -> Appearance:
    drawn = boxes[id(actor)]
    shown = sorted(drawn) or sorted(actor.poses)
    return Appearance(
        person=actor.person, photo=actor.photo,
        start=shown[0] / fps if shown else 0.0, end=shown[-1] / fps if shown else 0.0,
        boxes=drawn,
    )
