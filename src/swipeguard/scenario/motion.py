"""How people move: a pose per frame for each visitor and passer-by.

A visitor walks in from one side growing larger (approaching), settles at the counter,
sways, turns a little and glances down at the card terminal around each swipe, then
walks out. A passer-by crosses the back of the shop, small, turned sideways and out of
focus. Every motion is a sum of slow sines and easings drawn from the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from swipeguard.scenario.types import WALK_IN, WALK_OUT, Passer, Visit

# Face width at the counter as a fraction of the frame height: 165 px at 720p, about
# what a 2.8 mm lens ~1 m over a till gives, and well above HOG's 80 px minimum.
COUNTER_FACE = 0.23
COUNTER_Y = 0.40  # face centre at the counter, fraction of the frame height
# Passers-by cross ~5 m away: faces of ~40 px at 720p, below what the counter logic keeps.
PASSER_FACE = 0.055
COMPANION_SCALE = 0.75
PASSER_Y = 0.30


@dataclass(frozen=True, slots=True)
class Pose:
    """Where and how a sprite is drawn in one frame; lengths in frame pixels."""

    x: float  # face centre
    y: float
    face_px: float  # face box width
    roll: float  # degrees, in-plane tilt
    yaw: float  # degrees, turning left/right
    pitch: float  # degrees, negative looks down
    gain: float  # light on the person, 1 = as photographed
    gamma: float
    blur: float  # Gaussian radius, pixels: focus
    smear: float = 0.0  # horizontal motion blur, pixels travelled while the shutter is open


@dataclass(frozen=True, slots=True)
class _Sway:
    """Random phases and amplitudes for one visit's idle motion."""

    phases: tuple[float, ...]
    spot: float  # horizontal offset of the standing spot, fraction of width
    gain: float
    gamma: float
    from_left: bool
    to_left: bool


def visit_poses(
    visit: Visit, swipe_times: list[float], *, size: tuple[int, int], fps: int,
    rng: np.random.Generator,
) -> dict[int, Pose]:
    """Poses for every frame from walking in to walking out of sight."""
    sway = _Sway(
        phases=tuple(rng.uniform(0, 2 * math.pi, 8)),
        spot=float(rng.uniform(-0.07, 0.07)),
        gain=float(rng.uniform(0.82, 1.1)),
        gamma=float(rng.uniform(0.9, 1.12)),
        from_left=bool(rng.random() < 0.5),
        to_left=bool(rng.random() < 0.5),
    )
    first, last = math.ceil(visit.enter * fps), math.floor(visit.exit * fps)
    poses = {}
    for frame in range(max(0, first), last + 1):
        poses[frame] = _visit_pose(frame / fps, visit, swipe_times, sway, size)
    return _with_motion_blur(poses, size)


def companion_poses(
    visit: Visit, *, size: tuple[int, int], fps: int, rng: np.random.Generator
) -> dict[int, Pose]:
    """Poses for someone who comes with the customer and waits half a step behind them."""
    w, h = size
    side = 1 if rng.random() < 0.5 else -1
    poses = visit_poses(visit, [], size=size, fps=fps, rng=rng)
    # ~0.6 m behind and to one side: a quarter smaller, a little higher, turned inwards.
    return {
        frame: replace(pose, x=pose.x + side * 0.24 * w, y=pose.y - 0.03 * h,
                       face_px=pose.face_px * COMPANION_SCALE, yaw=pose.yaw - side * 8.0,
                       gain=pose.gain * 0.92)
        for frame, pose in poses.items()
    }


def passer_poses(
    passer: Passer, *, size: tuple[int, int], fps: int, rng: np.random.Generator
) -> dict[int, Pose]:
    """Poses for a passer-by crossing the shop at walking pace."""
    w, h = size
    face = PASSER_FACE * h * float(rng.uniform(0.85, 1.15))
    y0 = PASSER_Y * h + float(rng.uniform(-0.02, 0.02)) * h
    x0, x1 = (1.1 * w, -0.1 * w) if passer.leftward else (-0.1 * w, 1.1 * w)
    # Looking where they walk: three-quarter view, turned towards the direction of travel.
    yaw = float(rng.uniform(18, 32)) * (-1 if passer.leftward else 1)
    phase = float(rng.uniform(0, 2 * math.pi))
    poses = {}
    first = math.ceil(passer.start * fps)
    last = math.floor((passer.start + passer.duration) * fps)
    for frame in range(max(0, first), last + 1):
        u = (frame / fps - passer.start) / passer.duration
        step = abs(math.sin(math.pi * 1.9 * frame / fps + phase))  # ~1.9 steps a second
        poses[frame] = Pose(
            x=x0 + (x1 - x0) * u, y=y0 - 0.004 * h * step, face_px=face,
            roll=2 * math.sin(phase + 3 * u), yaw=yaw, pitch=0.0,
            gain=0.8, gamma=1.0, blur=1.4 * h / 720,  # ~5 m away: out of the lens's focus
        )
    return _with_motion_blur(poses, size)


def _visit_pose(
    t: float, visit: Visit, swipe_times: list[float], sway: _Sway, size: tuple[int, int]
) -> Pose:
    w, h = size
    p = sway.phases
    spot_x = (0.5 + sway.spot) * w
    idle_x = 0.012 * w * math.sin(0.8 * t + p[0]) + 0.006 * w * math.sin(0.3 * t + p[1])
    idle_y = 0.006 * h * math.sin(1.3 * t + p[2])
    glance = sum(_bump(t - s + 0.4, 0.9) for s in swipe_times)  # looks at the terminal
    lean = 1 + 0.03 * math.sin(0.45 * t + p[3]) + 0.05 * glance
    pose = Pose(
        x=spot_x + idle_x,
        y=COUNTER_Y * h + idle_y + 0.02 * h * glance,
        face_px=COUNTER_FACE * h * lean,
        roll=3.0 * math.sin(0.7 * t + p[4]),
        yaw=7.0 * math.sin(0.55 * t + p[5]) + 3.0 * math.sin(1.4 * t + p[6]),
        pitch=-10.0 * glance + 2.0 * math.sin(0.5 * t + p[7]),
        gain=sway.gain * (1 + 0.04 * math.sin(0.35 * t + p[0])),
        gamma=sway.gamma,
        # No extra focus blur: the photo, upscaled ~1.5x, is already as soft as a CCTV lens.
        blur=0.0,
    )
    if t < visit.arrive:
        return _walking(pose, (visit.arrive - t) / WALK_IN, sway.from_left, size)
    if t > visit.depart:
        return _walking(pose, (t - visit.depart) / WALK_OUT, sway.to_left, size)
    return pose


def _walking(pose: Pose, away: float, left: bool, size: tuple[int, int]) -> Pose:
    """The pose ``away`` (0 at the counter, 1 out of sight) along the walk to one side."""
    w, h = size
    a = min(1.0, max(0.0, away)) ** 1.6  # slows down into the spot, speeds up out of it
    side = -0.28 * w if left else 1.28 * w
    step = abs(math.sin(a * 9.0))
    return Pose(
        x=pose.x + (side - pose.x) * a,
        y=pose.y - 0.05 * h * a - 0.01 * h * step * a,
        face_px=pose.face_px * (1 - 0.3 * a),  # a metre or so further away
        roll=pose.roll,
        yaw=pose.yaw * (1 - a) + (-22.0 if left else 22.0) * a,
        pitch=pose.pitch,
        gain=pose.gain * (1 - 0.15 * a),
        gamma=pose.gamma,
        blur=pose.blur,
    )


def _with_motion_blur(poses: dict[int, Pose], size: tuple[int, int]) -> dict[int, Pose]:
    """Smear each pose by the distance the face travels while the shutter is open."""
    out = {}
    for frame, pose in poses.items():
        before = poses.get(frame - 1, pose)
        moved = abs(pose.x - before.x)
        # Indoor CCTV exposes ~1/30 s of each 1/15 s frame: half the frame's travel.
        out[frame] = replace(pose, smear=min(0.05 * size[1], 0.5 * moved))
    return out


def _bump(dt: float, width: float) -> float:
    return math.exp(-0.5 * (dt / width) ** 2)
