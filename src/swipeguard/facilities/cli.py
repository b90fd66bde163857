"""``swipeguard facilities add|list`` and ``swipeguard tills add|list|new-key``."""

from __future__ import annotations

import argparse
import sys

from swipeguard.api.cli import add_data_dir, open_database
from swipeguard.facilities import service
from swipeguard.facilities.models import FacilityKind


def register(sub: argparse._SubParsersAction) -> None:
    _register_facilities(sub)
    _register_tills(sub)


def _register_facilities(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("facilities", help="pharmacies and clinics")
    actions = p.add_subparsers(dest="facilities_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="register a facility")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=[k.value for k in FacilityKind])
    add.add_argument("--district", required=True)
    add.add_argument("--lat", type=float, help="latitude, WGS84 degrees")
    add.add_argument("--lon", type=float, help="longitude, WGS84 degrees")
    add_data_dir(add)
    add.set_defaults(func=add_facility)

    ls = actions.add_parser("list", help="list facilities with their tills")
    add_data_dir(ls)
    ls.set_defaults(func=list_facilities)


def _register_tills(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tills", help="points of sale and their API keys")
    actions = p.add_subparsers(dest="tills_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="register a till and print its API key once")
    add.add_argument("name")
    add.add_argument("--facility", type=int, required=True, help="facility id")
    add.add_argument("--camera", type=int, help="id of the camera over the till")
    add_data_dir(add)
    add.set_defaults(func=add_till)

    key = actions.add_parser("new-key", help="replace a till's API key and print the new one")
    key.add_argument("till", type=int, help="till id")
    add_data_dir(key)
    key.set_defaults(func=new_till_key)


def _fail(e: Exception) -> int:
    print(f"error: {str(e).strip(chr(39))}", file=sys.stderr)
    return 2


def add_facility(args: argparse.Namespace) -> int:
    _, db = open_database(args)
    try:
        with db.transaction() as session:
            f = service.create_facility(session, name=args.name, kind=FacilityKind(args.kind),
                                        district=args.district, latitude=args.lat,
                                        longitude=args.lon)
            print(f"facility {f.id}: {f.name} ({f.kind.value}, {f.district})")
    except ValueError as e:
        return _fail(e)
    return 0


def list_facilities(args: argparse.Namespace) -> int:
    _, db = open_database(args)
    with db.transaction() as session:
        for f in service.list_facilities(session):
            print(f"{f.id:>5}  {f.name}  ({f.kind.value}, {f.district})")
            for t in f.tills:
                camera = f"camera {t.camera_id}" if t.camera_id else "no camera"
                print(f"{'':>7}till {t.id}: {t.name}, {camera}")
    return 0


def add_till(args: argparse.Namespace) -> int:
    _, db = open_database(args)
    try:
        with db.transaction() as session:
            till, key = service.create_till(session, facility_id=args.facility,
                                            name=args.name, camera_id=args.camera)
            till_id = till.id
    except (LookupError, ValueError) as e:
        return _fail(e)
    _print_key(till_id, key)
    return 0


def new_till_key(args: argparse.Namespace) -> int:
    _, db = open_database(args)
    try:
        with db.transaction() as session:
            key = service.rotate_till_key(session, till_id=args.till)
    except LookupError as e:
        return _fail(e)
    _print_key(args.till, key)
    return 0


def _print_key(till_id: int, key: str) -> None:
    print(f"till {till_id}")
    print(f"API key (shown once; send it as the X-API-Key header): {key}")
