"""Cross-site request forgery guard for cookie-authenticated writes.

The session cookie is SameSite=Strict, so browsers do not attach it to requests that
start on another site. As a second line, a state-changing request carrying the cookie
must be one that a plain HTML form cannot send: a JSON body (``Content-Type:
application/json``) or the ``X-Requested-With`` header. Both force a CORS preflight,
which this server never grants to another origin. Tills use an API key header, not
the cookie, and are not affected.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
HEADER = "x-requested-with"


class CsrfGuard:
    def __init__(self, app: ASGIApp, cookie: str) -> None:
        self.app = app
        self.cookie = cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        if self._has_cookie(headers) and not self._not_a_form(headers):
            await _forbidden(send)
            return
        await self.app(scope, receive, send)

    def _has_cookie(self, headers: dict[str, str]) -> bool:
        return f"{self.cookie}=" in headers.get("cookie", "")

    @staticmethod
    def _not_a_form(headers: dict[str, str]) -> bool:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        return content_type == "application/json" or HEADER in headers


async def _forbidden(send: Send) -> None:
    body = json.dumps({
        "detail": "a signed-in write needs Content-Type: application/json "
                  "or the X-Requested-With header",
        "errors": [],
    }).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
