"""Generated counter footage, checked the way the product will use it: decoded with PyAV,
faces found and compared by the face service (dlib), on real LFW faces (development folds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from swipeguard.config import FaceSettings
from swipeguard.faces import service
from swipeguard.faces.types import Box, Face
from swipeguard.scenario import (
    Expected,
    Passer,
    Plan,
    PlannedSwipe,
    Scenario,
    Visit,
    generate_footage,
    load_scenario,
    people_from_pairs,
)
from swipeguard.scenario.audio import BEEP_HZ
from swipeguard.scenario.errors import OutputExists, ScenarioError

# dlib's published operating point for its 128-d descriptor: same person below 0.6.
SAME_PERSON = 0.6


class Faces:
    """The product's face service: dlib HOG at the counter, and upsampled for small faces."""

    def __init__(self) -> None:
        self.counter = service.get_engine(FaceSettings(upsample=0))
        self.wide = service.get_engine(FaceSettings(upsample=1))

    def detect(self, image: np.ndarray, *, small: bool = False) -> list[Face]:
        return service.detect(image, engine=self.wide if small else self.counter)

    def embed(self, face: Face) -> np.ndarray:
        return service.embed(face, engine=self.counter)

    def embed_photo(self, path: Path) -> np.ndarray:
        image = np.asarray(Image.open(path).convert("RGB"))
        return self.embed(self.detect(image, small=True)[0])  # largest first: the subject


@pytest.fixture(scope="module")
def engine() -> Faces:
    return Faces()


@pytest.fixture(scope="module")
def cast(samples: Path):
    """Three people of LFW's development pairs: enrol one image, film another."""
    return people_from_pairs(samples / "faces" / "lfw")[:3]


@pytest.fixture(scope="module")
def scenario(cast, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """18 s at a till: a customer, with a companion, paying with their own card; an empty
    counter while a card is swiped and someone walks past; then a second customer paying
    twice, once with the first customer's card."""
    a, b, c = (p.name for p in cast)
    plan = Plan(
        duration=18.0,
        visits=(Visit(person=a, arrive=1.8, depart=6.0, companion=b),
                Visit(person=b, arrive=11.6, depart=16.0)),
        swipes=(
            PlannedSwipe(at=4.0, card_holder=a, amount="12.40"),
            PlannedSwipe(at=8.8, card_holder=c, amount="80.00"),
            PlannedSwipe(at=13.5, card_holder=a, amount="31.75"),
            PlannedSwipe(at=14.8, card_holder=b, amount="5.10"),
        ),
        passers=(Passer(person=c, start=7.6, duration=4.5),),
    )
    out = tmp_path_factory.mktemp("scenario")
    return generate_footage(people=cast, plan=plan, out_dir=out, seed=11)


@pytest.fixture(scope="module")
def frames(scenario: Scenario) -> dict[int, np.ndarray]:
    """Every third decoded frame (5 a second), as RGB arrays."""
    with av.open(str(scenario.video)) as container:
        return {
            i: f.to_ndarray(format="rgb24")
            for i, f in enumerate(container.decode(video=0))
            if i % 3 == 0 or i in {s.frame for s in scenario.swipes}
        }


def test_footage_decodes_at_the_declared_format(scenario: Scenario) -> None:
    with av.open(str(scenario.video)) as container:
        video = container.streams.video[0]
        packets = [p for p in container.demux(video) if p.size]  # one per frame: no B-frames

    assert video.codec_context.name == "h264"
    assert (video.width, video.height) == (1280, 720)
    assert video.average_rate == 15
    assert len(packets) == scenario.frames == 270
    seconds = len(packets) / 15
    bitrate = sum(p.size for p in packets) * 8 / seconds
    assert 0.6 * scenario.bitrate <= bitrate <= 1.3 * scenario.bitrate


def test_footage_has_an_audio_track_as_long_as_the_timeline(scenario: Scenario) -> None:
    with av.open(str(scenario.video)) as container:
        audio = container.streams.audio[0]
        video = container.streams.video[0]
        audio_seconds = float(audio.duration * audio.time_base)
        video_seconds = float(video.duration * video.time_base)

    assert audio.codec_context.name == "aac"
    assert video_seconds == pytest.approx(scenario.duration, abs=0.1)
    assert audio_seconds == pytest.approx(scenario.duration, abs=0.2)


def test_every_swipe_beeps_on_the_audio_track(scenario: Scenario) -> None:
    samples, rate = _decode_audio(scenario.video)

    def tone(at: float) -> float:
        window = samples[int(at * rate) : int((at + 0.1) * rate)]
        t = np.arange(len(window)) / rate
        return float(abs(np.sum(window * np.exp(-2j * np.pi * BEEP_HZ * t))) / len(window))

    quiet = [tone(s.at + 1.0) for s in scenario.swipes]
    beeps = [tone(s.at + 0.02) for s in scenario.swipes]
    assert min(beeps) > 20 * max(quiet)


def test_counter_face_is_found_while_someone_is_at_the_counter(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Faces
) -> None:
    checked = found = 0
    for index, image in frames.items():
        visit = scenario.present_at(index / scenario.fps)
        if visit is None or index not in visit.appearance.boxes:
            continue
        truth = visit.appearance.boxes[index]
        checked += 1
        found += any(f.box.iou(truth) > 0.4 for f in engine.detect(image))

    assert checked >= 40
    assert found >= 0.85 * checked


def test_companion_waits_smaller_beside_the_customer(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Faces
) -> None:
    visit = scenario.visits[0]
    assert visit.companion is not None
    shared = [i for i in frames if i in visit.companion.boxes and visit.at_counter(i / 15)]

    found = sum(
        any(f.box.iou(visit.companion.boxes[i]) > 0.4 for f in engine.detect(frames[i]))
        for i in shared[::2]
    )

    ratios = [visit.companion.boxes[i].width / visit.appearance.boxes[i].width for i in shared]
    assert 0.6 < float(np.median(ratios)) < 0.9
    assert found >= 0.7 * len(shared[::2])


def test_no_counter_face_when_the_counter_is_empty(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Faces
) -> None:
    empty = [i for i in frames if not any(v.appearance.start <= i / 15 <= v.appearance.end
                                          for v in scenario.visits)]
    passing = [i for i in empty if i in scenario.passers[0].boxes]
    counter_face = min(b.width for v in scenario.visits
                       for i, b in v.appearance.boxes.items() if v.at_counter(i / 15))

    faces = [f.box for i in empty[::2] for f in engine.detect(frames[i], small=True)]

    assert len(empty) >= 8 and passing
    assert all(b.width < 0.6 * counter_face for b in faces)


def test_genuine_swipes_show_the_card_holder(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Faces
) -> None:
    distances = []
    for swipe in scenario.swipes:
        if swipe.expected is not Expected.MATCH:
            continue
        enrolled = engine.embed_photo(scenario.enrolment[swipe.card_holder][0])
        seen = _face_at_swipe(frames[swipe.frame], swipe.face_box, engine)
        distances.append(service.distance(seen, enrolled))

    assert len(distances) == 2
    assert max(distances) < SAME_PERSON


def test_misused_card_shows_someone_else(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Faces
) -> None:
    (swipe,) = [s for s in scenario.swipes if s.expected is Expected.MISMATCH]
    enrolled = engine.embed_photo(scenario.enrolment[swipe.card_holder][0])

    seen = _face_at_swipe(frames[swipe.frame], swipe.face_box, engine)

    assert service.distance(seen, enrolled) > SAME_PERSON


def test_ground_truth_says_what_happened_at_each_swipe(scenario: Scenario, cast) -> None:
    a, b, c = (p.name for p in cast)

    assert [s.expected for s in scenario.swipes] == [
        Expected.MATCH, Expected.NO_FACE, Expected.MISMATCH, Expected.MATCH
    ]
    assert [s.present for s in scenario.swipes] == [a, None, b, b]
    assert scenario.swipes[1].face_box is None
    assert all(s.face_box is not None for s in scenario.swipes if s.present)


def test_enrolment_photos_never_appear_in_the_footage(scenario: Scenario) -> None:
    shown = {v.appearance.photo for v in scenario.visits} | {p.photo for p in scenario.passers}
    enrolment = {p for photos in scenario.enrolment.values() for p in photos}

    assert shown and enrolment
    assert not shown & enrolment


def test_timeline_reads_back_as_the_same_scenario(scenario: Scenario) -> None:
    assert load_scenario(scenario.timeline.parent) == scenario


def test_existing_footage_is_not_overwritten(scenario: Scenario, cast) -> None:
    before = scenario.video.read_bytes()
    plan = Plan(duration=2.0, visits=(), swipes=())

    with pytest.raises(OutputExists):
        generate_footage(people=cast, plan=plan, out_dir=scenario.video.parent, seed=1)

    assert scenario.video.read_bytes() == before


def test_impossible_format_is_refused_before_anything_is_written(cast, tmp_path: Path) -> None:
    plan = Plan(duration=2.0, visits=(), swipes=())

    with pytest.raises(ScenarioError, match="even"):
        generate_footage(people=cast, plan=plan, out_dir=tmp_path / "out", seed=1,
                         size=(1279, 720))

    assert not (tmp_path / "out").exists()


def _face_at_swipe(image: np.ndarray, truth: Box | None, engine: Faces) -> np.ndarray:
    assert truth is not None
    found = [f for f in engine.detect(image) if f.box.iou(truth) > 0.4]
    assert found, "no face detected where the timeline puts the customer"
    return engine.embed(found[0])


def _decode_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
        return np.concatenate(chunks), stream.rate


@pytest.fixture(autouse=True)
def _no_leftover_partial_files(tmp_path: Path) -> Iterator[None]:
    yield
    assert not list(tmp_path.rglob("*.partial"))


def test_a_damaged_timeline_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "timeline.json").write_text('{"version": 1, "video": "footage.mp4"}')

    with pytest.raises(ScenarioError, match="incomplete"):
        load_scenario(tmp_path)
