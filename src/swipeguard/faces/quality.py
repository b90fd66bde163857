"""How usable a detected face is: size, sharpness, how frontal, detector confidence.

The floors below were measured with ``dlib`` on the shared sample photos (LFW, CASIA,
the example portraits): see each constant for its numbers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from swipeguard.faces.types import Box, Image, Quality

# Landmark indices of dlib's 5-point model: two corners of the eye on the image's
# right, two of the eye on the image's left, and the base of the nose.
RIGHT_OUTER, RIGHT_INNER, LEFT_OUTER, LEFT_INNER, NOSE = range(5)

# Variance of the Laplacian on the 150px chip. LFW's soft photos measure 14-100 (5th-95th
# percentile, median 36), the example portraits 40-1270. Blurring LFW chips with a ~1.5px
# Gaussian brings them to 4-13 and moves their descriptors by 0.14-0.18, a quarter of the
# match margin; a 3px blur measures under 3.4 and moves them by 0.3. Below 10 is too soft.
MIN_SHARPNESS = 10.0

# Nose-to-outer-eye-corner distance ratio. LFW portraits measure 0.69 at the 1st percentile
# and 0.92 at the median; CASIA photos turned about 30 degrees measure 0.63-0.73 and their
# same-person distances are ~0.08 higher than frontal ones (0.35 against 0.27). The HOG
# detector finds almost nothing turned further, so 0.6 refuses only clearly turned faces.
MIN_FRONTAL = 0.6

_GRAY = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 luma weights


def measure(*, box: Box, landmarks: npt.NDArray[np.float32], chip: Image,
            detection_score: float) -> Quality:
    """The quality figures of one face."""
    return Quality(
        face_px=min(box.width, box.height),
        sharpness=sharpness(chip),
        frontal=frontal(landmarks),
        detection_score=float(detection_score),
    )


def sharpness(chip: Image) -> float:
    """Variance of the 4-neighbour Laplacian of the chip's gray levels (0-255 scale)."""
    gray = chip.astype(np.float32) @ _GRAY if chip.ndim == 3 else chip.astype(np.float32)
    lap = (
        gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:]
        - 4.0 * gray[1:-1, 1:-1]
    )
    return float(lap.var())


def frontal(landmarks: npt.NDArray[np.float32]) -> float:
    """1.0 when the nose is as far from one outer eye corner as from the other."""
    nose = landmarks[NOSE]
    to_right = float(np.linalg.norm(landmarks[RIGHT_OUTER] - nose))
    to_left = float(np.linalg.norm(landmarks[LEFT_OUTER] - nose))
    longer = max(to_right, to_left)
    return min(to_right, to_left) / longer if longer > 0 else 0.0


def problems(quality: Quality, *, min_face_px: int, min_sharpness: float = MIN_SHARPNESS,
             min_frontal: float = MIN_FRONTAL) -> list[str]:
    """What is wrong with a face for enrolment or comparison, in words; empty if usable."""
    found = []
    if quality.face_px < min_face_px:
        found.append(f"the face is {quality.face_px}px wide, under the {min_face_px}px needed")
    if quality.sharpness < min_sharpness:
        found.append(f"the face is blurred (sharpness {quality.sharpness:.0f}, "
                     f"needs {min_sharpness:.0f})")
    if quality.frontal < min_frontal:
        found.append(f"the face is turned away (frontal {quality.frontal:.2f}, "
                     f"needs {min_frontal:.2f})")
    return found
