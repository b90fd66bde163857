"""Console sign-in: ``POST /api/session``, ``DELETE /api/session``, ``GET /api/me``."""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from swipeguard.api.deps import DbSession, get_settings
from swipeguard.auth import service
from swipeguard.auth.deps import COOKIE, current_user
from swipeguard.auth.models import Role, User
from swipeguard.auth.throttle import SignInThrottle
from swipeguard.config import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["sign-in"])


class SignInIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, username=user.username, role=user.role)


def get_throttle(request: Request) -> SignInThrottle:
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    return throttle


@router.post("/api/session", response_model=UserOut)
def sign_in(
    body: SignInIn, request: Request, response: Response, session: DbSession,
    settings: Settings = Depends(get_settings),
    throttle: SignInThrottle = Depends(get_throttle),
) -> UserOut:
    """Checks the password and sets the session cookie (HttpOnly, SameSite=Strict)."""
    keys = (f"user:{body.username.casefold()}",
            f"addr:{request.client.host if request.client else '?'}")
    wait = throttle.wait_s(*keys)
    if wait > 0:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed sign-ins; try again in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})
    user = service.authenticate(session, username=body.username, password=body.password)
    if user is None:
        throttle.failed(*keys)
        # Only a name that is a user's is written: what was typed may be a password in
        # the wrong field, or text made to look like log lines.
        known = service.get_by_username(session, username=body.username)
        log.info("failed sign-in for %s", f"user {known.username}" if known
                 else "a name that is no user's")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")

    throttle.succeeded(keys[0])
    token = service.sign_in(session, user=user, hours=settings.server.session_hours)
    response.set_cookie(
        COOKIE, token, max_age=int(settings.server.session_hours * 3600), path="/",
        httponly=True, samesite="strict", secure=settings.server.secure_cookies,
    )
    log.info("user %s signed in", user.username)
    return UserOut.of(user)


@router.delete("/api/session", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, session: DbSession,
             settings: Settings = Depends(get_settings)) -> Response:
    """Ends the session on the server too, so a copied cookie stops working."""
    token = request.cookies.get(COOKIE)
    if token:
        service.sign_out(session, token=token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=settings.server.secure_cookies)
    return response


@router.get("/api/me", response_model=UserOut)
def me(user: User = Depends(current_user)) -> UserOut:
    return UserOut.of(user)
