"""The verdict rule, on descriptors whose distances are known exactly."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from swipeguard.alarms.models import AlarmKind
from swipeguard.cardholders.models import CardStatus
from swipeguard.db import utcnow
from swipeguard.faces.service import DESCRIPTOR_LENGTH
from swipeguard.faces.types import Box, Face, Quality
from swipeguard.swipes.capture import FaceCapture, NoCapture
from swipeguard.swipes.decision import Holder, judge
from swipeguard.swipes.models import CaptureSource, Verdict

NOW = utcnow()
THRESHOLD = 0.55


def _vector(x: float) -> np.ndarray:
    """A descriptor at distance ``x`` from ``_vector(0)``: distances compare directions."""
    angle = 2 * math.asin(x / (2 * DESCRIPTOR_LENGTH))
    v = np.zeros(128, np.float64)
    v[0], v[1] = math.cos(angle), math.sin(angle)
    return (v * DESCRIPTOR_LENGTH).astype(np.float32)


def _capture(x: float, frames: int = 3) -> FaceCapture:
    face = Face(box=Box(0, 0, 100, 100), landmarks=np.zeros((5, 2), np.float32),
                chip=np.zeros((150, 150, 3), np.uint8),
                quality=Quality(face_px=100, sharpness=300, frontal=0.9, detection_score=1.0))
    return FaceCapture(source=CaptureSource.VIDEO, face=face, descriptor=_vector(x),
                       frames_used=frames, frames_seen=25)


def _holder(*xs: float, lost_since: timedelta | None = None) -> Holder:
    if lost_since is None:
        return Holder(status=CardStatus.ACTIVE, lost_since=None,
                      template=[_vector(x) for x in xs])
    return Holder(status=CardStatus.LOST, lost_since=NOW + lost_since,
                  template=[_vector(x) for x in xs])


def _judge(holder: Holder | None, outcome: FaceCapture | NoCapture, *,
           alarm_on_no_face: bool = True):  # type: ignore[no-untyped-def]
    return judge(holder=holder, swiped_at=NOW, outcome=outcome, threshold=THRESHOLD,
                 alarm_on_no_face=alarm_on_no_face)


def test_the_closest_enrolled_photo_decides() -> None:
    got = _judge(_holder(0.9, 0.3), _capture(0.0))

    assert got.verdict is Verdict.VERIFIED and got.alarm is None
    assert got.distance == pytest.approx(0.3)


def test_a_distance_above_the_threshold_is_a_mismatch_with_its_reason() -> None:
    got = _judge(_holder(0.71), _capture(0.0))

    assert got.verdict is Verdict.MISMATCH and got.alarm is AlarmKind.MISMATCH
    assert got.reason == ("distance 0.71 above threshold 0.55 over 3 fused frames "
                          "of 25 sampled")


def test_a_distance_at_the_threshold_matches() -> None:
    got = judge(holder=_holder(0.5), swiped_at=NOW, outcome=_capture(0.0), threshold=0.5,
                alarm_on_no_face=True)  # 0.5 is exact in float32, 0.55 is not

    assert got.verdict is Verdict.VERIFIED


def test_a_lost_card_is_card_lost_whatever_the_face() -> None:
    got = _judge(_holder(0.0, lost_since=-timedelta(hours=1)), _capture(0.0))

    assert got.verdict is Verdict.CARD_LOST and got.alarm is AlarmKind.LOST_CARD
    assert got.distance == pytest.approx(0.0)
    assert got.reason.startswith("card reported lost since")


def test_a_card_used_before_it_was_reported_lost_is_judged_by_the_face() -> None:
    got = _judge(_holder(0.8, lost_since=timedelta(hours=1)), _capture(0.0))

    assert got.verdict is Verdict.MISMATCH


def test_a_lost_card_without_a_face_is_still_card_lost() -> None:
    got = _judge(_holder(0.1, lost_since=-timedelta(days=2)), NoCapture("no face in the still"))

    assert got.verdict is Verdict.CARD_LOST and got.distance is None
    assert got.reason.endswith("no face in the still")


def test_no_usable_face_raises_a_no_face_alarm_only_if_configured() -> None:
    seen = _judge(_holder(0.1), NoCapture("no face at the counter"))
    quiet = _judge(_holder(0.1), NoCapture("no face at the counter"), alarm_on_no_face=False)

    assert (seen.verdict, seen.alarm) == (Verdict.NO_FACE, AlarmKind.NO_FACE)
    assert (quiet.verdict, quiet.alarm) == (Verdict.NO_FACE, None)


def test_a_camera_that_recorded_nothing_is_no_video_not_no_face() -> None:
    outage = _judge(_holder(0.1), NoCapture("no video from the till's camera", no_video=True),
                    alarm_on_no_face=False)

    assert (outage.verdict, outage.alarm) == (Verdict.NO_VIDEO, AlarmKind.NO_VIDEO)
    assert "no video" in outage.reason


def test_a_holder_without_photos_is_not_enrolled() -> None:
    got = _judge(_holder(), _capture(0.0))

    assert got.verdict is Verdict.NOT_ENROLLED and got.alarm is None


def test_no_holder_is_an_unknown_card() -> None:
    assert _judge(None, _capture(0.0)).verdict is Verdict.UNKNOWN_CARD
