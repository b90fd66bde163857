"""``swipeguard bench populations``: the verification threshold on other populations.

The default threshold is measured on LFW, mostly faces of Europe and the Americas. The
city this serves is Chinese, so this measures the same rule on the folder-per-person
sets of the samples: CASIA-FaceV5 (Chinese subjects), the Asian celebrities and the TV
characters. Every photo is enrolled as the register does (jitter and mirror) and
every other photo is a till capture (averaged with its mirror); each ordered pair of
photos is one swipe, genuine when both show one person.

Beside the threshold alone it measures a second rule a city can apply because everyone
insured is enrolled: a capture verifies only if, besides being within the threshold,
the card's holder is the enrolled person nearest to it (the stranger's own enrolled
photo is usually nearer). Each photo's own person stays enrolled from another photo.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from swipeguard.config import get_settings
from swipeguard.faces import service
from swipeguard.faces.errors import FaceError
from swipeguard.faces.images import load_image
from swipeguard.faces.pool import FacePool, worker_engine, worker_settings

log = logging.getLogger(__name__)

NAME = "populations"
HELP = "false accepts and rejects at the default threshold on the non-LFW face sets"
SETS = ("casia-facev5", "asian-celebrities", "tv-characters")
IMAGES = ("*.jpg", "*.jpeg", "*.png", "*.bmp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=Path, default=Path("../shared/data"))
    parser.add_argument("--set", action="append", choices=SETS, dest="sets",
                        help="face sets to measure (default: all)")


def describe(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """In a pool worker: (capture, enrolment) descriptors of the largest face, if any."""
    settings = worker_settings()
    engine = worker_engine()
    try:
        image = load_image(data, max_pixels=settings.max_image_pixels)
    except FaceError:
        return None
    found = service.detect(image, engine=engine)
    if not found:
        return None
    face = max(found, key=lambda f: (f.box.right - f.box.left) * (f.box.bottom - f.box.top))
    return (service.embed(face, flip=True, engine=engine),
            service.embed(face, jitter=settings.enrol_jitter, flip=True, engine=engine))


def run(args: argparse.Namespace) -> dict[str, Any]:
    verification = get_settings().verification
    threshold, sure = verification.threshold, verification.sure_below
    out: dict[str, Any] = {"threshold": threshold, "sure_below": sure}
    with FacePool() as pool:
        for name in args.sets or SETS:
            started = time.monotonic()
            out[name] = measure(pool, args.samples / "faces" / name, threshold, sure)
            out[name]["seconds"] = round(time.monotonic() - started, 1)
            log.info("%s: %s", name, out[name])
    return out


def measure(pool: FacePool, root: Path, threshold: float, sure: float) -> dict[str, Any]:
    photos = [(person.name, f) for person in sorted(p for p in root.iterdir() if p.is_dir())
              for pattern in IMAGES for f in sorted(person.glob(pattern))]
    described = [pool.submit(describe, f.read_bytes()) for _, f in photos]
    people, captures, enrolled = [], [], []
    for (person, _), job in zip(photos, described, strict=True):
        got = job.result()
        if got is not None:
            people.append(person)
            captures.append(service.scaled(got[0]))
            enrolled.append(service.scaled(got[1]))
    who = np.array(people)
    c, e = np.array(captures, np.float64), np.array(enrolled, np.float64)
    distances = np.linalg.norm(c[:, None, :] - e[None, :, :], axis=2)  # capture x enrolled
    np.fill_diagonal(distances, np.inf)  # a photo is never its own enrolment
    same = who[:, None] == who[None, :]
    nearest = distances.argmin(axis=1)
    genuine, impostor = same & np.isfinite(distances), ~same
    accepted = distances <= threshold
    # The nearest-enrolled rule: within ``sure`` of the claimed photo, or within the
    # threshold and the claimed photo's person is the nearest enrolled photo's person.
    nearest_is_claimed = who[nearest][:, None] == who[None, :]
    accepted_1n = (distances <= sure) | (accepted & nearest_is_claimed)
    return {
        "people": len(set(people)), "photos": len(photos), "with_a_face": len(people),
        "genuine_pairs": int(genuine.sum()), "impostor_pairs": int(impostor.sum()),
        "threshold_only": _rates(accepted, genuine, impostor),
        "and_nearest_enrolled": _rates(accepted_1n, genuine, impostor),
        "impostor_distance_percentiles_1_5_50": np.percentile(
            distances[impostor], [1, 5, 50]).round(3).tolist(),
        "genuine_distance_percentiles_50_95": np.percentile(
            distances[genuine], [50, 95]).round(3).tolist(),
    }


def _rates(accepted: np.ndarray, genuine: np.ndarray, impostor: np.ndarray) -> dict[str, float]:
    return {"false_accept_rate": round(float(accepted[impostor].mean()), 4),
            "genuine_accepted": round(float(accepted[genuine].mean()), 4)}
