"""Recording accesses."""

from __future__ import annotations

import unicodedata

from sqlalchemy.orm import Session

from swipeguard.audit.models import AccessRecord

MAX_ACTOR = 100  # the width of every history table's actor column


def check_actor(actor: str) -> str:
    """The actor trimmed, or a ValueError: a history row that names nobody is worthless."""
    name = actor.strip()
    if not name:
        raise ValueError("say who is acting: the actor may not be blank")
    if len(name) > MAX_ACTOR:
        raise ValueError(f"an actor's name has at most {MAX_ACTOR} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        # A line break or a right-to-left override would make the history read wrongly.
        raise ValueError("an actor's name may not hold control or formatting characters")
    return name


def record(
    session: Session, *, actor: str, action: str, object_kind: str, object_id: object,
    reason: str = "",
) -> AccessRecord:
    entry = AccessRecord(
        actor=check_actor(actor), action=action, object_kind=object_kind,
        object_id=str(object_id), reason=reason,
    )
    session.add(entry)
    return entry
