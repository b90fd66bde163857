"""Putting sprites into frames, and what the camera adds: exposure drift, noise, a clock.

Sprites are kept premultiplied (PIL's ``RGBa``) so warping and blurring do not bleed
the transparent surroundings' colour into the edges, and compositing is one multiply-add.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from swipeguard.faces.types import Box
from swipeguard.scenario.motion import Pose
from swipeguard.scenario.photos import FACE_PX, Portrait
from swipeguard.scenario.scene import overlay_font

Frame = npt.NDArray[np.uint8]  # (H, W, 3) RGB

# A head turning is drawn as its photo plane rotating in 3-D, seen by a pinhole camera
# this many face widths away: far enough that 10 degrees reads as a turn, not a smear.
_FOCAL = 3.0 * FACE_PX


@dataclass(frozen=True, slots=True)
class Sprite:
    image: Image.Image  # premultiplied RGBa
    face: Box  # in sprite pixels

    @classmethod
    def from_portrait(cls, portrait: Portrait) -> Sprite:
        image = Image.fromarray(portrait.rgba, "RGBA").convert("RGBa")
        return cls(image=image, face=portrait.face)


def draw_sprite(frame: Frame, sprite: Sprite, pose: Pose, *, bottom: int) -> Box | None:
    """Composite ``sprite`` at ``pose`` above row ``bottom``; return the face box drawn.

    The face box is the photo's face box carried through the same warp, clipped to
    the frame; None when less than half of the face is in the frame.
    """
    h, w = frame.shape[:2]
    warp = _homography(sprite, pose)
    face = _face_box(warp, sprite.face, w, h)
    margin = math.ceil(3 * pose.blur) + 1
    corners = _apply(warp, _corners(0, 0, *sprite.image.size))
    x0 = max(0, math.floor(corners[:, 0].min()) - margin)
    y0 = max(0, math.floor(corners[:, 1].min()) - margin)
    x1 = min(w, math.ceil(corners[:, 0].max()) + margin)
    y1 = min(bottom, math.ceil(corners[:, 1].max()) + margin)
    if x1 <= x0 or y1 <= y0:
        return face

    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
    inverse = np.linalg.inv(shift @ warp)
    coeffs = tuple((inverse / inverse[2, 2]).ravel()[:8])
    warped = sprite.image.transform(
        (x1 - x0, y1 - y0), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    if pose.blur >= 0.3:
        warped = warped.filter(ImageFilter.GaussianBlur(pose.blur))
    _blend(frame[y0:y1, x0:x1], np.asarray(warped), pose)
    return face


def _blend(roi: Frame, rgba: npt.NDArray[np.uint8], pose: Pose) -> None:
    lit = _light_table(pose.gain, pose.gamma)[rgba[..., :3]]
    keep = (255 - rgba[..., 3:]).astype(np.uint16)
    roi[:] = np.minimum(255, lit + (roi * keep + 127) // 255).astype(np.uint8)


def _light_table(gain: float, gamma: float) -> npt.NDArray[np.uint16]:
    levels = np.arange(256, dtype=np.float32) / 255
    return np.clip(255 * gain * levels**gamma + 0.5, 0, 255).astype(np.uint16)


def _homography(sprite: Sprite, pose: Pose) -> npt.NDArray[np.float64]:
    """Sprite pixels to frame pixels: centre on the face, turn in 3-D, roll, scale, place."""
    fx, fy = sprite.face.center
    to_face = np.array([[1, 0, -fx], [0, 1, -fy], [0, 0, 1]], dtype=np.float64)
    # The face plane sits _FOCAL in front of a pinhole and turns about its own centre.
    rotation = _rotation(pose.yaw, pose.pitch)
    plane = np.c_[rotation[:, :2], [0.0, 0.0, _FOCAL]]
    turn = np.diag([_FOCAL, _FOCAL, 1.0]) @ plane
    r = math.radians(pose.roll)
    s = pose.face_px / sprite.face.width
    roll_scale = np.array(
        [[s * math.cos(r), -s * math.sin(r), 0], [s * math.sin(r), s * math.cos(r), 0], [0, 0, 1]]
    )
    place = np.array([[1, 0, pose.x], [0, 1, pose.y], [0, 0, 1]], dtype=np.float64)
    return place @ roll_scale @ turn @ to_face


def _rotation(yaw: float, pitch: float) -> npt.NDArray[np.float64]:
    a, b = math.radians(yaw), math.radians(pitch)
    around_y = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    around_x = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return around_x @ around_y


def _corners(left: float, top: float, right: float, bottom: float) -> npt.NDArray[np.float64]:
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float64)


def _apply(warp: npt.NDArray[np.float64], points: npt.NDArray[np.float64]):  # type: ignore[no-untyped-def]
    homogeneous = np.c_[points, np.ones(len(points))] @ warp.T
    return homogeneous[:, :2] / homogeneous[:, 2:]


def _face_box(warp: npt.NDArray[np.float64], face: Box, w: int, h: int) -> Box | None:
    pts = _apply(warp, _corners(face.left, face.top, face.right, face.bottom))
    full = Box(*(round(v) for v in (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(),
                                     pts[:, 1].max())))
    clipped = Box(max(0, full.left), max(0, full.top), min(w, full.right), min(h, full.bottom))
    if clipped.width <= 0 or clipped.height <= 0:
        return None
    if clipped.width * clipped.height < 0.5 * full.width * full.height:
        return None
    return clipped


class Camera:
    """The sensor: slow auto-exposure drift and per-frame noise from a pre-drawn bank."""

    def __init__(self, *, size: tuple[int, int], seed: int, noise: float) -> None:
        w, h = size
        self._rng = np.random.default_rng([seed, 2])
        self._phases = self._rng.uniform(0, 2 * math.pi, 2)
        self._bank = [self._noise_frame(w, h, noise) for _ in range(6)]

    def _noise_frame(self, w: int, h: int, sigma: float) -> Image.Image:
        """Noise around mid-grey 128: mostly luma, and blotchier, weaker colour noise.

        Frames come from a bank of six drawn once: drawing 2.7 M Gaussians a frame
        would cost as much as encoding it, and a random pick hides the repeat.
        """
        luma = self._rng.standard_normal((h, w, 1), dtype=np.float32) * sigma
        half = self._rng.standard_normal((h // 2, w // 2, 3), dtype=np.float32) * sigma * 0.4
        chroma = half.repeat(2, axis=0).repeat(2, axis=1)  # demosaicing smears colour noise
        return Image.fromarray(np.clip(luma + chroma + 128.5, 0, 255).astype(np.uint8))

    def expose(self, frame: Frame, t: float) -> Image.Image:
        """Exposure wanders ~4% as the camera's AE hunts; then sensor noise."""
        gain = 1 + 0.025 * math.sin(0.11 * t + self._phases[0])
        gain += 0.015 * math.sin(0.47 * t + self._phases[1])
        table = np.clip(np.arange(256) * gain + 0.5, 0, 255).astype(np.uint8).tolist()
        exposed = Image.fromarray(frame).point(table * 3)
        noise = self._bank[int(self._rng.integers(len(self._bank)))]
        return ImageChops.add(exposed, noise, scale=1.0, offset=-128)


class Clock:
    """The on-screen date, time and camera name that CCTV burns into the picture."""

    def __init__(self, *, started_at: datetime, label: str, height: int) -> None:
        self._started_at = started_at
        self._label = label
        self._font = overlay_font(height)
        self._margin = max(4, height // 60)
        self._second = -1
        self._patch = np.zeros((1, 1, 4), np.uint8)

    def stamp(self, frame: Frame, t: float) -> None:
        second = int(t)
        if second != self._second:
            self._second, self._patch = second, self._render(second)
        ph, pw = self._patch.shape[:2]
        roi = frame[self._margin : self._margin + ph, self._margin : self._margin + pw]
        alpha = self._patch[: roi.shape[0], : roi.shape[1], 3:4].astype(np.uint16)
        text = self._patch[: roi.shape[0], : roi.shape[1], :3].astype(np.uint16)
        roi[:] = ((text * alpha + roi * (255 - alpha)) // 255).astype(np.uint8)

    def _render(self, second: int) -> npt.NDArray[np.uint8]:
        when = self._started_at + timedelta(seconds=second)
        text = f"{when:%Y-%m-%d %H:%M:%S}  {self._label}"
        box = self._font.getbbox(text)
        size = (int(box[2]) + 4, int(box[3]) + 4)
        image = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.text((2, 2), text, font=self._font, fill=(255, 255, 255, 255),
                  stroke_width=1, stroke_fill=(0, 0, 0, 255))
        return np.asarray(image)
