"""Choosing photos for footage and enrolment, and cutting people out of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from swipeguard.scenario import list_people, make_portrait, people_from_pairs
from swipeguard.scenario.errors import NoPhotos, PhotoUnusable
from swipeguard.scenario.photos import FACE_PX


def test_lfw_people_keep_one_photo_for_enrolment(samples: Path) -> None:
    people = list_people(samples / "faces" / "lfw", min_images=3)

    assert len(people) > 100
    for person in people[:50]:
        assert len(person.enrolment) == 1
        assert len(person.footage) >= 2
        assert not set(person.enrolment) & set(person.footage)
        assert all(p.parent.name == person.name for p in person.footage)


def test_pairs_file_decides_which_image_is_enrolled_and_which_filmed(samples: Path) -> None:
    lfw = samples / "faces" / "lfw"
    first_pair = (lfw / "pairs-dev.txt").read_text().splitlines()[1].split("\t")

    person = people_from_pairs(lfw)[0]

    assert person.name == first_pair[0]
    assert person.enrolment[0].name.endswith(f"_{int(first_pair[1]):04d}.jpg")
    assert person.footage[0].name.endswith(f"_{int(first_pair[2]):04d}.jpg")


def test_loose_photos_are_one_person_each(samples: Path) -> None:
    people = list_people(samples / "faces" / "examples")

    assert len(people) >= 5
    assert all(len(p.footage) == 1 and not p.enrolment for p in people)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NoPhotos, match="not found"):
        list_people(tmp_path / "absent")
    with pytest.raises(NoPhotos, match="no person"):
        list_people(tmp_path)


def test_portrait_puts_the_face_where_it_says(samples: Path) -> None:
    import dlib

    photo = people_from_pairs(samples / "faces" / "lfw")[0].footage[0]

    portrait = make_portrait(photo)

    flat = np.asarray(Image.fromarray(portrait.rgba, "RGBA").convert("RGB"))
    found = dlib.get_frontal_face_detector()(flat, 0)
    assert portrait.face.width == FACE_PX
    assert len(found) == 1
    r = found[0]
    assert abs(r.left() - portrait.face.left) < 0.15 * FACE_PX
    assert abs(r.top() - portrait.face.top) < 0.15 * FACE_PX
    # Transparent around the head, opaque on the face.
    assert portrait.rgba[5, 5, 3] == 0
    cx, cy = (int(v) for v in portrait.face.center)
    assert portrait.rgba[cy, cx, 3] == 255


def test_photo_without_a_face_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 200, 3), 180, np.uint8)).save(path)

    with pytest.raises(PhotoUnusable, match="no face"):
        make_portrait(path)


def test_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo")

    with pytest.raises(PhotoUnusable, match="not a readable image"):
        make_portrait(path)
