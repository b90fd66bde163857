"""Liveness of the API itself."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from swipeguard.api.deps import DbSession

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str
    database: str


@router.get("/api/health", response_model=HealthOut)
def health(session: DbSession) -> HealthOut:
    """No sign-in needed: answers whether the API and its database respond."""
    session.execute(text("SELECT 1"))
    return HealthOut(status="ok", database=session.get_bind().dialect.name)
