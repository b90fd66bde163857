"""The demo's summary: verdicts, alarms and clips measured against the truth of the day."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from swipeguard.alarms.models import Alarm
from swipeguard.cameras import clips
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.demo import day as days
from swipeguard.demo.city import City
from swipeguard.demo.day import Kind, PlannedSwipe
from swipeguard.demo.footage import has_audio
from swipeguard.swipes.models import Capture, CaptureSource, Swipe


@dataclass(frozen=True)
class Posted:
    planned: PlannedSwipe
    swipe_id: int
    status: int


def summarize(settings: Settings, db: Database, posted: list[Posted],
              city: City) -> dict[str, Any]:
    """Verdicts, alarms, video-verified swipes and clips, against the truth of the day."""
    with db.sessions() as session:
        swipes = {s.id: s for s in session.scalars(select(Swipe))}
        alarms = session.scalars(select(Alarm)).all()
        from_video = set(session.scalars(select(Capture.swipe_id).where(
            Capture.source == CaptureSource.VIDEO)))
    alarmed = {a.swipe_id for a in alarms}
    misuse = [p for p in posted if p.planned.kind in days.MISUSE]
    genuine = [p for p in posted if p.planned.kind in days.GENUINE]
    caught = sum(p.swipe_id in alarmed for p in misuse)
    false_alarms = sum(p.swipe_id in alarmed for p in genuine)
    by_kind: dict[str, Counter[str]] = {}
    for p in posted:
        verdict = swipes[p.swipe_id].verdict
        outcome = verdict.value if verdict else "pending"
        by_kind.setdefault(p.planned.kind.value, Counter())[outcome] += 1
    without_still = [p for p in posted if p.planned.still is None]
    return {
        "swipes": len(posted),
        "verdicts": dict(Counter(s.verdict.value if s.verdict else "pending"
                                 for s in swipes.values())),
        "alarms": dict(Counter(a.kind.value for a in alarms)),
        "truth": {kind: dict(verdicts) for kind, verdicts in sorted(by_kind.items())},
        "misuse": {"swipes": len(misuse), "caught": caught,
                   "share_caught": round(caught / len(misuse), 4) if misuse else None},
        "genuine": {"swipes": len(genuine), "falsely_alarmed": false_alarms,
                    "share_falsely_alarmed": round(false_alarms / len(genuine), 4)
                    if genuine else None},
        "video_verified": {
            "swipes": len(without_still),
            "decided": sum(swipes[p.swipe_id].verdict is not None for p in without_still),
            "face_from_video": sum(p.swipe_id in from_video for p in without_still),
        },
        "footage": _footage(city, posted),
        "clips": _clips(settings, db, posted),
        "video_case": _video_case(posted, swipes, alarms),
    }


def _footage(city: City, posted: list[Posted]) -> dict[str, Any]:
    """Which tills are on which footage, and how many swipes each kind of till had."""
    per_till = Counter(p.planned.till.till_id for p in posted)
    out: dict[str, Any] = {}
    for till in city.tills:
        entry = out.setdefault(till.footage.value, {"tills": [], "swipes": 0})
        entry["tills"].append(f"{till.facility} / {till.name}: {till.source}")
        entry["swipes"] += per_till[till.till_id]
    return out


def _clips(settings: Settings, db: Database, posted: list[Posted]) -> dict[str, int]:
    """Cuts every swipe's clip (the console then finds it ready) and checks it has sound."""
    cut = with_sound = 0
    for p in posted:
        with db.sessions() as session:
            try:
                clip = clips.clip_for_swipe(settings, session, swipe_id=p.swipe_id)
            except clips.NoVideo:
                continue
        cut += 1
        with_sound += has_audio(clip.path)
    return {"swipes": len(posted), "with_clip": cut, "with_sound": with_sound}


def _video_case(posted: list[Posted], swipes: dict[int, Swipe],
                alarms: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in posted:
        if p.planned.kind not in (Kind.VIDEO_HOLDER, Kind.VIDEO_OTHER_CARD):
            continue
        swipe = swipes[p.swipe_id]
        out[p.planned.kind.value] = {
            "swipe_id": swipe.id, "verdict": swipe.verdict.value if swipe.verdict else None,
            "distance": round(swipe.distance, 3) if swipe.distance is not None else None,
            "reason": swipe.reason,
            "alarms": [a.kind.value for a in alarms if a.swipe_id == swipe.id],
        }
    holder, other = out.get(Kind.VIDEO_HOLDER.value), out.get(Kind.VIDEO_OTHER_CARD.value)
    out["as_expected"] = bool(
        holder and other and holder["verdict"] == "verified" and not holder["alarms"]
        and other["verdict"] == "mismatch" and other["alarms"] == ["mismatch"]
    )
    return out
