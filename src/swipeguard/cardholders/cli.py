"""``swipeguard enroll``: registers a card holder (or finds the card) and enrols photos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from swipeguard.api.cli import add_data_dir, open_database
from swipeguard.cardholders import service
from swipeguard.cardholders.models import CardHolder
from swipeguard.config import Settings
from swipeguard.faces.errors import FaceError
from swipeguard.privacy import keyed_hash, mask_card, mask_national_id, secret_key


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="enrol a card holder's photos",
                       description="Registers the card holder if the card is new, then enrols "
                                   "each photo that shows exactly one good face.")
    p.add_argument("--card-no", required=True, help="insurance card number (6-32 letters/digits)")
    p.add_argument("--national-id", required=True, help="national ID (stored as a keyed hash)")
    p.add_argument("--name", required=True, help="the card holder's name")
    p.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="JPEG or PNG photos")
    p.add_argument("--different-face-ok", action="store_true",
                   help="enrol a face unlike the card holder's enrolled photos (the same "
                        "person years apart, say)")
    add_data_dir(p)
    p.set_defaults(func=enroll)


def enroll(args: argparse.Namespace) -> int:
    """Enrols the photos that can be used; exits 2 when none could (and then stores nothing)."""
    settings, db = open_database(args)
    secret = secret_key(settings.secret_key, settings.data_dir)
    try:
        with db.transaction() as session:
            holder = _holder(session, args, secret)
            accepted = _enroll_each(session, settings, holder, args.photos,
                                    args.different_face_ok)
            if not accepted:
                raise _NothingEnrolled
            print(f"card {mask_card(holder.card_no)}: card holder {holder.id}, national ID "
                  f"{mask_national_id(holder.national_id_last4)}, {len(holder.photos)} "
                  f"photo(s) enrolled in all")
    except _NothingEnrolled:
        print("error: no photo could be enrolled; nothing was stored", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    return 0


class _NothingEnrolled(Exception):
    pass


def _holder(session: Session, args: argparse.Namespace, secret: str) -> CardHolder:
    existing = service.get_by_card_no(session, card_no=args.card_no)
    if existing is None:
        return service.create(session, card_no=args.card_no, national_id=args.national_id,
                              name=args.name, secret=secret)
    if existing.national_id_hash != keyed_hash(secret, args.national_id):
        raise ValueError(f"card {mask_card(existing.card_no)} belongs to another national ID")
    if _same_name(existing.name) != _same_name(args.name):
        # Enrolling is no way to rename someone: a mistyped card number would do it silently.
        raise ValueError(f"card {mask_card(existing.card_no)} is enrolled under another name; "
                         f"give the name it was enrolled under")
    return existing


def _same_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def _enroll_each(session: Session, settings: Settings, holder: CardHolder,
                 photos: list[Path], different_face_ok: bool) -> int:
    accepted = 0
    for number, path in enumerate(photos, 1):
        label = f"photo {number} of {len(photos)}"
        try:
            data = path.read_bytes()
            photo = service.enroll_photo(session, settings=settings, card_holder=holder,
                                         image=data, different_face_ok=different_face_ok)
        except OSError as exc:
            print(f"{label}: cannot read the file ({exc.strerror})", file=sys.stderr)
            continue
        except FaceError as exc:
            hint = (" (--different-face-ok)" if isinstance(exc, service.NotTheHolder) else "")
            print(f"{label}: refused ({exc.code}): {exc}{hint}", file=sys.stderr)
            continue
        accepted += 1
        print(f"{label}: enrolled as photo {photo.id} (face {photo.face_px}px, "
              f"sharpness {photo.sharpness:.0f}, frontal {photo.frontal:.2f})")
    return accepted
