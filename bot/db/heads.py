"""Per-message order: which job of each order key may run now (the `head`), kept in step.

Among the queued and running jobs of one non-empty order key exactly one is the head, the
earliest (a requeued job waits behind a head already there); a job without an order key is its
own head; finished jobs never are. Every transaction that can change this — inserting jobs, a
head finishing, a requeue — first calls `serialise` for its keys, then reads and writes heads:

- PostgreSQL: a transaction-level advisory lock per key, taken in one fixed order so two
  batches never deadlock; under read committed each later statement sees what the previous
  holder committed.
- SQLite: one writer at a time, but the driver begins a transaction only at its first write, so
  `serialise` takes the write lock with a write that changes nothing before anything is read.

A claim then needs no look at earlier jobs: it reads due heads from `ix_jobs_due`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, case, func, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbolt.bot.db.models import ACTIVE_STATE, Job

# The class of the two-integer advisory locks (the migration and purge locks are one bigint).
ORDER_LOCK = 74_612


def lock_id(order_key: str) -> int:
    """A stable 32-bit signed number for a key; two keys sharing one only wait for each other."""
    value = zlib.crc32(order_key.encode("utf-8"))
    return value - 2**32 if value >= 2**31 else value


async def serialise(session: AsyncSession, keys: Iterable[str]) -> None:
    """Make this transaction the only one changing the heads of `keys` until it ends."""
    ids = sorted({lock_id(key) for key in keys if key})
    if not ids:
        return
    if _on_sqlite(session):
        await session.execute(text("UPDATE jobs SET head = head WHERE 0"))
    else:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:class, k) FROM unnest(CAST(:ids AS integer[])) k"),
            {"class": ORDER_LOCK, "ids": ids},
        )


async def mark(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Set `head` on rows about to be inserted, in their order: the first of each key is the
    head unless the key already has a queued or running job. Serialises their keys first."""
    keys = {row["order_key"] for row in rows if row["order_key"]}
    await serialise(session, keys)
    busy: set[str] = set()
    if keys:
        busy_query = _SQLITE_BUSY if _on_sqlite(session) else _BUSY
        busy = set(await session.scalars(busy_query, {"head_keys": sorted(keys)}))
    for row in rows:
        key = row["order_key"]
        row["head"] = not key or key not in busy
        busy.add(key)


async def settle(session: AsyncSession, rows: Sequence[dict[str, Any]], created: set[str]) -> None:
    """After the insert: a head row that was not inserted (its key already existed) hands the
    head to the next job of its order key, if any."""
    missed = {
        row["order_key"]
        for row in rows
        if row["head"] and row["order_key"] and row["idempotency_key"] not in created
    }
    await promote(session, missed)


async def promote(session: AsyncSession, keys: Iterable[str]) -> None:
    """Make the earliest unfinished job the head of each key that has none."""
    keys = {key for key in keys if key}
    if not keys:
        return
    if _on_sqlite(session):
        values = {"head_keys": sorted(keys), "head_at": datetime.now(UTC)}
        await session.execute(_SQLITE_PROMOTE, values)
    else:
        await session.execute(_PROMOTE, {"head_keys": sorted(keys)})


# Built once, with the keys bound at execution (an expanding IN): every ack batch and every
# completion batch runs them, and building and keying them again each time cost more than the
# statements themselves. On the table, not the ORM: no bulk-update bookkeeping either.
_JOBS = cast("Table", Job.__table__)
_KEYS: BindParameter[str] = bindparam("head_keys", expanding=True)
_BUSY = select(_JOBS.c.order_key).where(_JOBS.c.order_key.in_(_KEYS), text(ACTIVE_STATE)).distinct()
_EARLIEST = (
    select(func.min(_JOBS.c.id))
    .where(_JOBS.c.order_key.in_(_KEYS), text(ACTIVE_STATE))
    .group_by(_JOBS.c.order_key)
    .having(func.max(case((_JOBS.c.head, 1), else_=0)) == 0)
)
_PROMOTE = update(_JOBS).where(_JOBS.c.id.in_(_EARLIEST.scalar_subquery())).values(head=true())

# SQLite, which keeps no statistics here, reads a batch of more than a few keys through the index
# on `state` instead: every queued and running job, so each ack batch and each completion batch
# would cost more as the backlog grows (15 ms a completion batch at 100,000 queued jobs, against
# 2 ms at 10,000). SQLAlchemy renders no index hint for SQLite, so there the two statements are
# written out with `INDEXED BY`, which keeps them on the order keys' own partial index.
_SQLITE_BUSY = text(
    "SELECT DISTINCT order_key FROM jobs INDEXED BY ix_jobs_order_active "
    "WHERE order_key IN :head_keys AND state IN ('queued', 'running')"  # ACTIVE_STATE, verbatim
).bindparams(_KEYS)
_SQLITE_PROMOTE = text(
    "UPDATE jobs SET head = 1, updated_at = :head_at WHERE id IN ("
    "SELECT min(id) FROM jobs INDEXED BY ix_jobs_order_active "
    "WHERE order_key IN :head_keys AND state IN ('queued', 'running') "  # ACTIVE_STATE
    "GROUP BY order_key HAVING max(head) = 0)"
).bindparams(_KEYS, bindparam("head_at", type_=_JOBS.c.updated_at.type))


def _on_sqlite(session: AsyncSession) -> bool:
    return session.bind is None or session.bind.dialect.name == "sqlite"
