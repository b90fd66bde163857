"""A pharmacy counter seen from the camera over the till, drawn procedurally.

Three layers, back to front, with people drawn between them: the back wall with its
shelves (passers-by walk in front of it), a low display unit in the middle of the shop
(it hides the passers' legs), and the counter top in the foreground (it hides the
customer below the chest). Everything is drawn from the seed: no image assets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Rgb = tuple[int, int, int]

# Fractions of the frame height where the layers end or begin.
_CEILING = 0.07
_WALL_FLOOR = 0.56  # the back wall meets the floor
_UNIT_TOP = 0.50  # top of the mid-shop display unit
_UNIT_BOTTOM = 0.62
COUNTER_TOP = 0.86  # the near edge of the counter

_PRODUCT_COLOURS: tuple[Rgb, ...] = (
    (230, 230, 225), (200, 40, 50), (40, 110, 180), (240, 200, 60), (60, 150, 90),
    (250, 130, 40), (150, 80, 160), (220, 220, 235), (90, 170, 200), (180, 40, 90),
)


@dataclass(frozen=True, slots=True)
class Scene:
    """The static layers of one camera's view, ready to composite."""

    background: npt.NDArray[np.uint8]  # (H, W, 3)
    unit: npt.NDArray[np.uint8]  # (rows, W, 4): mid-shop display unit, from ``unit_top``
    unit_top: int
    counter: npt.NDArray[np.uint8]  # (rows, W, 3): opaque counter, from ``counter_top``
    counter_top: int

    @property
    def size(self) -> tuple[int, int]:
        return self.background.shape[1], self.background.shape[0]


def build_scene(*, size: tuple[int, int], seed: int) -> Scene:
    """Draw the wall, shelves, display unit and counter for a frame of ``size`` (w, h)."""
    rng = np.random.default_rng([seed, 1])
    w, h = size
    image = Image.fromarray(_wall(w, h, rng))
    draw = ImageDraw.Draw(image)
    _draw_ceiling(draw, w, h)
    window_left = _draw_window(draw, w, h, rng)
    _draw_shelves(draw, w, h, rng)
    if window_left:
        _draw_poster(draw, w, h, rng)
    _draw_sign(draw, w, h, rng)
    background = np.asarray(image.filter(ImageFilter.GaussianBlur(h / 720)))
    background = _vignette(_muted(background))

    unit_top = round(_UNIT_TOP * h)
    counter_top = round(COUNTER_TOP * h)
    return Scene(
        background=background,
        unit=_display_unit(w, h, unit_top, rng),
        unit_top=unit_top,
        counter=_counter(w, h, counter_top, rng),
        counter_top=counter_top,
    )


def _wall(w: int, h: int, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Painted wall lit from the ceiling, and a tiled floor in perspective below it."""
    tint = np.array([222, 216, 200], np.float32) + rng.normal(0, 8, 3)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    light = 1.0 - 0.35 * y - 0.08 * x**2  # ceiling lights over the middle of the shop
    wall = tint * light + rng.normal(0, 2.0, (h, w, 1)).astype(np.float32)  # paint texture
    floor = round(_WALL_FLOOR * h)
    wall[floor:] = _floor(w, h - floor) * light[floor:]
    return np.clip(wall, 0, 255).astype(np.uint8)


def _floor(w: int, rows: int) -> npt.NDArray[np.float32]:
    """Square tiles seen from ~2 m up: grout lines converge on a point above the frame."""
    depth = np.linspace(0, 1, rows, dtype=np.float32)[:, None]  # 0 far, 1 near
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    spread = 0.6 + 0.8 * depth  # near tiles look wider
    across = xx / spread * 7  # seven tiles from the middle to each edge, far away
    along = 1.0 / (0.35 + depth) * 6  # rows of tiles bunch up with distance
    lines = (np.abs(across - np.round(across)) < 0.03) | (np.abs(along - np.round(along)) < 0.04)
    tile = np.array([168, 164, 154], np.float32)
    return tile * (1 - 0.18 * lines[..., None]) * (0.9 + 0.1 * depth[..., None])


def _draw_ceiling(draw: ImageDraw.ImageDraw, w: int, h: int) -> None:
    ceiling = round(_CEILING * h)
    draw.rectangle((0, 0, w, ceiling), fill=(236, 236, 232))
    for x in range(w // 8, w, w // 3):
        draw.rectangle((x, ceiling // 3, x + w // 6, ceiling // 3 + ceiling // 4), fill=(255,) * 3)


def _draw_window(draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator) -> bool:
    """A bright window on one side, as at many real counters; True if on the left."""
    left = rng.random() < 0.5
    x0 = round(w * 0.02) if left else round(w * 0.82)
    x1 = x0 + round(w * 0.16)
    y0, y1 = round(h * 0.12), round(h * 0.48)
    draw.rectangle((x0 - 6, y0 - 6, x1 + 6, y1 + 6), fill=(120, 120, 124))
    draw.rectangle((x0, y0, x1, y1), fill=(250, 252, 255))
    draw.rectangle(((x0 + x1) // 2 - 3, y0, (x0 + x1) // 2 + 3, y1), fill=(120, 120, 124))
    return left


def _draw_shelves(draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator) -> None:
    """Wall shelving with rows of boxes and bottles."""
    x0, x1 = round(w * 0.22), round(w * 0.78)
    board = max(3, h // 120)
    levels = np.linspace(0.17, 0.47, 4) * h
    back = (x0 - 8, round(0.09 * h), x1 + 8, round(levels[-1]) + board)
    draw.rectangle(back, fill=(170, 150, 120))
    for top, y in zip(levels[:-1], levels[1:], strict=True):
        _draw_products(draw, x0, x1, round(top) + board, round(y), rng)
        draw.rectangle((x0 - 8, round(y), x1 + 8, round(y) + board), fill=(130, 110, 85))


def _draw_products(
    draw: ImageDraw.ImageDraw, x0: int, x1: int, top: int, base: int, rng: np.random.Generator
) -> None:
    """Boxes and bottles of varied size, each with a label and a shaded side."""
    x = x0 + 2
    height = base - top
    while x < x1 - 4:
        pw = int(rng.integers(height // 5, height // 2 + 2))
        ph = int(rng.integers(height // 3, height - 2))
        colour = _PRODUCT_COLOURS[int(rng.integers(len(_PRODUCT_COLOURS)))]
        right = min(x + pw, x1 - 2)
        if right - x < 6:  # no room left on the board for a product with a label
            break
        shade = tuple(int(c * 0.7) for c in colour)
        draw.rectangle((x, base - ph, right, base), fill=colour, outline=(70, 70, 70))
        draw.rectangle((right - max(2, pw // 5), base - ph + 1, right - 1, base - 1), fill=shade)
        draw.rectangle((x + 2, base - ph * 2 // 3, right - 2, base - ph // 2), fill=(235, 235, 230))
        x = right + int(rng.integers(1, 4))


def _draw_poster(draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator) -> None:
    """A health poster on the wall: a coloured panel and lines of text-like marks."""
    left = rng.random() < 0.5
    x0 = round(w * (0.05 if left else 0.84))
    x1, y0, y1 = x0 + round(w * 0.1), round(h * 0.16), round(h * 0.36)
    colour = _PRODUCT_COLOURS[int(rng.integers(len(_PRODUCT_COLOURS)))]
    draw.rectangle((x0, y0, x1, y1), fill=(240, 240, 236), outline=(90, 90, 90))
    draw.rectangle((x0 + 4, y0 + 4, x1 - 4, (y0 + y1) // 2), fill=colour)
    for row in range((y0 + y1) // 2 + 8, y1 - 6, max(4, h // 120)):
        length = int(rng.integers((x1 - x0) // 2, x1 - x0 - 8))
        draw.line((x0 + 6, row, x0 + length, row), fill=(80, 80, 80), width=1)


def _draw_sign(draw: ImageDraw.ImageDraw, w: int, h: int, rng: np.random.Generator) -> None:
    """The pharmacy's green cross above the shelves."""
    cx, cy, arm = round(w * (0.5 + rng.uniform(-0.1, 0.1))), round(0.095 * h), max(4, h // 70)
    green = (20, 160, 70)
    draw.rectangle((cx - 3 * arm, cy - arm, cx + 3 * arm, cy + arm), fill=green)
    draw.rectangle((cx - arm, cy - 3 * arm, cx + arm, cy + 3 * arm), fill=green)


def _display_unit(
    w: int, h: int, top: int, rng: np.random.Generator
) -> npt.NDArray[np.uint8]:
    """A low gondola across the shop, products on its top shelf, opaque below."""
    bottom = round(_UNIT_BOTTOM * h)
    image = Image.new("RGBA", (w, bottom - top), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    lip = max(4, h // 90)
    shelf = top + (bottom - top) // 3
    draw.rectangle((0, shelf - top, w, bottom - top), fill=(196, 196, 200, 255))
    draw.rectangle((0, shelf - top, w, shelf - top + lip), fill=(110, 110, 116, 255))
    rgb = ImageDraw.Draw(image)
    x = 0
    while x < w:
        pw = int(rng.integers(h // 60, h // 22))
        ph = int(rng.integers(lip * 2, shelf - top))
        colour = _PRODUCT_COLOURS[int(rng.integers(len(_PRODUCT_COLOURS)))]
        rgb.rectangle((x, shelf - top - ph, x + pw, shelf - top), fill=(*colour, 255))
        x += pw + int(rng.integers(1, h // 40))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(h / 720)))


def _counter(w: int, h: int, top: int, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Laminate counter top with a lit edge, a card terminal and a leaflet stand."""
    rows = h - top
    y = np.linspace(0, 1, rows, dtype=np.float32)[:, None, None]
    base = np.array([176, 160, 136], np.float32) + rng.normal(0, 6, 3)
    counter = np.broadcast_to(base * (1.0 - 0.25 * y), (rows, w, 3)).copy()
    counter += rng.normal(0, 1.5, (rows, w, 1)).astype(np.float32)
    counter[: max(2, h // 180)] = 235  # the rounded edge catches the light
    image = Image.fromarray(np.clip(counter, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    tx = round(w * rng.uniform(0.62, 0.72))
    draw.rounded_rectangle((tx, rows // 5, tx + w // 14, rows), radius=8, fill=(40, 40, 44))
    draw.rectangle((tx + 8, rows // 5 + 8, tx + w // 14 - 8, rows // 2), fill=(90, 150, 170))
    lx = round(w * rng.uniform(0.12, 0.22))
    draw.rectangle((lx, rows // 8, lx + w // 18, rows), fill=(245, 245, 250))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(h / 720)))


def _muted(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A fifth less saturated: small CCTV sensors and their processing wash colour out."""
    grey = image.mean(axis=2, keepdims=True)
    return np.clip(0.8 * image + 0.2 * grey, 0, 255).astype(np.uint8)


def _vignette(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Corners ~20% darker, as a wide CCTV lens renders them."""
    h, w = image.shape[:2]
    yy, xx = np.ogrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]
    fall = 1.0 - 0.2 * (xx**2 + yy**2) / 2
    return np.clip(image * fall[..., None], 0, 255).astype(np.uint8)


def overlay_font(height: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The OSD font, ~3% of the frame height like a camera's on-screen clock."""
    return ImageFont.load_default(size=max(10, round(height * 0.03)))
