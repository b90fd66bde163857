"""``swipeguard demo``: a sample city, a replayed day of swipes, then the console."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from swipeguard.api import cli as api_cli
from swipeguard.db import Database
from swipeguard.demo import flows

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = Path("../shared/data")


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="build a sample city, replay a day of swipes, serve it")
    p.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES,
                   help="the shared sample data (default: ../shared/data)")
    p.add_argument("--data-dir", type=Path,
                   help="an empty folder to keep the demo's data in (default: a temporary "
                        "one, removed when the demo stops)")
    p.add_argument("--people", type=int, default=40,
                   help="card holders enrolled from the samples (default: 40)")
    p.add_argument("--seed", type=int, default=7, help="chooses the people and the day")
    p.add_argument("--no-serve", action="store_true", help="stop after the summary")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--port", type=int, help="port for the console (default: settings, 8000)")
    p.set_defaults(func=demo)


def demo(args: argparse.Namespace) -> int:
    if not 4 <= args.people <= 1000:
        raise SystemExit("--people must be between 4 and 1000")
    if args.data_dir:
        return _demo(args, args.data_dir)
    # The city holds real faces and video: a folder made for this run goes with it.
    data_dir = Path(tempfile.mkdtemp(prefix="swipeguard-demo-"))
    try:
        return _demo(args, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        log.info("removed the demo's data; pass --data-dir to keep a city")


def _demo(args: argparse.Namespace, data_dir: Path) -> int:
    serve_args = argparse.Namespace(data_dir=data_dir, host=None, port=args.port,
                                    no_workers=False)
    settings = api_cli.load_settings(serve_args)
    db = Database(settings.resolved_database_url)
    try:
        with _quiet(not getattr(args, "verbose", False)):
            db.migrate()
            summary = flows.run(settings, db, samples_dir=args.samples, people=args.people,
                                seed=args.seed)
    except flows.DemoError as exc:
        log.error("%s", exc)
        return 2
    finally:
        db.dispose()
    summary["data_dir"] = str(data_dir)
    summary["console"]["url"] = f"http://{settings.server.host}:{settings.server.port}/"
    if args.json:
        print(json.dumps(summary, indent=2, default=str), flush=True)
    else:
        print(render(summary), flush=True)
    if args.no_serve:
        return 0
    return api_cli.serve(serve_args)


@contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Keeps the per-swipe log lines out of the way while the day is replayed."""
    loggers = [logging.getLogger(name) for name in ("swipeguard", "alembic", "httpx")]
    levels = [lg.level for lg in loggers]
    if enabled:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def render(summary: dict[str, Any]) -> str:
    """The summary as lines for a terminal."""
    misuse, genuine, video = summary["misuse"], summary["genuine"], summary["video_case"]
    lines = [
        f"swipeguard demo: {summary['swipes']} swipes in {summary['timing_s']['total']} s "
        f"(data in {summary['data_dir']})",
        "verdicts: " + _pairs(summary["verdicts"]),
        "alarms:   " + _pairs(summary["alarms"]),
        f"misuse caught:           {misuse['caught']}/{misuse['swipes']} "
        f"({_pct(misuse['share_caught'])})",
        f"genuine falsely alarmed: {genuine['falsely_alarmed']}/{genuine['swipes']} "
        f"({_pct(genuine['share_falsely_alarmed'])})",
        "by truth: " + "; ".join(f"{kind} -> {_pairs(v)}"
                                 for kind, v in summary["truth"].items()),
        "video case (no still, the till camera's clip): "
        + ("as expected" if video["as_expected"] else "NOT as expected"),
    ]
    for kind in ("video_holder", "video_other_card"):
        case = video.get(kind)
        if case:
            lines.append(f"  {kind}: {case['verdict']} ({case['reason']}); "
                         f"alarms: {', '.join(case['alarms']) or 'none'}")
    lines.extend(_story_lines(summary.get("lost_card_story")))
    verified, clips = summary["video_verified"], summary["clips"]
    lines.append(f"swipes without a still, decided from recorded video: "
                 f"{verified['decided']}/{verified['swipes']} "
                 f"(a face found in the video for {verified['face_from_video']})")
    lines.append(f"clips: {clips['with_clip']}/{clips['swipes']} swipes have one, "
                 f"{clips['with_sound']} with sound")
    lines.append("counter cameras:")
    for footage, entry in summary["footage"].items():
        lines.append(f"  {footage} ({entry['swipes']} swipes):")
        lines.extend(f"    {till}" for till in entry["tills"])
    console = summary["console"]
    lines.append(f"console: {console['url']}  user {console['user']}  "
                 f"password {console['password']}")
    lines.append("till API keys:")
    lines.extend(f"  {t['facility']} / {t['till']} (till {t['till_id']}, "
                 f"{t['footage']} camera): {t['api_key']}"
                 for t in summary["tills"])
    return "\n".join(lines)


def _story_lines(told: dict[str, Any] | None) -> list[str]:
    if not told:
        return []
    first = told["first_suspect"] or {}
    named = (f"card holder {first['identified_as_card_holder']} (card "
             f"{first['identified_card']}, distance {first['distance']})"
             if first.get("identified_as_card_holder") else "no enrolled card holder")
    return [
        f"lost-card story: card {told['card']} reported lost since {told['lost_since']}; "
        f"{told['flagged_swipes']} swipes since flagged, at {len(told['facilities'])} "
        f"facilities",
        f"  investigation ({told['investigation_ms']:.0f} ms): {told['suspects']} suspect(s); "
        f"the first is {named}, on {first.get('lost_card_swipes', 0)} of the card's swipes",
        f"  the same person on other cards: {', '.join(first.get('other_cards', [])) or 'none'}"
        f"; grouped with the same person's misuse of another card: "
        f"{'yes' if told['grouped_with_other_card'] else 'no'}",
        "  " + ("as expected: the investigation names the person who used the card"
                if told["as_expected"] else "NOT as expected"),
    ]


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"
