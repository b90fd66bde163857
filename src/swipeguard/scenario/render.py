"""Putting sprites into frames, and what the camera adds: exposure drift, noise, a clock.

Frames stay PIL images from the background to the encoder: warping, blurring and
alpha-pasting run in Pillow's C loops, several times faster than the same in numpy.
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
from swipeguard.scenario.photos import Portrait
from swipeguard.scenario.scene import overlay_font

# A head turning is drawn as its photo plane rotating in 3-D, seen by a pinhole camera
# this many face widths away: far enough that 10 degrees reads as a turn, not a smear.
_FOCAL_FACES = 3.0
# Blur below this radius (pixels) is lost in the resampling and the encoder anyway.
_MIN_BLUR = 1.0


@dataclass(frozen=True, slots=True)
class _Level:
    """One size of a sprite, cut in two: the head turns and tilts, the body only follows.

    Warping in perspective costs ~25 ns a pixel in Pillow; doing it for the head alone
    and merely resizing the larger body keeps a 720p frame near 5 ms of drawing.
    """

    head: Image.Image  # RGBA, its lower edge faded into the body
    face: Box  # the face box inside ``head``
    body: Image.Image  # RGBA, from the shoulders down
    anchor: tuple[float, float]  # the face centre in ``body`` coordinates


@dataclass(frozen=True, slots=True)
class Sprite:
    """A portrait at halving sizes, so a far face is drawn from a level near its size.

    Bilinear warping samples only 2x2 pixels: shrinking a sprite more than twofold in
    one step would alias (sparkle), so the warp always starts from the next level up.
    """

    levels: tuple[_Level, ...]

    @property
    def face(self) -> Box:
        return self.levels[0].face

    @classmethod
    def from_portrait(cls, portrait: Portrait) -> Sprite:
        image, face = Image.fromarray(portrait.rgba, "RGBA"), portrait.face
        levels = [_split(image, face)]
        while face.width >= 40:
            image = image.reduce(2)
            face = Box(face.left // 2, face.top // 2, face.right // 2, face.bottom // 2)
            levels.append(_split(image, face))
        return cls(levels=tuple(levels))

    def level_for(self, face_px: float) -> _Level:
        fitting = [lv for lv in self.levels if lv.face.width >= face_px]
        return fitting[-1] if fitting else self.levels[0]


def _split(image: Image.Image, face: Box) -> _Level:
    f = face.width
    cx, cy = face.center
    shoulders = round(face.bottom + 0.3 * f)
    fade = max(2, round(0.12 * f))
    left, right = max(0, round(cx - 0.85 * f)), min(image.width, round(cx + 0.85 * f))
    head = image.crop((left, 0, right, min(image.height, shoulders + fade)))
    alpha = np.asarray(head.getchannel("A"), dtype=np.float32).copy()
    alpha[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)[:, None]
    head.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    return _Level(
        head=head,
        face=Box(face.left - left, face.top, face.right - left, face.bottom),
        body=image.crop((0, shoulders, image.width, image.height)),
        anchor=(cx, cy - shoulders),
    )


def draw_sprite(frame: Image.Image, sprite: Sprite, pose: Pose, *, bottom: int) -> Box | None:
    """Paste ``sprite`` at ``pose`` above row ``bottom``; return the face box drawn.

    The face box is the photo's face box carried through the head's warp, clipped to
    the frame; None when less than half of the face is in the frame.
    """
    level = sprite.level_for(pose.face_px)
    _draw_body(frame, level, pose, bottom)
    return _draw_head(frame, level, pose, bottom)


def _draw_body(frame: Image.Image, level: _Level, pose: Pose, bottom: int) -> None:
    """Resize and place the body; it turns a third as much as the head (a shoulder width)."""
    s = pose.face_px / level.face.width
    sx = s * math.cos(math.radians(pose.yaw) / 3)
    left = pose.x - level.anchor[0] * sx
    top = pose.y - level.anchor[1] * s
    x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
    x1 = min(frame.width, math.ceil(left + level.body.width * sx))
    y1 = min(bottom, math.ceil(top + level.body.height * s))
    if x1 <= x0 or y1 <= y0:
        return
    bw, bh = level.body.size
    source = (max(0.0, (x0 - left) / sx), max(0.0, (y0 - top) / s),
              min(bw, (x1 - left) / sx), min(bh, (y1 - top) / s))
    body = level.body.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=source)
    _paste(frame, body, (x0, y0), pose)


def _draw_head(frame: Image.Image, level: _Level, pose: Pose, bottom: int) -> Box | None:
    w, h = frame.size
    warp = _homography(level.face, pose)
    face = _face_box(warp, level.face, w, h)
    margin = math.ceil(3 * pose.blur + pose.smear) + 1
    corners = _apply(warp, _corners(0, 0, *level.head.size))
    x0 = max(0, math.floor(corners[:, 0].min()) - margin)
    y0 = max(0, math.floor(corners[:, 1].min()) - margin)
    x1 = min(w, math.ceil(corners[:, 0].max()) + margin)
    y1 = min(bottom, math.ceil(corners[:, 1].max()) + margin)
    if x1 <= x0 or y1 <= y0:
        return face

    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
    inverse = np.linalg.inv(shift @ warp)
    coeffs = tuple((inverse / inverse[2, 2]).ravel()[:8])
    warped = level.head.transform(
        (x1 - x0, y1 - y0), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    _paste(frame, warped, (x0, y0), pose)
    return face


def _paste(frame: Image.Image, layer: Image.Image, at: tuple[int, int], pose: Pose) -> None:
    if pose.blur >= _MIN_BLUR:
        layer = layer.filter(ImageFilter.GaussianBlur(pose.blur))
    steps = round(pose.smear)
    if steps >= 2 and layer.width > 2 * steps:
        # A horizontal box blur of the travel: average runs of pixels, stretch back.
        layer = layer.reduce((steps, 1)).resize(layer.size, Image.Resampling.BILINEAR)
    lit = layer.point(_light_table(pose.gain, pose.gamma))
    frame.paste(lit, at, lit)


def _light_table(gain: float, gamma: float) -> list[int]:
    """A ``point`` table for RGBA: colour through gain and gamma, alpha unchanged."""
    levels = np.arange(256, dtype=np.float32) / 255
    rgb = np.clip(255 * gain * levels**gamma + 0.5, 0, 255).astype(np.uint8).tolist()
    return rgb * 3 + list(range(256))


def _homography(face: Box, pose: Pose) -> npt.NDArray[np.float64]:
    """Sprite pixels to frame pixels: centre on the face, turn in 3-D, roll, scale, place."""
    fx, fy = face.center
    focal = _FOCAL_FACES * face.width
    to_face = np.array([[1, 0, -fx], [0, 1, -fy], [0, 0, 1]], dtype=np.float64)
    # The face plane sits _FOCAL in front of a pinhole and turns about its own centre.
    rotation = _rotation(pose.yaw, pose.pitch)
    plane = np.c_[rotation[:, :2], [0.0, 0.0, focal]]
    turn = np.diag([focal, focal, 1.0]) @ plane
    r = math.radians(pose.roll)
    s = pose.face_px / face.width
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


def _apply(
    warp: npt.NDArray[np.float64], points: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    homogeneous = np.c_[points, np.ones(len(points))] @ warp.T
    projected: npt.NDArray[np.float64] = homogeneous[:, :2] / homogeneous[:, 2:]
    return projected


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

    def expose(self, frame: Image.Image, t: float) -> Image.Image:
        """Exposure wanders ~4% as the camera's AE hunts; then sensor noise."""
        gain = 1 + 0.025 * math.sin(0.11 * t + self._phases[0])
        gain += 0.015 * math.sin(0.47 * t + self._phases[1])
        table = np.clip(np.arange(256) * gain + 0.5, 0, 255).astype(np.uint8).tolist()
        exposed = frame.point(table * 3)
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
        self._patch = Image.new("RGBA", (1, 1))

    def stamp(self, frame: Image.Image, t: float) -> None:
        second = int(t)
        if second != self._second:
            self._second, self._patch = second, self._render(second)
        frame.paste(self._patch, (self._margin, self._margin), self._patch)

    def _render(self, second: int) -> Image.Image:
        when = self._started_at + timedelta(seconds=second)
        text = f"{when:%Y-%m-%d %H:%M:%S}  {self._label}"
        box = self._font.getbbox(text)
        size = (int(box[2]) + 4, int(box[3]) + 4)
        image = Image.new("RGBA", size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.text((2, 2), text, font=self._font, fill=(255, 255, 255, 255),
                  stroke_width=1, stroke_fill=(0, 0, 0, 255))
        return image
