"""FastAPI dependencies: who is asking. Console users by cookie, tills by API key."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Header, HTTPException, Request, status

from swipeguard.api.deps import DbSession, get_db
from swipeguard.auth import service
from swipeguard.auth.models import Role, User
from swipeguard.facilities.models import Till

COOKIE = "swipeguard_session"


def optional_user(request: Request, session: DbSession) -> User | None:
    """The signed-in user, or None: for pages that send strangers to the sign-in page."""
    token = request.cookies.get(COOKIE)
    return service.user_for_token(session, token=token) if token else None


def current_user(user: User | None = Depends(optional_user)) -> User:
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    return user


def require_user(*roles: Role) -> Callable[..., User]:
    """A dependency admitting signed-in users with one of ``roles`` (any role if none)."""

    def check(user: User = Depends(current_user)) -> User:
        if roles and user.role not in roles and user.role is not Role.ADMIN:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "your role does not allow this")
        return user

    return check


def current_till(
    request: Request,
    x_api_key: str | None = Header(default=None, alias="X-API-Key"),
) -> Till:
    """The till owning the API key. Its session closes at once: a till's pre-payment check
    may wait seconds for a verdict and must not hold a database connection meanwhile."""
    till = None
    if x_api_key:
        with get_db(request).transaction() as session:
            till = service.till_for_key(session, api_key=x_api_key)
    if till is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid till API key is required",
                            headers={"WWW-Authenticate": "ApiKey"})
    return till
