"""``swipeguard bench search``: face search latency and recall on a city-sized gallery.

Real descriptors cannot reach millions, so the gallery is drawn from a model fitted to
real ones: the descriptors of every photo of the LFW development half (the face nearest
the centre, through the product's face engine). People with two or more photos give
identity means and within-person residuals. Identity centres are drawn from a Gaussian
fitted to the real means (their covariance less the share of within-person noise left
in a mean of k photos); each capture is its person's centre plus a Gaussian draw with
the pooled within-person covariance. A person has 1 + Poisson(per_person - 1) captures.
The report compares the model's same- and different-person distances with the real
ones, so the fit can be judged, and reads LFW's development pairs into the plain-
language distance bands the API gives.

Queries are fresh captures of people in the gallery; recall@10 is the share of the
exact (flat) index's ten nearest that the measured index also returns. Built indexes,
the exact answers and LFW's descriptors are cached under ``--cache-dir``.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from swipeguard.config import SearchSettings, get_settings
from swipeguard.investigations.search import ef_search_for

log = logging.getLogger(__name__)

NAME = "search"
HELP = "face search latency and recall@10 on a synthetic gallery fitted to real faces"

DIM = 128
F32 = npt.NDArray[np.float32]
CHUNK = 1_000_000  # captures generated and added per step: 512 MB of float32
MODEL_VERSION = 1  # bump when the generator changes, so cached indexes are not reused


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = get_settings()
    parser.add_argument("--gallery", type=int, default=1_000_000, help="captures in the gallery")
    parser.add_argument("--queries", type=int, default=200, help="queries timed and checked")
    parser.add_argument("--index", default=settings.search.approximate,
                        help="FAISS factory string (default: search.approximate)")
    parser.add_argument("--params", default=settings.search.approximate_params,
                        help="build and search parameters (default: search.approximate_params)")
    parser.add_argument("--sweep", default="",
                        help="more search parameters to measure, ';'-separated, "
                             "e.g. 'efSearch=64;efSearch=256'")
    parser.add_argument("--per-person", type=float, default=5.0,
                        help="mean captures per person in the gallery")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=Path, default=Path("../shared/data"),
                        help="the shared sample data (LFW is read once, then cached)")
    parser.add_argument("--cache-dir", type=Path,
                        help="default: DATA_DIR/cache/search under swipeguard's data directory")
    parser.add_argument("--exact-sizes", default="50000,200000,500000",
                        help="gallery sizes at which exact search latency is measured")


def run(args: argparse.Namespace) -> dict[str, Any]:
    cache = args.cache_dir or get_settings().data_dir / "cache" / "search"
    started = time.perf_counter()
    faces = lfw_faces(args.samples, cache)
    model = IdentityModel.fit(faces)
    gallery = Gallery(model, size=args.gallery, per_person=args.per_person, seed=args.seed)
    queries = gallery.queries(args.queries)
    truth = exact_answers(gallery, queries, cache)
    built = built_index(gallery, args.index, args.params, cache)

    # The product widens HNSW's search as the gallery grows; measure what it would use.
    ef = ef_search_for(args.gallery, args.params)
    params = args.params if ef is None else _with(args.params, "efSearch", ef)
    result: dict[str, Any] = {
        "gallery": args.gallery,
        "people": gallery.people,
        "queries": args.queries,
        "index": args.index,
        "build": built.figures,
        "memory": {"index_bytes": built.bytes, "process_peak_rss_bytes": _peak_rss()},
        "search": {params or "default": measure(built.index, params, queries, truth)},
        "model": model.figures(faces, gallery),
        "bands": band_figures(faces, args.samples, get_settings().verification.threshold),
    }
    for params in filter(None, (p.strip() for p in args.sweep.split(";"))):
        result["search"][params] = measure(built.index, params, queries, truth)
    sizes = [int(s) for s in args.exact_sizes.split(",") if s.strip()]
    result["exact_latency_ms"] = exact_latency(model, sizes, queries[:50], args.seed)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    return result


def _with(params: str, name: str, value: float) -> str:
    """``params`` with ``name`` set to ``value``."""
    kept = [p for p in params.split(",") if p and p.split("=")[0].strip() != name]
    return ",".join([*kept, f"{name}={value:g}"])


# --- real descriptors -------------------------------------------------------------------


@dataclass(frozen=True)
class FaceSet:
    """Descriptors of real photos with an integer person label each (no names kept)."""

    descriptors: F32  # (n, 128)
    labels: npt.NDArray[np.int32]  # (n,) index of the person's folder in sorted order
    numbers: npt.NDArray[np.int32]  # (n,) the photo's number within its folder (1-based)


def lfw_faces(samples: Path, cache_dir: Path) -> FaceSet:
    """Descriptors of every LFW development photo, computed once and cached."""
    cache = cache_dir / "lfw-dev-descriptors.npz"
    if cache.exists():
        with np.load(cache) as z:
            return FaceSet(z["descriptors"].astype(np.float32), z["labels"].astype(np.int32),
                           z["numbers"].astype(np.int32))
    root = samples / "faces" / "lfw"
    people = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not people:
        raise FileNotFoundError(f"no LFW folders under {root}; pass --samples")
    photos = [(label, f) for label, p in enumerate(people) for f in sorted(p.glob("*.jpg"))]
    log.info("computing descriptors of %s photos (once; cached)", len(photos))
    started = time.monotonic()
    vectors, labels, numbers = [], [], []
    for i, (label, path) in enumerate(photos):
        vector = _centred_descriptor(path)
        if vector is not None:
            vectors.append(vector)
            labels.append(label)
            numbers.append(int(path.stem.rsplit("_", 1)[-1]))
        if i % 500 == 499:
            log.info("%s/%s photos, %.0f s", i + 1, len(photos), time.monotonic() - started)
    faces = FaceSet(np.asarray(vectors, np.float32), np.asarray(labels, np.int32),
                    np.asarray(numbers, np.int32))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, descriptors=faces.descriptors, labels=faces.labels, numbers=faces.numbers)
    tmp.replace(cache)
    return faces


def _centred_descriptor(path: Path) -> F32 | None:
    from PIL import Image

    from swipeguard.investigations.faces import centred_embedding

    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"))
    return centred_embedding(rgb)


# --- the identity model -----------------------------------------------------------------


@dataclass(frozen=True)
class IdentityModel:
    """Centres ~ N(mean, between); a capture = its centre + N(0, within)."""

    mean: F32
    between_root: F32  # (128, 128): centres = mean + z @ between_root
    within_root: F32

    @classmethod
    def fit(cls, faces: FaceSet) -> IdentityModel:
        labels, counts = np.unique(faces.labels, return_counts=True)
        multi = labels[counts >= 2]
        means, residuals, shares = [], [], []
        for label in multi:
            rows = faces.descriptors[faces.labels == label]
            k = len(rows)
            means.append(rows.mean(axis=0))
            # sqrt(k/(k-1)) makes residuals about a sample mean unbiased for the noise.
            residuals.append((rows - rows.mean(axis=0)) * np.sqrt(k / (k - 1)))
            shares.append(1.0 / k)
        within = np.cov(np.concatenate(residuals), rowvar=False)
        of_means = np.cov(np.stack(means), rowvar=False)
        between = of_means - float(np.mean(shares)) * within
        return cls(np.stack(means).mean(axis=0).astype(np.float32),
                   _root(between), _root(within))

    def centres(self, count: int, rng: np.random.Generator) -> F32:
        z = rng.standard_normal((count, DIM), dtype=np.float32)
        return (self.mean + z @ self.between_root).astype(np.float32)

    def captures(self, centres: F32, rng: np.random.Generator) -> F32:
        z = rng.standard_normal(centres.shape, dtype=np.float32)
        return (centres + z @ self.within_root).astype(np.float32)

    def figures(self, faces: FaceSet, gallery: Gallery) -> dict[str, Any]:
        """Median same-/different-person distances: real LFW against the model."""
        rng = np.random.default_rng(5)
        centres = self.centres(2000, rng)
        a, b = self.captures(centres, rng), self.captures(centres, rng)
        same_model = np.linalg.norm(a - b, axis=1)
        diff_model = np.linalg.norm(a - np.roll(b, 1, axis=0), axis=1)
        same_real, diff_real = _real_distances(faces, rng)
        return {
            "fitted_on": f"{len(faces.descriptors)} LFW development photos of "
                         f"{len(np.unique(faces.labels))} people",
            "same_person_median": {"real": _r(np.median(same_real)),
                                   "model": _r(np.median(same_model))},
            "different_people_median": {"real": _r(np.median(diff_real)),
                                        "model": _r(np.median(diff_model))},
            "different_people_p001": {"real": _r(np.quantile(diff_real, 0.001)),
                                      "model": _r(np.quantile(diff_model, 0.001))},
            "captures_per_person_mean": _r(gallery.size / gallery.people),
        }


def _root(cov: np.ndarray) -> F32:
    """A symmetric square root, negative eigenvalues (sampling noise) clipped to ~0."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    values = np.clip(values, 1e-8, None)
    return ((vectors * np.sqrt(values)) @ vectors.T).astype(np.float32)


def _real_distances(faces: FaceSet, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x, labels = faces.descriptors, faces.labels
    a, b = rng.integers(0, len(x), (2, 200_000))
    different = labels[a] != labels[b]
    same = [np.linalg.norm(rows[:, None] - rows[None], axis=2)[np.triu_indices(len(rows), 1)]
            for label in np.unique(labels)
            if len(rows := x[labels == label]) >= 2]
    return np.concatenate(same), np.linalg.norm(x[a[different]] - x[b[different]], axis=1)


def _r(x: float) -> float:
    return round(float(x), 4)


# --- the synthetic gallery --------------------------------------------------------------


class Gallery:
    """A deterministic synthetic gallery: people, their captures in chunks, and queries."""

    def __init__(self, model: IdentityModel, *, size: int, per_person: float, seed: int):
        self.model, self.size, self.seed = model, size, seed
        rng = np.random.default_rng([seed, 0])
        counts = 1 + rng.poisson(max(per_person - 1, 0), size=size)
        counts = counts[:int(np.searchsorted(np.cumsum(counts), size)) + 1]
        counts[-1] -= int(counts.sum()) - size
        self.counts = counts[counts > 0]
        self.people = len(self.counts)
        self.centres = model.centres(self.people, np.random.default_rng([seed, 1]))
        self.key = f"v{MODEL_VERSION}-n{size}-p{per_person:g}-s{seed}"

    def chunks(self) -> Any:
        """(ids, captures) in chunks; ids are positions 0..size-1."""
        owner = np.repeat(np.arange(self.people), self.counts)
        for start in range(0, self.size, CHUNK):
            rng = np.random.default_rng([self.seed, 2, start])
            ids = np.arange(start, min(start + CHUNK, self.size), dtype=np.int64)
            yield ids, self.model.captures(self.centres[owner[ids]], rng)

    def queries(self, count: int) -> F32:
        """Fresh captures of people in the gallery."""
        rng = np.random.default_rng([self.seed, 3])
        who = rng.integers(0, self.people, count)
        return self.model.captures(self.centres[who], rng)


def exact_answers(gallery: Gallery, queries: F32, cache: Path, k: int = 10) -> np.ndarray:
    """The exact ten nearest ids of each query (flat L2), cached."""
    path = cache / f"exact-{gallery.key}-q{len(queries)}-k{k}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    best_d = np.full((len(queries), k), np.inf, np.float32)
    best_i = np.full((len(queries), k), -1, np.int64)
    for ids, vectors in gallery.chunks():
        flat = faiss.IndexFlatL2(DIM)
        flat.add(vectors)
        d, i = flat.search(queries, k)
        merged_d = np.concatenate([best_d, d], axis=1)
        merged_i = np.concatenate([best_i, ids[i]], axis=1)
        order = np.argsort(merged_d, axis=1)[:, :k]
        best_d = np.take_along_axis(merged_d, order, axis=1)
        best_i = np.take_along_axis(merged_i, order, axis=1)
    log.info("exact answers in %.0f s", time.perf_counter() - started)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, best_i)
    return best_i


@dataclass
class Built:
    index: Any
    bytes: int
    figures: dict[str, Any]


def built_index(gallery: Gallery, factory: str, params: str, cache: Path) -> Built:
    """The index over the gallery, built once and cached on disk (with its build figures)."""
    build_params = ",".join(p for p in params.split(",") if p.startswith("efConstruction"))
    slug = "".join(c if c.isalnum() else "_" for c in f"{factory}-{build_params}")
    path = cache / f"index-{gallery.key}-{slug}.faiss"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        started = time.perf_counter()
        index = faiss.read_index(str(path))
        figures = json.loads(meta.read_text()) | {
            "cached": True, "load_s": round(time.perf_counter() - started, 1)}
        return Built(index, path.stat().st_size, figures)
    index, figures = build(gallery, factory, params)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    faiss.write_index(index, str(tmp))
    tmp.replace(path)
    meta.write_text(json.dumps(figures))
    return Built(index, path.stat().st_size, figures | {"cached": False})


def build(gallery: Gallery, factory: str, params: str) -> tuple[Any, dict[str, Any]]:
    from swipeguard.investigations.search import build_approximate

    settings = SearchSettings.model_validate({"approximate": factory,
                                              "approximate_params": params})
    started = time.perf_counter()
    index = None
    for ids, vectors in gallery.chunks():
        if index is None:
            index = build_approximate(settings, ids, vectors)  # trains on the first chunk
        else:
            index.add_with_ids(vectors, ids)
        log.info("indexed %s of %s in %.0f s", int(ids[-1]) + 1, gallery.size,
                 time.perf_counter() - started)
    return index, {"build_s": round(time.perf_counter() - started, 1),
                   "threads": faiss.omp_get_max_threads()}


def measure(index: Any, params: str, queries: F32, truth: np.ndarray) -> dict[str, Any]:
    """Per-query latency (one query at a time, one thread) and recall@10."""
    if params:
        space: Any = faiss.ParameterSpace()
        space.set_index_parameters(index, params)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index.search(queries[:5], 10)  # warm caches
        times, found = [], []
        for q in queries:
            started = time.perf_counter()
            _, ids = index.search(q.reshape(1, DIM), 10)
            times.append((time.perf_counter() - started) * 1000)
            found.append(ids[0])
    finally:
        faiss.omp_set_num_threads(threads)
    recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / 10
                      for f, t in zip(found, truth, strict=True)]))
    return {"median_ms": _r(np.median(times)), "p95_ms": _r(np.percentile(times, 95)),
            "max_ms": _r(np.max(times)), "recall_at_10": _r(recall)}


def exact_latency(model: IdentityModel, sizes: list[int], queries: F32,
                  seed: int) -> dict[str, float]:
    """Median single-query latency of exact (flat) search at a few gallery sizes (1 thread)."""
    out = {}
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for size in sizes:
            out[str(size)] = _exact_latency_at(model, size, queries, seed)
    finally:
        faiss.omp_set_num_threads(threads)
    return out


def _exact_latency_at(model: IdentityModel, size: int, queries: F32, seed: int) -> float:
    gallery = Gallery(model, size=size, per_person=5, seed=seed + 100)
    flat = faiss.IndexFlatL2(DIM)
    for _, vectors in gallery.chunks():
        flat.add(vectors)
    times = []
    for q in queries:
        started = time.perf_counter()
        flat.search(q.reshape(1, DIM), 10)
        times.append((time.perf_counter() - started) * 1000)
    return _r(float(np.median(times)))


# --- what distances mean ----------------------------------------------------------------


def band_figures(faces: FaceSet, samples: Path, threshold: float) -> dict[str, Any]:
    """LFW development pairs per distance band: how many were one person."""
    from swipeguard.investigations.service import BANDS

    pairs = _dev_pairs(faces, samples)
    if not pairs:
        return {}
    same = np.array([d for d, s in pairs if s])
    different = np.array([d for d, s in pairs if not s])
    out: dict[str, Any] = {"pairs": len(pairs)}
    lower = 0.0
    for offset, words in BANDS:
        upper = threshold + offset
        s = int(((same > lower) & (same <= upper)).sum())
        d = int(((different > lower) & (different <= upper)).sum())
        out[words] = {"to": _r(upper) if np.isfinite(upper) else None, "same": s,
                      "different": d, "share_same": _r(s / max(1, s + d))}
        lower = upper
    return out


def _dev_pairs(faces: FaceSet, samples: Path) -> list[tuple[float, bool]]:
    lfw = samples / "faces" / "lfw"
    pairs_file = lfw / "pairs-dev.txt"
    if not pairs_file.exists():
        return []
    label_of = {p.name: i for i, p in enumerate(sorted(p for p in lfw.iterdir() if p.is_dir()))}
    row = {(int(lb), int(n)): i for i, (lb, n) in enumerate(zip(faces.labels, faces.numbers,
                                                                   strict=True))}
    found = []
    for line in pairs_file.read_text().splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) == 3:
            a = row.get((label_of[cols[0]], int(cols[1])))
            b = row.get((label_of[cols[0]], int(cols[2])))
        else:
            a = row.get((label_of[cols[0]], int(cols[1])))
            b = row.get((label_of[cols[2]], int(cols[3])))
        if a is not None and b is not None:
            d = float(np.linalg.norm(faces.descriptors[a] - faces.descriptors[b]))
            found.append((d, len(cols) == 3))
    return found


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
