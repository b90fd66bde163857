"""The typed values of a scenario: who is photographed, the plan, and the ground truth.

Times are seconds from the footage's first frame; boxes are pixels of the frame
(``Box``: left, top, right, bottom, right/bottom exclusive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from swipeguard.faces.types import Box

# Seconds a visitor takes to walk into the counter spot, and out of it again.
WALK_IN = 1.6
WALK_OUT = 1.6


@dataclass(frozen=True, slots=True)
class PersonPhotos:
    """One identity: photos rendered into footage, and photos kept apart for enrolment.

    Footage and enrolment should be different images of the person, as at a real
    counter: the enrolled photo is never the frame the camera sees.
    """

    name: str
    footage: tuple[Path, ...]
    enrolment: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class Visit:
    """A person at the counter from ``arrive`` to ``depart``; walking in and out is extra."""

    person: str
    arrive: float
    depart: float
    photo: int = 0  # index into the person's footage photos
    # Someone who came along and waits beside and behind the customer, never paying.
    companion: str | None = None
    companion_photo: int = 0

    @property
    def enter(self) -> float:
        return self.arrive - WALK_IN

    @property
    def exit(self) -> float:
        return self.depart + WALK_OUT


@dataclass(frozen=True, slots=True)
class PlannedSwipe:
    """A card swiped at ``at``; the card is ``card_holder``'s."""

    at: float
    card_holder: str
    amount: str  # decimal string, "23.50": the till's settlement amount


@dataclass(frozen=True, slots=True)
class Passer:
    """Someone crossing the shop behind the counter, small and out of focus."""

    person: str
    start: float
    duration: float  # seconds to cross the whole frame
    leftward: bool = False
    photo: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    duration: float
    visits: tuple[Visit, ...]
    swipes: tuple[PlannedSwipe, ...]
    passers: tuple[Passer, ...] = ()


class Expected(StrEnum):
    """The verdict a correct system reaches for a swipe."""

    MATCH = "match"  # the card holder is at the counter
    MISMATCH = "mismatch"  # someone else is at the counter
    NO_FACE = "no_face"  # nobody is at the counter


@dataclass(frozen=True, slots=True)
class Appearance:
    """Where a rendered person's face was, frame by frame (frames off screen are absent)."""

    person: str
    photo: Path
    start: float  # first moment on screen
    end: float  # last moment on screen
    boxes: Mapping[int, Box] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VisitTruth:
    """A visit as rendered: at the counter from ``arrive`` to ``depart``."""

    appearance: Appearance
    arrive: float
    depart: float
    companion: Appearance | None = None  # drawn smaller, to one side, behind the customer

    @property
    def person(self) -> str:
        return self.appearance.person

    def at_counter(self, t: float) -> bool:
        return self.arrive <= t <= self.depart


@dataclass(frozen=True, slots=True)
class SwipeTruth:
    """One swipe and what really happened at the counter when it was made."""

    index: int
    at: float
    frame: int
    card_holder: str
    present: str | None  # who stood at the counter, None if nobody
    amount: str
    face_box: Box | None  # the present person's face at ``frame``

    @property
    def genuine(self) -> bool:
        return self.present is not None and self.present == self.card_holder

    @property
    def expected(self) -> Expected:
        if self.present is None:
            return Expected.NO_FACE
        return Expected.MATCH if self.genuine else Expected.MISMATCH


@dataclass(frozen=True, slots=True)
class Scenario:
    """Generated footage and its ground truth (also written as ``timeline.json``)."""

    video: Path
    timeline: Path
    fps: int
    size: tuple[int, int]  # (width, height)
    bitrate: int  # target video bits per second
    duration: float
    frames: int
    seed: int
    started_at: datetime  # wall-clock time of the first frame (aware, UTC)
    visits: tuple[VisitTruth, ...]
    passers: tuple[Appearance, ...]
    swipes: tuple[SwipeTruth, ...]
    enrolment: Mapping[str, tuple[Path, ...]]  # photos never shown, left for enrolling

    def present_at(self, t: float) -> VisitTruth | None:
        """The visit whose person is at the counter at ``t`` seconds, if any."""
        return next((v for v in self.visits if v.at_counter(t)), None)

    def on_screen_at(self, t: float) -> list[Appearance]:
        """Everyone visible at ``t``: visitors and companions, and passers-by."""
        companions = [v.companion for v in self.visits if v.companion is not None]
        shown = [v.appearance for v in self.visits] + companions + list(self.passers)
        return [a for a in shown if a.start <= t <= a.end]

    def wall_time(self, t: float) -> datetime:
        return self.started_at + timedelta(seconds=t)

    def frame_at(self, t: float) -> int:
        return min(self.frames - 1, max(0, round(t * self.fps)))
