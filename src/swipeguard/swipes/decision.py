"""The verdict on a swipe, and the alarms it opens.

``judge`` is the rule, a pure function: a lost card is refused whatever the face; a
holder without enrolled photos cannot be compared; with no usable face there is nothing
to compare; otherwise the closest enrolled photo decides against the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from swipeguard.alarms.models import AlarmKind
from swipeguard.cardholders.models import CardStatus
from swipeguard.faces import service as faces
from swipeguard.faces.types import Embedding
from swipeguard.swipes.capture import FaceCapture, NoCapture, Outcome
from swipeguard.swipes.models import Verdict


@dataclass(frozen=True)
class Holder:
    """What the decision needs to know about the card holder."""

    status: CardStatus
    lost_since: datetime | None
    template: Sequence[Embedding]
    card_holder_id: int | None = None


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    distance: float | None
    threshold: float
    reason: str
    alarm: AlarmKind | None


def judge(*, holder: Holder | None, swiped_at: datetime, outcome: Outcome,
          threshold: float, alarm_on_no_face: bool) -> Judgement:
    """The verdict for one swipe, with the reason in words and the alarm to open."""
    if holder is None:
        return Judgement(Verdict.UNKNOWN_CARD, None, threshold,
                         "no card holder has this card number", None)

    distance = _distance(outcome, holder.template)
    if _lost_at(holder, swiped_at):
        since = f" since {holder.lost_since:%Y-%m-%d %H:%M} UTC" if holder.lost_since else ""
        return Judgement(Verdict.CARD_LOST, distance, threshold,
                         f"card reported lost{since}; {_face_words(outcome, distance, threshold)}",
                         AlarmKind.LOST_CARD)

    if not holder.template:
        return Judgement(Verdict.NOT_ENROLLED, None, threshold,
                         "the card holder has no enrolled photo to compare with", None)

    if isinstance(outcome, NoCapture) and outcome.no_video:
        # A camera fault, not a person hiding: its own kind, so an outage does not read
        # as a run of faceless customers.
        return Judgement(Verdict.NO_VIDEO, None, threshold, outcome.reason,
                         AlarmKind.NO_VIDEO)

    if isinstance(outcome, NoCapture) or distance is None:
        reason = outcome.reason if isinstance(outcome, NoCapture) else "no usable face"
        return Judgement(Verdict.NO_FACE, None, threshold, reason,
                         AlarmKind.NO_FACE if alarm_on_no_face else None)

    words = _face_words(outcome, distance, threshold)
    if distance <= threshold:
        return Judgement(Verdict.VERIFIED, distance, threshold, words, None)
    return Judgement(Verdict.MISMATCH, distance, threshold, words, AlarmKind.MISMATCH)


def _lost_at(holder: Holder, swiped_at: datetime) -> bool:
    if holder.status is not CardStatus.LOST:
        return False
    return holder.lost_since is None or swiped_at >= holder.lost_since


def _distance(outcome: Outcome, template: Sequence[Embedding]) -> float | None:
    if not isinstance(outcome, FaceCapture) or not template:
        return None
    return faces.compare_template(outcome.descriptor, template, threshold=0.0).distance


def _face_words(outcome: Outcome, distance: float | None, threshold: float) -> str:
    """E.g. ``distance 0.71 above threshold 0.55 over 3 fused frames of 25 sampled``."""
    if isinstance(outcome, NoCapture):
        return outcome.reason
    if distance is None:
        return f"face captured {outcome.describe()}; no enrolled photo to compare with"
    side = "within" if distance <= threshold else "above"
    return f"distance {distance:.2f} {side} threshold {threshold:.2f} {outcome.describe()}"
