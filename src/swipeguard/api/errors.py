"""One JSON shape for every error: ``{"detail": message, "errors": [{field, message, type}]}``.

Validation errors name the field by its path (``body.card_no``, ``query.limit``) so a
client can point at the input to fix. Malformed JSON and a non-JSON body are told
apart from a well-formed body with wrong values, and nothing a client sends gives a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(OverflowError, _number_out_of_range)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _number_out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
    # An id or count past the database's 64-bit integers reaches the driver unchecked
    # (every route would otherwise need its own bound); it is the client's error.
    return _error(status.HTTP_422_UNPROCESSABLE_CONTENT,
                  "a number in the request is beyond the range of 64-bit integers",
                  [{"field": "", "message": str(exc), "type": "out_of_range"}])


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": field_path(e.get("loc", ())), "message": e.get("msg", ""),
         "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return _error(status.HTTP_400_BAD_REQUEST, "the request body is not valid JSON", errors)
    if _sent_body_that_is_not_json(request, errors):
        return _error(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                      "send the body as JSON with Content-Type: application/json", errors)
    return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, _summary(errors), errors)


def _sent_body_that_is_not_json(request: Request, errors: list[dict[str, str]]) -> bool:
    """A JSON body arrived under another content type: FastAPI then sees raw bytes."""
    content_type = request.headers.get("content-type", "")
    if not content_type or "json" in content_type or "form" in content_type:
        return False
    return any(e["field"] == "body" for e in errors)


def _summary(errors: list[dict[str, str]]) -> str:
    first = errors[0] if errors else {"field": "request", "message": "invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


def _error(code: int, detail: str, errors: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors}, status_code=code)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the server log has the details"},
                        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)
