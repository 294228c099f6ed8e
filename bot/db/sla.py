"""SLA clocks in the database: one row per ticket; decisions and their jobs in one transaction.

`decide` sets a clock's flag only where it is not set yet and enqueues the notice jobs in the
same transaction, so each warning and breach is decided once whichever replica asks. `exclusive`
lets one watchdog run at a time: on PostgreSQL a transaction-level advisory try-lock held for
the run (the others skip their turn); on SQLite, one process, it always succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbolt.bot.db import heads
from ticketbolt.bot.db.engine import try_turn
from ticketbolt.bot.db.models import Job, SlaClock
from ticketbolt.bot.db.upsert import insert_ignore
from ticketbolt.handlers.sla import Clock, ClockName, JobSpec, Stage

# Any fixed number, distinct from the migration and purge locks.
WATCHDOG_LOCK = 7_461_263_013
NOTICE_ATTEMPTS = 8
# Satisfaction surveys go out after the close; the watchdog asks for a score this long after it,
# at most once per CSAT_POLL_EVERY per ticket.
CSAT_WINDOW = timedelta(days=14)
CSAT_POLL_EVERY = timedelta(hours=1)
_FIELDS = tuple(f.name for f in fields(Clock))


def _aware(value: Any) -> Any:
    # SQLite hands datetimes back without a zone; everything stored is UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _clock(row: SlaClock) -> Clock:
    return Clock(**{name: _aware(getattr(row, name)) for name in _FIELDS})


class SlaClocks:
    """The `sla_clocks` table behind handlers/sla.py `SlaStore`."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        *,
        wakeup: asyncio.Event | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._sessions = sessions
        self._wakeup = wakeup
        self._now = clock

    async def start(self, clock: Clock) -> bool:
        values = {name: getattr(clock, name) for name in _FIELDS}
        values["next_check_at"] = clock.next_check()
        async with self._sessions.begin() as session:
            return await insert_ignore(session, SlaClock, values)

    async def get(self, ticket_id: int) -> Clock | None:
        async with self._sessions() as session:
            row = await session.get(SlaClock, ticket_id)
            return None if row is None else _clock(row)

    async def stop(
        self,
        ticket_id: int,
        *,
        first_response_at: datetime | None = None,
        resolved_at: datetime | None = None,
    ) -> bool:
        """Record the first response or the close, the first time only; True when it changed."""
        column = SlaClock.resolved_at if resolved_at else SlaClock.first_response_at
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SlaClock)
                .where(SlaClock.ticket_id == ticket_id, column.is_(None))
                .values({column.key: resolved_at or first_response_at})
            )
            changed = bool(getattr(result, "rowcount", 0))
            if changed:
                await self._reschedule(session, ticket_id)
        return changed

    async def due(self, now: datetime, limit: int) -> list[Clock]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SlaClock)
                .where(SlaClock.next_check_at <= now)
                .order_by(SlaClock.next_check_at)
                .limit(limit)
            )
            return [_clock(row) for row in rows]

    async def decide(
        self, ticket_id: int, name: ClockName, stage: Stage, jobs: list[JobSpec]
    ) -> bool:
        """Flag the clock's stage (a breach flags the warning too) and enqueue `jobs`, unless
        another run already did; False then, and nothing is enqueued."""
        flag = getattr(SlaClock, f"{name}_{'warned' if stage == 'warn' else 'breached'}")
        values = {flag.key: True}
        if stage == "breach":
            values[f"{name}_warned"] = True
        still_running = [SlaClock.resolved_at.is_(None)]
        if name == "first_response":
            still_running.append(SlaClock.first_response_at.is_(None))
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SlaClock)
                .where(SlaClock.ticket_id == ticket_id, flag.is_(False), *still_running)
                .values(values)
            )
            if not getattr(result, "rowcount", 0):
                return False
            await self._enqueue(session, jobs)
            await self._reschedule(session, ticket_id)
        if self._wakeup is not None:
            self._wakeup.set()
        return True

    async def resume(self, ticket_id: int, shifted: Mapping[str, datetime]) -> bool:
        """Reopen: clear the close and move the due times; True when the ticket was closed."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SlaClock)
                .where(SlaClock.ticket_id == ticket_id, SlaClock.resolved_at.is_not(None))
                .values({**shifted, "resolved_at": None})
            )
            changed = bool(getattr(result, "rowcount", 0))
            if changed:
                await self._reschedule(session, ticket_id)
        return changed

    async def open_in(self, team_id: str, channel_id: str, limit: int) -> list[Clock]:
        """The channel's tickets whose clocks are not stopped by a close, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SlaClock)
                .where(
                    SlaClock.team_id == team_id,
                    SlaClock.channel_id == channel_id,
                    SlaClock.resolved_at.is_(None),
                )
                .order_by(SlaClock.created_at)
                .limit(limit)
            )
            return [_clock(row) for row in rows]

    async def counts(self) -> dict[str, dict[str, int]]:
        """Open tickets per policy: tracked (`due`), and those warned and breached on a clock."""

        def either(a: Any, b: Any) -> Any:
            return func.sum(case((or_(a.is_(True), b.is_(True)), 1), else_=0))

        query = (
            select(
                SlaClock.policy,
                func.count(),
                either(SlaClock.first_response_warned, SlaClock.resolution_warned),
                either(SlaClock.first_response_breached, SlaClock.resolution_breached),
            )
            .where(SlaClock.resolved_at.is_(None))
            .group_by(SlaClock.policy)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return {
            str(policy): {"due": int(n), "warned": int(w or 0), "breached": int(b or 0)}
            for policy, n, w, b in rows
        }

    async def csat_due(self, now: datetime, limit: int) -> list[Clock]:
        """Closed tickets without a score yet, recently closed, not asked about lately."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SlaClock)
                .where(
                    SlaClock.resolved_at > now - CSAT_WINDOW,
                    SlaClock.csat_score.is_(None),
                    or_(
                        SlaClock.csat_checked_at.is_(None),
                        SlaClock.csat_checked_at <= now - CSAT_POLL_EVERY,
                    ),
                )
                .order_by(func.coalesce(SlaClock.csat_checked_at, SlaClock.resolved_at))
                .limit(limit)
            )
            return [_clock(row) for row in rows]

    async def csat_checked(self, ticket_id: int, at: datetime, score: int | None) -> None:
        """Remember a poll (and the score, once there is one: polling for it stops)."""
        values: dict[str, Any] = {"csat_checked_at": at}
        if score is not None:
            values["csat_score"] = score
        async with self._sessions.begin() as session:
            await session.execute(
                update(SlaClock).where(SlaClock.ticket_id == ticket_id).values(values)
            )

    async def _enqueue(self, session: AsyncSession, jobs: list[JobSpec]) -> None:
        now = self._now()
        rows: list[dict[str, Any]] = [
            {
                "kind": job.kind,
                "payload": job.payload,
                "idempotency_key": job.key,
                "order_key": job.order_key,
                "correlation_id": "",
                "state": "queued",
                "head": False,  # set by heads.mark under the key's lock
                "attempts": 0,
                "max_attempts": NOTICE_ATTEMPTS,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for job in jobs
        ]
        await heads.mark(session, rows)
        for row in rows:
            await insert_ignore(session, Job, row)

    async def _reschedule(self, session: AsyncSession, ticket_id: int) -> None:
        row = await session.get(SlaClock, ticket_id, populate_existing=True)
        if row is not None:
            row.next_check_at = _clock(row).next_check()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[bool]:
        """True for the one run that may go now; held until the block ends."""
        async with self._sessions.begin() as session:
            yield await try_turn(session, WATCHDOG_LOCK)
