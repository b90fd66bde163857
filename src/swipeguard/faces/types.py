"""The typed values of the face API and the engine interface a backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]  # (H, W, 3) RGB
Embedding = npt.NDArray[np.float32]  # (128,)


@dataclass(frozen=True, slots=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)

    def iou(self, other: Box) -> float:
        w = max(0, min(self.right, other.right) - max(self.left, other.left))
        h = max(0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = w * h
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union else 0.0


@dataclass(frozen=True, slots=True)
class Detection:
    """A face found by the detector, before landmarks: its box and the detector's score."""

    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class Quality:
    """How usable a face is for comparison."""

    face_px: int  # side of the detection box, pixels
    sharpness: float  # variance of the Laplacian on the aligned chip's gray levels
    frontal: float  # 1.0 looking straight at the camera, towards 0 in profile
    detection_score: float  # the detector's own confidence (HOG margin)


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face. ``landmarks`` is (5, 2) float32 of (x, y)."""

    box: Box
    landmarks: npt.NDArray[np.float32]
    chip: Image  # aligned face chip, 150x150 RGB, as the descriptor model sees it
    quality: Quality


@dataclass(frozen=True, slots=True)
class Comparison:
    distance: float
    threshold: float

    @property
    def match(self) -> bool:
        return self.distance <= self.threshold


class FaceEngine(Protocol):
    """What a face backend provides. Models load lazily on first use, once per process."""

    name: str

    def load(self) -> None: ...

    def find(self, image: Image, *, upsample: int | None = None) -> list[Detection]: ...

    def detect(self, image: Image, *, upsample: int | None = None) -> list[Face]: ...

    def face_at(self, image: Image, box: Box, *, score: float = float("nan")) -> Face: ...

    def embed(self, face: Face, *, jitter: int = 0) -> Embedding: ...
