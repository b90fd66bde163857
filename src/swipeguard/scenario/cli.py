"""``swipeguard scenario``: generate counter-camera footage with ground truth."""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from swipeguard.scenario.errors import ScenarioError
from swipeguard.scenario.generator import generate_day
from swipeguard.scenario.photos import list_people, people_from_pairs
from swipeguard.scenario.timeline import load_scenario
from swipeguard.scenario.types import PersonPhotos, Scenario

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser("scenario", help="generate counter-camera footage with ground truth")
    commands = parser.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")

    gen = commands.add_parser("generate", help="render a random day at a till as MP4 + JSON")
    gen.add_argument("--photos", type=Path, required=True,
                     help="a folder per person (LFW layout) or a folder of one-person photos")
    gen.add_argument("--pairs", type=Path, default=None,
                     help="LFW pairs file: enrol image i, film image j (default: "
                          "PHOTOS/pairs-dev.txt when present)")
    gen.add_argument("--out", type=Path, required=True, help="folder for footage and timeline")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--duration", type=float, default=60.0, help="seconds of footage")
    gen.add_argument("--people", type=int, default=8, help="how many identities to draw from")
    gen.add_argument("--misuse", type=float, default=0.25, help="share of swipes on another's card")
    gen.add_argument("--no-face", type=float, default=0.0,
                     help="extra share of swipes made with nobody at the counter")
    gen.add_argument("--passers", type=float, default=3.0, help="passers-by per minute")
    gen.add_argument("--companions", type=float, default=0.1,
                     help="share of customers who bring someone along")
    gen.add_argument("--size", type=_size, default=(1280, 720), help="WIDTHxHEIGHT")
    gen.add_argument("--fps", type=int, default=15)
    gen.add_argument("--bitrate", type=int, default=1_500_000, help="video bits per second")
    gen.add_argument("--noise", type=float, default=3.0, help="sensor noise, 8-bit levels")
    gen.add_argument("--overwrite", action="store_true", help="replace existing footage")
    gen.set_defaults(func=_generate)

    show = commands.add_parser("show", help="summarise a generated scenario")
    show.add_argument("path", type=Path, help="scenario folder or its timeline.json")
    show.set_defaults(func=_show)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size is WIDTHxHEIGHT, e.g. 1280x720") from None
    return w, h


def _generate(args: argparse.Namespace) -> int:
    try:
        people = _choose_people(args)
        started = time.perf_counter()
        scenario = generate_day(
            people=people, out_dir=args.out, seed=args.seed, duration=args.duration,
            misuse=args.misuse, no_face=args.no_face, passers_per_minute=args.passers,
            companions=args.companions,
            fps=args.fps, size=args.size, bitrate=args.bitrate, noise=args.noise,
            overwrite=args.overwrite,
        )
    except ScenarioError as exc:
        log.error("%s", exc)
        return 2
    elapsed = time.perf_counter() - started
    _print_summary(scenario)
    print(f"generated in {elapsed:.1f} s ({scenario.duration / elapsed:.2f}x real time)")
    return 0


def _choose_people(args: argparse.Namespace) -> list[PersonPhotos]:
    pairs = args.pairs or args.photos / "pairs-dev.txt"
    if pairs.is_file():
        pool = people_from_pairs(args.photos, pairs=pairs)
    else:
        pool = list_people(args.photos)
    if args.people < 1:
        raise ScenarioError("--people must be at least 1")
    rng = np.random.default_rng([args.seed, 5])
    picked = rng.choice(len(pool), size=min(args.people, len(pool)), replace=False)
    return [pool[int(i)] for i in sorted(picked)]


def _show(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.path)
    except ScenarioError as exc:
        log.error("%s", exc)
        return 2
    _print_summary(scenario)
    return 0


def _print_summary(s: Scenario) -> None:
    """Counts only: the timeline file holds the names, the terminal need not."""
    expected = Counter(w.expected.value for w in s.swipes)
    print(f"video: {s.video}")
    print(f"timeline: {s.timeline}")
    print(f"format: {s.size[0]}x{s.size[1]} at {s.fps} fps, {s.duration:.1f} s, "
          f"{s.bitrate / 1e6:.2f} Mb/s target")
    print(f"visits: {len(s.visits)}, passers-by: {len(s.passers)}")
    print("swipes: " + ", ".join(f"{k} {v}" for k, v in sorted(expected.items())))
