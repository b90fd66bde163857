"""The face API: detect, pick the one face, embed, compare, fuse, store descriptors.

Callers use these functions and never a backend directly; ``get_engine`` returns this
process's engine (created on first use from the settings, models loaded lazily).
A distance is Euclidean between 128-d descriptors: lower is more alike (see ``faces``).

Descriptors are dlib's own vectors; distances compare their directions, with both scaled
to one common length, ``DESCRIPTOR_LENGTH`` (measured on the LFW development folds with
``swipeguard bench verification``; see the constant).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from swipeguard.config import FaceSettings, get_settings
from swipeguard.faces import quality as face_quality
from swipeguard.faces.errors import FaceTooSmall, NoFace, PoorQuality, SeveralFaces
from swipeguard.faces.types import Comparison, Embedding, Face, FaceEngine, Image

log = logging.getLogger(__name__)

DIMENSIONS = 128
_DTYPE = np.dtype("<f4")  # stored descriptors: 128 little-endian float32, 512 bytes

# The direction of a dlib descriptor carries the identity; its length (1.28-1.61 at the
# 1st-99th percentile on the 3,811 LFW dev photos) follows image quality and only adds
# noise to distances. Comparing descriptors scaled to the median length, 1.43, raised the
# 10-fold accuracy from 0.9873 to 0.9893 (plain captures) and from 0.9883 to 0.9907
# (mirror-averaged captures), and keeps distances on dlib's familiar scale (same person
# under ~0.6). Stored descriptors stay as dlib made them.
DESCRIPTOR_LENGTH = 1.43


def _dlib(settings: FaceSettings) -> FaceEngine:
    from swipeguard.faces.dlib_engine import DlibEngine

    return DlibEngine(upsample=settings.upsample,
                      min_detection_score=settings.min_detection_score)


# Backends by name; a second one plugs in here, callers keep calling ``get_engine()``.
ENGINES: dict[str, Callable[[FaceSettings], FaceEngine]] = {"dlib": _dlib}

_engines: dict[tuple[str, FaceSettings], FaceEngine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: FaceSettings | None = None, *, name: str | None = None) -> FaceEngine:
    """This process's engine for these settings (created once; models load on first use)."""
    settings = settings or get_settings().faces
    name = name or getattr(settings, "engine", "dlib")
    if name not in ENGINES:
        raise ValueError(f"unknown face engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    key = (name, settings)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = ENGINES[name](settings)
        return _engines[key]


def detect(image: Image, *, engine: FaceEngine | None = None) -> list[Face]:
    """Every face in the image, largest first."""
    return (engine or get_engine()).detect(image)


def single_face(image: Image, *, min_face_px: int, engine: FaceEngine | None = None,
                min_sharpness: float = face_quality.MIN_SHARPNESS,
                min_frontal: float = face_quality.MIN_FRONTAL) -> Face:
    """The one usable face of a photo, or an error saying what is wrong and what to do.

    Faces less than half as wide as the largest (people far behind) do not count.
    """
    faces = detect(image, engine=engine)
    if not faces:
        raise NoFace("no face was found; take a photo of the face from the front, well lit")
    face = faces[0]
    rivals = [f for f in faces[1:] if 2 * f.quality.face_px >= face.quality.face_px]
    if rivals:
        raise SeveralFaces(
            f"{len(rivals) + 1} faces were found; take a photo with only the card holder in it"
        )
    if face.quality.face_px < min_face_px:
        raise FaceTooSmall(
            f"the face is {face.quality.face_px}px wide, under the {min_face_px}px needed; "
            "move closer or crop the photo around the face"
        )
    issues = face_quality.problems(face.quality, min_face_px=min_face_px,
                                   min_sharpness=min_sharpness, min_frontal=min_frontal)
    if issues:
        raise PoorQuality("; ".join(issues) + "; take a sharp photo looking at the camera")
    return face


def embed(face: Face, *, jitter: int = 0, flip: bool = False,
          engine: FaceEngine | None = None) -> Embedding:
    """The face's descriptor, averaged over ``jitter`` jittered copies and (``flip``) over
    the mirrored chip. Enrolment does both; a capture can afford the mirror (one more
    ~65 ms pass), which measured +0.1% LFW accuracy, but not jitter."""
    eng = engine or get_engine()
    vector = eng.embed(face, jitter=jitter)
    if not flip:
        return vector
    return fuse([vector, eng.embed(mirrored(face), jitter=jitter)])


def mirrored(face: Face) -> Face:
    """The face with its chip mirrored left to right (the alignment is symmetric)."""
    return Face(box=face.box, landmarks=face.landmarks,
                chip=np.ascontiguousarray(face.chip[:, ::-1]), quality=face.quality)


def distance(a: Embedding, b: Embedding) -> float:
    """Euclidean distance between two descriptors scaled to ``DESCRIPTOR_LENGTH``."""
    return float(np.linalg.norm(scaled(a) - scaled(b)))


def scaled(vector: Embedding) -> Embedding:
    """The descriptor at ``DESCRIPTOR_LENGTH``, as distances see it (e.g. for an index)."""
    v = np.asarray(vector, np.float32)
    length = float(np.linalg.norm(v))
    return v if length == 0.0 else (v * (DESCRIPTOR_LENGTH / length)).astype(np.float32)


def scaled_rows(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Each row of an (n, 128) matrix at ``DESCRIPTOR_LENGTH``: what an index compares."""
    m = np.asarray(vectors, np.float32).reshape(-1, DIMENSIONS)
    lengths = np.linalg.norm(m, axis=1, keepdims=True)
    factor = np.divide(DESCRIPTOR_LENGTH, lengths, out=np.ones_like(lengths), where=lengths > 0)
    return np.ascontiguousarray(m * factor, dtype=np.float32)


def compare(a: Embedding, b: Embedding, *, threshold: float) -> Comparison:
    """The distance between two descriptors against a match threshold."""
    return Comparison(distance=distance(a, b), threshold=threshold)


def compare_template(capture: Embedding, template: Sequence[Embedding], *,
                     threshold: float) -> Comparison:
    """A capture against a card holder's template: the closest enrolled photo decides."""
    if not template:
        raise ValueError("the template is empty: the card holder has no enrolled photo")
    return Comparison(distance=min(distance(capture, t) for t in template), threshold=threshold)


def fuse(embeddings: Sequence[Embedding], weights: Sequence[float] | None = None) -> Embedding:
    """The weighted mean of several descriptors of one face (e.g. by quality)."""
    if not embeddings:
        raise ValueError("nothing to fuse")
    stacked = np.stack([np.asarray(e, np.float32) for e in embeddings])
    w = np.ones(len(stacked), np.float32) if weights is None else np.asarray(weights, np.float32)
    if w.shape != (len(stacked),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be one non-negative number per descriptor, not all 0")
    return (w[:, None] * stacked).sum(axis=0) / w.sum()


def quality_weight(face: Face) -> float:
    """How much a face counts when fused: sharper, more frontal, larger faces count more."""
    q = face.quality
    size = min(1.0, q.face_px / 150.0)  # the chip's side: larger faces add no detail
    sharp = min(1.0, q.sharpness / 50.0)  # in-focus chips measure 36 (LFW) to 260 (median)
    return max(1e-3, size * sharp * q.frontal)


def encode(e: Embedding) -> bytes:
    """128 little-endian float32 (512 bytes), as stored in the database."""
    vector = np.asarray(e)
    if vector.shape != (DIMENSIONS,):
        raise ValueError(f"a descriptor has {DIMENSIONS} numbers, got shape {vector.shape}")
    return vector.astype(_DTYPE).tobytes()


def decode(b: bytes) -> Embedding:
    """The inverse of ``encode``."""
    if len(b) != DIMENSIONS * _DTYPE.itemsize:
        raise ValueError(f"a stored descriptor is {DIMENSIONS * 4} bytes, got {len(b)}")
    return np.frombuffer(b, dtype=_DTYPE).astype(np.float32)
