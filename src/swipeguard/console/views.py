"""The monitoring-room console: plain HTML pages with their own CSS and JavaScript.

Nothing loads from outside this server (the Content-Security-Policy says so to the
browser too). Pages need a sign-in and send strangers to the sign-in page; the data
comes from the JSON API.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, RedirectResponse, Response

from swipeguard.auth.deps import optional_user
from swipeguard.auth.models import User

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
PAGES = {"alarms": "alarms.html", "swipes": "swipes.html", "cameras": "cameras.html"}
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg|png|ico)$")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self'; "
        "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console/alarms", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/console/sign-in")
def sign_in_page(user: User | None = Depends(optional_user)) -> Response:
    if user is not None:
        return RedirectResponse("/console/alarms", status_code=status.HTTP_303_SEE_OTHER)
    return _page("sign-in.html")


@router.get("/console/{page}")
def console_page(page: str, request: Request,
                 user: User | None = Depends(optional_user)) -> Response:
    if page not in PAGES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no console page {page!r}")
    if user is None:
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/console/sign-in?next={target}",
                                status_code=status.HTTP_303_SEE_OTHER)
    return _page(PAGES[page])


@router.get("/console/static/{name}")
def static_file(name: str) -> FileResponse:
    """The console's own CSS, JavaScript and icons: a flat folder, names checked."""
    path = STATIC / name
    if not SAFE_NAME.match(name) or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no file {name!r}")
    return FileResponse(path, headers=SECURITY_HEADERS)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=SECURITY_HEADERS)
