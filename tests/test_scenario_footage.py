"""Generated counter footage, checked the way the product will use it: decoded with PyAV,
faces found and compared with dlib, on real LFW faces (development folds only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import dlib
import face_recognition_models
import numpy as np
import pytest
from PIL import Image

from swipeguard.faces.types import Box
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


class Dlib:
    """The detector and descriptor the product uses, loaded once for the module."""

    def __init__(self) -> None:
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(
            face_recognition_models.pose_predictor_five_point_model_location()
        )
        self.encoder = dlib.face_recognition_model_v1(
            face_recognition_models.face_recognition_model_location()
        )

    def detect(self, image: np.ndarray, upsample: int = 0) -> list[Box]:
        found = self.detector(image, upsample)
        return [Box(r.left(), r.top(), r.right(), r.bottom()) for r in found]

    def embed(self, image: np.ndarray, box: Box) -> np.ndarray:
        rect = dlib.rectangle(box.left, box.top, box.right, box.bottom)
        shape = self.landmarks(image, rect)
        return np.array(self.encoder.compute_face_descriptor(image, shape))

    def embed_photo(self, path: Path) -> np.ndarray:
        image = np.asarray(Image.open(path).convert("RGB"))
        boxes = self.detect(image, upsample=1)
        centre = np.array(image.shape[1::-1]) / 2
        box = min(boxes, key=lambda b: float(np.hypot(*(np.array(b.center) - centre))))
        return self.embed(image, box)


@pytest.fixture(scope="module")
def engine() -> Dlib:
    return Dlib()


@pytest.fixture(scope="module")
def cast(samples: Path):
    """Three people of LFW's development pairs: enrol one image, film another."""
    return people_from_pairs(samples / "faces" / "lfw")[:3]


@pytest.fixture(scope="module")
def scenario(cast, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """18 s at a till: a customer paying with their own card, an empty counter while a
    card is swiped and someone walks past, then a second customer paying twice, once
    with the first customer's card."""
    a, b, c = (p.name for p in cast)
    plan = Plan(
        duration=18.0,
        visits=(Visit(person=a, arrive=1.8, depart=6.0), Visit(person=b, arrive=11.6,
                                                                 depart=16.0)),
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
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Dlib
) -> None:
    checked = found = 0
    for index, image in frames.items():
        visit = scenario.present_at(index / scenario.fps)
        if visit is None or index not in visit.appearance.boxes:
            continue
        truth = visit.appearance.boxes[index]
        checked += 1
        found += any(b.iou(truth) > 0.4 for b in engine.detect(image))

    assert checked >= 40
    assert found >= 0.85 * checked


def test_no_counter_face_when_the_counter_is_empty(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Dlib
) -> None:
    empty = [i for i in frames if not any(v.appearance.start <= i / 15 <= v.appearance.end
                                          for v in scenario.visits)]
    passing = [i for i in empty if i in scenario.passers[0].boxes]
    counter_face = min(b.width for v in scenario.visits
                       for i, b in v.appearance.boxes.items() if v.at_counter(i / 15))

    faces = [b for i in empty[::2] for b in engine.detect(frames[i], upsample=1)]

    assert len(empty) >= 8 and passing
    assert all(b.width < 0.6 * counter_face for b in faces)


def test_genuine_swipes_show_the_card_holder(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Dlib
) -> None:
    distances = []
    for swipe in scenario.swipes:
        if swipe.expected is not Expected.MATCH:
            continue
        enrolled = engine.embed_photo(scenario.enrolment[swipe.card_holder][0])
        seen = _face_at_swipe(frames[swipe.frame], swipe.face_box, engine)
        distances.append(float(np.linalg.norm(seen - enrolled)))

    assert len(distances) == 2
    assert max(distances) < SAME_PERSON


def test_misused_card_shows_someone_else(
    scenario: Scenario, frames: dict[int, np.ndarray], engine: Dlib
) -> None:
    (swipe,) = [s for s in scenario.swipes if s.expected is Expected.MISMATCH]
    enrolled = engine.embed_photo(scenario.enrolment[swipe.card_holder][0])

    seen = _face_at_swipe(frames[swipe.frame], swipe.face_box, engine)

    assert float(np.linalg.norm(seen - enrolled)) > SAME_PERSON


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


def _face_at_swipe(image: np.ndarray, truth: Box | None, engine: Dlib) -> np.ndarray:
    assert truth is not None
    found = [b for b in engine.detect(image) if b.iou(truth) > 0.4]
    assert found, "no face detected where the timeline puts the customer"
    return engine.embed(image, found[0])


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
