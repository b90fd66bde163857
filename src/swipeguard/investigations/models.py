"""Suspects (people seen using cards that are not theirs), cases, and worker cursors."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from swipeguard.db import Base, UTCDateTime, enum_type, utcnow


class Suspect(Base):
    """One person, as far as the faces tell, seen at swipes of cards not theirs."""

    __tablename__ = "suspects"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A suspect merged into another stays as a row (its history is kept) but is inactive.
    active: Mapped[bool] = mapped_column(default=True, index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("suspects.id"), default=None)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    members: Mapped[list[SuspectMember]] = relationship(
        back_populates="suspect", order_by="SuspectMember.capture_id",
        foreign_keys="SuspectMember.suspect_id",
    )


class SuspectMember(Base):
    """A capture placed in a suspect's group: by the grouping or by an investigator."""

    __tablename__ = "suspect_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    suspect_id: Mapped[int] = mapped_column(ForeignKey("suspects.id"), index=True)
    # A capture belongs to at most one suspect.
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), unique=True)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Distance to the nearest other member when the grouping placed it (None if first).
    distance: Mapped[float | None] = mapped_column(default=None)

    suspect: Mapped[Suspect] = relationship(back_populates="members", foreign_keys=[suspect_id])


class SuspectExclusion(Base):
    """An investigator's "not this person": the grouping never puts the capture back."""

    __tablename__ = "suspect_exclusions"
    __table_args__ = (UniqueConstraint("suspect_id", "capture_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suspect_id: Mapped[int] = mapped_column(ForeignKey("suspects.id"), index=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuspectEvent(Base):
    """One change to a suspect's group: who, when, what, which captures, why."""

    __tablename__ = "suspect_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    suspect_id: Mapped[int] = mapped_column(ForeignKey("suspects.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))  # create, add, split, merge, remove
    capture_ids: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    other_suspect_id: Mapped[int | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(Text, default="")


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Case(Base):
    """A saved investigation of a card: the question asked and the findings at the time."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(32), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[CaseStatus] = mapped_column(enum_type(CaseStatus, 16), default=CaseStatus.OPEN)
    # The investigation as JSON when the case was saved or refreshed.
    findings: Mapped[str] = mapped_column(Text, default="{}")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")


class CaseEvent(Base):
    """One change to a case: who, when, what and why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))  # open, refresh, note, close
    reason: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="events")


class WorkerCursor(Base):
    """How far a background worker has got through a table (the last id handled)."""

    __tablename__ = "worker_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
