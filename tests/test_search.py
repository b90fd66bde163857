"""Face search galleries: exact, approximate, persisted, rebuilt, kept in step."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete

from investigation_support import T0, City, lfw_people
from swipeguard.config import SearchSettings, Settings
from swipeguard.db import Database
from swipeguard.faces.service import distance
from swipeguard.investigations.search import FaceSearch, Gallery
from swipeguard.swipes.models import Capture

People = tuple[tuple[np.ndarray, ...], ...]


@pytest.fixture
def people(samples: Path) -> People:
    return lfw_people(samples)


@pytest.fixture
def city(sqlite_db: Database, people: People) -> City:
    c = City(sqlite_db)
    c.facility("North")
    c.holder("6200000000000001", [people[0][0]])
    c.holder("6200000000000002", [people[1][0], people[1][1]])
    for p, photos in enumerate(people):
        for i, face in enumerate(photos[1:]):
            c.swipe(f"62000000000000{p + 1:02d}", "North", T0 + timedelta(hours=p * 10 + i),
                    face=face)
    return c


def others(people: People, count: int, seed: int = 7) -> np.ndarray:
    """Descriptors of made-up people: real descriptors of different people blended."""
    rng = np.random.default_rng(seed)
    real = np.concatenate([np.stack(p) for p in people])
    a, b = rng.integers(0, len(real), (2, count))
    w = rng.uniform(0.2, 0.8, (count, 1)).astype(np.float32)
    noise = rng.normal(0, 0.03, (count, real.shape[1])).astype(np.float32)
    return (w * real[a] + (1 - w) * real[b] + noise).astype(np.float32)


def test_search_finds_the_same_persons_captures_and_enrolled_photos(
    city: City, settings: Settings, sqlite_db: Database, people: People,
) -> None:
    search = FaceSearch(settings, sqlite_db)

    search.sync()
    [captures] = search.captures.search(people[2][0], 4)
    [enrolled] = search.enrolled.search(people[1][2], 3)

    assert search.captures.size == 4 * len(people) and search.enrolled.size == 3
    assert not search.captures.approximate
    with sqlite_db.transaction() as s:
        swipes = {s.get(Capture, h.id).swipe.card_no for h in captures}
    assert swipes == {"6200000000000003"}
    assert [h.distance for h in captures] == sorted(h.distance for h in captures)
    assert captures[0].distance == pytest.approx(
        min(distance(people[2][0], f) for f in people[2][1:]), abs=1e-4)
    assert {h.id for h in enrolled[:2]} == {2, 3}  # the second holder's two photos


def test_the_index_is_saved_and_loaded_without_reading_the_database_again(
    city: City, settings: Settings, sqlite_db: Database,
) -> None:
    first = FaceSearch(settings, sqlite_db)
    first.sync()
    first.save()

    again = FaceSearch(settings, sqlite_db)
    reports = again.sync()

    assert (settings.data_dir / "index" / "captures.faiss").exists()
    assert [(r.added, r.rebuilt) for r in reports] == [(0, False), (0, False)]
    assert again.captures.size == first.captures.size


def test_a_deleted_index_is_rebuilt_from_the_database(
    city: City, settings: Settings, sqlite_db: Database, people: People,
) -> None:
    first = FaceSearch(settings, sqlite_db)
    first.sync()
    first.save()
    (settings.data_dir / "index" / "captures.faiss").unlink()

    again = FaceSearch(settings, sqlite_db)
    [captures, enrolled] = again.sync()

    assert captures.added == 4 * len(people) and enrolled.added == 0
    assert again.captures.search(people[0][1], 1)[0][0].distance == pytest.approx(0, abs=1e-5)


def test_a_damaged_index_or_one_that_disagrees_with_the_database_is_rebuilt(
    city: City, settings: Settings, sqlite_db: Database, people: People,
) -> None:
    first = FaceSearch(settings, sqlite_db)
    first.sync()
    first.save()
    (settings.data_dir / "index" / "enrolled.faiss").write_bytes(b"not an index")
    with sqlite_db.transaction() as s:
        s.execute(delete(Capture).where(Capture.id == 1))

    again = FaceSearch(settings, sqlite_db)
    [captures, enrolled] = again.sync(check=True)

    assert captures.rebuilt and captures.size == 4 * len(people) - 1
    assert 1 not in set(again.captures.ids().tolist())
    assert enrolled.added == 3 and enrolled.size == 3


def test_new_captures_are_found_on_the_next_search(
    city: City, settings: Settings, sqlite_db: Database, people: People,
) -> None:
    search = FaceSearch(settings, sqlite_db)
    search.sync()
    made = city.swipe("6200000000000001", "North", T0 + timedelta(days=9), face=people[5][0])

    [report, _] = search.sync()

    assert report.added == 1
    assert search.captures.search(people[5][0], 1)[0][0].id == made.capture_id


def test_the_approximate_index_gives_the_exact_top_hit(people: People) -> None:
    gallery_vectors = np.concatenate([others(people, 600), *[np.stack(p[1:]) for p in people]])
    ids = np.arange(1, len(gallery_vectors) + 1, dtype=np.int64)
    exact = Gallery(name="exact", path=None, settings=SearchSettings())
    approximate = Gallery(name="approx", path=None, settings=SearchSettings(exact_below=100))
    queries = np.stack([p[0] for p in people])

    exact.add(ids[:50], gallery_vectors[:50])
    approximate.add(ids[:50], gallery_vectors[:50])
    was_exact = not approximate.approximate
    exact.add(ids[50:], gallery_vectors[50:])
    approximate.add(ids[50:], gallery_vectors[50:])

    assert was_exact and approximate.approximate and not exact.approximate
    assert approximate.size == exact.size == len(gallery_vectors)
    for want, got in zip(exact.search(queries, 5), approximate.search(queries, 5), strict=True):
        assert got[0].id == want[0].id
        assert got[0].distance == pytest.approx(want[0].distance, abs=1e-4)


def test_bad_descriptors_are_refused(people: People) -> None:
    gallery = Gallery(name="g", path=None, settings=SearchSettings())

    with pytest.raises(ValueError, match="finite"):
        gallery.add(np.array([1]), np.full((1, 128), np.nan, np.float32))
    with pytest.raises(ValueError, match="2 ids for 1"):
        gallery.add(np.array([1, 2]), people[0][0])
    assert gallery.size == 0
