"""Recording accesses."""

from __future__ import annotations

from sqlalchemy.orm import Session

from swipeguard.audit.models import AccessRecord


def record(
    session: Session, *, actor: str, action: str, object_kind: str, object_id: object,
    reason: str = "",
) -> AccessRecord:
    entry = AccessRecord(
        actor=actor, action=action, object_kind=object_kind, object_id=str(object_id),
        reason=reason,
    )
    session.add(entry)
    return entry
