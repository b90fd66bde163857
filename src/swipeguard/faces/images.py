"""Decoding uploaded or stored photos into ``uint8`` RGB arrays, with specific errors.

Every photo is turned upright from its EXIF orientation, flattened onto white when it
has transparency, and brought to 8 bits per channel. The size is checked from the
header before any pixel is decoded, so a hostile file cannot exhaust memory.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from swipeguard.faces.errors import CorruptImage, ImageTooLarge, NotAnImage, UnsupportedImage
from swipeguard.faces.types import Image

log = logging.getLogger(__name__)

# A 100-megapixel camera's JPEG is ~50 MB; a larger file is not a photo we can use, and
# reading it whole would cost its size in memory before the header is even checked.
MAX_FILE_BYTES = 256 * 1024**2

# Modes Pillow converts to RGB without losing meaning.
_DIRECT = {"RGB", "L", "1", "CMYK", "YCbCr", "RGBX", "HSV"}
# Modes with an alpha channel: composited onto white, as a photo on paper would be.
_ALPHA = {"RGBA", "LA", "PA", "RGBa", "La"}
# Single-channel modes wider than 8 bits: scaled, not clipped (Pillow's convert clips).
_WIDE = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def load_image(data: bytes | Path, *, max_pixels: int) -> Image:
    """Decodes a photo to an upright ``(H, W, 3)`` uint8 RGB array."""
    if isinstance(data, Path) and data.stat().st_size > MAX_FILE_BYTES:
        raise ImageTooLarge(f"the file is over {MAX_FILE_BYTES // 1024**2} MB; "
                            "send a smaller photo")
    raw = data.read_bytes() if isinstance(data, Path) else data
    if not raw:
        raise NotAnImage("the file is empty; upload a JPEG or PNG photo")
    pil = _open(raw, max_pixels=max_pixels)
    _decode(pil)
    pil = _upright(pil)
    return _to_rgb(pil)


def image_size(data: bytes, *, max_pixels: int) -> tuple[int, int]:
    """``(width, height)`` from the header only."""
    return _open(data, max_pixels=max_pixels).size


def _open(raw: bytes, *, max_pixels: int) -> PILImage.Image:
    try:
        with warnings.catch_warnings():
            # Our own limit below is the one that matters; Pillow's warning is noise.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            pil = PILImage.open(io.BytesIO(raw))
    except PILImage.DecompressionBombError as exc:
        raise ImageTooLarge(
            f"the image has more pixels than can be decoded safely ({exc}); "
            "send a photo under 40 megapixels"
        ) from exc
    except UnidentifiedImageError as exc:
        raise NotAnImage("this is not an image Pillow can read; upload a JPEG or PNG") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImage(f"the image header is damaged ({exc}); take the photo again") from exc
    width, height = pil.size
    if width <= 0 or height <= 0:
        raise CorruptImage("the image says it has no pixels; take the photo again")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is {width}x{height} pixels, more than the {max_pixels:,} accepted; "
            "scale it down"
        )
    return pil


def _decode(pil: PILImage.Image) -> None:
    """Decodes every pixel now, so truncated or damaged data is found here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            pil.load()
    except PILImage.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image is too large to decode safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(
            f"the image data is truncated or damaged ({exc}); upload the whole file again"
        ) from exc


def _upright(pil: PILImage.Image) -> PILImage.Image:
    try:
        turned = ImageOps.exif_transpose(pil)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError) as exc:
        # A damaged EXIF block loses only the orientation, not the photo.
        log.warning("ignoring unreadable EXIF orientation: %s", exc)
        return pil
    return turned if turned is not None else pil


def _to_rgb(pil: PILImage.Image) -> Image:
    mode = pil.mode
    try:
        if mode == "P":
            pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
            mode = pil.mode
        if mode in _ALPHA:
            return _flatten(pil)
        if mode in _WIDE:
            return _gray_to_rgb(_scale_to_8bit(np.asarray(pil)))
        if mode in _DIRECT or mode in {"LAB", "I;16S"}:
            return _array(pil.convert("RGB"))
    except (ValueError, OSError) as exc:
        raise UnsupportedImage(f"cannot convert a {mode} image to RGB ({exc})") from exc
    raise UnsupportedImage(f"images in {mode} mode are not supported; send an RGB photo")


def _flatten(pil: PILImage.Image) -> Image:
    rgba = pil.convert("RGBA")
    arr = np.asarray(rgba)
    alpha = arr[..., 3]
    if not alpha.any():
        # Many 32-bit BMPs and screenshots leave the fourth byte at zero: it is padding,
        # not transparency, and honouring it would turn the photo white.
        return np.ascontiguousarray(arr[..., :3])
    white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
    return _array(PILImage.alpha_composite(white, rgba).convert("RGB"))


def _scale_to_8bit(arr: np.ndarray) -> np.ndarray:
    """16-bit, 32-bit and float gray levels mapped onto 0-255."""
    if arr.dtype.kind == "f":
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        top = 1.0 if lo >= 0.0 and hi <= 1.0 else 255.0 if lo >= 0.0 and hi <= 255.0 else None
        if top is None:
            span = hi - lo or 1.0
            return ((arr - lo) / span * 255.0).round().astype(np.uint8)
        return (np.nan_to_num(arr) / top * 255.0).clip(0, 255).round().astype(np.uint8)
    values = arr.astype(np.int64)
    peak = int(values.max()) if values.size else 0
    if peak <= 255:
        return values.clip(0, 255).astype(np.uint8)  # 8-bit levels stored in a wide mode
    if peak <= 65535:
        return (values.clip(0, 65535) >> 8).astype(np.uint8)
    lo = int(values.min())
    return ((values - lo) * 255 // max(peak - lo, 1)).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> Image:
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))


def _array(pil: PILImage.Image) -> Image:
    return np.ascontiguousarray(np.asarray(pil, dtype=np.uint8))
