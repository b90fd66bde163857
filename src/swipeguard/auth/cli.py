"""``swipeguard users add|list``: console accounts."""

from __future__ import annotations

import argparse
import getpass
import sys

from swipeguard.api.cli import add_data_dir, open_database
from swipeguard.auth import service
from swipeguard.auth.models import Role


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="console accounts")
    users = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = users.add_parser("add", help="create a console user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add_data_dir(add)
    add.set_defaults(func=add_user)

    ls = users.add_parser("list", help="list console users")
    add_data_dir(ls)
    ls.set_defaults(func=list_users)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise ValueError("the two passwords differ")
    return first


def add_user(args: argparse.Namespace) -> int:
    try:
        password = _read_password(args)
        _, db = open_database(args, create=True)  # the first user starts an installation
        with db.transaction() as session:
            user = service.create_user(session, username=args.username, password=password,
                                       role=Role(args.role))
            print(f"user {user.username} ({user.role.value}) created")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def list_users(args: argparse.Namespace) -> int:
    _, db = open_database(args)
    with db.transaction() as session:
        for user in service.list_users(session):
            state = "" if user.active else "  (disabled)"
            print(f"{user.username:<30} {user.role.value:<13} "
                  f"{user.created_at:%Y-%m-%d %H:%M}{state}")
    return 0
