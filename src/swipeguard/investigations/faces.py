"""The face operations an investigation needs, on top of ``swipeguard.faces.service``.

A descriptor is the face engine's 128-d embedding stored as 128 little-endian float32.
Distances are Euclidean; see ``bands`` for what a distance means in plain words.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from swipeguard.config import FaceSettings
from swipeguard.faces import service as faces
from swipeguard.faces.images import load_image
from swipeguard.faces.types import Embedding, Image

DIM = faces.DIMENSIONS

decode = faces.decode
encode = faces.encode


def decode_many(blobs: list[bytes]) -> npt.NDArray[np.float32]:
    """Stored descriptors as an (n, 128) float32 matrix, each row scaled as distances
    see it (``faces.service.distance``), so row differences are those distances."""
    if not blobs:
        return np.zeros((0, DIM), np.float32)
    bad = [len(b) for b in blobs if len(b) != DIM * 4]
    if bad:
        raise ValueError(f"a stored descriptor is {DIM * 4} bytes, got {bad[0]}")
    return faces.scaled_rows(np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), DIM))


def photo_embedding(data: bytes, *, settings: FaceSettings) -> Embedding:
    """The descriptor of the one face in an uploaded photo.

    Quality floors are off: an investigator searches with the photo they have (a still
    from a phone, a blurred frame) and reads the distances with that in mind.
    """
    image = load_image(data, max_pixels=settings.max_image_pixels)
    engine = faces.get_engine(settings)
    face = faces.single_face(image, min_face_px=settings.min_face_px, engine=engine,
                             min_sharpness=0.0, min_frontal=0.0)
    return faces.embed(face, engine=engine)


def centred_embedding(image: Image, *, settings: FaceSettings | None = None) -> Embedding | None:
    """The descriptor of the face nearest the image centre, or None if there is none."""
    engine = faces.get_engine(settings)
    found = faces.detect(image, engine=engine)
    if not found:
        return None
    cy, cx = image.shape[0] / 2, image.shape[1] / 2
    face = min(found, key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)
    return faces.embed(face, engine=engine)
