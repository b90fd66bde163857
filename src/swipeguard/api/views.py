"""Liveness of the API itself."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from swipeguard.api.deps import DbSession

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str
    database: str


@router.get("/api/health", response_model=HealthOut,
            responses={503: {"description": "the database does not answer"}})
def health(session: DbSession) -> HealthOut:
    """No sign-in needed: answers whether the API and its database respond."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        log.error("health check: the database does not answer: %s", type(e).__name__)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "the database does not answer") from e
    return HealthOut(status="ok", database=session.get_bind().dialect.name)
