"""Face search: FAISS galleries of capture descriptors and of enrolled templates.

A gallery maps a database row id (a capture or an enrolled photo) to its descriptor.
Below ``search.exact_below`` descriptors it is an exact flat L2 index; when it grows
past that it is rebuilt once as the approximate index ``search.approximate`` (HNSW by
default; ``swipeguard bench search`` measured why) and grows from there.

Each gallery is persisted to ``data_dir/index/<name>.faiss`` (written to a temporary
file, then renamed, so a crash leaves the previous file) and kept in step with the
database: new rows are added by id on every sync; a file that is missing, unreadable
or disagrees with the database's row count is rebuilt from the database.

Distances returned are Euclidean (FAISS gives squared L2; we take the root), the
same scale as the verification threshold.

Measured with ``swipeguard bench search`` on this machine (2 cores shared with other
work) over galleries drawn from a model fitted to LFW descriptors, one query at a time
on one thread, recall@10 against exact search:

==========  ============================  ==========  =========  ======  ==========
gallery     index                         efSearch    median     p95     recall@10
==========  ============================  ==========  =========  ======  ==========
200k        flat (exact)                  -           3.3 ms     3.6 ms  1.0
1M          flat (exact)                  -           19 ms      20 ms   1.0
2M          flat (exact)                  -           38 ms      40 ms   1.0
1M          IVF4096,Flat nprobe=256       -           1.7 ms     5.8 ms  0.94
1M          HNSW32,Flat (efConstr. 40)    1024        3.4 ms     3.9 ms  0.9965
1M          HNSW32,SQfp16 (efConstr. 40)  1024        3.5 ms     4.1 ms  0.9955
7M          HNSW32,Flat (efConstr. 40)    1024        5.0 ms     5.5 ms  0.967
7M          HNSW32,Flat (efConstr. 40)    4096        34 ms      40 ms   0.9925
7M          HNSW32,SQfp16 (efConstr. 40)  2048        9.4 ms     13 ms   0.9875
7M          HNSW32,SQfp16 (efConstr. 40)  4096        21 ms      26 ms   0.993
==========  ============================  ==========  =========  ======  ==========

The default is HNSW32 over float16 vectors: at 7M it takes 3.75 GB (against 5.5 GB
with float32 vectors) and built in 31 min on two cores (57 min for float32, on a busier
machine); 1M takes 0.54 GB and about 2 min. Exact search doubles in time
on two threads of a loaded machine (one query cannot use both cores well), so the
switch comes at 200k (``search.exact_below``), where exact search stays within a few
milliseconds and the graph takes about a minute to build; past 1-2M exact search would
break the 50 ms budget.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from swipeguard.cardholders.models import EnrolledPhoto
from swipeguard.config import SearchSettings, Settings
from swipeguard.db import Database
from swipeguard.faces import service as faces
from swipeguard.investigations.faces import DIM
from swipeguard.swipes.models import Capture

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]  # (n, 128)
Ids = npt.NDArray[np.int64]  # (n,)

# Rows read from the database per query while catching up: ~25 MB of descriptors.
BATCH = 50_000
# HNSW needs a wider search as the gallery grows to keep its recall: measured with
# `swipeguard bench search` (HNSW32, efConstruction 40), efSearch 1024 gave recall@10
# 0.997 at 1M but 0.967 at 7M, where 4096 gave 0.993. So efSearch grows in proportion
# to the gallery beyond 1.75M descriptors (reaching 4096 at 7M), up to a cap.
EF_GROWS_FROM = 1_750_000
EF_CAP = 16_384


@dataclass(frozen=True, slots=True)
class Hit:
    """A row of a gallery and its Euclidean distance from the query."""

    id: int
    distance: float


class Gallery:
    """One FAISS index keyed by row id; exact while small, approximate once large.

    Thread-safe: searches and additions take a lock (FAISS does not allow adding while
    searching); the one-off rebuild as an approximate index happens outside it.
    """

    def __init__(self, *, name: str, path: Path | None, settings: SearchSettings) -> None:
        self.name = name
        self.path = path
        self.settings = settings
        self._lock = threading.RLock()
        self._index: Any = self._new_flat()
        self.max_id = 0
        self.unsaved = 0

    # -- state ---------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def approximate(self) -> bool:
        return not isinstance(faiss.downcast_index(self._index.index), faiss.IndexFlat)

    def ids(self) -> Ids:
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def reset(self) -> None:
        with self._lock:
            self._index = self._new_flat()
            self.max_id = 0
            self.unsaved = 0

    # -- adding and searching ------------------------------------------------------------

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Adds descriptors under their row ids (ids must not be in the gallery yet)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = _as_matrix(vectors)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} descriptors")
        if not len(ids):
            return
        with self._lock:
            self._index.add_with_ids(vectors, ids)
            self.max_id = max(self.max_id, int(ids.max()))
            self.unsaved += len(ids)
        if not self.approximate and self.size >= self.settings.exact_below:
            self._become_approximate()

    def search(self, queries: Vectors, k: int) -> list[list[Hit]]:
        """The ``k`` nearest rows for each query, nearest first."""
        queries = _as_matrix(queries)
        with self._lock:
            if self.size == 0 or not len(queries):
                return [[] for _ in range(len(queries))]
            self._widen_search()
            squared, ids = self._index.search(queries, min(k, self.size))
        return [
            [Hit(int(i), float(np.sqrt(max(d, 0.0)))) for d, i in zip(row_d, row_i, strict=True)
             if i >= 0]
            for row_d, row_i in zip(squared, ids, strict=True)
        ]

    # -- persistence ---------------------------------------------------------------------

    def save(self) -> None:
        """Writes the index atomically: a temporary file renamed over the old one."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with self._lock:
            started = time.monotonic()
            faiss.write_index(self._index, str(tmp))
            self.unsaved = 0
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        tmp.replace(self.path)
        log.info("gallery %s saved: %s descriptors in %.1f s", self.name, self.size,
                 time.monotonic() - started)

    def load(self) -> bool:
        """Reads the persisted index; False if there is none or it cannot be read."""
        if self.path is None or not self.path.exists():
            return False
        try:
            index = faiss.read_index(str(self.path))
        except RuntimeError as e:
            log.warning("gallery %s: cannot read %s (%s); it will be rebuilt", self.name,
                        self.path.name, e)
            return False
        if not isinstance(index, faiss.IndexIDMap) or index.d != DIM:
            log.warning("gallery %s: %s is not an id-mapped %s-d index; it will be rebuilt",
                        self.name, self.path.name, DIM)
            return False
        if not isinstance(faiss.downcast_index(index.index), faiss.IndexFlat):
            _set_parameters(index, self.settings.approximate_params)
        ids = faiss.vector_to_array(index.id_map)
        with self._lock:
            self._index = index
            self.max_id = int(ids.max()) if len(ids) else 0
            self.unsaved = 0
        return True

    # -- internals -----------------------------------------------------------------------

    def _widen_search(self) -> None:
        """Sets an HNSW index's efSearch for the gallery's size (see EF_GROWS_FROM)."""
        hnsw = getattr(faiss.downcast_index(self._index.index), "hnsw", None)
        wanted = ef_search_for(self.size, self.settings.approximate_params)
        if hnsw is not None and wanted is not None and hnsw.efSearch != wanted:
            hnsw.efSearch = wanted

    def _new_flat(self) -> Any:
        return faiss.IndexIDMap(faiss.IndexFlatL2(DIM))

    def _become_approximate(self) -> None:
        """Rebuilds the flat index as the approximate one; searches go on meanwhile."""
        with self._lock:
            if self.approximate:
                return
            flat = self._index
            ids, vectors = _flat_contents(flat)
        started = time.monotonic()
        built = build_approximate(self.settings, ids, vectors)
        with self._lock:
            if self._index is not flat:
                return  # reset or reloaded meanwhile
            tail_ids, tail_vectors = _flat_contents(flat, start=len(ids))
            if len(tail_ids):
                built.add_with_ids(tail_vectors, tail_ids)
            self._index = built
            self.unsaved = self.size
        log.info("gallery %s now approximate (%s) at %s descriptors, built in %.1f s",
                 self.name, self.settings.approximate, self.size, time.monotonic() - started)


def build_approximate(settings: SearchSettings, ids: Ids, vectors: Vectors) -> Any:
    """An id-mapped approximate index of ``vectors``, trained on them if it needs it."""
    index = faiss.index_factory(DIM, f"IDMap,{settings.approximate}")
    _set_parameters(index, settings.approximate_params)
    if not index.is_trained:
        # k-means needs ~40 points per centroid (FAISS warns below 39); 64 is plenty.
        ivf = faiss.try_extract_index_ivf(index)
        wanted = 64 * ivf.nlist if ivf is not None else 100_000
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(len(vectors), min(len(vectors), wanted), replace=False)]
        index.train(sample)
    for start in range(0, len(ids), 200_000):
        index.add_with_ids(vectors[start:start + 200_000], ids[start:start + 200_000])
    return index


def ef_search_for(size: int, params: str) -> int | None:
    """The efSearch used for a gallery of ``size``: the configured one, grown with size."""
    base = _param(params, "efSearch")
    if base is None:
        return None
    return int(min(EF_CAP, max(base, base * size / EF_GROWS_FROM)))


def _param(params: str, name: str) -> float | None:
    """One value of a ``name=value,...`` parameter string."""
    for part in params.split(","):
        key, _, value = part.partition("=")
        if key.strip() == name and value.strip():
            return float(value)
    return None


def _set_parameters(index: Any, params: str) -> None:
    """Applies ``name=value,...`` (efSearch, nprobe, ...) through FAISS's ParameterSpace."""
    if params:
        space: Any = faiss.ParameterSpace()
        space.set_index_parameters(index, params)


def _flat_contents(index: Any, start: int = 0) -> tuple[Ids, Vectors]:
    ids = faiss.vector_to_array(index.id_map)[start:].astype(np.int64)
    flat = faiss.downcast_index(index.index)
    n = int(flat.ntotal) - start
    vectors = flat.reconstruct_n(start, n) if n > 0 else np.zeros((0, DIM), np.float32)
    return ids, np.ascontiguousarray(vectors, dtype=np.float32)


def _as_matrix(vectors: Vectors) -> Vectors:
    """Descriptors as the index holds them: rows at one common length (see ``faces``)."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, DIM)
    if not np.isfinite(matrix).all():
        raise ValueError("descriptors must be finite numbers")
    return faces.scaled_rows(matrix)


# --- galleries kept in step with the database -------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    gallery: str
    added: int
    rebuilt: bool
    size: int


class FaceSearch:
    """The captures gallery and the enrolled-templates gallery of one deployment."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        index_dir = settings.data_dir / "index"
        self.captures = Gallery(name="captures", path=index_dir / "captures.faiss",
                                settings=settings.search)
        self.enrolled = Gallery(name="enrolled", path=index_dir / "enrolled.faiss",
                                settings=settings.search)
        self._sync_lock = threading.Lock()
        self._loaded = False

    def galleries(self) -> list[tuple[Gallery, type]]:
        return [(self.captures, Capture), (self.enrolled, EnrolledPhoto)]

    def sync(self, *, check: bool = False, only: Gallery | None = None) -> list[SyncReport]:
        """Adds the rows the galleries (or ``only`` one) lack, reading the saved files on
        first use.

        ``check`` also compares counts with the database and rebuilds a gallery that
        disagrees (rows deleted, or ids reused): the indexing worker does it when it
        starts and hourly, so that a search need not wait for a count of every row.
        """
        with self._sync_lock:
            if not self._loaded:
                self._load()
            reports = [self._sync_one(g, model, check=check) for g, model in self.galleries()
                       if only is None or g is only]
        return reports

    def _load(self) -> None:
        """Reads both saved galleries at once (most of the time is copying into memory)."""
        started = time.monotonic()
        with ThreadPoolExecutor(2, thread_name_prefix="gallery-load") as pool:
            found = list(pool.map(lambda g: g.load(), [g for g, _ in self.galleries()]))
        self._loaded = True
        log.info("galleries read in %.1f s (%s)", time.monotonic() - started,
                 ", ".join(f"{g.name}: {g.size if ok else 'none saved'}"
                           for (g, _), ok in zip(self.galleries(), found, strict=True)))

    def save(self, *, min_share: float = 0.0) -> None:
        """Writes each gallery with unsaved additions, at least ``min_share`` of its size."""
        for gallery, _ in self.galleries():
            if gallery.unsaved and gallery.unsaved >= min_share * gallery.size:
                gallery.save()

    def rebuild(self) -> list[SyncReport]:
        """Discards both galleries and reads every descriptor from the database again."""
        with self._sync_lock:
            for gallery, _ in self.galleries():
                gallery.reset()
            reports = [self._sync_one(g, model, check=False) for g, model in self.galleries()]
            self._loaded = True
        self.save()
        return reports

    def _sync_one(self, gallery: Gallery, model: type, *, check: bool) -> SyncReport:
        rebuilt = False
        with self.db.sessions() as session:
            if check and not _agrees(session, gallery, model):
                log.warning("gallery %s disagrees with the database; rebuilding", gallery.name)
                gallery.reset()
                rebuilt = True
            added = 0
            for ids, vectors in _rows_after(session, model, gallery.max_id):
                gallery.add(ids, vectors)
                added += len(ids)
        if added:
            log.debug("gallery %s: %s descriptors added", gallery.name, added)
        return SyncReport(gallery.name, added, rebuilt, gallery.size)


def _agrees(session: Session, gallery: Gallery, model: Any) -> bool:
    """The gallery holds exactly the database's rows up to its highest id."""
    in_db = session.scalar(select(func.count()).select_from(model).where(
        model.id <= gallery.max_id)) or 0
    return int(in_db) == gallery.size


def _rows_after(session: Session, model: Any, after: int) -> Iterator[tuple[Ids, Vectors]]:
    last = after
    while True:
        query: Select[Any] = (select(model.id, model.descriptor).where(model.id > last)
                              .order_by(model.id).limit(BATCH))
        rows = session.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        good = [(i, d) for i, d in rows if d is not None and len(d) == DIM * 4]
        if len(good) < len(rows):
            log.warning("%s rows of %s with unusable descriptors skipped",
                        len(rows) - len(good), model.__tablename__)
        if good:
            ids = np.fromiter((i for i, _ in good), dtype=np.int64, count=len(good))
            blob = b"".join(d for _, d in good)
            yield ids, np.frombuffer(blob, dtype="<f4").reshape(-1, DIM).astype(np.float32)


# One FaceSearch per data directory and database in a process, so the API and the
# indexing worker of `swipeguard serve` share one copy of a multi-gigabyte index.
_OPEN: dict[tuple[str, str], FaceSearch] = {}
_OPEN_LOCK = threading.Lock()


def open_search(settings: Settings, db: Database) -> FaceSearch:
    """The process's FaceSearch for this deployment (created on first use)."""
    key = (str(settings.data_dir.resolve()), db.engine.url.render_as_string())
    with _OPEN_LOCK:
        found = _OPEN.get(key)
        if found is None or found.db is not db:
            found = _OPEN[key] = FaceSearch(settings, db)
        return found


def close_search(settings: Settings, db: Database) -> None:
    key = (str(settings.data_dir.resolve()), db.engine.url.render_as_string())
    with _OPEN_LOCK:
        _OPEN.pop(key, None)
