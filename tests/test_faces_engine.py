"""The dlib engine on real photos: detection with scores, landmarks, chips, quality, descriptors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageFilter

from swipeguard.faces import quality
from swipeguard.faces.dlib_engine import CHIP_SIZE, DlibEngine
from swipeguard.faces.images import load_image
from swipeguard.faces.types import Box, Face

MAX = 40_000_000


@pytest.fixture(scope="module")
def engine() -> DlibEngine:
    return DlibEngine()


def _photo(samples: Path, *parts: str) -> np.ndarray:
    return load_image(samples.joinpath("faces", *parts), max_pixels=MAX)


def test_a_portrait_has_one_face_with_landmarks_inside_its_box(
    engine: DlibEngine, samples: Path,
) -> None:
    image = _photo(samples, "examples", "obama-480p.jpg")

    faces = engine.detect(image)

    assert len(faces) == 1
    face = faces[0]
    assert 380 <= face.box.left < face.box.right <= 510 and 60 <= face.box.top < 190
    assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
    xs, ys = face.landmarks[:, 0], face.landmarks[:, 1]
    assert (xs >= face.box.left).all() and (xs <= face.box.right).all()
    assert (ys >= face.box.top).all() and (ys <= face.box.bottom).all()
    assert face.chip.shape == (CHIP_SIZE, CHIP_SIZE, 3) and face.chip.dtype == np.uint8
    assert face.quality.detection_score > 1.0
    assert face.quality.frontal > 0.85


def test_the_eyes_are_level_in_the_aligned_chip(engine: DlibEngine, samples: Path) -> None:
    image = _photo(samples, "examples", "obama-480p.jpg")
    tilted = np.asarray(PILImage.fromarray(image).rotate(20, resample=PILImage.Resampling.BILINEAR))

    chip = engine.detect(tilted)[0].chip
    again = engine.detect(np.ascontiguousarray(chip))

    assert len(again) == 1
    eyes = again[0].landmarks
    right = eyes[[quality.RIGHT_OUTER, quality.RIGHT_INNER]].mean(axis=0)
    left = eyes[[quality.LEFT_OUTER, quality.LEFT_INNER]].mean(axis=0)
    assert abs(float(right[1] - left[1])) < 4  # pixels, on a 150px chip


def test_two_people_are_two_faces_largest_first(engine: DlibEngine, samples: Path) -> None:
    faces = engine.detect(_photo(samples, "examples", "two_people.jpg"))

    assert len(faces) == 2
    assert faces[0].box.width >= faces[1].box.width
    assert faces[0].box.iou(faces[1].box) == 0.0


def test_a_photo_without_a_face_gives_no_detection(engine: DlibEngine, samples: Path) -> None:
    image = _photo(samples, "examples", "obama.jpg")
    jacket = np.ascontiguousarray(image[600:, :])  # below the chin: suit, shirt and tie

    assert engine.detect(jacket) == []


def test_the_score_floor_drops_weak_detections(samples: Path) -> None:
    image = _photo(samples, "examples", "obama-480p.jpg")
    found = DlibEngine().find(image)

    strict = DlibEngine(min_detection_score=found[0].score + 0.01).find(image)

    assert len(found) == 1 and strict == []


def test_huge_images_are_shrunk_for_detection_and_boxes_mapped_back(
    engine: DlibEngine, samples: Path,
) -> None:
    image = _photo(samples, "examples", "obama-480p.jpg")
    large = np.asarray(PILImage.fromarray(image).resize((853 * 4, 480 * 4)))
    small_box = engine.detect(image)[0].box

    face = engine.detect(large)[0]

    expected = Box(small_box.left * 4, small_box.top * 4, small_box.right * 4,
                   small_box.bottom * 4)
    # HOG boxes shift a little between pyramid scales; the face must be the same one.
    assert face.box.iou(expected) > 0.6
    assert np.hypot(*np.subtract(face.box.center, expected.center)) < 0.1 * expected.width
    assert face.quality.face_px > 350


def test_blur_lowers_sharpness_below_the_floor(engine: DlibEngine, samples: Path) -> None:
    face = engine.detect(_photo(samples, "examples", "obama-480p.jpg"))[0]
    blurred = np.asarray(PILImage.fromarray(face.chip).filter(ImageFilter.GaussianBlur(3)))

    assert face.quality.sharpness > 4 * quality.MIN_SHARPNESS
    assert quality.sharpness(blurred) < quality.MIN_SHARPNESS


def test_a_face_turned_to_one_side_is_less_frontal() -> None:
    straight = np.array([[70, 50], [58, 50], [20, 50], [32, 50], [45, 80]], np.float32)
    turned = straight.copy()
    turned[quality.NOSE, 0] = 64  # the nose moves towards one eye as the head turns

    assert quality.frontal(straight) == pytest.approx(1.0, abs=0.01)
    assert quality.frontal(turned) < quality.MIN_FRONTAL


def test_same_person_is_closer_than_different_people(
    engine: DlibEngine, samples: Path,
) -> None:
    def vector(*parts: str) -> np.ndarray:
        return engine.embed(engine.detect(_photo(samples, "examples", *parts))[0])

    obama, obama_again, biden = (vector("obama.jpg"), vector("obama2.jpg"),
                                 vector("biden.jpg"))

    assert obama.shape == (128,) and obama.dtype == np.float32
    assert np.linalg.norm(obama - obama_again) < 0.5
    assert np.linalg.norm(obama - biden) > 0.7


def test_jittered_descriptors_stay_close_to_the_plain_one(
    engine: DlibEngine, samples: Path,
) -> None:
    face = engine.detect(_photo(samples, "examples", "obama-480p.jpg"))[0]

    plain, jittered = engine.embed(face), engine.embed(face, jitter=4)

    # dlib jitters at random: 40 draws measured 0.09-0.17 apart, same-person is < 0.6
    assert 0.0 < np.linalg.norm(plain - jittered) < 0.25


def test_a_chip_of_the_wrong_size_is_refused(engine: DlibEngine, samples: Path) -> None:
    face = engine.detect(_photo(samples, "examples", "obama-480p.jpg"))[0]
    cropped = Face(box=face.box, landmarks=face.landmarks, chip=face.chip[:100],
                   quality=face.quality)

    with pytest.raises(ValueError, match="150x150"):
        engine.embed(cropped)


def test_models_are_not_loaded_at_import() -> None:
    code = ("import sys, swipeguard.faces.service, swipeguard.faces.pool, "
            "swipeguard.faces.dlib_engine as e; "
            "print(e._models is None, 'dlib' in sys.modules)")

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()

    assert out == ["True", "False"]
