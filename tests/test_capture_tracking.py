"""Tracking faces across frames and choosing the person at the counter."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from swipeguard.faces.types import Box, Face, Quality
from swipeguard.swipes import tracking

T0 = datetime(2026, 3, 1, 9, 0, 0).astimezone()
FRAME = (640, 360)
STEP = timedelta(seconds=0.2)


def face(left: int, top: int, size: int, *, sharpness: float = 300.0, frontal: float = 0.9,
         score: float = 1.0) -> Face:
    return Face(box=Box(left, top, left + size, top + size),
                landmarks=np.zeros((5, 2), np.float32),
                chip=np.zeros((150, 150, 3), np.uint8),
                quality=Quality(face_px=size, sharpness=sharpness, frontal=frontal,
                                detection_score=score))


def frames(*people: dict[int, Face], count: int = 25) -> list[tuple[datetime, list[Face]]]:
    """``count`` frames 0.2 s apart; each person maps frame index to their face."""
    return [(T0 + i * STEP, [p[i] for p in people if i in p]) for i in range(count)]


def _choose(seq: list[tuple[datetime, list[Face]]], swipe_frame: int = 12) -> tracking.Track:
    tracks = tracking.link(seq)
    chosen = tracking.counter_track(tracks, frame_times=[at for at, _ in seq],
                                    swiped_at=T0 + swipe_frame * STEP, frame_size=FRAME)
    assert chosen is not None
    return chosen


def test_a_face_moving_across_the_counter_stays_one_track() -> None:
    walking = {i: face(100 + 25 * i, 80, 90) for i in range(12)}

    tracks = tracking.link(frames(walking))

    assert [len(t.sightings) for t in tracks] == [12]


def test_a_face_missed_for_two_frames_continues_its_track() -> None:
    person = {i: face(270, 100, 100) for i in range(20) if i not in (7, 8)}

    tracks = tracking.link(frames(person))

    assert [len(t.sightings) for t in tracks] == [18]


def test_two_people_side_by_side_are_two_tracks() -> None:
    left = {i: face(120, 100, 100) for i in range(25)}
    right = {i: face(400, 100, 100) for i in range(25)}

    tracks = tracking.link(frames(left, right))

    assert sorted(len(t.sightings) for t in tracks) == [25, 25]
    assert {t.sightings[0].face.box.left for t in tracks} == {120, 400}


def test_the_person_at_the_counter_is_chosen_over_a_passer_by_in_the_background() -> None:
    counter = {i: face(270, 110, 110) for i in range(4, 25)}
    passer_by = {i: face(560 - 20 * i, 20, 50) for i in range(0, 14)}

    chosen = _choose(frames(passer_by, counter))

    assert chosen.sightings[0].face.quality.face_px == 110


def test_someone_brushing_past_the_camera_is_not_the_person_at_the_counter() -> None:
    counter = {i: face(270, 110, 100) for i in range(25)}
    close_by = {i: face(0, 60, 170) for i in (20, 21)}

    chosen = _choose(frames(counter, close_by), swipe_frame=12)

    assert len(chosen.sightings) == 25


def test_who_is_there_at_the_swipe_counts_more_than_who_was_there_before() -> None:
    earlier = {i: face(260, 100, 100) for i in range(0, 6)}
    at_swipe = {i: face(280, 110, 95) for i in range(14, 25)}

    chosen = _choose(frames(earlier, at_swipe), swipe_frame=18)

    assert chosen.sightings[0].frame == 14


def test_the_best_frames_are_large_sharp_and_frontal() -> None:
    sightings = {0: face(270, 100, 100, sharpness=20.0), 1: face(270, 100, 100, frontal=0.3),
                 2: face(270, 100, 100), 3: face(270, 100, 100, score=-0.2),
                 4: face(275, 100, 100, sharpness=600.0)}
    track = tracking.link(frames(sightings, count=5))[0]

    best = tracking.best_sightings(track, count=2)

    assert [s.frame for s in best] == [4, 2]
