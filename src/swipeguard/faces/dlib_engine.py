"""The default face backend: dlib's HOG detector, 5-point landmarks and ResNet descriptor.

The trained models come from the installed ``face_recognition_models`` package; nothing
is downloaded. They load on first use, once per process (each pool worker loads its own).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage

from swipeguard.faces import quality
from swipeguard.faces.types import Box, Detection, Embedding, Face, Image

log = logging.getLogger(__name__)

CHIP_SIZE = 150  # the descriptor network's input side, fixed by the trained model
CHIP_PADDING = 0.25  # the padding the model was trained with (dlib's default)

# HOG scores (SVM margins), upsample 1, measured on the shared samples (110 example, TV,
# celebrity and attack photos and video frames; 600 random LFW photos). With dlib's own cut
# at 0.0, the boxes scoring 0.0-0.2 are partial or merged faces (half a face cut by the
# frame, two neighbours in one box); everything below 0.0 is mostly shirts, zips, text and
# hair. Real faces score 0.26 at LFW's 1st percentile, 1.7 at the median. Keeping >= 0.2
# loses ~0.7% of LFW faces (blurred or turned: the quality checks would refuse most).
# ``config.FaceSettings.min_detection_score`` defaults to this value.
DEFAULT_MIN_SCORE = 0.2

# Images with a longer side are shrunk before detection and the boxes scaled back: at
# upsample 1 a 1280px side is a 2560px HOG pyramid, ~0.3 s on one core, and still finds
# faces of ~40px at that scale. Landmarks and chips use the full-resolution image.
MAX_DETECT_SIDE = 1280


@dataclass(frozen=True)
class _Models:
    detector: Any
    predictor: Any
    encoder: Any


_lock = threading.Lock()
_models: _Models | None = None


def models() -> _Models:
    """dlib's three models, loaded on first call in this process."""
    global _models
    with _lock:
        if _models is None:
            _models = _load()
        return _models


def _load() -> _Models:
    import dlib
    import face_recognition_models as trained

    started = time.perf_counter()
    loaded = _Models(
        detector=dlib.get_frontal_face_detector(),
        predictor=dlib.shape_predictor(trained.pose_predictor_five_point_model_location()),
        encoder=dlib.face_recognition_model_v1(trained.face_recognition_model_location()),
    )
    log.info("dlib face models loaded in %.2f s", time.perf_counter() - started)
    return loaded


class DlibEngine:
    """HOG detection with scores, 5-point alignment, 128-d ResNet descriptors."""

    name = "dlib"

    def __init__(self, *, upsample: int = 1, min_detection_score: float = DEFAULT_MIN_SCORE,
                 max_detect_side: int = MAX_DETECT_SIDE) -> None:
        self.upsample = upsample
        self.min_detection_score = min_detection_score
        self.max_detect_side = max_detect_side

    def load(self) -> None:
        models()

    def find(self, image: Image, *, upsample: int | None = None) -> list[Detection]:
        """Face boxes with their HOG scores, best score first, before landmarks."""
        _check(image)
        times = self.upsample if upsample is None else upsample
        scale = min(1.0, self.max_detect_side / max(image.shape[:2]))
        small = image if scale == 1.0 else _shrink(image, scale)
        rects, scores, _ = models().detector.run(small, times, self.min_detection_score)
        found = [
            Detection(box=_box(rect, scale), score=float(score))
            for rect, score in zip(rects, scores, strict=True)
            if score >= self.min_detection_score
        ]
        return sorted(found, key=lambda d: -d.score)

    def face_at(self, image: Image, box: Box, *, score: float = float("nan")) -> Face:
        """Landmarks, aligned chip and quality of the face in ``box``."""
        import dlib

        _check(image)
        rect = dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
        shape = models().predictor(image, rect)
        landmarks = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        chip = np.asarray(dlib.get_face_chip(image, shape, CHIP_SIZE, CHIP_PADDING), np.uint8)
        clipped = _clip(box, image.shape[1], image.shape[0])
        q = quality.measure(box=clipped, landmarks=landmarks, chip=chip, detection_score=score)
        return Face(box=clipped, landmarks=landmarks, chip=chip, quality=q)

    def detect(self, image: Image, *, upsample: int | None = None) -> list[Face]:
        """Every face scoring at least ``min_detection_score``, largest first."""
        found = self.find(image, upsample=upsample)
        faces = [self.face_at(image, d.box, score=d.score) for d in found]
        return sorted(faces, key=lambda f: -(f.box.width * f.box.height))

    def embed(self, face: Face, *, jitter: int = 0) -> Embedding:
        """The 128-d descriptor of the face's chip, averaged over ``jitter`` jittered copies."""
        vector = models().encoder.compute_face_descriptor(_chip(face), jitter)
        return np.asarray(vector, dtype=np.float32)

    def embed_chips(self, chips: list[Image], *, jitter: int = 0) -> list[Embedding]:
        """Descriptors of several aligned chips in one call."""
        if not chips:
            return []
        vectors = models().encoder.compute_face_descriptor(
            [np.ascontiguousarray(c, dtype=np.uint8) for c in chips], jitter
        )
        return [np.asarray(v, dtype=np.float32) for v in vectors]


def _check(image: Image) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise TypeError(f"expected a uint8 (H, W, 3) RGB array, got {image.dtype} {image.shape}")


def _chip(face: Face) -> Image:
    chip = face.chip
    if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"a face chip must be {CHIP_SIZE}x{CHIP_SIZE} RGB, got {chip.shape}")
    return np.ascontiguousarray(chip, dtype=np.uint8)


def _shrink(image: Image, scale: float) -> Image:
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(PILImage.fromarray(image).resize(size, PILImage.Resampling.BILINEAR,
                                                       reducing_gap=2.0))


def _box(rect: Any, scale: float) -> Box:
    """A dlib rectangle (inclusive corners) on the shrunk image as a half-open Box."""
    return Box(
        left=round(rect.left() / scale),
        top=round(rect.top() / scale),
        right=round((rect.right() + 1) / scale),
        bottom=round((rect.bottom() + 1) / scale),
    )


def _clip(box: Box, width: int, height: int) -> Box:
    return Box(
        left=max(0, box.left), top=max(0, box.top),
        right=min(width, box.right), bottom=min(height, box.bottom),
    )
