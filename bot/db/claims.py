"""The claim statement: due heads of the wanted kinds, read from `ix_jobs_due`, leased at once.

Its cost follows `limit` and the number of kinds, not the backlog: each kind is one ordered
range of the partial index (due heads only), read up to `limit` rows with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; jobs whose lease expired come from the few running ones. The earliest
due of those candidates are leased in the same statement.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Select,
    Table,
    Update,
    bindparam,
    select,
    text,
    union_all,
    update,
)

from ticketbolt.bot.db.models import QUEUED_HEAD, Job

# The statement's values are bound at execution: one statement per (kinds, limit), built once
# and compiled once, whoever claims and whenever.
NOW: BindParameter[datetime] = bindparam("claim_now")
OWNER: BindParameter[str] = bindparam("claim_owner")
UNTIL: BindParameter[datetime] = bindparam("claim_until")


def _due(kind: str | None, now: Any, limit: int) -> Select[int, datetime]:
    # The partial index's own predicate, verbatim, so SQLite recognises it (see models.py).
    query = select(Job.id, Job.next_attempt_at).where(text(QUEUED_HEAD))
    if kind is not None:
        query = query.where(Job.kind == kind)
    return (
        query.where(Job.next_attempt_at <= now)
        .order_by(Job.next_attempt_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _expired(kinds: Collection[str] | None, now: Any, limit: int) -> Select[int, datetime]:
    query = select(Job.id, Job.next_attempt_at).where(
        Job.state == "running", Job.lease_expires_at < now
    )
    if kinds is not None:
        query = query.where(Job.kind.in_(sorted(kinds)))
    return (
        query.order_by(Job.next_attempt_at, Job.id).limit(limit).with_for_update(skip_locked=True)
    )


def claim_statement(
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    kinds: Collection[str] | None,
) -> tuple[Update, dict[str, Any]]:
    """Lease up to `limit` jobs of `kinds` (None: any kind) to `owner`, counting an attempt:
    the statement and the values to execute it with."""
    statement = _statement(tuple(sorted(kinds)) if kinds is not None else None, limit)
    return statement, {"claim_now": now, "claim_owner": owner, "claim_until": lease_until}


@lru_cache(maxsize=256)
def _statement(kinds: tuple[str, ...] | None, limit: int) -> Update:
    parts = [_due(kind, NOW, limit) for kind in kinds] if kinds is not None else []
    if kinds is None:
        parts.append(_due(None, NOW, limit))
    parts.append(_expired(kinds, NOW, limit))
    # Each part is wrapped as a subquery: SQLite allows no LIMIT on a bare member of a UNION.
    subqueries = [part.subquery() for part in parts]
    members = [select(sub.c.id, sub.c.next_attempt_at) for sub in subqueries]
    candidates = union_all(*members).subquery()
    chosen = (
        select(candidates.c.id)
        .order_by(candidates.c.next_attempt_at, candidates.c.id)
        .limit(limit)
        .scalar_subquery()
    )
    jobs = cast("Table", Job.__table__)  # the table, not the ORM: no bulk-update bookkeeping
    return (
        update(jobs)
        .where(jobs.c.id.in_(chosen))
        .values(
            state="running",
            lease_owner=OWNER,
            lease_expires_at=UNTIL,
            attempts=jobs.c.attempts + 1,
            updated_at=NOW,
        )
        .returning(*(jobs.c[name] for name in RETURNED))
    )


# What a claim hands back of each job (the fields of `JobRecord`).
RETURNED = (
    "id",
    "kind",
    "payload",
    "attempts",
    "max_attempts",
    "order_key",
    "correlation_id",
    "state",
    "last_error",
)
