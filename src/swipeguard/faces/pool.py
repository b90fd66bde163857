"""Face work in a pool of processes.

dlib's descriptor holds the GIL for ~65 ms per face on one core, so threads do not
help: ``FacePool`` runs detection and embedding in ``settings.faces.workers`` spawned
processes, each loading the models on its first task. Results are plain picklable
values (``Face``, ``DescribedFace``, numpy arrays).
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from PIL import Image as PILImage

from swipeguard.config import FaceSettings, get_settings
from swipeguard.faces import service
from swipeguard.faces.images import load_image
from swipeguard.faces.types import Box, Embedding, Face, FaceEngine, Image, Quality

log = logging.getLogger(__name__)

T = TypeVar("T")

CHIP_JPEG_QUALITY = 92  # chips are evidence an operator looks at: keep them crisp


@dataclass(frozen=True, slots=True)
class DescribedFace:
    """A face found in an image with its descriptor, ready to store or compare."""

    face: Face
    descriptor: Embedding

    @property
    def box(self) -> Box:
        return self.face.box

    @property
    def quality(self) -> Quality:
        return self.face.quality

    def chip_jpeg(self, quality: int = CHIP_JPEG_QUALITY) -> bytes:
        return chip_jpeg(self.face.chip, quality=quality)


def chip_jpeg(chip: Image, *, quality: int = CHIP_JPEG_QUALITY) -> bytes:
    """An aligned chip as JPEG bytes."""
    out = io.BytesIO()
    PILImage.fromarray(chip).save(out, format="JPEG", quality=quality)
    return out.getvalue()


# The settings of the worker process this module runs in (set by ``_start_worker``).
_worker_settings: FaceSettings | None = None


def _start_worker(settings: FaceSettings) -> None:
    global _worker_settings
    _worker_settings = settings
    log.debug("face worker %s started", os.getpid())


def worker_settings() -> FaceSettings:
    """The face settings of the pool this process works for (defaults outside a pool)."""
    return _worker_settings or get_settings().faces


def worker_engine() -> FaceEngine:
    """The engine of the process this runs in, with the pool's settings (for task functions)."""
    return service.get_engine(worker_settings())


def describe_image(data: bytes | Image, *, jitter: int = 0,
                   max_pixels: int | None = None) -> list[DescribedFace]:
    """Decodes (if bytes), detects and embeds every face of one image."""
    image = data if isinstance(data, np.ndarray) else load_image(
        data, max_pixels=max_pixels or worker_settings().max_image_pixels
    )
    engine = worker_engine()
    return [
        DescribedFace(face=face, descriptor=service.embed(face, jitter=jitter, engine=engine))
        for face in service.detect(image, engine=engine)
    ]


def describe_enrolment_photo(data: bytes, *, settings: FaceSettings) -> DescribedFace:
    """The one good face of an enrolment photo, with its jittered and mirrored descriptor.

    Raises the ``FaceError`` that says what is wrong with the photo.
    """
    image = load_image(data, max_pixels=settings.max_image_pixels)
    engine = service.get_engine(settings)
    face = service.single_face(image, min_face_px=settings.min_face_px, engine=engine)
    vector = service.embed(face, jitter=settings.enrol_jitter, flip=True, engine=engine)
    return DescribedFace(face=face, descriptor=vector)


def detect_faces(image: Image) -> list[Face]:
    """Every face in one image, largest first."""
    return service.detect(image, engine=worker_engine())


def embed_faces(faces: Sequence[Face], jitter: int = 0, flip: bool = False) -> list[Embedding]:
    """The descriptors of several faces (``flip``: averaged with the mirrored chip)."""
    engine = worker_engine()
    return [service.embed(face, jitter=jitter, flip=flip, engine=engine) for face in faces]


def _warm() -> int:
    worker_engine().load()
    return os.getpid()


class FacePool:
    """A pool of spawned processes doing face work; use as a context manager or ``close()``."""

    def __init__(self, settings: FaceSettings | None = None, *, workers: int | None = None):
        self.settings = settings or get_settings().faces
        self.workers = workers or self.settings.workers
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            # spawn: forking a process that holds threads (the API, the recorders) can
            # deadlock in the child; spawned workers start clean and load their own models.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.settings,),
        )

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Runs a module-level function in a worker."""
        return self._executor.submit(fn, *args, **kwargs)

    def warm_up(self) -> None:
        """Loads the models in every worker now, so the first real task is not slow."""
        futures = [self.submit(_warm) for _ in range(self.workers)]
        for f in futures:
            f.result()

    def describe_image(self, data: bytes | Image, *,
                       jitter: int = 0) -> Future[list[DescribedFace]]:
        """Detection and descriptors of one photo or frame, in a worker."""
        return self.submit(describe_image, data, jitter=jitter,
                           max_pixels=self.settings.max_image_pixels)

    def detect_many(self, frames: Sequence[Image]) -> list[list[Face]]:
        """The faces of each frame, in the frames' order."""
        return list(self._executor.map(detect_faces, frames))

    def embed_many(self, faces: Sequence[Face], *, jitter: int = 0,
                   flip: bool = False) -> list[Embedding]:
        """The descriptor of each face, in order, spread over the workers in batches."""
        if not faces:
            return []
        batches = _split(list(faces), self.workers)
        futures = [self.submit(embed_faces, batch, jitter, flip) for batch in batches]
        return [vector for f in futures for vector in f.result()]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FacePool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _split(items: list[T], parts: int) -> list[list[T]]:
    size = -(-len(items) // parts)
    return [items[i:i + size] for i in range(0, len(items), size)]
