"""The tables of DESIGN §4 as SQLAlchemy 2 declarative models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class ProcessedEvent(Base):
    """An Events API envelope already accepted, so Slack's retries of it run nothing."""

    __tablename__ = "processed_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TicketLink(Base):
    """One Slack message (or assistant conversation) and the one Gorgias ticket made from it."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "message_ts", name="uq_link_message"),
        Index("ix_ticket_links_source_created", "source", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    customer_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str] = mapped_column(String(32), default="")
    source: Mapped[str] = mapped_column(String(16), default="reaction")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# The predicates of the two partial indexes, written out once: SQLite uses a partial index only
# when the query repeats its WHERE term literally (bound parameters do not match), so the queue's
# queries use these same texts (bot/db/claims.py).
QUEUED_HEAD = "state = 'queued' AND head"
ACTIVE_STATE = "state IN ('queued', 'running')"


class Job(Base):
    """The durable work queue; `idempotency_key` makes every enqueue at-most-once.

    `head` marks the one job of an `order_key` that may run now: the earliest queued or running
    job of that message or conversation (every job without an order key is its own head). It is
    set at enqueue and handed on when the head finishes, in the same transaction
    (bot/db/heads.py), so a claim reads due heads from `ix_jobs_due` instead of looking for
    earlier jobs of each candidate.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "state", "next_attempt_at"),
        Index(
            "ix_jobs_due",
            "kind",
            "next_attempt_at",
            "id",
            postgresql_where=text(QUEUED_HEAD),
            sqlite_where=text(QUEUED_HEAD),
        ),
        Index(
            "ix_jobs_order_active",
            "order_key",
            "id",
            postgresql_where=text(ACTIVE_STATE),
            sqlite_where=text(ACTIVE_STATE),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    order_key: Mapped[str] = mapped_column(String(120), default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")
    head: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    correlation_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Who did what to which ticket, when, and how it ended."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(32), default="")
    message_ts: Mapped[str] = mapped_column(String(32), default="")
    ticket_id: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


class Turn(Base):
    """One message of an assistant conversation (a DM, or a channel thread)."""

    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("conversation_key", "message_ts", name="uq_turn_message"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_key: Mapped[str] = mapped_column(String(120), index=True)
    message_ts: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(32), default="")
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(64), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class MirroredMessage(Base):
    """A Slack reply, edit or deletion already written into a Gorgias ticket (thread sync).

    `key` is also the Gorgias message's `external_id`, so a webhook about that message is known
    as our own echo without asking Gorgias.
    """

    __tablename__ = "mirrored_messages"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    gorgias_message_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncedTicket(Base):
    """What thread sync last told a ticket's Slack thread beyond its status: the assignee."""

    __tablename__ = "synced_tickets"
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    assignee_id: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SlaClock(Base):
    """A ticket's SLA clocks (handlers/sla.py): due times, when they stopped, what was posted.

    Each `*_warned` / `*_breached` flag is set in the transaction that enqueues its notice, so a
    notice is decided once however many replicas run the watchdog. `next_check_at` is the
    earliest moment the watchdog has something to decide; null once nothing is left.
    """

    __tablename__ = "sla_clocks"
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    policy: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_due_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_warned: Mapped[bool] = mapped_column(Boolean, default=False)
    first_response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_warned: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    next_check_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    # Satisfaction (handlers/sla_csat.py): the score posted in the thread; the last poll for it.
    csat_score: Mapped[int | None] = mapped_column(Integer, default=None)
    csat_checked_at: Mapped[datetime | None] = mapped_column(default=None)
