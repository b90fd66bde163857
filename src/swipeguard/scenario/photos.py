"""Identity-labelled photos in, head-and-shoulders sprites out.

A ``Portrait`` is one photo turned into an RGBA sprite: the head cut out with a soft
ellipse, the neck kept, a plain torso synthesised below, scaled so the face box is
``FACE_PX`` wide. The face box (dlib's HOG box, the same detector the product uses)
is known in sprite coordinates, so the renderer knows where the face lands in a frame.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageOps, UnidentifiedImageError

from swipeguard.faces.types import Box
from swipeguard.scenario.errors import NoPhotos, PhotoUnusable
from swipeguard.scenario.types import PersonPhotos

log = logging.getLogger(__name__)

Grid = npt.NDArray[np.float32]  # per-pixel values over a sprite canvas

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

# Sprite face width. A counter face at 720p is ~165 px wide (see motion.COUNTER_FACE),
# so sprites are drawn near 1:1 there and LFW's ~108 px faces are upscaled only once.
FACE_PX = 160
# Sprite canvas around the face box, in face widths: room for hair above, body to the hips.
_LEFT, _RIGHT, _ABOVE, _BELOW = 1.6, 1.6, 0.9, 4.0
# Photos above this size are shrunk before detection: a face needs no more to be found.
_DETECT_MAX_SIDE = 1000

# Plain clothing colours (RGB), drawn for the synthesised torso.
_CLOTHES = (
    (38, 44, 58), (90, 96, 104), (150, 32, 40), (28, 70, 120), (210, 206, 196),
    (60, 84, 52), (120, 88, 60), (30, 30, 32), (170, 150, 110), (96, 60, 110),
)


@dataclass(frozen=True, slots=True)
class Portrait:
    """A head-and-shoulders sprite: ``rgba`` (H, W, 4) uint8 and the face box inside it."""

    rgba: npt.NDArray[np.uint8]
    face: Box


def list_people(
    root: Path, *, min_images: int = 1, names: Iterable[str] | None = None, enrol: int = 1
) -> list[PersonPhotos]:
    """People under ``root``: a folder of photos per person (LFW), or one photo per person.

    Photos lying directly in ``root`` are one person each (named by the file stem).
    Otherwise each sub-folder is a person: its first ``enrol`` photos (sorted by name)
    are kept for enrolment and the others are footage; a person with a single photo
    gets it as footage and no enrolment photo.
    """
    if not root.is_dir():
        raise NoPhotos(f"photo folder not found: {root}")
    wanted = set(names) if names is not None else None
    flat = _images(root)
    if flat:
        # Photos lying in the folder itself: one person each, named by the file.
        people = [PersonPhotos(name=p.stem, footage=(p,)) for p in flat if min_images <= 1]
    else:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
        found = (_person_from_folder(f, enrol) for f in folders)
        people = [p for p in found if p is not None and _count(p) >= min_images]
    people = [p for p in people if wanted is None or p.name in wanted]
    if not people:
        raise NoPhotos(f"no person with at least {min_images} photo(s) under {root}")
    return people


def people_from_pairs(root: Path, *, pairs: Path | None = None) -> list[PersonPhotos]:
    """The same-person pairs of an LFW protocol file: image i to enrol, image j for footage.

    Defaults to ``root/pairs-dev.txt``, the development folds: tune only on these.
    A person in several pairs keeps the first.
    """
    pairs = pairs or root / "pairs-dev.txt"
    if not pairs.is_file():
        raise NoPhotos(f"pairs file not found: {pairs}")
    people: dict[str, PersonPhotos] = {}
    for line in pairs.read_text().splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) != 3 or fields[0] in people:
            continue
        name, i, j = fields[0], int(fields[1]), int(fields[2])
        enrol, footage = _lfw_path(root, name, i), _lfw_path(root, name, j)
        if enrol.is_file() and footage.is_file():
            people[name] = PersonPhotos(name=name, footage=(footage,), enrolment=(enrol,))
    if not people:
        raise NoPhotos(f"no same-person pair with both images present in {pairs}")
    return list(people.values())


def make_portrait(path: Path) -> Portrait:
    """Cut the person in ``path`` into a sprite; raises ``PhotoUnusable`` with the reason."""
    rgb = _load_rgb(path)
    face = _main_face(rgb, path)
    scale = FACE_PX / face.width
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    scaled = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))
    canvas, inside, sprite_face = _place_on_canvas(scaled, face, scale)
    return Portrait(rgba=_compose(canvas, inside, sprite_face, path), face=sprite_face)


def _person_from_folder(folder: Path, enrol: int) -> PersonPhotos | None:
    images = _images(folder)
    if not images:
        return None
    if len(images) == 1:
        return PersonPhotos(name=folder.name, footage=tuple(images))
    keep = max(0, min(enrol, len(images) - 1))
    return PersonPhotos(
        name=folder.name, footage=tuple(images[keep:]), enrolment=tuple(images[:keep])
    )


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _count(person: PersonPhotos) -> int:
    return len(person.footage) + len(person.enrolment)


def _lfw_path(root: Path, name: str, index: int) -> Path:
    return root / name / f"{name}_{index:04d}.jpg"


def _load_rgb(path: Path) -> npt.NDArray[np.uint8]:
    try:
        with Image.open(path) as opened:
            upright = ImageOps.exif_transpose(opened)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise PhotoUnusable(f"photo not found: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise PhotoUnusable(f"not a readable image ({exc.__class__.__name__}): {path}") from exc


@functools.cache
def _detector() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


def _main_face(rgb: npt.NDArray[np.uint8], path: Path) -> Box:
    """The photo's subject: the biggest face, nearer the centre on a near tie."""
    h, w = rgb.shape[:2]
    shrink = min(1.0, _DETECT_MAX_SIDE / max(h, w))
    small = rgb
    if shrink < 1.0:
        size = (round(w * shrink), round(h * shrink))
        small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    # One upsampling finds faces down to ~40 px, enough for LFW's 250 px photos.
    found = _detector()(small, 1 if max(small.shape[:2]) < 600 else 0)
    if not found:
        raise PhotoUnusable(f"no face found in photo: {path}")

    def score(r: Any) -> float:
        dx = (r.left() + r.right()) / 2 - small.shape[1] / 2
        dy = (r.top() + r.bottom()) / 2 - small.shape[0] / 2
        return r.width() - 0.25 * float(np.hypot(dx, dy))

    best = max(found, key=score)
    return Box(
        round(best.left() / shrink), round(best.top() / shrink),
        round(best.right() / shrink), round(best.bottom() / shrink),
    )


def _place_on_canvas(
    scaled: npt.NDArray[np.uint8], face: Box, scale: float
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_], Box]:
    """Crop a fixed canvas around the scaled face; ``inside`` marks pixels the photo covers."""
    width = round((_LEFT + 1 + _RIGHT) * FACE_PX)
    height = round((_ABOVE + 1 + _BELOW) * FACE_PX)
    x0 = round(face.left * scale - _LEFT * FACE_PX)
    y0 = round(face.top * scale - _ABOVE * FACE_PX)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    inside = np.zeros((height, width), dtype=bool)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(scaled.shape[1], x0 + width), min(scaled.shape[0], y0 + height)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = scaled[sy0:sy1, sx0:sx1]
        seen = _photographed(scaled)
        inside[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = seen[sy0:sy1, sx0:sx1]
    left, top = round(_LEFT * FACE_PX), round(_ABOVE * FACE_PX)
    sprite_face = Box(left, top, left + FACE_PX, top + round(face.height * scale))
    return canvas, inside, sprite_face


def _photographed(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Pixels the camera saw: LFW's deep funnelling fills its warped-in margins with black."""
    h, w = image.shape[:2]
    border = np.ones((h, w), dtype=bool)
    border[h // 7 : h - h // 7, w // 7 : w - w // 7] = False
    return ~(border & (image.astype(np.uint16).sum(axis=2) < 24))


def _compose(
    canvas: npt.NDArray[np.uint8], inside: npt.NDArray[np.bool_], face: Box, path: Path
) -> npt.NDArray[np.uint8]:
    """Head, neck and what the photo shows of the shoulders, over a synthesised torso."""
    h, w = inside.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    f = float(FACE_PX)
    cx = (face.left + face.right) / 2
    shoulders = face.bottom + 0.3 * f
    # dlib's box spans brows to chin: the skull reaches ~0.5 face widths above it.
    head = _soft_ellipse(xx, yy, cx, face.top + 0.25 * f, 0.66 * f, 0.84 * f)
    neck = _soft_box(xx, yy, cx, face.bottom + 0.2 * f, 0.36 * f, 0.3 * f, 0.08 * f)
    torso = _torso_mask(h, w, cx, face.bottom)
    # The photo's own clothes are kept where it has them, faded out towards its border.
    covered = _soft_inside(inside, 0.15 * f)
    photo_alpha = np.maximum(np.maximum(head, neck), torso) * covered

    # The garment takes the colour of what the photo shows under the chin, if anything.
    worn = (torso > 0.9) & (covered > 0.9) & (yy > face.bottom + 0.4 * f)
    colour = canvas[worn].mean(axis=0) if worn.sum() > 0.05 * f * f else _colour_for(path)
    clothes = _clothes(xx, yy, shoulders, colour)
    # Colour is not premultiplied: where the photo exists its own colours stay under the
    # transparent edge, so warping and blurring blend into what the photo really shows.
    photo_weight = np.maximum(photo_alpha, (covered > 0) & (torso < 0.5))[..., None]
    rgb = canvas.astype(np.float32) * photo_weight + clothes * (1 - photo_weight)
    alpha = np.maximum(photo_alpha, torso)
    return np.dstack([np.clip(rgb, 0, 255), alpha * 255]).astype(np.uint8)


def _soft_inside(inside: npt.NDArray[np.bool_], feather: float) -> npt.NDArray[np.float32]:
    """1 well inside the photo, falling to 0 at its border over ``feather`` pixels."""
    mask = Image.fromarray(inside.astype(np.uint8) * 255).filter(ImageFilter.BoxBlur(feather))
    soft = np.asarray(mask, dtype=np.float32) / 255
    return (np.clip(2 * soft - 1, 0, 1) * inside).astype(np.float32)


def _soft_ellipse(
    xx: Grid, yy: Grid, cx: float, cy: float, rx: float, ry: float
) -> Grid:
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return _smoothstep(1.05, 0.85, r)


def _soft_box(
    xx: Grid, yy: Grid, cx: float, cy: float, half_w: float, half_h: float, feather: float
) -> Grid:
    dx = np.abs(xx - cx) - half_w
    dy = np.abs(yy - cy) - half_h
    return _smoothstep(feather, -feather, np.maximum(dx, dy))


def _torso_mask(h: int, w: int, cx: float, chin: float) -> npt.NDArray[np.float32]:
    """Neck, sloping trapezius, shoulders and upper arms, in face widths from the chin."""
    f = float(FACE_PX)
    outline = [(0.3, 0.0), (0.42, 0.2), (0.8, 0.38), (1.12, 0.5), (1.28, 0.7), (1.36, 1.1),
               (1.45, 5.0)]
    right = [(cx + dx * f, chin + dy * f) for dx, dy in outline]
    left = [(cx - dx * f, chin + dy * f) for dx, dy in reversed(outline)]
    image = Image.new("L", (w, h), 0)
    ImageDraw.Draw(image).polygon(right + left, fill=255)
    soft = np.asarray(image.filter(ImageFilter.GaussianBlur(0.03 * f)), dtype=np.float32)
    return (soft / 255).astype(np.float32)


def _clothes(xx: Grid, yy: Grid, top: float, colour: Sequence[float]) -> Grid:
    """A flat garment lit from above, with a few broad folds."""
    f = float(FACE_PX)
    shade = 1.05 - 0.25 * np.clip((yy - top) / (2 * f), 0, 1)
    folds = 1 + 0.06 * np.sin(xx / (0.23 * f)) * np.sin(yy / (0.37 * f) + xx / (0.9 * f))
    return np.asarray(colour, np.float32)[None, None, :] * (shade * folds)[..., None]


def _colour_for(path: Path) -> tuple[int, int, int]:
    """A garment colour fixed by the photo, so a person looks the same in every run."""
    digest = hashlib.sha256(path.name.encode()).digest()
    return _CLOTHES[digest[0] % len(_CLOTHES)]


def _smoothstep(edge0: float, edge1: float, x: Grid) -> Grid:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)
