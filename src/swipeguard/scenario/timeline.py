"""The ground truth on disk: ``timeline.json`` beside the footage, and reading it back.

Version 1 layout::

    {"version": 1, "video": "footage.mp4", "fps": 15, "size": [1280, 720],
     "bitrate": 1500000, "duration": 60.0, "frames": 900, "seed": 7,
     "started_at": "2025-01-06T09:00:00+00:00",
     "visits": [{"person", "photo", "start", "arrive", "depart", "end",
                 "boxes": [[frame, left, top, right, bottom], ...],
                 "companion": {"person", "photo", "start", "end", "boxes"} | null}],
     "passers": [{"person", "photo", "start", "end", "boxes"}],
     "swipes": [{"index", "at", "frame", "card_holder", "present", "amount",
                 "expected", "face_box": [l, t, r, b] | null}],
     "enrolment": {"person": ["photo path", ...]}}

Times are seconds from the first frame. The file holds names and photo paths of the
people in the footage: it is test data, kept beside the video, never logged.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from swipeguard.faces.types import Box
from swipeguard.scenario.errors import ScenarioError
from swipeguard.scenario.types import Appearance, Scenario, SwipeTruth, VisitTruth

VERSION = 1


def write_timeline(scenario: Scenario) -> None:
    """Write ``scenario.timeline`` atomically (a reader never sees half a file)."""
    data = _scenario_dict(scenario)
    partial = scenario.timeline.with_name(scenario.timeline.name + ".partial")
    partial.write_text(json.dumps(data, indent=1))
    os.replace(partial, scenario.timeline)


def load_scenario(path: Path) -> Scenario:
    """Read a scenario back from its ``timeline.json`` (or the folder holding it)."""
    timeline = path / "timeline.json" if path.is_dir() else path
    try:
        data = json.loads(timeline.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"timeline not found: {timeline}") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"timeline is not valid JSON ({exc.msg}): {timeline}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ScenarioError(f"not a version {VERSION} scenario timeline: {timeline}")
    try:
        return _scenario(data, timeline)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"timeline is incomplete ({exc!r}): {timeline}") from None


def _scenario(data: dict[str, Any], timeline: Path) -> Scenario:
    return Scenario(
        video=timeline.parent / data["video"],
        timeline=timeline,
        fps=int(data["fps"]),
        size=(int(data["size"][0]), int(data["size"][1])),
        bitrate=int(data["bitrate"]),
        duration=float(data["duration"]),
        frames=int(data["frames"]),
        seed=int(data["seed"]),
        started_at=datetime.fromisoformat(data["started_at"]),
        visits=tuple(_visit(v) for v in data["visits"]),
        passers=tuple(_appearance(p) for p in data["passers"]),
        swipes=tuple(_swipe(s) for s in data["swipes"]),
        enrolment={k: tuple(Path(p) for p in v) for k, v in data["enrolment"].items()},
    )


def _scenario_dict(s: Scenario) -> dict[str, Any]:
    return {
        "version": VERSION,
        "video": s.video.name,
        "fps": s.fps,
        "size": list(s.size),
        "bitrate": s.bitrate,
        "duration": s.duration,
        "frames": s.frames,
        "seed": s.seed,
        "started_at": s.started_at.isoformat(),
        "visits": [
            {**_appearance_dict(v.appearance), "arrive": v.arrive, "depart": v.depart,
             "companion": _appearance_dict(v.companion) if v.companion else None}
            for v in s.visits
        ],
        "passers": [_appearance_dict(p) for p in s.passers],
        "swipes": [_swipe_dict(w) for w in s.swipes],
        "enrolment": {k: [str(p) for p in v] for k, v in s.enrolment.items()},
    }


def _appearance_dict(a: Appearance) -> dict[str, Any]:
    return {
        "person": a.person,
        "photo": str(a.photo),
        "start": a.start,
        "end": a.end,
        "boxes": [[f, b.left, b.top, b.right, b.bottom] for f, b in sorted(a.boxes.items())],
    }


def _swipe_dict(w: SwipeTruth) -> dict[str, Any]:
    return {
        "index": w.index,
        "at": w.at,
        "frame": w.frame,
        "card_holder": w.card_holder,
        "present": w.present,
        "amount": w.amount,
        "expected": w.expected.value,
        "face_box": _box_list(w.face_box),
    }


def _box_list(box: Box | None) -> list[int] | None:
    return None if box is None else [box.left, box.top, box.right, box.bottom]


def _appearance(d: dict[str, Any]) -> Appearance:
    return Appearance(
        person=d["person"],
        photo=Path(d["photo"]),
        start=float(d["start"]),
        end=float(d["end"]),
        boxes={int(f): Box(int(a), int(b), int(c), int(e)) for f, a, b, c, e in d["boxes"]},
    )


def _visit(d: dict[str, Any]) -> VisitTruth:
    companion = d.get("companion")
    return VisitTruth(appearance=_appearance(d), arrive=float(d["arrive"]),
                      depart=float(d["depart"]),
                      companion=_appearance(companion) if companion else None)


def _swipe(d: dict[str, Any]) -> SwipeTruth:
    box = d.get("face_box")
    return SwipeTruth(
        index=int(d["index"]),
        at=float(d["at"]),
        frame=int(d["frame"]),
        card_holder=d["card_holder"],
        present=d["present"],
        amount=d["amount"],
        face_box=Box(*box) if box else None,
    )
