"""Face work in spawned worker processes gives what the same work gives in this one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from swipeguard.config import FaceSettings
from swipeguard.faces import errors, service
from swipeguard.faces.images import load_image
from swipeguard.faces.pool import FacePool, describe_enrolment_photo

MAX = 40_000_000


@pytest.fixture(scope="module")
def pool() -> Iterator[FacePool]:
    with FacePool(FaceSettings(), workers=2) as p:
        yield p


def _pid() -> int:
    return os.getpid()


def test_an_image_is_described_in_a_worker_as_it_is_here(pool: FacePool, samples: Path) -> None:
    data = (samples / "faces" / "examples" / "two_people.jpg").read_bytes()
    here = service.detect(load_image(data, max_pixels=MAX))

    described = pool.describe_image(data).result()

    assert [d.box for d in described] == [f.box for f in here]
    assert np.allclose(described[0].descriptor, service.embed(here[0]), atol=1e-5)
    assert described[0].chip_jpeg()[:3] == b"\xff\xd8\xff"


def test_frames_and_faces_come_back_in_order(pool: FacePool, samples: Path) -> None:
    people = [load_image(samples / "faces" / "examples" / name, max_pixels=MAX)
              for name in ("obama-480p.jpg", "two_people.jpg", "biden.jpg")]

    found = pool.detect_many(people)
    faces = [f for frame in found for f in frame]
    vectors = pool.embed_many(faces)

    assert [len(frame) for frame in found] == [1, 2, 1]
    for face, vector in zip(faces, vectors, strict=True):
        assert np.allclose(vector, service.embed(face), atol=1e-5)


def test_a_bad_image_raises_its_specific_error_from_the_worker(pool: FacePool) -> None:
    with pytest.raises(errors.NotAnImage):
        pool.describe_image(b"certainly not a photo").result()


def test_an_enrolment_photo_is_refused_in_a_worker_with_the_reason(
    pool: FacePool, samples: Path,
) -> None:
    data = (samples / "faces" / "examples" / "two_people.jpg").read_bytes()

    with pytest.raises(errors.SeveralFaces):
        pool.submit(describe_enrolment_photo, data, settings=pool.settings).result()


def test_the_work_runs_in_other_processes(pool: FacePool) -> None:
    pool.warm_up()

    pids = {pool.submit(_pid).result() for _ in range(8)}

    assert os.getpid() not in pids and 1 <= len(pids) <= 2
