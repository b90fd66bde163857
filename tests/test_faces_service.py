"""The face API of nouns: the one face of a photo, comparing, fusing, storing descriptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageFilter

from swipeguard.config import FaceSettings
from swipeguard.faces import errors, service
from swipeguard.faces.images import load_image

MAX = 40_000_000


def _photo(samples: Path, *parts: str) -> np.ndarray:
    return load_image(samples.joinpath("faces", *parts), max_pixels=MAX)


def test_a_portrait_gives_its_single_face(samples: Path) -> None:
    face = service.single_face(_photo(samples, "examples", "obama-480p.jpg"), min_face_px=60)

    assert face.quality.face_px >= 60


def test_no_face_says_what_to_do(samples: Path) -> None:
    jacket = np.ascontiguousarray(_photo(samples, "examples", "obama.jpg")[600:])

    with pytest.raises(errors.NoFace, match="from the front"):
        service.single_face(jacket, min_face_px=60)


def test_two_people_are_refused(samples: Path) -> None:
    with pytest.raises(errors.SeveralFaces, match="2 faces") as refused:
        service.single_face(_photo(samples, "examples", "two_people.jpg"), min_face_px=60)

    assert refused.value.code == "several_faces"


def test_a_small_face_is_refused_with_its_size(samples: Path) -> None:
    image = _photo(samples, "examples", "obama-240p.jpg")  # face 63px wide

    with pytest.raises(errors.FaceTooSmall, match="px wide"):
        service.single_face(image, min_face_px=100)


def test_a_blurred_face_is_poor_quality(samples: Path) -> None:
    image = _photo(samples, "examples", "obama-720p.jpg")
    blurred = np.asarray(PILImage.fromarray(image).filter(ImageFilter.GaussianBlur(5)))

    with pytest.raises(errors.PoorQuality, match="blurred"):
        service.single_face(blurred, min_face_px=60)


def test_the_same_person_matches_and_another_does_not(samples: Path) -> None:
    def vector(name: str) -> np.ndarray:
        return service.embed(service.single_face(_photo(samples, "examples", name),
                                                 min_face_px=60))

    obama, obama_again, biden = vector("obama.jpg"), vector("obama2.jpg"), vector("biden.jpg")

    assert service.compare(obama, obama_again, threshold=0.55).match
    assert not service.compare(obama, biden, threshold=0.55).match
    assert service.compare_template(biden, [obama, obama_again], threshold=0.55).distance > 0.55


def test_mirror_averaging_keeps_the_descriptor_of_the_same_person(samples: Path) -> None:
    face = service.single_face(_photo(samples, "examples", "obama-480p.jpg"), min_face_px=60)

    plain, enrolled = service.embed(face), service.embed(face, jitter=2, flip=True)

    assert 0.0 < service.distance(plain, enrolled) < 0.2


def test_fusing_is_a_weighted_mean() -> None:
    a, b = np.zeros(128, np.float32), np.ones(128, np.float32)

    assert np.allclose(service.fuse([a, b]), 0.5)
    assert np.allclose(service.fuse([a, b], weights=[3, 1]), 0.25)
    with pytest.raises(ValueError):
        service.fuse([a, b], weights=[0, 0])
    with pytest.raises(ValueError):
        service.fuse([])


def test_distances_compare_directions_at_the_common_length() -> None:
    a = np.random.default_rng(5).normal(size=128).astype(np.float32)
    b = np.random.default_rng(6).normal(size=128).astype(np.float32)

    assert service.distance(a, 3.0 * a) == pytest.approx(0.0, abs=1e-5)
    assert service.distance(a, b) == pytest.approx(service.distance(0.5 * a, 2.0 * b), rel=1e-5)
    assert np.linalg.norm(service.scaled(a)) == pytest.approx(service.DESCRIPTOR_LENGTH)
    assert service.distance(a, -a) == pytest.approx(2 * service.DESCRIPTOR_LENGTH, rel=1e-5)


def test_descriptors_round_trip_as_512_little_endian_bytes() -> None:
    vector = np.random.default_rng(3).normal(size=128).astype(np.float32)

    stored = service.encode(vector)

    assert len(stored) == 512
    assert stored[:4] == np.float32(vector[0]).tobytes()
    assert np.array_equal(service.decode(stored), vector)
    with pytest.raises(ValueError):
        service.decode(stored[:100])


def test_the_engine_is_made_once_per_settings_and_unknown_names_are_refused() -> None:
    settings = FaceSettings(upsample=0)

    assert service.get_engine(settings) is service.get_engine(settings)
    assert service.get_engine(settings).name == "dlib"
    with pytest.raises(ValueError, match="unknown face engine"):
        service.get_engine(settings, name="nonesuch")


def test_a_small_face_far_behind_does_not_count_as_a_second_person(samples: Path) -> None:
    portrait = PILImage.fromarray(_photo(samples, "examples", "obama-720p.jpg"))
    passer_by = PILImage.fromarray(_photo(samples, "examples", "obama_small.jpg"))
    portrait.paste(passer_by.resize((200, 150)), (20, 20))  # a face about 70px wide
    image = np.asarray(portrait)
    assert len(service.detect(image)) == 2

    face = service.single_face(image, min_face_px=60)

    assert face.quality.face_px > 140
