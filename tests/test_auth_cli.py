"""``swipeguard users``: accounts from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from swipeguard.auth import service
from swipeguard.auth.models import Role
from swipeguard.db import Database


def _users(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swipeguard", "users", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_a_user_added_from_the_command_line_can_sign_in(
    data_dir: Path, sqlite_db: Database,
) -> None:
    added = _users("add", "olga", "--role", "operator", "--password-stdin",
                   "--data-dir", str(data_dir), stdin="a long passphrase\n")
    listed = _users("list", "--data-dir", str(data_dir))

    assert added.returncode == 0, added.stderr
    assert "olga" in listed.stdout and "operator" in listed.stdout
    with sqlite_db.transaction() as s:
        user = service.authenticate(s, username="olga", password="a long passphrase")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")


def test_the_first_user_starts_a_new_data_folder_that_other_commands_then_use(
    tmp_path: Path,
) -> None:
    fresh = str(tmp_path / "srv" / "swipeguard")

    listed_before = _users("list", "--data-dir", fresh)
    added = _users("add", "alice", "--role", "admin", "--password-stdin", "--data-dir", fresh,
                   stdin="a long passphrase\n")
    listed = _users("list", "--data-dir", fresh)

    assert listed_before.returncode == 2 and "no swipeguard data in" in listed_before.stderr
    assert added.returncode == 0, added.stderr
    assert "alice" in listed.stdout


def test_a_short_password_or_a_taken_name_is_refused(
    data_dir: Path, sqlite_db: Database,
) -> None:
    d = str(data_dir)
    _users("add", "olga", "--role", "admin", "--password-stdin", "--data-dir", d,
           stdin="a long passphrase\n")

    short = _users("add", "ivan", "--role", "operator", "--password-stdin", "--data-dir", d,
                   stdin="short\n")
    taken = _users("add", "olga", "--role", "operator", "--password-stdin", "--data-dir", d,
                   stdin="another long one\n")

    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    assert taken.returncode == 2 and "exists already" in taken.stderr


@pytest.mark.parametrize(("username", "why"), [
    ("", "may not be blank"),
    ("   ", "may not be blank"),
    ("x" * 300, "at most 100 characters"),
    ("olga smith", "without spaces"),
    ("olga\x1b[2J", "without spaces"),
])
def test_a_blank_long_or_spaced_username_is_refused(
    username: str, why: str, data_dir: Path, sqlite_db: Database,
) -> None:
    added = _users("add", username, "--role", "operator", "--password-stdin",
                   "--data-dir", str(data_dir), stdin="a long passphrase\n")

    assert added.returncode == 2 and why in added.stderr
    with sqlite_db.transaction() as s:
        assert service.list_users(s) == []


def test_a_username_is_stored_trimmed(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as s:
        service.create_user(s, username="  ana.lima@clinic-7 ", password="a long passphrase",
                            role=Role.ADMIN)

    with sqlite_db.transaction() as s:
        assert service.get_by_username(s, username="ana.lima@clinic-7") is not None
