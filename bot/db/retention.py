"""Retention: done jobs, assistant turns and audit rows are deleted once they are old enough.

Deletes go in batches, each its own short transaction, so the queue never waits long on them.
On PostgreSQL each batch first takes a transaction-level advisory lock without waiting: while
one replica purges, the others skip their turn instead of deleting the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ticketbolt.bot.db.engine import try_turn
from ticketbolt.bot.db.models import AuditEntry, Job, Turn

log = logging.getLogger("ticketbolt.retention")
# Any fixed number, distinct from the migration lock.
PURGE_LOCK = 7_461_263_012


@dataclass(frozen=True)
class RetentionPolicy:
    days: float = 30.0
    audit_days: float = 365.0
    batch: int = 5000


class Retention:
    """Deletes what the policy no longer keeps; `purge` returns the rows removed per table."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        policy: RetentionPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._sessions = sessions
        self._policy = policy
        self._clock = clock

    async def purge(self) -> dict[str, int]:
        now = self._clock()
        keep = timedelta(days=self._policy.days)
        audit_keep = timedelta(days=self._policy.audit_days)
        removed = {
            "jobs": await self._purge(Job, (Job.state == "done") & (Job.updated_at < now - keep)),
            "turns": await self._purge(Turn, Turn.at < now - keep),
            "audit_log": await self._purge(AuditEntry, AuditEntry.at < now - audit_keep),
        }
        if any(removed.values()):
            log.info("retention purge", extra={"removed": removed})
        return removed

    async def _purge(self, model: Any, old: ColumnElement[bool]) -> int:
        total = 0
        while True:
            count = await self._batch(model, old)
            if count is None:  # another replica is purging now
                return total
            total += count
            if count < self._policy.batch:
                return total

    async def _batch(self, model: Any, old: ColumnElement[bool]) -> int | None:
        async with self._sessions.begin() as session:
            if not await try_turn(session, PURGE_LOCK):
                return None
            ids = select(model.id).where(old).limit(self._policy.batch).scalar_subquery()
            result = await session.execute(delete(model).where(model.id.in_(ids)))
        return int(getattr(result, "rowcount", 0) or 0)
