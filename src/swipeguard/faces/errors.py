"""Specific, explainable reasons an image or a face cannot be used.

Each error has a stable ``code`` that the API returns and tests check.
"""

from __future__ import annotations


class FaceError(ValueError):
    code = "face_error"


class NotAnImage(FaceError):
    code = "not_an_image"


class CorruptImage(FaceError):
    code = "corrupt_image"


class ImageTooLarge(FaceError):
    code = "image_too_large"


class UnsupportedImage(FaceError):
    code = "unsupported_image"


class NoFace(FaceError):
    code = "no_face"


class SeveralFaces(FaceError):
    code = "several_faces"


class FaceTooSmall(FaceError):
    code = "face_too_small"


class PoorQuality(FaceError):
    code = "poor_quality"
