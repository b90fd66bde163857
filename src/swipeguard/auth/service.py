"""Users, passwords (argon2id) and console sign-ins; till API keys."""

from __future__ import annotations

import re
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from swipeguard.auth.models import Role, SignIn, User
from swipeguard.db import utcnow
from swipeguard.facilities.models import Till
from swipeguard.privacy import new_token, token_hash

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

MIN_PASSWORD = 10
# One word as people type it at a sign-in (Unicode letters and digits, plus . _ - @ for
# e-mail-like names); 100 is the column's width. Spaces and control characters would
# make two accounts look alike in the history.
USERNAME = re.compile(r"[\w.@-]{1,100}")


def check_username(username: str) -> str:
    """The username trimmed, or a ValueError saying what a username may be."""
    name = username.strip()
    if not name:
        raise ValueError("a username may not be blank")
    if len(name) > 100:
        raise ValueError("a username has at most 100 characters")
    if not USERNAME.fullmatch(name):
        raise ValueError("a username is letters, digits and . _ - @ only, without spaces")
    return name


def create_user(session: Session, *, username: str, password: str, role: Role) -> User:
    username = check_username(username)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} exists already")
    user = User(username=username, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        _hasher.hash(password)  # spend the same time whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def sign_in(session: Session, *, user: User, hours: float) -> str:
    """Starts a console session and returns its token (for the cookie)."""
    token = new_token()
    session.add(SignIn(token_hash=token_hash(token), user_id=user.id,
                       expires_at=utcnow() + timedelta(hours=hours)))
    return token


def user_for_token(session: Session, *, token: str) -> User | None:
    row = session.scalar(select(SignIn).where(SignIn.token_hash == token_hash(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def sign_out(session: Session, *, token: str) -> None:
    session.execute(delete(SignIn).where(SignIn.token_hash == token_hash(token)))


def till_for_key(session: Session, *, api_key: str) -> Till | None:
    return session.scalar(select(Till).where(Till.api_key_hash == token_hash(api_key)))


def get_by_username(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))
