"""Enrolling card holders: the service, the ``enroll`` command and the API, on real photos."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import func, select

from api_support import PASSWORD, add_user, lfw_pair
from swipeguard.api.app import create_app
from swipeguard.audit.models import AccessRecord
from swipeguard.auth.models import Role
from swipeguard.cardholders import service
from swipeguard.cardholders.models import CardStatus, EnrolledPhoto
from swipeguard.cli import main
from swipeguard.config import Settings
from swipeguard.db import Database
from swipeguard.faces import errors
from swipeguard.faces import service as faces
from swipeguard.faces.images import load_image
from swipeguard.privacy import keyed_hash

SECRET = "test-secret"
CARD = "A12345678"
NATIONAL_ID = "110101199003074512"
WRITE = {"X-Requested-With": "test"}  # a signed-in write a plain HTML form cannot send


def _jpeg(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(array).save(out, format="JPEG", quality=92)
    return out.getvalue()


@pytest.fixture(scope="module")
def no_face(samples: Path) -> bytes:
    """A real photo's lower half: suit, shirt and tie, no face."""
    image = load_image(samples / "faces" / "examples" / "obama.jpg", max_pixels=40_000_000)
    return _jpeg(image[600:])


@pytest.fixture(scope="module")
def tiny_face(samples: Path) -> bytes:
    """A real portrait shrunk until the face is about 45px wide."""
    photo = PILImage.open(samples / "faces" / "examples" / "obama-480p.jpg").convert("RGB")
    return _jpeg(np.asarray(photo.resize((360, 203), PILImage.Resampling.LANCZOS)))


def _holder(db: Database, card_no: str = CARD) -> int:
    with db.transaction() as s:
        return service.create(s, card_no=card_no, national_id=NATIONAL_ID, name="Wang Fang",
                              secret=SECRET).id


def _enroll(settings: Settings, db: Database, holder_id: int, data: bytes) -> EnrolledPhoto:
    with db.transaction() as s:
        holder = service.get(s, card_holder_id=holder_id)
        return service.enroll_photo(s, settings=settings, card_holder=holder, image=data)


def _stored(settings: Settings, db: Database) -> tuple[int, list[Path]]:
    with db.transaction() as s:
        rows = s.scalar(select(func.count()).select_from(EnrolledPhoto))
    return rows or 0, list((settings.data_dir / "faces" / "enrolled").glob("*"))


def test_a_national_id_is_kept_as_a_keyed_hash_and_last_four(db: Database) -> None:
    holder_id = _holder(db)

    with db.transaction() as s:
        holder = service.get(s, card_holder_id=holder_id)

    assert holder.national_id_hash == keyed_hash(SECRET, NATIONAL_ID)
    assert NATIONAL_ID not in holder.national_id_hash
    assert holder.national_id_last4 == "4512"
    assert holder.status is CardStatus.ACTIVE


@pytest.mark.parametrize("card_no", ["12345", "A" * 33, "1234 5678", "1234-5678", ""])
def test_a_malformed_card_number_is_refused(sqlite_db: Database, card_no: str) -> None:
    with pytest.raises(ValueError, match="6 to 32 letters or digits"), \
            sqlite_db.transaction() as s:
        service.create(s, card_no=card_no, national_id=NATIONAL_ID, name="X", secret=SECRET)


@pytest.mark.parametrize(("name", "why"), [("   ", "needs a name"), ("a\u0000b", "control"),
                                           ("Ann\u202eeb", "control"), ("x" * 201, "200")])
def test_a_name_that_would_display_wrong_is_refused(
    sqlite_db: Database, name: str, why: str,
) -> None:
    with pytest.raises(ValueError, match=why), sqlite_db.transaction() as s:
        service.create(s, card_no="123456789", national_id=NATIONAL_ID, name=name,
                       secret=SECRET)


def test_a_card_number_is_enrolled_once(sqlite_db: Database) -> None:
    _holder(sqlite_db)

    with pytest.raises(service.AlreadyExists), sqlite_db.transaction() as s:
        service.create(s, card_no=CARD, national_id="999999", name="Y", secret=SECRET)


def test_an_lfw_photo_is_enrolled_and_matches_the_same_person_only(
    settings: Settings, sqlite_db: Database, samples: Path,
) -> None:
    enrolled_path, same_path = lfw_pair(samples, same=True)
    other_path = lfw_pair(samples, same=False)[1]
    holder_id = _holder(sqlite_db)

    photo = _enroll(settings, sqlite_db, holder_id, enrolled_path.read_bytes())

    chip = settings.data_dir / photo.image_path
    assert photo.image_path.startswith("faces/enrolled/") and chip.is_file()
    assert PILImage.open(chip).size == (150, 150)
    assert CARD not in photo.image_path
    assert photo.face_px >= settings.faces.min_face_px and photo.sharpness > 0
    with sqlite_db.transaction() as s:
        template = service.template(s, card_holder_id=holder_id)
    assert len(template) == 1
    threshold = settings.verification.threshold

    def capture(path: Path) -> np.ndarray:
        image = load_image(path, max_pixels=settings.faces.max_image_pixels)
        return faces.embed(faces.detect(image)[0])

    assert faces.compare_template(capture(same_path), template, threshold=threshold).match
    assert not faces.compare_template(capture(other_path), template, threshold=threshold).match


def _example(samples: Path, name: str) -> bytes:
    return (samples / "faces" / "examples" / name).read_bytes()


def test_a_face_unlike_the_holders_photos_is_refused_unless_said_to_be_ok(
    settings: Settings, sqlite_db: Database, samples: Path,
) -> None:
    holder_id = _holder(sqlite_db)
    _enroll(settings, sqlite_db, holder_id, _example(samples, "obama.jpg"))

    with pytest.raises(service.NotTheHolder, match="does not look like the enrolled") as refused:
        _enroll(settings, sqlite_db, holder_id, _example(samples, "biden.jpg"))
    same_person = _enroll(settings, sqlite_db, holder_id, _example(samples, "obama2.jpg"))
    with sqlite_db.transaction() as s:
        holder = service.get(s, card_holder_id=holder_id)
        forced = service.enroll_photo(s, settings=settings, card_holder=holder,
                                      image=_example(samples, "biden.jpg"),
                                      different_face_ok=True)

    assert refused.value.code == "not_the_holder"
    assert _stored(settings, sqlite_db)[0] == 3
    assert forced.id > same_person.id


def test_the_same_photo_is_not_enrolled_twice(
    settings: Settings, sqlite_db: Database, samples: Path,
) -> None:
    holder_id = _holder(sqlite_db)
    first = _enroll(settings, sqlite_db, holder_id, _example(samples, "obama.jpg"))

    with pytest.raises(service.DuplicatePhoto, match=f"photo {first.id}"):
        _enroll(settings, sqlite_db, holder_id, _example(samples, "obama.jpg"))

    rows, files = _stored(settings, sqlite_db)
    assert (rows, len(files)) == (1, 1)


@pytest.mark.parametrize(("photo", "refusal"), [
    ("two_people", errors.SeveralFaces),
    ("no_face", errors.NoFace),
    ("tiny_face", errors.FaceTooSmall),
    ("not_a_photo", errors.NotAnImage),
])
def test_an_unusable_photo_is_refused_and_nothing_is_stored(
    settings: Settings, sqlite_db: Database, samples: Path, request: pytest.FixtureRequest,
    photo: str, refusal: type[errors.FaceError],
) -> None:
    data = {
        "two_people": lambda: (samples / "faces" / "examples" / "two_people.jpg").read_bytes(),
        "no_face": lambda: request.getfixturevalue("no_face"),
        "tiny_face": lambda: request.getfixturevalue("tiny_face"),
        "not_a_photo": lambda: b"%PDF-1.4 not a photo",
    }[photo]()
    holder_id = _holder(sqlite_db)

    with pytest.raises(refusal) as refused:
        _enroll(settings, sqlite_db, holder_id, data)

    assert str(refused.value)  # says why and what to do
    assert _stored(settings, sqlite_db) == (0, [])


def test_a_lost_card_records_when_and_who(sqlite_db: Database) -> None:
    holder_id = _holder(sqlite_db)
    since = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    with sqlite_db.transaction() as s:
        service.report_lost(s, card_holder_id=holder_id, since=since, actor="ada")

    with sqlite_db.transaction() as s:
        holder = service.get(s, card_holder_id=holder_id)
        record = s.scalars(select(AccessRecord)).one()
        assert service.list(s, status=CardStatus.LOST)[0].id == holder_id
    assert holder.status is CardStatus.LOST and holder.lost_since == since
    assert (record.actor, record.action, record.object_id) == ("ada", "report_lost",
                                                               str(holder_id))


def test_the_enroll_command_prints_only_masked_numbers(
    data_dir: Path, sqlite_db: Database, samples: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    photo = lfw_pair(samples, same=True)[0]
    two = samples / "faces" / "examples" / "two_people.jpg"

    code = main(["enroll", "--card-no", CARD, "--national-id", NATIONAL_ID, "--name", "Wang",
                 str(photo), str(two), "--data-dir", str(data_dir)])

    out, err = capsys.readouterr()
    assert code == 0
    assert "****5678" in out and "4512" in out
    assert CARD not in out + err and NATIONAL_ID not in out + err
    assert "photo 1 of 2: enrolled" in out
    assert "photo 2 of 2: refused (several_faces)" in err


def test_the_enroll_command_stores_nothing_when_no_photo_is_usable(
    data_dir: Path, sqlite_db: Database, samples: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    two = samples / "faces" / "examples" / "two_people.jpg"

    code = main(["enroll", "--card-no", CARD, "--national-id", NATIONAL_ID, "--name", "Wang",
                 str(two), "--data-dir", str(data_dir)])

    assert code == 2
    assert "nothing was stored" in capsys.readouterr().err
    db = Database(f"sqlite:///{data_dir / 'swipeguard.db'}")
    with db.transaction() as s:
        assert service.get_by_card_no(s, card_no=CARD) is None
    db.dispose()


def _enroll_command(data_dir: Path, samples: Path, *photos: str, name: str = "Wang",
                    extra: tuple[str, ...] = ()) -> int:
    paths = [str(samples / "faces" / "examples" / p) for p in photos]
    return main(["enroll", "--card-no", CARD, "--national-id", NATIONAL_ID, "--name", name,
                 *extra, *paths, "--data-dir", str(data_dir)])


def test_the_enroll_command_refuses_another_face_a_repeat_and_a_new_name(
    data_dir: Path, sqlite_db: Database, samples: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert _enroll_command(data_dir, samples, "obama.jpg") == 0
    capsys.readouterr()

    other_face = _enroll_command(data_dir, samples, "biden.jpg")
    other_face_err = capsys.readouterr().err
    repeated = _enroll_command(data_dir, samples, "obama.jpg", "obama2.jpg")
    repeated_err = capsys.readouterr().err
    renamed = _enroll_command(data_dir, samples, "obama2.jpg", name="Someone Else")
    renamed_err = capsys.readouterr().err
    forced = _enroll_command(data_dir, samples, "biden.jpg", extra=("--different-face-ok",))

    assert other_face == 2 and "refused (not_the_holder)" in other_face_err
    assert "--different-face-ok" in other_face_err
    assert repeated == 0 and "photo 1 of 2: refused (duplicate_photo)" in repeated_err
    assert renamed == 2 and "enrolled under another name" in renamed_err
    assert forced == 0
    with sqlite_db.transaction() as s:
        holder = service.get_by_card_no(s, card_no=CARD)
        assert holder is not None and holder.name == "Wang"
        assert len(holder.photos) == 3  # obama, obama2, then biden when said to be OK


@pytest.fixture
def client(settings: Settings, sqlite_db: Database) -> Iterator[TestClient]:
    add_user(sqlite_db, "ines", Role.INVESTIGATOR)
    add_user(sqlite_db, "olga", Role.OPERATOR)
    with TestClient(create_app(settings, sqlite_db)) as c:
        yield c


def _sign_in(client: TestClient, username: str) -> None:
    r = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200


def _registered(client: TestClient) -> None:
    """Signs in the enrolment clerk and registers the test card's holder."""
    _sign_in(client, "ines")
    client.post("/api/card-holders", json={"card_no": CARD, "national_id": NATIONAL_ID,
                                           "name": "Wang Fang"})


def _upload(client: TestClient, data: bytes, card_no: str = CARD):  # noqa: ANN202
    return client.post(f"/api/card-holders/{card_no}/photos", headers=WRITE,
                       files={"photo": ("photo.jpg", data, "image/jpeg")})


def test_an_investigator_enrols_and_reads_a_card_holder(
    client: TestClient, sqlite_db: Database, samples: Path,
) -> None:
    _sign_in(client, "ines")
    created = client.post("/api/card-holders", json={
        "card_no": CARD, "national_id": NATIONAL_ID, "name": "Wang Fang"})

    uploaded = _upload(client, lfw_pair(samples, same=True)[0].read_bytes())
    holder = client.get(f"/api/card-holders/{CARD}")
    image = client.get(uploaded.json()["image_url"])

    assert created.status_code == 201
    assert uploaded.status_code == 201
    assert uploaded.json()["face_px"] >= 60 and 0 < uploaded.json()["frontal"] <= 1
    body = holder.json()
    assert body["national_id"].endswith("4512") and NATIONAL_ID not in holder.text
    assert [p["id"] for p in body["photos"]] == [uploaded.json()["id"]]
    assert "descriptor" not in holder.text
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content[:3] == b"\xff\xd8\xff"
    with sqlite_db.transaction() as s:
        actions = s.scalars(select(AccessRecord.action).order_by(AccessRecord.id)).all()
    assert actions == ["create_card_holder", "enroll_photo", "view_card_holder",
                       "view_enrolled_photo"]


def test_a_refused_upload_says_why_in_a_code(
    client: TestClient, samples: Path, no_face: bytes,
) -> None:
    _registered(client)
    whole = (samples / "faces" / "examples" / "obama-480p.jpg").read_bytes()

    answers = {
        "several_faces": _upload(client, (samples / "faces" / "examples" /
                                          "two_people.jpg").read_bytes()),
        "no_face": _upload(client, no_face),
        "not_an_image": _upload(client, b"GIF89a? no"),
        "corrupt_image": _upload(client, whole[: len(whole) // 2]),
    }

    for code, answer in answers.items():
        assert answer.status_code == 422, code
        assert answer.json()["detail"]["code"] == code
        assert answer.json()["detail"]["message"]
    assert client.get(f"/api/card-holders/{CARD}").json()["photos"] == []
    assert _upload(client, whole, card_no="Z99999999").status_code == 404


def test_an_operator_reads_but_does_not_enrol(client: TestClient) -> None:
    _registered(client)
    client.delete("/api/session", headers=WRITE)
    _sign_in(client, "olga")

    refused = client.post("/api/card-holders", json={
        "card_no": "B12345678", "national_id": NATIONAL_ID, "name": "Li Lei"})
    read = client.get(f"/api/card-holders/{CARD}")

    assert refused.status_code == 403
    assert read.status_code == 200 and read.json()["card_no"] == CARD


def test_reading_a_card_holder_needs_a_sign_in(client: TestClient) -> None:
    assert client.get(f"/api/card-holders/{CARD}").status_code == 401
    assert client.get(f"/api/card-holders/{CARD}/photos/1").status_code == 401


def test_a_duplicate_card_number_is_a_conflict(client: TestClient) -> None:
    _sign_in(client, "ines")
    body = {"card_no": CARD, "national_id": NATIONAL_ID, "name": "Wang Fang"}

    first, second = (client.post("/api/card-holders", json=body),
                     client.post("/api/card-holders", json=body))

    assert (first.status_code, second.status_code) == (201, 409)


def test_a_face_unlike_the_holder_is_refused_over_the_api_unless_said_ok(
    client: TestClient, sqlite_db: Database, samples: Path,
) -> None:
    _registered(client)
    _upload(client, _example(samples, "obama.jpg"))

    refused = _upload(client, _example(samples, "biden.jpg"))
    forced = client.post(f"/api/card-holders/{CARD}/photos", headers=WRITE,
                         data={"different_face_ok": "true"},
                         files={"photo": ("p.jpg", _example(samples, "biden.jpg"), "image/jpeg")})

    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "not_the_holder"
    assert forced.status_code == 201
    with sqlite_db.transaction() as s:
        reasons = s.scalars(select(AccessRecord.reason)
                            .where(AccessRecord.action == "enroll_photo")).all()
    assert reasons[-1].endswith("different face allowed")


def test_two_photos_in_one_upload_are_refused(
    client: TestClient, sqlite_db: Database, samples: Path,
) -> None:
    _registered(client)

    answer = client.post(f"/api/card-holders/{CARD}/photos", headers=WRITE, files=[
        ("photo", ("a.jpg", _example(samples, "obama.jpg"), "image/jpeg")),
        ("photo", ("b.jpg", _example(samples, "obama2.jpg"), "image/jpeg")),
    ])

    assert answer.status_code == 422
    assert answer.json()["detail"]["code"] == "several_photos"
    assert client.get(f"/api/card-holders/{CARD}").json()["photos"] == []
