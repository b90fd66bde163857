"""Following faces from frame to frame, and picking the person at the counter.

Frames are a few tenths of a second apart, so a face moves little between them: a new
detection continues the track whose last box overlaps it most (IoU) or, for a face that
moved quickly, whose centre is within a face width of it. The person at the counter is
the track with the largest faces, seen for longest around the swipe time, nearest the
middle of the picture; passers-by behind the counter are small, brief and off-centre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from swipeguard.faces.types import Box, Face

MIN_IOU = 0.3  # boxes of one face 0.2 s apart overlap by 0.5-0.9 when the person is still
MAX_SHIFT = 1.0  # or the centre moved at most one face width (someone stepping in)
MAX_SIZE_RATIO = 1.6  # a face does not grow or shrink by more between two sampled frames
MAX_GAP = 3  # frames a track may miss (a turned head, a blink of the detector) and go on

# Around the swipe: frames within about 1.5 s count most towards "present at the swipe".
PRESENCE_SIGMA_S = 1.5

# Quality figures mapped onto 0-1 for ranking frames (see ``frame_score``).
GOOD_FACE_PX = 150  # the descriptor's chip side: a larger face adds no detail
SHARPNESS_HALF = 100.0  # a chip with this Laplacian variance counts half as sharp as ideal


@dataclass(frozen=True)
class Sighting:
    """One face in one sampled frame."""

    frame: int  # index of the sampled frame
    at: datetime
    face: Face


@dataclass
class Track:
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def last(self) -> Sighting:
        return self.sightings[-1]

    def median_px(self) -> float:
        sizes = sorted(s.face.quality.face_px for s in self.sightings)
        return float(sizes[len(sizes) // 2])


def link(frames: Sequence[tuple[datetime, Sequence[Face]]]) -> list[Track]:
    """Tracks of the faces in consecutive sampled frames, in order of first sighting."""
    tracks: list[Track] = []
    for index, (at, faces) in enumerate(frames):
        live = [t for t in tracks if index - t.last.frame <= MAX_GAP]
        for face, track in _assign(live, faces, index):
            sighting = Sighting(frame=index, at=at, face=face)
            if track is None:
                tracks.append(Track([sighting]))
            else:
                track.sightings.append(sighting)
    return tracks


def _assign(live: list[Track], faces: Sequence[Face],
            index: int) -> list[tuple[Face, Track | None]]:
    """Greedy matching, best affinity first; a face matched to no track starts one."""
    pairs = sorted(
        ((_affinity(t.last.face.box, f.box), ti, fi)
         for ti, t in enumerate(live) for fi, f in enumerate(faces)),
        reverse=True,
    )
    taken_tracks: set[int] = set()
    matched: dict[int, Track] = {}
    for affinity, ti, fi in pairs:
        if affinity <= 0 or ti in taken_tracks or fi in matched:
            continue
        taken_tracks.add(ti)
        matched[fi] = live[ti]
    return [(f, matched.get(fi)) for fi, f in enumerate(faces)]


def _affinity(a: Box, b: Box) -> float:
    """Above 0 when ``b`` can be the same face as ``a`` a frame later; higher is likelier."""
    size_a, size_b = max(a.width, a.height), max(b.width, b.height)
    if max(size_a, size_b) > MAX_SIZE_RATIO * max(1, min(size_a, size_b)):
        return 0.0
    iou = a.iou(b)
    if iou >= MIN_IOU:
        return 1.0 + iou
    (ax, ay), (bx, by) = a.center, b.center
    shift = math.hypot(ax - bx, ay - by) / max(1, (size_a + size_b) / 2)
    return 1.0 - shift / MAX_SHIFT if shift < MAX_SHIFT else 0.0


@dataclass(frozen=True)
class TrackScore:
    size: float  # median face size relative to the largest track's, 0-1
    presence: float  # share of the frames around the swipe the track is in, 0-1
    centrality: float  # 1 in the middle of the picture, 0 in a corner

    @property
    def total(self) -> float:
        # Size and presence both matter fully; an off-centre counter still counts half.
        return self.size * self.presence * (0.5 + 0.5 * self.centrality)


def score_tracks(tracks: Sequence[Track], *, frame_times: Sequence[datetime],
                 swiped_at: datetime, frame_size: tuple[int, int]) -> list[TrackScore]:
    """How much each track looks like the person at the counter (``frame_size``: w, h)."""
    if not tracks:
        return []
    largest = max(t.median_px() for t in tracks)
    weights = [_near_swipe(at, swiped_at) for at in frame_times]
    total_weight = sum(weights) or 1.0
    return [
        TrackScore(
            size=t.median_px() / largest,
            presence=sum(weights[s.frame] for s in t.sightings) / total_weight,
            centrality=_centrality(t, frame_size),
        )
        for t in tracks
    ]


def counter_track(tracks: Sequence[Track], *, frame_times: Sequence[datetime],
                  swiped_at: datetime, frame_size: tuple[int, int]) -> Track | None:
    """The track of the person at the counter, or None if no face was seen."""
    scores = score_tracks(tracks, frame_times=frame_times, swiped_at=swiped_at,
                          frame_size=frame_size)
    if not scores:
        return None
    best = max(range(len(tracks)), key=lambda i: scores[i].total)
    return tracks[best]


def _near_swipe(at: datetime, swiped_at: datetime) -> float:
    dt = (at - swiped_at).total_seconds()
    return math.exp(-0.5 * (dt / PRESENCE_SIGMA_S) ** 2)


def _centrality(track: Track, frame_size: tuple[int, int]) -> float:
    width, height = frame_size
    xs = [s.face.box.center[0] for s in track.sightings]
    ys = [s.face.box.center[1] for s in track.sightings]
    dx = sum(xs) / len(xs) - width / 2
    dy = sum(ys) / len(ys) - height / 2
    return max(0.0, 1.0 - math.hypot(dx, dy) / math.hypot(width / 2, height / 2))


def frame_score(face: Face) -> float:
    """How good one sighting is for comparison: size x frontal x sharpness x confidence."""
    q = face.quality
    size = min(1.0, q.face_px / GOOD_FACE_PX)
    sharp = q.sharpness / (q.sharpness + SHARPNESS_HALF)
    score = q.detection_score if math.isfinite(q.detection_score) else 0.0
    # The HOG margin: 0 is the detector's own cut, 1 is a clear face (logistic, slope 2).
    confidence = 1.0 / (1.0 + math.exp(-2.0 * score))
    return size * max(0.0, q.frontal) * sharp * confidence


def best_sightings(track: Track, *, count: int) -> list[Sighting]:
    """The ``count`` best sightings of a track, best first."""
    return sorted(track.sightings, key=lambda s: -frame_score(s.face))[:count]
