"""Face verification on LFW-style pairs: accuracy, FAR/TAR, failures, stage times, pool speed.

Protocol: the first image of each pair is the card holder's enrolment photo (descriptor
averaged over ``--enrol-jitter`` jittered copies of the chip and of its mirror image); the
second is the capture, graded by ``--capture``: ``plain`` (one forward pass, what a till
can afford per frame), ``mirror`` (averaged with its mirror image: two passes) or
``enrol`` (both photos enrolment-grade). Every grade is computed and reported; the one
chosen gives the headline figures. Faces are found with the configured detector and the
face nearest the centre is the subject. When none is found the detector runs again with
upsample 2, then with a relaxed score floor, and last the median box of the detected
faces is used (LFW's crops are centred and scaled alike); each case is counted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from swipeguard.config import FaceSettings, get_settings
from swipeguard.faces import service
from swipeguard.faces.images import load_image
from swipeguard.faces.pool import FacePool, worker_engine, worker_settings
from swipeguard.faces.types import Box, Embedding, Face, FaceEngine, Image

NAME = "verification"
HELP = "face verification accuracy, FAR/TAR and timings on LFW-style pairs"

log = logging.getLogger(__name__)

MIN_IMPOSTORS = 1_000_000  # FAR 1e-4 needs 100 false accepts' worth of pairs to be stable
CENTRE_TOLERANCE = 0.16  # the subject's box centre lies within 16% of the side of the centre
# When the configured detector misses the subject, a centred detection scoring down to
# this is still the subject in LFW's centred crops (off-centre boxes are not taken); a
# fixed box placed by the landmark model alone misaligns the chip far more often.
RELAXED_SCORE = -0.5
CACHE_VERSION = 5
DEFAULT_PAIRS = Path("../shared/data/faces/lfw/pairs-dev.txt")
GRADES = {
    "plain": "a plain till capture (one pass)",
    "mirror": "a capture averaged with its mirror image (two passes)",
    "enrol": "enrolment-grade too",
}


@dataclass(frozen=True)
class Pair:
    fold: int
    same: bool
    enrolled: str  # image paths relative to the data directory
    captured: str


@dataclass(frozen=True)
class Described:
    """One image's subject: how it was found and its descriptors at each grade."""

    path: str
    how: str  # "detected", "upsample_2", "low_score", "centre_box" or "none"
    box: tuple[int, int, int, int] | None
    plain: Embedding | None
    mirror: Embedding | None  # the plain descriptor of the mirrored chip
    enrol: Embedding | None

    def grade(self, grade: str) -> Embedding | None:
        if grade == "mirror" and self.plain is not None and self.mirror is not None:
            return service.fuse([self.plain, self.mirror])  # as service.embed(flip=True)
        return self.plain if grade == "plain" else self.enrol if grade == "enrol" else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS,
                        help="LFW protocol file (default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, help="image folder (default: the pairs' folder)")
    parser.add_argument("--cache", type=Path,
                        help="descriptor cache folder (default: DATA_DIR/cache/verification "
                             "under swipeguard's data directory)")
    parser.add_argument("--limit", type=int, help="use the first N pairs of each kind per fold")
    parser.add_argument("--capture", choices=sorted(GRADES), default="mirror",
                        help="grade of the second image of each pair (default: %(default)s)")
    parser.add_argument("--enrol-jitter", type=int, help="jittered copies for enrolment photos "
                                                         "(default: faces.enrol_jitter)")
    parser.add_argument("--no-flip", action="store_true",
                        help="enrolment descriptors without the mirror image")
    parser.add_argument("--workers", type=int, help="processes (default: faces.workers)")
    parser.add_argument("--timing-images", type=int, default=40, help="images timed per stage")
    parser.add_argument("--pool-images", type=int, default=40,
                        help="images for the 1-vs-2 worker throughput test (0 skips it)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    faces = settings.faces
    threshold = settings.verification.threshold
    jitter = faces.enrol_jitter if args.enrol_jitter is None else args.enrol_jitter
    flip = not args.no_flip
    root = (args.data_dir or args.pairs.parent).resolve()
    pairs = read_pairs(args.pairs, limit=args.limit)
    started = time.perf_counter()

    cache = Cache(args.cache or settings.data_dir / "cache" / "verification", faces, jitter, flip)
    described = describe_all(pairs, root=root, faces=faces, jitter=jitter, flip=flip,
                             cache=cache, workers=args.workers or faces.workers)
    genuine = np.array([p.same for p in pairs])
    scores = pair_distances(pairs, described, capture=args.capture)
    impostors = np.sort(impostor_distances(pairs, described, capture=args.capture))

    result: dict[str, Any] = {
        "protocol": (f"first image enrolled (jitter {jitter}{' + mirror' if flip else ''}), "
                     f"second image {GRADES[args.capture]}"),
        "pairs": len(pairs),
        "threshold": threshold,
        "accuracy": accuracy(scores, genuine, threshold),
        "folds": fold_figures(pairs, scores, genuine, threshold),
        "far": far_figures(impostors, scores, genuine, threshold),
        "thresholds": threshold_table(impostors, scores, genuine),
        "by_capture_grade": {
            grade: _summary(pairs, described, genuine, threshold, grade) for grade in GRADES
        },
        "detection": detection_counts(described),
    }
    if args.timing_images:
        result["timing_ms"] = stage_times(pairs, root=root, faces=faces, jitter=jitter,
                                          flip=flip, count=args.timing_images)
    if args.pool_images:
        result["pool"] = pool_speed(pairs, root=root, faces=faces, count=args.pool_images)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    return result


def _summary(pairs: Sequence[Pair], described: dict[str, Described], genuine: np.ndarray,
             threshold: float, grade: str) -> dict[str, float]:
    scores = pair_distances(pairs, described, capture=grade)
    folds = fold_figures(pairs, scores, genuine, threshold)
    return {"accuracy": accuracy(scores, genuine, threshold), "fold_mean": folds["mean"],
            "fold_std": folds["std"],
            "tuned_threshold_mean": float(np.mean(folds["tuned_thresholds"]))}


def read_pairs(path: Path, *, limit: int | None = None) -> list[Pair]:
    """The pairs of an LFW protocol file: per fold, same-person pairs then different-person."""
    lines = [line.split("\t") for line in path.read_text().splitlines() if line.strip()]
    folds, per_fold = int(lines[0][0]), int(lines[0][1])
    body = lines[1:]
    if len(body) != folds * per_fold * 2:
        raise ValueError(f"{path.name}: expected {folds * per_fold * 2} pairs, got {len(body)}")
    pairs = []
    for index, cols in enumerate(body):
        fold, within = divmod(index, per_fold * 2)
        same = within < per_fold
        if limit is not None and within % per_fold >= limit:
            continue
        if same:
            pairs.append(Pair(fold, True, _image(cols[0], cols[1]), _image(cols[0], cols[2])))
        else:
            pairs.append(Pair(fold, False, _image(cols[0], cols[1]), _image(cols[2], cols[3])))
    return pairs


def _image(person: str, number: str) -> str:
    return f"{person}/{person}_{int(number):04d}.jpg"


def _person(path: str) -> str:
    return path.split("/", 1)[0]


class Cache:
    """Descriptors on disk, keyed by the settings that change them, so re-runs are quick."""

    FIELDS = ("plain", "mirror", "enrol")

    def __init__(self, folder: Path, faces: FaceSettings, jitter: int, flip: bool) -> None:
        key = json.dumps([CACHE_VERSION, faces.engine, faces.upsample, faces.min_detection_score,
                          jitter, flip])
        self.path = folder / f"lfw-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"
        self.items: dict[str, Described] = {}
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        with np.load(self.path, allow_pickle=False) as z:
            for i, path in enumerate(z["paths"].tolist()):
                left, top, right, bottom = (int(v) for v in z["boxes"][i])
                vectors = {f: _row(z[f][i]) for f in self.FIELDS}
                self.items[path] = Described(
                    path=path, how=str(z["how"][i]),
                    box=(left, top, right, bottom) if right > 0 else None, **vectors,
                )

    def save(self) -> None:
        items = list(self.items.values())
        nan = np.full(128, np.nan, np.float32)
        arrays: dict[str, np.ndarray] = {
            "paths": np.array([d.path for d in items]),
            "how": np.array([d.how for d in items]),
            "boxes": np.array([d.box or (0, 0, 0, 0) for d in items], np.int32).reshape(-1, 4),
        }
        for f in self.FIELDS:
            arrays[f] = np.array([nan if getattr(d, f) is None else getattr(d, f)
                                  for d in items], np.float32).reshape(-1, 128)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(self.path)


def _row(values: np.ndarray) -> Embedding | None:
    return None if np.isnan(values).any() else values.astype(np.float32)


def describe_all(pairs: Sequence[Pair], *, root: Path, faces: FaceSettings, jitter: int,
                 flip: bool, cache: Cache, workers: int) -> dict[str, Described]:
    """Descriptors of every image in the pairs, from the cache or computed in the pool."""
    needed = sorted({p.enrolled for p in pairs} | {p.captured for p in pairs})
    todo = [p for p in needed if p not in cache.items]
    log.info("%d images, %d cached, %d to describe", len(needed), len(needed) - len(todo),
             len(todo))
    if todo:
        with FacePool(faces, workers=workers) as pool:
            _describe_in(pool, todo, root=root, jitter=jitter, flip=flip, cache=cache, box=None)
            missing = [p for p in todo if cache.items[p].how == "none"]
            if missing:
                box = _median_box(cache.items.values())
                _describe_in(pool, missing, root=root, jitter=jitter, flip=flip, cache=cache,
                             box=box)
        cache.save()
    return {p: cache.items[p] for p in needed}


def _describe_in(pool: FacePool, paths: Sequence[str], *, root: Path, jitter: int, flip: bool,
                 cache: Cache, box: Box | None) -> None:
    futures = [pool.submit(describe_lfw, str(root / p), p, jitter=jitter, flip=flip, box=box)
               for p in paths]
    for done, future in enumerate(futures, 1):
        item = future.result()
        cache.items[item.path] = item
        if done % 250 == 0:
            log.info("described %d of %d images", done, len(futures))
            cache.save()


def describe_lfw(file: str, path: str, *, jitter: int, flip: bool,
                 box: Box | None) -> Described:
    """One image's descriptors at every grade, in a pool worker."""
    engine = worker_engine()
    relaxed = service.get_engine(
        worker_settings().model_copy(update={"min_detection_score": RELAXED_SCORE}))
    image = load_image(Path(file), max_pixels=worker_settings().max_image_pixels)
    face, how = subject(engine, image, relaxed=relaxed, box=box)
    if face is None:
        return Described(path=path, how="none", box=None, plain=None, mirror=None, enrol=None)
    b = face.box
    return Described(
        path=path, how=how, box=(b.left, b.top, b.right, b.bottom),
        plain=service.embed(face, engine=engine),
        mirror=service.embed(service.mirrored(face), engine=engine),
        enrol=service.embed(face, jitter=jitter, flip=flip, engine=engine),
    )


def subject(engine: FaceEngine, image: Image, *, relaxed: FaceEngine | None = None,
            box: Box | None = None) -> tuple[Face | None, str]:
    """The centred face: detected; at upsample 2; with a relaxed score; or the given box."""
    attempts = [(engine, None, "detected"), (engine, 2, "upsample_2")]
    if relaxed is not None:
        attempts += [(relaxed, None, "low_score"), (relaxed, 2, "low_score")]
    for detector, upsample, how in attempts:
        face = _centred(detector.detect(image, upsample=upsample), image)
        if face is not None:
            return face, how
    if box is None:
        return None, "none"
    return engine.face_at(image, box), "centre_box"


def _centred(faces: list[Face], image: Image) -> Face | None:
    height, width = image.shape[:2]
    limit = CENTRE_TOLERANCE * max(height, width)

    def off(face: Face) -> float:
        x, y = face.box.center
        return float(np.hypot(x - width / 2, y - height / 2))

    near = [f for f in faces if off(f) <= limit]
    return min(near, key=off) if near else None


def _median_box(items: Any) -> Box:
    boxes = np.array([d.box for d in items if d.box is not None and d.how == "detected"])
    left, top, right, bottom = (int(v) for v in np.median(boxes, axis=0))
    return Box(left=left, top=top, right=right, bottom=bottom)


def pair_distances(pairs: Sequence[Pair], described: dict[str, Described], *,
                   capture: str) -> np.ndarray:
    """Enrolment descriptor to capture descriptor, per pair; no face never matches."""
    return np.array([
        _distance(described[p.enrolled].enrol, described[p.captured].grade(capture))
        for p in pairs
    ])


def _distance(a: Embedding | None, b: Embedding | None) -> float:
    return float("inf") if a is None or b is None else service.distance(a, b)


def accuracy(scores: np.ndarray, genuine: np.ndarray, threshold: float) -> float:
    return float(np.mean((scores <= threshold) == genuine))


def best_threshold(scores: np.ndarray, genuine: np.ndarray) -> float:
    """The threshold with the highest accuracy (midpoint between neighbouring distances)."""
    finite = np.sort(scores[np.isfinite(scores)])
    candidates = (finite[:-1] + finite[1:]) / 2
    correct = [accuracy(scores, genuine, t) for t in candidates]
    return float(candidates[int(np.argmax(correct))])


def fold_figures(pairs: Sequence[Pair], scores: np.ndarray, genuine: np.ndarray,
                 threshold: float) -> dict[str, Any]:
    """Per fold: accuracy at the default threshold and at one tuned on the other folds."""
    folds = np.array([p.fold for p in pairs])
    tuned, at_default, chosen = [], [], []
    for k in sorted(set(folds.tolist())):
        test, train = folds == k, folds != k
        t = best_threshold(scores[train], genuine[train]) if train.any() else threshold
        chosen.append(round(t, 3))
        tuned.append(accuracy(scores[test], genuine[test], t))
        at_default.append(accuracy(scores[test], genuine[test], threshold))
    return {
        "mean": float(np.mean(tuned)),
        "std": float(np.std(tuned)),
        "tuned": [round(a, 4) for a in tuned],
        "tuned_thresholds": chosen,
        "at_default": [round(a, 4) for a in at_default],
        "at_default_mean": float(np.mean(at_default)),
    }


def impostor_distances(pairs: Sequence[Pair], described: dict[str, Described], *,
                       capture: str) -> np.ndarray:
    """Enrolment photos against captures of every other person (all-vs-all, in blocks)."""
    e_people, e = _vectors(described, {p.enrolled for p in pairs}, grade="enrol")
    c_people, c = _vectors(described, {p.captured for p in pairs}, grade=capture)
    c_sq = (c * c).sum(axis=1)
    out = []
    for start in range(0, len(e), 512):
        block = e[start:start + 512]
        d2 = (block * block).sum(axis=1)[:, None] + c_sq[None, :] - 2.0 * block @ c.T
        other = e_people[start:start + 512, None] != c_people[None, :]
        out.append(np.sqrt(np.maximum(d2, 0.0))[other].astype(np.float32))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _vectors(described: dict[str, Described], paths: set[str], *,
             grade: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(p, described[p].grade(grade)) for p in sorted(paths)]
    kept = [(p, v) for p, v in rows if v is not None]
    people = np.array([_person(p) for p, _ in kept])
    vectors = np.array([service.scaled(v) for _, v in kept], np.float64).reshape(-1, 128)
    return people, vectors


def far_figures(impostors: np.ndarray, scores: np.ndarray, genuine: np.ndarray,
                threshold: float) -> dict[str, Any]:
    """TAR at fixed FARs; ``impostors`` are sorted different-person distances."""
    same = scores[genuine]
    out: dict[str, Any] = {"impostor_pairs": int(len(impostors)),
                           "enough": bool(len(impostors) >= MIN_IMPOSTORS)}
    for far in (1e-3, 1e-4):
        k = int(far * len(impostors))
        t = float(impostors[k]) if k < len(impostors) else float("nan")
        out[f"threshold_at_far_{far:.0e}"] = round(t, 4)
        out[f"tar_at_far_{far:.0e}"] = float(np.mean(same < t))
    out["far_at_default"] = float(np.searchsorted(impostors, threshold, "right") / len(impostors))
    out["tar_at_default"] = float(np.mean(same <= threshold))
    return out


def threshold_table(impostors: np.ndarray, scores: np.ndarray,
                    genuine: np.ndarray) -> dict[str, str]:
    """Accuracy, TAR and FAR at candidate thresholds: the figures behind the default."""
    table = {}
    for t in np.arange(0.50, 0.655, 0.01):
        far = np.searchsorted(impostors, t, "right") / max(len(impostors), 1)
        tar = np.mean(scores[genuine] <= t)
        table[f"{t:.2f}"] = (f"accuracy {accuracy(scores, genuine, t):.4f} "
                             f"TAR {tar:.4f} FAR {far:.2e}")
    return table


def detection_counts(described: dict[str, Described]) -> dict[str, int]:
    counts = {"images": len(described), "detected": 0, "upsample_2": 0, "low_score": 0,
              "centre_box": 0, "none": 0}
    for d in described.values():
        counts[d.how] += 1
    return counts


def stage_times(pairs: Sequence[Pair], *, root: Path, faces: FaceSettings, jitter: int,
                flip: bool, count: int) -> dict[str, float]:
    """Median milliseconds per stage on one core, in this process."""
    engine = service.get_engine(faces)
    engine.load()
    enrol_stage = f"embed_enrol_jitter_{jitter}{'_mirror' if flip else ''}"
    timer = _Timer()
    for path in sorted({p.enrolled for p in pairs})[:count]:
        data = (root / path).read_bytes()
        with timer("decode"):
            image = load_image(data, max_pixels=faces.max_image_pixels)
        with timer("detect"):
            found = engine.find(image)
        if not found:
            continue
        with timer("landmarks_chip"):
            face = engine.face_at(image, found[0].box, score=found[0].score)
        with timer("embed"):
            service.embed(face, engine=engine)
        with timer("embed_mirror"):
            service.embed(face, flip=True, engine=engine)
        with timer(enrol_stage):
            service.embed(face, jitter=jitter, flip=flip, engine=engine)
    return timer.medians()


class _Timer:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self._stage = ""
        self._started = 0.0

    def __call__(self, stage: str) -> _Timer:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        elapsed = (time.perf_counter() - self._started) * 1000
        self.samples.setdefault(self._stage, []).append(elapsed)

    def medians(self) -> dict[str, float]:
        return {k: round(statistics.median(v), 2) for k, v in self.samples.items()}


def pool_speed(pairs: Sequence[Pair], *, root: Path, faces: FaceSettings,
               count: int) -> dict[str, Any]:
    """Images per second through ``FacePool.describe_image`` with 1 and with 2 workers."""
    images = [(root / p).read_bytes() for p in sorted({p.captured for p in pairs})[:count]]
    out: dict[str, Any] = {"images": len(images), "cpus": os.cpu_count(),
                           "load_average_before": round(os.getloadavg()[0], 2)}
    for workers in (1, 2):
        with FacePool(faces, workers=workers) as pool:
            pool.warm_up()
            started = time.perf_counter()
            for future in [pool.describe_image(data) for data in images]:
                future.result()
            out[f"workers_{workers}_images_per_s"] = round(
                len(images) / (time.perf_counter() - started), 2)
    out["load_average_after"] = round(os.getloadavg()[0], 2)  # other work shares the cores
    out["speedup"] = round(out["workers_2_images_per_s"] / out["workers_1_images_per_s"], 2)
    return out

