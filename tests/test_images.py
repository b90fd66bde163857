"""Decoding photos: specific errors for bad files, correct RGB for every usual kind."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from swipeguard.faces import errors
from swipeguard.faces.dlib_engine import DlibEngine
from swipeguard.faces.images import load_image

MAX = 40_000_000


@pytest.fixture(scope="module")
def portrait(samples: Path) -> PILImage.Image:
    """A real frontal portrait, 853x480."""
    return PILImage.open(samples / "faces" / "examples" / "obama-480p.jpg").convert("RGB")


def _encode(image: PILImage.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _bmp32_with_empty_alpha(rgb: np.ndarray) -> bytes:
    """A 32-bit BGRA BMP (BI_BITFIELDS with an alpha mask) whose alpha bytes are all 0."""
    height, width = rgb.shape[:2]
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = rgb[..., 2], rgb[..., 1], rgb[..., 0]
    data = pixels[::-1].tobytes()  # bottom-up rows
    header = struct.pack("<IiiHHIIiiII", 108, width, height, 1, 32, 3, len(data), 2835, 2835,
                         0, 0)
    masks = struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
    v4 = header + masks + b"BGRs" + b"\x00" * 36 + b"\x00" * 12
    offset = 14 + len(v4)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + v4 + data


def _close(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) <= tolerance


def test_a_jpeg_decodes_to_uint8_rgb(samples: Path) -> None:
    image = load_image(samples / "faces" / "examples" / "obama-480p.jpg", max_pixels=MAX)

    assert image.dtype == np.uint8
    assert image.shape == (480, 853, 3)
    assert image.flags.c_contiguous


def test_random_bytes_are_not_an_image() -> None:
    noise = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()

    with pytest.raises(errors.NotAnImage):
        load_image(noise, max_pixels=MAX)
    with pytest.raises(errors.NotAnImage):
        load_image(b"", max_pixels=MAX)


def test_a_truncated_jpeg_is_corrupt(portrait: PILImage.Image) -> None:
    whole = _encode(portrait, "JPEG", quality=90)

    with pytest.raises(errors.CorruptImage) as refused:
        load_image(whole[: len(whole) // 2], max_pixels=MAX)

    assert refused.value.code == "corrupt_image"


def test_a_truncated_png_is_corrupt(portrait: PILImage.Image) -> None:
    whole = _encode(portrait, "PNG")

    with pytest.raises(errors.CorruptImage):
        load_image(whole[: len(whole) * 2 // 3], max_pixels=MAX)


def test_an_enormous_header_is_refused_before_decoding() -> None:
    started = time.perf_counter()

    with pytest.raises(errors.ImageTooLarge, match="10000x8000"):
        load_image(_png_header_only(10_000, 8_000), max_pixels=MAX)
    with pytest.raises(errors.ImageTooLarge):
        load_image(_png_header_only(100_000, 100_000), max_pixels=MAX)

    assert time.perf_counter() - started < 1.0  # nothing of 30 GB was allocated


def test_pillows_decompression_bomb_guard_is_an_image_too_large() -> None:
    # 200 megapixels: under our limit, but over twice Pillow's own (89 MP), which refuses it.
    with pytest.raises(errors.ImageTooLarge):
        load_image(_png_header_only(20_000, 10_000), max_pixels=400_000_000)


def test_the_pixel_limit_applies_to_real_photos(samples: Path) -> None:
    with pytest.raises(errors.ImageTooLarge):
        load_image(samples / "faces" / "examples" / "obama-1080p.jpg", max_pixels=1_000_000)


def test_cmyk_is_converted_to_rgb(portrait: PILImage.Image) -> None:
    cmyk = _encode(portrait.convert("CMYK"), "JPEG", quality=95)

    image = load_image(cmyk, max_pixels=MAX)

    assert image.shape == (480, 853, 3)
    assert _close(image, np.asarray(portrait), tolerance=6)


def test_sixteen_bit_gray_is_scaled_not_clipped(portrait: PILImage.Image) -> None:
    gray = np.asarray(portrait.convert("L"))
    wide = PILImage.fromarray(gray.astype("<u2") * 257)
    data = _encode(wide, "PNG")
    assert PILImage.open(io.BytesIO(data)).mode == "I;16"

    image = load_image(data, max_pixels=MAX)

    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
    assert _close(image[..., 0], gray, tolerance=1)


def test_grayscale_becomes_three_equal_channels(portrait: PILImage.Image) -> None:
    image = load_image(_encode(portrait.convert("L"), "JPEG"), max_pixels=MAX)

    assert image.shape == (480, 853, 3)
    assert (image[..., 0] == image[..., 2]).all()


def test_transparency_is_composited_on_white(portrait: PILImage.Image) -> None:
    rgba = portrait.convert("RGBA")
    alpha = np.full((480, 853), 255, np.uint8)
    alpha[:, :100] = 0  # a fully transparent strip on the left
    rgba.putalpha(PILImage.fromarray(alpha))
    la = portrait.convert("LA")
    la.putalpha(PILImage.fromarray(alpha))

    for data in (_encode(rgba, "PNG"), _encode(la, "PNG")):
        image = load_image(data, max_pixels=MAX)

        assert (image[:, :100] == 255).all()
        assert not (image[:, 200:] == 255).all()


def test_a_palette_png_with_transparency_is_flattened(portrait: PILImage.Image) -> None:
    paletted = portrait.convert("P", palette=PILImage.Palette.ADAPTIVE, colors=64)
    data = _encode(paletted, "PNG", transparency=int(np.asarray(paletted)[0, 0]))

    image = load_image(data, max_pixels=MAX)

    assert image.shape == (480, 853, 3)
    assert tuple(image[0, 0]) == (255, 255, 255)


def test_a_32_bit_bmp_with_an_unused_alpha_byte_keeps_its_colours(
    portrait: PILImage.Image,
) -> None:
    rgb = np.asarray(portrait)
    data = _bmp32_with_empty_alpha(rgb)
    assert PILImage.open(io.BytesIO(data)).mode == "RGBA"

    image = load_image(data, max_pixels=MAX)

    assert np.array_equal(image, rgb)


def test_the_sample_32_bit_images_decode_with_a_face(samples: Path) -> None:
    engine = DlibEngine()
    bmp = load_image(samples / "faces" / "casia-facev5" / "000" / "000_0.bmp", max_pixels=MAX)
    png = load_image(samples / "faces" / "examples" / "test_images" / "32bit.png",
                     max_pixels=MAX)

    assert bmp.shape == (193, 168, 3) and png.shape == (1200, 626, 3)
    assert len(engine.detect(bmp)) == 1
    assert len(engine.detect(png)) == 1


def test_exif_orientation_is_honoured(portrait: PILImage.Image) -> None:
    engine = DlibEngine()
    exif = PILImage.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": stored lying on its side
    lying = portrait.rotate(90, expand=True)
    data = _encode(lying, "JPEG", quality=92, exif=exif.tobytes())
    raw = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))

    upright = load_image(data, max_pixels=MAX)

    assert upright.shape == (480, 853, 3)
    assert len(engine.detect(upright)) == 1
    assert engine.detect(raw) == []  # the face is found only because of the orientation tag
