"""Dependencies shared by the views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from swipeguard.config import Settings
from swipeguard.db import Database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_session(request: Request) -> Iterator[Session]:
    """A session that commits when the view returns without error."""
    with get_db(request).transaction() as session:
        yield session


# With the default ("request") scope FastAPI runs the code after ``yield`` once the
# response has been sent, so a failed commit would follow a 200. The "function" scope
# commits before the response leaves: views that write should take ``DbSession``.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
